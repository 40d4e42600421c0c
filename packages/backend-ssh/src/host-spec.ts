/**
 * Host entries of the `hosts` option: "node07", "alice@node07", "alice@node07:2222",
 * "[fe80::1]:2222". Parsed strictly: a host or user that starts with "-" would be read by ssh as
 * an option, so only the characters real host and user names use are accepted.
 */

export interface SshHost {
  /** Login name from the entry ("alice@…"); the `user` option applies when absent. */
  readonly user?: string;
  /** Host name or address, without brackets. */
  readonly host: string;
  /** Port from the entry ("…:2222"); the `port` option applies when absent. */
  readonly port?: number;
  /** The entry as written, for messages. */
  readonly label: string;
}

const USER = /^[A-Za-z0-9_.][A-Za-z0-9_.$-]*$/;
const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

/** Parse one entry; throws an Error whose message says what is wrong with it. */
export function parseHost(entry: string): SshHost {
  const label = entry.trim();
  if (label === "") throw new Error("it is empty");
  let rest = label;
  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at !== -1) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!USER.test(user)) throw new Error(`the user name ${JSON.stringify(user)} has characters ssh user names do not use`);
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close === -1) throw new Error('an IPv6 address opened with "[" must be closed with "]"');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) throw new Error(`unexpected ${JSON.stringify(after)} after the address`);
      portText = after.slice(1);
    }
    if (!IPV6.test(host)) throw new Error(`${JSON.stringify(host)} is not an IPv6 address`);
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    // A bare IPv6 address: its colons are not a port separator.
    host = rest;
    if (!IPV6.test(host)) throw new Error(`${JSON.stringify(host)} is not an IPv6 address (write [address]:port to add a port)`);
  } else {
    const colon = rest.indexOf(":");
    host = colon === -1 ? rest : rest.slice(0, colon);
    if (colon !== -1) portText = rest.slice(colon + 1);
    if (!HOST_NAME.test(host)) throw new Error(`${JSON.stringify(host)} is not a host name or address`);
  }
  const result: { user?: string; host: string; port?: number; label: string } = { host, label };
  if (user !== undefined) result.user = user;
  if (portText !== undefined) result.port = parsePort(portText);
  return result;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`the port ${JSON.stringify(text)} is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new Error(`the port ${port} is not between 1 and 65535`);
  return port;
}
