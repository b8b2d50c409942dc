import { describe as group, expect, it } from "vitest";
import type { AuditEntry } from "$lib/backend";
import { auditEntry } from "../test/fixtures";
import { actorName, describe, describeRotation, stories, storyId, type RotationStory } from "./activity";

const entry = auditEntry;

/** Oldest first in the call, newest first in the answer: as the log serves them. */
function log(...entries: AuditEntry[]): AuditEntry[] {
  return [...entries].reverse();
}

const replacing = (newId: string, oldId: string) =>
  entry("created", newId, {
    changes: { replaces: { from: null, to: oldId }, scopes: { from: null, to: ["reports:read"] } },
  });

group("stories", () => {
  it("tells a rotation as one story: the replacement made, then the old key revoked", () => {
    const made = replacing("key_new", "key_old");
    const revoked = entry("revoked", "key_old");
    const told = stories(log(entry("created", "key_old"), made, entry("renamed", "key_other"), revoked));

    expect(told.map((s) => s.kind)).toEqual(["rotation", "entry", "entry"]);
    const rotation = told[0] as RotationStory;
    expect(rotation.state).toBe("done");
    expect(rotation.created).toBe(made);
    expect(rotation.later).toEqual([revoked]);
    expect(describeRotation(rotation).title).toBe("Rotated “Legacy BI”");
    expect(describeRotation(rotation).steps.map((s) => s.what)).toEqual([
      "Replacement made, with the same name and permissions",
      "Old key revoked",
    ]);
  });

  it("keeps every entry exactly once, a story where its newest entry stood", () => {
    const entries = log(
      entry("created", "key_old"),
      replacing("key_new", "key_old"),
      entry("disabled", "key_other"),
      entry("revoke_scheduled", "key_old", {
        changes: { revokeWhenSilentSeconds: { from: null, to: 3600 } },
      }),
      entry("enabled", "key_other"),
      entry("revoked_when_silent", "key_old", { actor: { kind: "server", id: null, name: null } }),
    );
    const told = stories(entries);
    const seen = told.flatMap((s) => (s.kind === "entry" ? [s.entry] : [s.created, ...s.later]));

    expect([...seen].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [...entries].sort((a, b) => a.id.localeCompare(b.id)),
    );
    expect(told.map((s) => (s.kind === "entry" ? s.entry.action : "rotation"))).toEqual([
      "rotation",
      "enabled",
      "disabled",
      "created",
    ]);
    const rotation = told[0] as RotationStory;
    expect(describeRotation(rotation).steps.map((s) => s.what)).toEqual([
      "Replacement made, with the same name and permissions",
      "Planned to revoke the old key once it has had no requests for 1 hour",
      "Old key revoked by the server once it had fallen silent",
    ]);
    expect(new Set(told.map(storyId)).size).toBe(told.length);
  });

  it("says a rotation is still under way, planned, or called off", () => {
    const underWay = stories(log(replacing("key_b", "key_a")))[0] as RotationStory;
    expect(underWay.state).toBe("under_way");
    expect(describeRotation(underWay).title).toBe("Rotating “Legacy BI”: the old key still works");

    const planned = stories(
      log(replacing("key_d", "key_c"), entry("revoke_scheduled", "key_c")),
    )[0] as RotationStory;
    expect(planned.state).toBe("planned");

    const calledOff = stories(
      log(replacing("key_f", "key_e"), entry("revoked", "key_f")),
    )[0] as RotationStory;
    expect(calledOff.state).toBe("called_off");
    expect(describeRotation(calledOff).steps[1]?.what).toBe("Replacement revoked, the old key kept");
  });

  it("gives a second rotation of the same key its own story, after the first was called off", () => {
    const told = stories(
      log(
        replacing("key_2", "key_1"),
        entry("revoked", "key_2"),
        replacing("key_3", "key_1"),
        entry("revoked", "key_1"),
      ),
    );
    expect(told.map((s) => (s.kind === "rotation" ? s.state : s.entry.action))).toEqual([
      "done",
      "called_off",
    ]);
  });

  it("ends a rotation when the old key expires, and tells no stories in a narrowed log", () => {
    const expired = stories(log(replacing("key_n", "key_o"), entry("expired", "key_o")))[0] as RotationStory;
    expect(expired.state).toBe("done");
    expect(describeRotation(expired).steps[1]?.what).toBe("Old key expired");
    const narrowed = stories(log(replacing("key_n", "key_o"), entry("revoked", "key_n")), false);
    expect(narrowed.map((s) => s.kind)).toEqual(["entry", "entry"]);
  });

  it("leaves a revocation alone when the rotation's start is on a page not loaded yet", () => {
    const told = stories([entry("revoked", "key_old")]);
    expect(told).toHaveLength(1);
    expect(told[0]?.kind).toBe("entry");
  });

  it("does not take a later revocation of a key into a rotation that replaced it long ago and is done", () => {
    const told = stories(
      log(replacing("key_n", "key_o"), entry("revoked", "key_o"), entry("revoked", "key_n")),
    );
    expect(told.map((s) => (s.kind === "rotation" ? "rotation" : s.entry.action))).toEqual([
      "revoked",
      "rotation",
    ]);
  });
});

group("describe", () => {
  it("says what changed, from what to what", () => {
    expect(
      describe(
        entry("scopes_changed", "key_a", {
          changes: { scopes: { from: ["reports:read"], to: ["reports:read", "projects:read"] } },
        }),
      ),
    ).toEqual({
      what: "Changed the permissions of “Legacy BI”",
      detail: "From Read reports to Read reports, Read projects",
    });
    expect(
      describe(
        entry("rate_limit_changed", "key_a", {
          changes: { rateLimit: { from: null, to: { enabled: true, maxRequests: 60, windowSeconds: 60 } } },
        }),
      ).detail,
    ).toBe("From no limit to 60 requests per minute");
    expect(
      describe(
        entry("allowed_ips_changed", "key_a", { changes: { allowedIps: { from: [], to: ["10.0.0.0/8"] } } }),
      ).detail,
    ).toBe("From any address to 10.0.0.0/8");
    expect(describe(entry("renamed", "key_a", { changes: { name: { from: "Old", to: "New" } } })).what).toBe(
      "Renamed “Old” to “New”",
    );
    expect(
      describe(
        entry("role_changed", null, { userName: "Bo", changes: { role: { from: "member", to: "admin" } } }),
      ),
    ).toEqual({ what: "Changed Bo's role", detail: "From member to admin" });
  });

  it("names where a leak was found, or says the report did not", () => {
    const found = entry("leak_reported", "key_a", {
      changes: {
        leakUrl: { from: null, to: "https://github.com/o/r/blob/x" },
        enabled: { from: true, to: false },
      },
    });
    expect(describe(found)).toEqual({
      what: "“Legacy BI” was reported leaked, and disabled",
      detail: "Found at https://github.com/o/r/blob/x",
    });
    expect(describe(entry("leak_reported", "key_a")).detail).toBe(
      "The report did not say where it was found",
    );
  });

  it("names who made a change", () => {
    expect(actorName({ kind: "user", id: "usr_1", name: "Ada" })).toBe("Ada");
    expect(actorName({ kind: "user", id: "usr_1", name: null })).toBe("A former member");
    expect(actorName({ kind: "admin_cli", id: null, name: null })).toBe("The server's admin command line");
    expect(actorName({ kind: "server", id: null, name: null })).toBe("The workspace server");
  });
});
