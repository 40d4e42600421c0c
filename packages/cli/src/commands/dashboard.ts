/**
 * `skein dashboard`: print a running scheduler's dashboard link (token included) and open it in a
 * browser when there is one to open. The link comes from the scheduler file, or from the scheduler
 * itself (a client connection with the cluster secret): it is never rebuilt from guesses.
 */
import { spawn } from "node:child_process";
import { Client, readSchedulerFile } from "@skein/core";
import { EXIT_CODES } from "../exit-codes.js";

export interface DashboardFlags {
  schedulerFile?: string;
  /** cac turns `--no-open` into `open: false`. */
  open?: boolean;
}

export async function runDashboard(address: string | undefined, flags: DashboardFlags): Promise<number> {
  if (!address && !flags.schedulerFile) {
    process.stderr.write(
      "skein dashboard: which scheduler? Give its address (skein dashboard ws://host:8786, with SKEIN_SECRET_FILE set)\n" +
        "or its scheduler file (skein dashboard --scheduler-file ~/.skein/scheduler.json).\n" +
        "In a program, cluster.dashboardLink and client.dashboardLink hold the same link.\n",
    );
    return EXIT_CODES.USAGE;
  }
  const link = flags.schedulerFile ? await linkFromSchedulerFile(flags.schedulerFile) : await linkFromScheduler(address as string);
  if (typeof link === "number") return link;
  process.stdout.write(`${link}\n`);
  // Open a browser only for a person at a terminal; scripts and CI get the line above.
  if (flags.open !== false && process.stdout.isTTY) openInBrowser(link);
  return EXIT_CODES.OK;
}

async function linkFromSchedulerFile(path: string): Promise<string | number> {
  const contents = readSchedulerFile(path);
  if (!contents) {
    process.stderr.write(`skein dashboard: no scheduler file at ${path} (is the scheduler running? it writes the file once it listens)\n`);
    return EXIT_CODES.FAILURE;
  }
  if (contents.dashboard) return contents.dashboard;
  process.stderr.write(`skein dashboard: the scheduler at ${contents.address} serves no dashboard (it was started with --no-dashboard)\n`);
  return EXIT_CODES.FAILURE;
}

async function linkFromScheduler(address: string): Promise<string | number> {
  // The secret comes from SKEIN_SECRET or SKEIN_SECRET_FILE, as for any client.
  const client = await Client.connect(address, { name: `skein-dashboard-${process.pid}` });
  try {
    if (client.dashboardLink) return client.dashboardLink;
    process.stderr.write(`skein dashboard: the scheduler at ${address} serves no dashboard (it was started with --no-dashboard)\n`);
    return EXIT_CODES.FAILURE;
  } finally {
    await client.close();
  }
}

function openInBrowser(link: string): void {
  const opener = process.env.BROWSER || (process.platform === "darwin" ? "open" : "xdg-open");
  try {
    const child = spawn(opener, [link], { detached: true, stdio: "ignore" });
    child.on("error", () => undefined);
    child.unref();
  } catch {
    // No browser here (a login node): the printed link is the answer.
  }
}
