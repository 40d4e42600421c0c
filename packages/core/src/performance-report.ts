import { Client } from "./client.js";
import { closedError } from "./errors.js";

/**
 * `await performanceReport("report.html", async () => { … })`: run the block and write a
 * standalone HTML report of it (task stream per worker, progress per task group, workers), as
 * Dask's `performance_report` does. Uses the most recently connected client that is still open,
 * or `options.client`.
 */
export function performanceReport<T>(path: string, work: () => Promise<T>, options: { client?: Client; title?: string } = {}): Promise<T> {
  const client = options.client ?? Client.latest;
  if (!client) return Promise.reject(closedError("client", "performanceReport needs a connected client: connect one first (Client.connect), or pass { client }"));
  return client.performanceReport(path, work, options.title === undefined ? {} : { title: options.title });
}
