import { describe, expect, it } from "vitest";
import { DAY, ago, ahead, rotation, view } from "../test/fixtures";
import {
  isDue,
  keychainAccount,
  previousAccount,
  rateLimitText,
  replacementExpiry,
  secretToolCommand,
  stepLabels,
} from "./rotation";

describe("rotation wording", () => {
  it("names the steps of a leaked key's replacement differently", () => {
    expect(stepLabels("scheduled")[3]).toBe("Revoke the old key");
    expect(stepLabels("incident")).toEqual([
      "Replace",
      "Update the integration",
      "Confirm",
      "Delete the leaked key",
    ]);
  });

  it("counts due and soon-expiring keys, not expired ones", () => {
    expect(isDue(view({}, { rotationDue: true }))).toBe(true);
    expect(isDue(view({}, { expiresSoon: true }))).toBe(true);
    expect(isDue(view({ status: "expired" }, { rotationDue: true }))).toBe(false);
    expect(isDue(view())).toBe(false);
  });

  it("gives the replacement the nearest expiry preset at least as long as the old key's", () => {
    const made = ago(100 * DAY);
    const at = (days: number, extraSeconds = 0) =>
      new Date(new Date(made).getTime() + days * DAY + extraSeconds * 1000).toISOString();
    expect(replacementExpiry({ createdAt: made, expiresAt: at(90) })).toBe(90);
    expect(replacementExpiry({ createdAt: made, expiresAt: at(30, 2) })).toBe(30);
    expect(replacementExpiry({ createdAt: made, expiresAt: at(45) })).toBe(90);
    expect(replacementExpiry({ createdAt: made, expiresAt: at(400) })).toBe(365);
    expect(replacementExpiry({ createdAt: made, expiresAt: null })).toBeNull();
    expect(replacementExpiry({ createdAt: ago(DAY), expiresAt: ahead(6 * DAY) })).toBe(7);
  });

  it("words the rate limit", () => {
    expect(rateLimitText({ enabled: true, maxRequests: 1000, windowSeconds: 1 })).toBe(
      "Up to 1,000 requests per 1 second",
    );
    expect(rateLimitText({ enabled: false, maxRequests: 100, windowSeconds: 60 })).toBe("No limit");
  });

  it("names the keychain addresses and the command that reads them", () => {
    const r = rotation("updating", {
      oldKey: { id: "k", name: "Sam's script", prefix: "kdk_AbCd", hint: "abcd" },
    });
    expect(keychainAccount(r)).toBe("ws_harbor/Sam's script");
    expect(previousAccount(r)).toBe("ws_harbor/Sam's script (previous)");
    expect(secretToolCommand(previousAccount(r))).toBe(
      "secret-tool lookup service keydeck username 'ws_harbor/Sam'\\''s script (previous)'",
    );
  });
});
