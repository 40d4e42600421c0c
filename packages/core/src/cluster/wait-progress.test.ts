import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { describeWait, waitProgressView, type WaitingJob } from "./wait-progress.js";

const queued = (id: string, reason?: string): WaitingJob => ({ id, state: reason ? { state: "queued", reason } : { state: "queued" }, workers: [] });
const running = (id: string, host: string, workers: string[] = []): WaitingJob => ({ id, state: { state: "running", host }, workers });

describe("describeWait", () => {
  it("says how many workers are connected when there are no jobs (local processes starting)", () => {
    expect(describeWait({ wanted: 4, connected: 1, jobs: [] })).toBe("1 of 4 workers connected");
    expect(describeWait({ wanted: 1, connected: 0, jobs: [] })).toBe("0 of 1 worker connected");
  });

  it("groups queued jobs by the batch system's reason, listing a few ids each", () => {
    const jobs = [queued("101", "Resources"), queued("102", "Resources"), queued("103", "Resources"), queued("104", "Resources"), queued("105", "Priority"), queued("106")];
    expect(describeWait({ wanted: 72, connected: 0, jobs })).toBe("0 of 72 workers connected · jobs: 6 queued (Resources: 101, 102, 103, … (4); Priority: 105)");
  });

  it("tells jobs whose workers connected from jobs that started but whose workers have not", () => {
    const jobs = [running("7", "c18a", ["w-0-0", "w-0-1"]), running("8", "vortex"), running("9", "vortex"), queued("10", "Priority")];
    expect(describeWait({ wanted: 8, connected: 2, jobs })).toBe("2 of 8 workers connected · jobs: 1 with workers, 2 started on vortex, workers not connected yet, 1 queued (Priority: 10)");
  });

  it("counts jobs in no state it can describe", () => {
    expect(describeWait({ wanted: 2, connected: 0, jobs: [{ id: "1", state: { state: "unknown", detail: "qstat failed" }, workers: [] }] })).toBe(
      "0 of 2 workers connected · jobs: 1 ending or unknown",
    );
  });
});

describe("the line view", () => {
  const capture = () => {
    const stream = new PassThrough();
    const out = { text: "" };
    stream.on("data", (chunk: Buffer) => (out.text += chunk.toString()));
    return { stream, out };
  };

  it("writes a line when the picture changes, not when it is the same, and a last line saying how it ended", async () => {
    const { stream, out } = capture();
    const view = await waitProgressView({ stream, mode: "lines", interval: 0 }, 2);
    view.update({ wanted: 2, connected: 0, jobs: [queued("5")] });
    view.update({ wanted: 2, connected: 0, jobs: [queued("5")] });
    view.update({ wanted: 2, connected: 0, jobs: [queued("5", "Resources")] });
    view.stop("connected", { wanted: 2, connected: 2, jobs: [running("5", "vortex", ["a", "b"])] });
    const lines = out.text.trimEnd().split("\n");
    expect(lines.slice(0, 2)).toEqual(["[skein] waiting: 0 of 2 workers connected · jobs: 1 queued", "[skein] waiting: 0 of 2 workers connected · jobs: 1 queued (Resources: 5)"]);
    expect(lines[2]).toMatch(/^\[skein\] 2 of 2 workers connected after \d+\.\d s$/);
    expect(lines).toHaveLength(3);
  });

  it("turns a burst of changes into one line per interval with the latest picture", async () => {
    const { stream, out } = capture();
    const view = await waitProgressView({ stream, mode: "lines", interval: 200 }, 48);
    for (let connected = 0; connected <= 10; connected++) view.update({ wanted: 48, connected, jobs: [] });
    expect(out.text).toBe("[skein] waiting: 0 of 48 workers connected\n");
    await vi.waitFor(() => expect(out.text).toContain("10 of 48"), { timeout: 5000, interval: 20 });
    expect(out.text).toBe("[skein] waiting: 0 of 48 workers connected\n[skein] waiting: 10 of 48 workers connected\n");
    view.stop("failed", { wanted: 48, connected: 10, jobs: [] });
    expect(out.text).toMatch(/\[skein\] gave up waiting after \d+\.\d s: 10 of 48 workers connected\n$/);
  });

});
