/** Which local address to listen on and advertise: from an interface name, or towards a peer. */
import { createSocket } from "node:dgram";
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import { SKEIN_ERROR_CODES, SkeinError } from "@skein/serialization";

/** The IPv4 address of a network interface (IPv6 if it has no IPv4). Throws naming the interfaces that exist. */
export function interfaceAddress(name: string): string {
  const all = networkInterfaces();
  const addresses = all[name];
  if (!addresses || addresses.length === 0) {
    const existing = Object.entries(all)
      .map(([n, list]) => `${n} (${(list ?? []).map((a) => a.address).join(", ")})`)
      .join(", ");
    throw new SkeinError(
      "network",
      SKEIN_ERROR_CODES.BAD_OPTION,
      `network interface "${name}" does not exist on ${hostname()}. Interfaces here: ${existing || "none"}. Set "interface" to one of them.`,
    );
  }
  const v4 = addresses.find((a) => a.family === "IPv4");
  return (v4 ?? addresses[0])?.address as string;
}

/** True for 127.0.0.0/8, ::1 and "localhost". */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || (isIP(bare) === 4 && bare.startsWith("127."));
}

/**
 * Where a worker should listen so that its peers and clients can reach it: the named interface;
 * loopback when the scheduler is on loopback; otherwise the local address the kernel would use to
 * reach the scheduler (found without sending a packet).
 */
export async function listenHostFor(schedulerAddress: string, iface?: string): Promise<string> {
  if (iface) return interfaceAddress(iface);
  const url = new URL(schedulerAddress);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isLoopback(host)) return "127.0.0.1";
  return new Promise<string>((resolve, reject) => {
    const socket = createSocket(isIP(host) === 6 ? "udp6" : "udp4");
    socket.once("error", (error) => {
      socket.close();
      reject(new SkeinError("network", SKEIN_ERROR_CODES.CONNECT_FAILED, `no route from ${hostname()} to the scheduler host ${host}: ${error.message}`, { cause: error }));
    });
    socket.connect(Number(url.port) || 80, host, () => {
      const local = socket.address().address;
      socket.close();
      resolve(local);
    });
  });
}
