import { describe, expect, it } from "vitest";
import { rotation } from "../test/fixtures";
import { rateLimitText, secretToolCommand, stepLabels } from "./rotation";

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

  it("words the rate limit", () => {
    expect(rateLimitText({ enabled: true, maxRequests: 1000, windowSeconds: 1 })).toBe(
      "Up to 1,000 requests per 1 second",
    );
    expect(rateLimitText({ enabled: false, maxRequests: 100, windowSeconds: 60 })).toBe("No limit");
  });

  it("quotes a keychain account in the command that reads it", () => {
    const r = rotation("updating", {
      oldKey: { id: "k", name: "Sam's script", prefix: "kdk_AbCd", hint: "abcd" },
    });
    expect(secretToolCommand(r.previousKeychainAccount)).toBe(
      "secret-tool lookup service keydeck username 'ws_harbor/Sam'\\''s script (previous)'",
    );
  });
});
