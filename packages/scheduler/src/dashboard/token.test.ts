import { describe, expect, it } from "vitest";
import { dashboardToken, presentedToken, tokenMatches } from "./token.js";

describe("dashboard token", () => {
  it("is derived from the secret, never the secret itself, and is URL-safe", () => {
    const secret = "s3cret-value-of-the-cluster";
    const token = dashboardToken(secret);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toContain(secret);
    expect(dashboardToken(secret)).toBe(token);
    expect(dashboardToken(`${secret}x`)).not.toBe(token);
  });

  it("matches only the exact token", () => {
    const token = dashboardToken("secret");
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(undefined, token)).toBe(false);
    expect(tokenMatches("", token)).toBe(false);
    expect(tokenMatches(token.slice(0, -1), token)).toBe(false);
    expect(tokenMatches(`${token}A`, token)).toBe(false);
    expect(tokenMatches(dashboardToken("other"), token)).toBe(false);
    // The secret itself is not a token.
    expect(tokenMatches("secret", token)).toBe(false);
    // An empty expected token never matches, even an empty one.
    expect(tokenMatches("", "")).toBe(false);
  });

  it("is read from ?token= or an Authorization: Bearer header", () => {
    expect(presentedToken(new URL("http://h/?token=abc"), {})).toBe("abc");
    expect(presentedToken(new URL("http://h/metrics"), { authorization: "Bearer abc" })).toBe("abc");
    expect(presentedToken(new URL("http://h/metrics"), { authorization: "bearer   abc  " })).toBe("abc");
    expect(presentedToken(new URL("http://h/metrics"), { authorization: "Basic abc" })).toBeUndefined();
    expect(presentedToken(new URL("http://h/"), {})).toBeUndefined();
    // The query wins over the header.
    expect(presentedToken(new URL("http://h/?token=q"), { authorization: "Bearer h" })).toBe("q");
  });
});
