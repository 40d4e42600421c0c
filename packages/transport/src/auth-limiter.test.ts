import { describe, expect, it } from "vitest";
import { AuthLimiter } from "./auth-limiter.js";

describe("AuthLimiter", () => {
  it("logs the first failures of a window, suppresses the rest, then says how many it suppressed", () => {
    const limiter = new AuthLimiter({ maxLogged: 2, windowMs: 1000 });
    expect(limiter.fail("10.0.0.1", 0)).toEqual({ log: "this" });
    expect(limiter.fail("10.0.0.1", 10)).toEqual({ log: "this" });
    expect(limiter.fail("10.0.0.1", 20)).toEqual({ log: "suppressed" });
    expect(limiter.fail("10.0.0.1", 30)).toEqual({ log: "suppressed" });
    expect(limiter.fail("10.0.0.2", 30)).toEqual({ log: "this" });
    expect(limiter.fail("10.0.0.1", 1100)).toEqual({ log: "summary", suppressed: 2 });
  });
});
