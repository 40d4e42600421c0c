import { describe, expect, it } from "vitest";
import { formatBytes, formatWalltime, parseBytes, parseWalltime } from "./units.js";

describe("sizes", () => {
  it.each([
    ["32GB", 32e9],
    ["32gb", 32e9],
    ["32G", 32e9],
    ["32GiB", 32 * 2 ** 30],
    ["1.5 GiB", 1.5 * 2 ** 30],
    ["512MiB", 512 * 2 ** 20],
    ["100kB", 100_000],
    ["10e9", 10e9],
    ["123", 123],
    [4096, 4096],
  ])("parses %j", (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });
  it.each(["lots", "-1GB", "32 gigabytes", "", "1.2.3GB"])("rejects %j with the forms it accepts", (text) => {
    expect(() => parseBytes(text)).toThrow(/"32GB" \(10\^9\) or "32GiB" \(2\^30\)/);
  });
  it("formats for messages", () => {
    expect(formatBytes(32e9)).toBe("32 GB");
    expect(formatBytes(1536)).toBe("1.54 kB");
  });
});

describe("walltimes", () => {
  it.each([
    ["00:20:00", 1200],
    ["1:00:00:00", 86400],
    ["45:00", 2700],
    ["90", 90],
    [90, 90],
  ])("parses %j", (text, seconds) => {
    expect(parseWalltime(text)).toBe(seconds);
  });
  it.each(["2h", "00:00:00", "1:2:3:4:5", "", -5])("rejects %j", (text) => {
    expect(() => parseWalltime(text)).toThrow(/HH:MM:SS/);
  });
  it("formats with days rolled into hours", () => {
    expect(formatWalltime(1200)).toBe("00:20:00");
    expect(formatWalltime(36 * 3600)).toBe("36:00:00");
  });
});
