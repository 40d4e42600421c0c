import type { Message } from "@skein/serialization";
import { describe, expect, test } from "vitest";
import { localLink } from "./local-link.js";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await turn();
};
const release = (n: number): Message => ({ op: "release-keys", keys: [`k-${n}`], stimulusId: `s-${n}` });

function recorder() {
  const batches: Message[][] = [];
  const closes: [number, string][] = [];
  return { batches, closes, onMessages: (m: Message[]) => batches.push(m), onClose: (code: number, reason: string) => closes.push([code, reason]) };
}

describe("localLink", () => {
  test("messages sent in one turn arrive together, in order, in a later turn", async () => {
    const [a, b] = localLink();
    const got = recorder();
    b.onMessages(got.onMessages);
    a.send(release(1));
    a.send(release(2));
    expect(got.batches).toEqual([]);
    await turns(2);
    expect(got.batches).toEqual([[release(1), release(2)]]);
  });

  test("an explicit flush makes its own batch, delivered later and before what follows", async () => {
    const [a, b] = localLink();
    const got = recorder();
    b.onMessages(got.onMessages);
    a.send(release(1));
    a.flush();
    a.send(release(2));
    expect(got.batches).toEqual([]);
    await turns(3);
    expect(got.batches).toEqual([[release(1)], [release(2)]]);
  });

  test("batches that arrive before a handler is set are replayed to it", async () => {
    const [a, b] = localLink();
    a.send(release(1));
    await turns(2);
    const got = recorder();
    b.onMessages(got.onMessages);
    expect(got.batches).toEqual([[release(1)]]);
  });

  test("both directions work at once", async () => {
    const [a, b] = localLink();
    const atA = recorder();
    const atB = recorder();
    a.onMessages(atA.onMessages);
    b.onMessages(atB.onMessages);
    a.send(release(1));
    b.send(release(2));
    await turns(2);
    expect(atB.batches).toEqual([[release(1)]]);
    expect(atA.batches).toEqual([[release(2)]]);
  });

  test("close delivers what was sent first, then tells both ends the code and reason", async () => {
    const [a, b] = localLink();
    const atA = recorder();
    const atB = recorder();
    b.onMessages(atB.onMessages);
    a.onClose(atA.onClose);
    b.onClose(atB.onClose);
    a.send(release(1));
    a.close(4004, "shutting down");
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(true);
    a.send(release(2));
    b.send(release(3));
    await turns(3);
    expect(atB.batches).toEqual([[release(1)]]);
    expect(atB.closes).toEqual([[4004, "shutting down"]]);
    expect(atA.closes).toEqual([[4004, "shutting down"]]);
    const late = recorder();
    a.onClose(late.onClose);
    expect(late.closes).toEqual([[1000, "already closed"]]);
  });

  test("replyError sends an error message", async () => {
    const [a, b] = localLink();
    const got = recorder();
    b.onMessages(got.onMessages);
    a.replyError("SKEIN_ERR_PROTOCOL", "no", "update-graph");
    await turns(2);
    expect(got.batches).toEqual([[{ op: "error", code: "SKEIN_ERR_PROTOCOL", message: "no", inReplyTo: "update-graph" }]]);
  });
});
