import { describe, expect, it } from "vitest";
import { parseHost } from "./host-spec.js";

describe("parseHost", () => {
  it.each([
    ["node07", { host: "node07", label: "node07" }],
    ["alice@node07", { user: "alice", host: "node07", label: "alice@node07" }],
    ["root@127.0.0.1:2222", { user: "root", host: "127.0.0.1", port: 2222, label: "root@127.0.0.1:2222" }],
    ["node07.cluster.example.edu:22", { host: "node07.cluster.example.edu", port: 22, label: "node07.cluster.example.edu:22" }],
    ["first.last@login_1", { user: "first.last", host: "login_1", label: "first.last@login_1" }],
    ["[::1]:2222", { host: "::1", port: 2222, label: "[::1]:2222" }],
    ["bob@[fe80::1%eth0]", { user: "bob", host: "fe80::1%eth0", label: "bob@[fe80::1%eth0]" }],
    ["fe80::1", { host: "fe80::1", label: "fe80::1" }],
    ["  node07  ", { host: "node07", label: "node07" }],
  ])("reads %j", (entry, expected) => {
    expect(parseHost(entry)).toEqual(expected);
  });

  it.each([
    ["", /empty/],
    ["-oProxyCommand=evil", /not a host name/],
    ["alice@-oProxyCommand=x", /not a host name/],
    ["-l@node07", /user name "-l"/],
    ["alice bob@node07", /user name "alice bob"/],
    ["node07:ssh", /port "ssh" is not a number/],
    ["node07:0", /port 0 is not between 1 and 65535/],
    ["node07:70000", /port 70000/],
    ["node07:", /port "" is not a number/],
    ["[::1", /closed with "]"/],
    ["[::1]2222", /unexpected "2222"/],
    ["[node07]:22", /not an IPv6 address/],
    ["node 07", /not a host name/],
    ["node07;rm", /not a host name/],
  ])("refuses %j, saying why", (entry, reason) => {
    expect(() => parseHost(entry)).toThrow(reason);
  });
});
