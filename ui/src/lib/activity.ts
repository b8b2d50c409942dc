// How Activity reads the audit log: each entry worded as a sentence about what changed, and a
// rotation told as one story (the replacement made, then the old key revoked) however many
// entries it took. Pure functions of the entries, so the Activity screen and a key's history
// tell a change the same way, and tests need no screen.
import type { AuditAction, AuditActor, AuditEntry, RateLimit, Role, Scope } from "$lib/backend";
import { durationWords, ROLE_LABELS, scopeLabel, sortScopes } from "$lib/format";

/** What the action filter offers: groups of actions a person thinks in. */
export const ACTION_GROUPS: readonly { id: string; label: string; actions: AuditAction[] }[] = [
  {
    id: "lifecycle",
    label: "Created, revoked or expired",
    actions: ["created", "revoked", "revoked_when_silent", "expired"],
  },
  {
    id: "switched",
    label: "Disabled, enabled or reported leaked",
    actions: ["disabled", "enabled", "leak_reported"],
  },
  {
    id: "settings",
    label: "Name, permissions, rate limit or addresses",
    actions: ["renamed", "scopes_changed", "rate_limit_changed", "allowed_ips_changed"],
  },
  {
    id: "plans",
    label: "Revoke-when-silent plans",
    actions: ["revoke_scheduled", "revoke_cancelled", "revoked_when_silent"],
  },
  {
    id: "members",
    label: "Members and their keys",
    actions: ["member_added", "role_changed", "member_removed", "creator_removed", "creator_restored"],
  },
];

/** Who made a change, as a person reads it. */
export function actorName(actor: AuditActor): string {
  switch (actor.kind) {
    case "user":
      return actor.name ?? "A former member";
    case "admin_cli":
      return "The server's admin command line";
    case "server":
      return "The workspace server";
  }
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function scopes(value: unknown): string {
  const labels = sortScopes(list(value) as Scope[]).map(scopeLabel);
  return labels.length ? labels.join(", ") : "none";
}

function rateLimit(value: unknown): string {
  const limit = value as RateLimit | null;
  if (!limit || typeof limit !== "object" || !limit.enabled) return "no limit";
  return `${limit.maxRequests} requests per ${durationWords(limit.windowSeconds).replace(/^1 /, "")}`;
}

function addresses(value: unknown): string {
  const ranges = list(value);
  return ranges.length ? ranges.join(", ") : "any address";
}

function role(value: unknown): string {
  const r = text(value);
  return r && r in ROLE_LABELS ? ROLE_LABELS[r as Role].toLowerCase() : "no role";
}

export interface Worded {
  /** What happened, as a sentence without its author: "Disabled “Zapier”". */
  what: string;
  /** The values before and after, when the sentence does not carry them. */
  detail?: string;
}

/** One entry in words. The key's and member's names are those the entry was written with. */
export function describe(entry: AuditEntry): Worded {
  const key = `“${entry.keyName ?? "a key"}”`;
  const member = entry.userName ?? "a former member";
  const change = (field: string) => entry.changes[field];
  switch (entry.action) {
    case "created":
      return { what: `Created ${key}`, detail: `Permissions: ${scopes(change("scopes")?.to)}` };
    case "renamed":
      return {
        what: `Renamed “${text(change("name")?.from) ?? "a key"}” to “${text(change("name")?.to) ?? ""}”`,
      };
    case "scopes_changed":
      return {
        what: `Changed the permissions of ${key}`,
        detail: `From ${scopes(change("scopes")?.from)} to ${scopes(change("scopes")?.to)}`,
      };
    case "rate_limit_changed":
      return {
        what: `Changed the rate limit of ${key}`,
        detail: `From ${rateLimit(change("rateLimit")?.from)} to ${rateLimit(change("rateLimit")?.to)}`,
      };
    case "allowed_ips_changed":
      return {
        what: `Changed where ${key} may be used from`,
        detail: `From ${addresses(change("allowedIps")?.from)} to ${addresses(change("allowedIps")?.to)}`,
      };
    case "disabled":
      return { what: `Disabled ${key}` };
    case "enabled":
      return { what: `Enabled ${key}` };
    case "revoked":
      return { what: `Revoked ${key}` };
    case "revoke_scheduled": {
      const seconds = change("revokeWhenSilentSeconds")?.to;
      const after = typeof seconds === "number" ? durationWords(seconds) : "a while";
      return { what: `Planned to revoke ${key} once it has had no requests for ${after}` };
    }
    case "revoke_cancelled":
      return { what: `Called off the plan to revoke ${key} when it falls silent` };
    case "revoked_when_silent":
      return { what: `Revoked ${key}: it had fallen silent, as planned` };
    case "expired":
      return { what: `${key} expired` };
    case "creator_removed":
      return { what: `${key} stopped working: ${member}, who made it, can no longer manage keys` };
    case "creator_restored":
      return { what: `${key} works again: ${member}, who made it, can manage keys again` };
    case "member_added":
      return { what: `Added ${member} as ${role(change("role")?.to)}` };
    case "role_changed":
      return {
        what: `Changed ${member}'s role`,
        detail: `From ${role(change("role")?.from)} to ${role(change("role")?.to)}`,
      };
    case "member_removed":
      return { what: `Removed ${member} from the workspace` };
    case "leak_reported": {
      const url = text(change("leakUrl")?.to);
      const off = change("enabled")?.to === false;
      return {
        what: `${key} was reported leaked${off ? ", and disabled" : ""}`,
        detail: url ? `Found at ${url}` : "The report did not say where it was found",
      };
    }
  }
}

/** The old key a `created` entry replaces, when the key was made by a rotation. */
export function replacedKey(entry: AuditEntry): string | null {
  return entry.action === "created" ? text(entry.changes.replaces?.to) : null;
}

export type RotationState = "under_way" | "planned" | "done" | "called_off";

export interface RotationStory {
  kind: "rotation";
  /** The replacement's `created` entry. */
  created: AuditEntry;
  /** The key that was replaced. */
  oldKeyId: string;
  /** The story's entries after the creation, oldest first. */
  later: AuditEntry[];
  state: RotationState;
}

export type Story = { kind: "entry"; entry: AuditEntry } | RotationStory;

/** The id a story is keyed by in a list. */
export function storyId(story: Story): string {
  return story.kind === "entry" ? story.entry.id : `rotation-${story.created.id}`;
}

const OLD_KEY_STEPS: readonly AuditAction[] = [
  "revoke_scheduled",
  "revoke_cancelled",
  "revoked",
  "revoked_when_silent",
  "expired",
];

/**
 * The entries (newest first, as the log serves them) as stories, newest first. A rotation
 * becomes one story: the replacement's creation, then what became of the old key (a plan to
 * revoke it when silent, that plan called off, its revocation by a person or by the server),
 * or the replacement revoked when the rotation was called off. Every entry appears exactly once;
 * a story stands where its newest entry stood. Entries of a rotation whose creation is on a page
 * not loaded yet stand alone until that page comes. With `group` off (a log narrowed to one
 * person or some actions, which may leave out a rotation's other entries), every entry stands
 * alone rather than read as a rotation still under way.
 */
export function stories(entries: readonly AuditEntry[], group = true): Story[] {
  if (!group) return entries.map((entry) => ({ kind: "entry", entry }));
  const oldestFirst = [...entries].reverse();
  const open = new Map<string, RotationStory>(); // by old key id, and by new key id
  const taken = new Map<string, RotationStory>(); // entry id → its story
  const all: RotationStory[] = [];
  for (const entry of oldestFirst) {
    const replaced = replacedKey(entry);
    if (replaced && entry.keyId) {
      const story: RotationStory = {
        kind: "rotation",
        created: entry,
        oldKeyId: replaced,
        later: [],
        state: "under_way",
      };
      open.set(`old:${replaced}`, story);
      open.set(`new:${entry.keyId}`, story);
      taken.set(entry.id, story);
      all.push(story);
      continue;
    }
    if (!entry.keyId) continue;
    const ofOld = open.get(`old:${entry.keyId}`);
    if (ofOld && OLD_KEY_STEPS.includes(entry.action)) {
      ofOld.later.push(entry);
      taken.set(entry.id, ofOld);
      if (entry.action === "revoke_scheduled") ofOld.state = "planned";
      if (entry.action === "revoke_cancelled") ofOld.state = "under_way";
      if (
        entry.action === "revoked" ||
        entry.action === "revoked_when_silent" ||
        entry.action === "expired"
      ) {
        ofOld.state = "done";
        close(open, ofOld);
      }
      continue;
    }
    const ofNew = open.get(`new:${entry.keyId}`);
    if (ofNew && entry.action === "revoked") {
      ofNew.later.push(entry);
      taken.set(entry.id, ofNew);
      ofNew.state = "called_off";
      close(open, ofNew);
    }
  }
  const placed = new Set<RotationStory>();
  const result: Story[] = [];
  for (const entry of entries) {
    const story = taken.get(entry.id);
    if (!story) result.push({ kind: "entry", entry });
    else if (!placed.has(story)) {
      placed.add(story);
      result.push(story);
    }
  }
  return result;
}

function close(open: Map<string, RotationStory>, story: RotationStory): void {
  if (open.get(`old:${story.oldKeyId}`) === story) open.delete(`old:${story.oldKeyId}`);
  if (story.created.keyId && open.get(`new:${story.created.keyId}`) === story)
    open.delete(`new:${story.created.keyId}`);
}

/** A rotation's headline and its steps, worded. */
export function describeRotation(story: RotationStory): {
  title: string;
  steps: { entry: AuditEntry; what: string }[];
} {
  const name = `“${story.created.keyName ?? "a key"}”`;
  const title = {
    under_way: `Rotating ${name}: the old key still works`,
    planned: `Rotating ${name}: the old key goes once it falls silent`,
    done: `Rotated ${name}`,
    called_off: `Rotation of ${name} called off: the old key stays`,
  }[story.state];
  const step = (entry: AuditEntry): string => {
    switch (entry.action) {
      case "revoked":
        return entry.keyId === story.oldKeyId ? "Old key revoked" : "Replacement revoked, the old key kept";
      case "revoked_when_silent":
        return "Old key revoked by the server once it had fallen silent";
      case "expired":
        return "Old key expired";
      case "revoke_scheduled":
      case "revoke_cancelled":
        return describe(entry).what.replace(/“[^”]*”/, "the old key");
      default:
        return describe(entry).what;
    }
  };
  return {
    title,
    steps: [
      { entry: story.created, what: "Replacement made, with the same name and permissions" },
      ...story.later.map((entry) => ({ entry, what: step(entry) })),
    ],
  };
}
