import { describe, expect, it } from "vitest";
import { JobRenewal } from "./job-renewal.js";

const batch = (walltimeSeconds: number | undefined, workerExtraArgs: string[] = []) =>
  new JobRenewal({ walltimeSeconds, walltimeEnforced: true, workerExtraArgs, pollSeconds: 5 });

describe("job renewal", () => {
  it("submits a successor ahead of the walltime by 1.5 × the slowest recent startup, a poll and 5 s", () => {
    // 2 h walltime: lifetime 6840 s, staggered by up to 180 s, so the first worker may leave at 6660 s.
    const renewal = batch(7200);
    renewal.observeStartup(100);
    renewal.observeStartup(40);
    expect(renewal.leadSeconds()).toBe(1.5 * 100 + 5 + 5);
    const started = 1_000_000;
    expect(renewal.endingSoon(started, started + (6660 - 160) * 1000 - 1)).toBe(false);
    expect(renewal.endingSoon(started, started + (6660 - 160) * 1000)).toBe(true);
  });

  it("forgets old startups: the last five count", () => {
    const renewal = batch(7200);
    renewal.observeStartup(600);
    for (let i = 0; i < 5; i++) renewal.observeStartup(10);
    expect(renewal.leadSeconds()).toBe(1.5 * 10 + 10);
  });

  it("never leads by more than half of a job's useful life, however long the queue", () => {
    // 60 s walltime: lifetime 45 s, stagger 7 s: workers may leave from 38 s on.
    const renewal = batch(60);
    renewal.observeStartup(3600);
    expect(renewal.leadSeconds()).toBe(19);
  });

  it("follows a --lifetime given in workerExtraArgs", () => {
    const renewal = new JobRenewal({ walltimeSeconds: undefined, walltimeEnforced: false, workerExtraArgs: ["--lifetime", "100", "--lifetime-stagger", "20"], pollSeconds: 1 });
    expect(renewal.leadSeconds()).toBe(6);
    expect(renewal.endingSoon(0, 73_999)).toBe(false);
    expect(renewal.endingSoon(0, 74_000)).toBe(true);
  });

  it("does nothing when workers have no lifetime, or the job has not started", () => {
    expect(batch(undefined).endingSoon(0, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(new JobRenewal({ walltimeSeconds: 60, walltimeEnforced: false, workerExtraArgs: [], pollSeconds: 1 }).endingSoon(0, 1e12)).toBe(false);
    expect(batch(60).endingSoon(undefined, 1e12)).toBe(false);
  });
});
