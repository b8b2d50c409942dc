// Realistic data for component tests, shaped like the back end's answers. Times are relative
// to the moment a fixture is made, so "2 minutes ago" stays true whenever the tests run.
import { render } from "@testing-library/svelte";
import type { Component } from "svelte";
import { vocabulary } from "$lib/vocabulary";
import type {
  AccountSummary,
  AuditAction,
  AuditEntry,
  GenerateResult,
  KeyCard,
  KeyCardView,
  KeyDetail,
  KeysView,
  PresetView,
  Rotation,
  RotationCheck,
  SessionView,
  Startup,
  TestReport,
  Verification,
  WorkspaceSummary,
} from "$lib/backend";
import { APP_CONTEXT, AppState, type AppInit } from "$lib/app.svelte";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export function ago(ms: number): string {
  return new Date(Date.now() - ms).toISOString();
}

export function ahead(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}

export { MINUTE, DAY };

export function card(overrides: Partial<KeyCard> = {}): KeyCard {
  const lastUsedAt = overrides.lastUsedAt === undefined ? ago(2 * MINUTE) : overrides.lastUsedAt;
  return {
    id: "key_zapier",
    name: "Zapier",
    prefix: "kdk_AbCd",
    hint: "9xQz",
    scopes: ["time_entries:read", "time_entries:write"],
    createdAt: ago(20 * DAY),
    createdBy: { id: "u1", name: "Ana Silva", canManageKeys: true },
    lastUsedAt,
    // Used and successful, unless a test says otherwise.
    lastSuccessAt: lastUsedAt,
    lastRefusal: null,
    requestCount: 1204,
    expiresAt: ahead(160 * DAY),
    enabled: true,
    status: "active",
    rateLimit: { enabled: true, maxRequests: 100, windowSeconds: 60 },
    replaces: null,
    replacedBy: null,
    allowedIps: [],
    revokePlan: null,
    leak: null,
    ...overrides,
  };
}

export function view(
  cardOverrides: Partial<KeyCard> = {},
  overrides: Partial<KeyCardView> = {},
): KeyCardView {
  const c = card(cardOverrides);
  return {
    card: c,
    inKeychain: false,
    rotationDue: false,
    expiresSoon: false,
    due: Boolean(overrides.rotationDue || overrides.expiresSoon) && c.status !== "expired",
    keychainAccount: `ws_harbor/${c.name}`,
    previousKeychainAccount: `ws_harbor/${c.name} (previous)`,
    ...overrides,
  };
}

/** Seven keys showing every state a card can show, like the demo workspace. */
export function demoKeys(): KeyCardView[] {
  return [
    view({ id: "k1", name: "Zapier" }, { inKeychain: true }),
    view({ id: "k2", name: "Reporting dashboard", lastUsedAt: null, requestCount: 0 }),
    view({ id: "k3", name: "Old payroll sync", enabled: false, status: "disabled" }),
    view({ id: "k4", name: "Q3 export", status: "expired", expiresAt: ago(3 * DAY) }),
    view({ id: "k5", name: "Finance sync", expiresAt: ahead(3 * DAY) }, { expiresSoon: true }),
    view({ id: "k6", name: "Legacy BI", createdAt: ago(120 * DAY) }, { rotationDue: true }),
    view({ id: "k7", name: "Sam's script", createdBy: { id: "u9", name: "Sam Lee", canManageKeys: false } }),
  ];
}

export function keysView(keys: KeyCardView[] = demoKeys(), overrides: Partial<KeysView> = {}): KeysView {
  return { keys, limit: 10, fetchedAt: new Date().toISOString(), stale: false, rotations: [], ...overrides };
}

export function workspace(overrides: Partial<WorkspaceSummary> = {}): WorkspaceSummary {
  return {
    id: "ws_harbor",
    name: "Harbor Design Co.",
    plan: "business",
    billingStatus: "active",
    role: "owner",
    apiBaseUrl: "http://127.0.0.1:8080/api/v1",
    ...overrides,
  };
}

export function account(overrides: Partial<AccountSummary> = {}): AccountSummary {
  return {
    id: "owner@example.com@https://keys.example.com",
    serverUrl: "https://keys.example.com",
    email: "owner@example.com",
    name: "Olivia Owner",
    isDemo: false,
    ...overrides,
  };
}

export function session(overrides: Partial<SessionView> = {}): SessionView {
  return {
    account: account(),
    workspaces: [
      workspace(),
      workspace({ id: "ws_alex", name: "Alex Morgan Studio", plan: "solo_pro" }),
      workspace({ id: "ws_cedar", name: "Cedar Bookkeeping", plan: "team", billingStatus: "read_only" }),
    ],
    workspaceId: "ws_harbor",
    docsUrl: "https://keys.example.com/docs",
    ...overrides,
  };
}

/** The presets as core makes them. */
export const PRESETS: PresetView[] = vocabulary.presets;

export function startup(overrides: Partial<Startup> = {}): Startup {
  return {
    accounts: [account()],
    session: session(),
    settings: { ...vocabulary.defaultSettings },
    presets: PRESETS,
    keychainAvailable: true,
    clipboardAvailable: true,
    trayAvailable: true,
    ...overrides,
  };
}

export function generated(overrides: Partial<GenerateResult> = {}): GenerateResult {
  return {
    key: view(
      { id: "k_new", name: "Zapier production", lastUsedAt: null, requestCount: 0 },
      { inKeychain: true },
    ),
    secret: "kdk_Zq8mN3pLx7TfR2vWc9YbK4hJd6Gs1Ae5Qu0oPi",
    keychain: { service: "keydeck", account: "ws_harbor/Zapier production" },
    copied: true,
    clearAfterSeconds: 30,
    ...overrides,
  };
}

export function detail(overrides: Partial<KeyDetail> = {}): KeyDetail {
  const days = Array.from({ length: 14 }, (_, i) => {
    const d = new Date(Date.now() - (13 - i) * DAY);
    return { date: d.toISOString().slice(0, 10), count: i * 10 };
  });
  return {
    key: view({ id: "k1", name: "Zapier" }, { inKeychain: true }),
    usage: days,
    requests: [
      { at: ago(MINUTE), method: "GET", path: "/api/v1/time-entries", status: 200, ip: "127.0.0.1" },
      { at: ago(2 * MINUTE), method: "POST", path: "/api/v1/projects", status: 403, ip: "127.0.0.1" },
    ],
    ...overrides,
  };
}

export function report(overrides: Partial<TestReport> = {}): TestReport {
  return {
    verdict: "connected",
    title: "The key works",
    detail: "Harbor Design Co. answered with the key's name.",
    action: "",
    budget: { limit: 100, remaining: 97, resetInSeconds: 42 },
    keyName: "Zapier",
    workspaceName: "Harbor Design Co.",
    ...overrides,
  };
}

/** The app state of a signed-in owner of Harbor Design Co., with overrides. */
export function appState(init: AppInit = {}): AppState {
  const s = init.startup ?? startup();
  return new AppState({ startup: s, session: init.session ?? s.session ?? null, screen: init.screen });
}

/** Renders a component inside the app context, as App.svelte would. */
export function renderWithApp<P extends Record<string, unknown>>(
  component: Component<P>,
  props: P,
  state: AppState = appState(),
) {
  const result = render(component as Component<Record<string, unknown>>, {
    props,
    context: new Map([[APP_CONTEXT, state]]),
  });
  return { ...result, app: state };
}

/**
 * A rotation of "Legacy BI" (k6, ending 7hQe) at `stage`, with the times a real one would have
 * there: the replacement (k_rot, ending N3wK) exists from "created" on.
 */
export function rotation(stage: Rotation["stage"] = "created", overrides: Partial<Rotation> = {}): Rotation {
  const created = stage !== "creating";
  const updating = !["creating", "created"].includes(stage);
  const confirmed = ["confirmed", "revoking", "done"].includes(stage);
  return {
    id: "rot_1",
    reason: "scheduled",
    accountId: account().id,
    workspaceId: "ws_harbor",
    oldKey: { id: "k6", name: "Legacy BI", prefix: "kdk_LeGa", hint: "7hQe" },
    scopes: ["reports:read", "projects:read"],
    expiresInDays: 180,
    rateLimit: { enabled: true, maxRequests: 100, windowSeconds: 60 },
    newKey: created ? { id: "k_rot", name: "Legacy BI", prefix: "kdk_NeWk", hint: "N3wK" } : null,
    stage,
    step: { creating: 1, created: 1, updating: 2, confirming: 3, confirmed: 4, revoking: 4, done: 4 }[stage],
    canCancel: !["revoking", "done"].includes(stage),
    interrupted: stage === "creating" || stage === "revoking",
    keychainAccount: `ws_harbor/${overrides.oldKey?.name ?? "Legacy BI"}`,
    previousKeychainAccount: `ws_harbor/${overrides.oldKey?.name ?? "Legacy BI"} (previous)`,
    startedAt: ago(10 * MINUTE),
    createdAt: created ? ago(9 * MINUTE) : null,
    updateStartedAt: updating ? ago(5 * MINUTE) : null,
    confirmStartedAt: ["confirming", "confirmed", "revoking", "done"].includes(stage)
      ? ago(4 * MINUTE)
      : null,
    confirmation: confirmed ? { by: "watching", at: ago(MINUTE) } : null,
    finishedAt: stage === "done" ? new Date().toISOString() : null,
    previousInKeychain: stage !== "done",
    ...overrides,
  };
}

/** The old key of `rotation()`, as its card. */
export function legacyKey(overrides: Partial<KeyCard> = {}, viewOverrides: Partial<KeyCardView> = {}) {
  return view(
    {
      id: "k6",
      name: "Legacy BI",
      hint: "7hQe",
      scopes: ["reports:read", "projects:read"],
      createdAt: ago(120 * DAY),
      expiresAt: ahead(60 * DAY),
      ...overrides,
    },
    // Given 180 days, so its replacement gets 180 (the back end works this out).
    { inKeychain: true, rotationDue: true, replacementExpiresInDays: 180, ...viewOverrides },
  );
}

export function verification(overrides: Partial<Verification> = {}): Verification {
  return {
    newLastSuccessAt: null,
    newSucceededSinceUpdate: false,
    newRefusal: null,
    oldLastUsedAt: ago(10 * MINUTE),
    oldUsedSinceUpdate: false,
    oldSilentSeconds: 600,
    quietSeconds: 60,
    passed: false,
    ...overrides,
  };
}

export function rotationCheck(
  r: Rotation = rotation("confirming"),
  v: Partial<Verification> = {},
): RotationCheck {
  return { rotation: r, verification: verification(v) };
}

let auditCount = 0;

/**
 * An audit log entry about `keyId` by Ana Silva from 198.51.100.4; each one made is a minute
 * after the one before (and has a higher id), as the log would have them.
 */
export function auditEntry(
  action: AuditAction,
  keyId: string | null,
  overrides: Partial<AuditEntry> = {},
): AuditEntry {
  auditCount += 1;
  return {
    id: `aud_${String(auditCount).padStart(4, "0")}`,
    at: new Date(Date.UTC(2026, 11, 2, 10, auditCount)).toISOString(),
    actor: { kind: "user", id: "u1", name: "Ana Silva" },
    ip: "198.51.100.4",
    action,
    keyId,
    userId: null,
    changes: {},
    keyName: keyId ? "Legacy BI" : null,
    userName: null,
    ...overrides,
  };
}
