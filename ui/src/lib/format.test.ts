import { describe, expect, it } from "vitest";
import {
  durationWords,
  expiryText,
  formatSeconds,
  keyHint,
  lastUsedText,
  plural,
  relativeTime,
  scopeLabel,
  sortScopes,
} from "./format";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const at = (seconds: number) => new Date(NOW + seconds * 1000).toISOString();

describe("wording", () => {
  it("words durations the way the plan was set", () => {
    expect([3600, 7200, 86400, 604800, 90, 1].map(durationWords)).toEqual([
      "1 hour",
      "2 hours",
      "1 day",
      "7 days",
      "90 seconds",
      "1 second",
    ]);
  });

  it("says how long ago something happened", () => {
    expect(relativeTime(at(-2), NOW)).toBe("just now");
    expect(relativeTime(at(-12), NOW)).toBe("12 seconds ago");
    expect(relativeTime(at(-5 * 60), NOW)).toBe("5 minutes ago");
    expect(relativeTime(at(-26 * 3600), NOW)).toBe("yesterday");
    expect(relativeTime(at(3 * 86400), NOW)).toBe("in 3 days");
  });

  it("words last use and expiry", () => {
    expect(lastUsedText({ lastUsedAt: null }, NOW)).toBe("Never used");
    expect(lastUsedText({ lastUsedAt: at(-150) }, NOW)).toBe("Last used 2 minutes ago");
    expect(expiryText({ expiresAt: null }, NOW)).toBe("Never expires");
    expect(expiryText({ expiresAt: at(3 * 86400) }, NOW)).toBe("Expires in 3 days");
    expect(expiryText({ expiresAt: at(86400) }, NOW)).toBe("Expires tomorrow");
    expect(expiryText({ expiresAt: "2026-11-03T09:00:00Z" }, NOW)).toBe("Expired on Nov 3, 2026");
  });

  it("shows only the last four characters of a key", () => {
    expect(keyHint({ hint: "abcd" })).toBe("kdk_…abcd");
  });

  it("names scopes in plain words, in the API's order", () => {
    expect(scopeLabel("employees:read")).toBe("Read people");
    expect(sortScopes(["projects:write", "time_entries:read"])).toEqual([
      "time_entries:read",
      "projects:write",
    ]);
  });

  it("counts and times", () => {
    expect(plural(1, "request")).toBe("1 request");
    expect(plural(1204, "request")).toBe("1,204 requests");
    expect(formatSeconds(42)).toBe("42 s");
    expect(formatSeconds(125)).toBe("2 min 5 s");
  });
});
