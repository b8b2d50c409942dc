// Generated from crates/core by `make bindings`: do not edit by hand.
/* eslint-disable */

export type ErrorCode = "missing_workspace_id" | "bad_request" | "missing_api_key" | "invalid_api_key" | "key_revoked" | "key_expired" | "key_disabled" | "key_owner_removed" | "invalid_credentials" | "invalid_session" | "invalid_signature" | "workspace_mismatch" | "insufficient_scope" | "plan_required" | "workspace_read_only" | "forbidden" | "ip_not_allowed" | "not_found" | "method_not_allowed" | "key_limit_reached" | "idempotency_conflict" | "name_taken" | "validation_failed" | "expiration_immutable" | "rate_limit_exceeded" | "too_many_attempts" | "internal_error";

export type Scope = "time_entries:read" | "time_entries:write" | "employees:read" | "reports:read" | "projects:read" | "projects:write";

export type Purpose = "zapier" | "reporting_dashboard" | "finance_sync" | "data_export" | "custom";

export type ExpiresInDays = 7 | 30 | 90 | 180 | 365;

export type RateLimit = { enabled: boolean, maxRequests: number, windowSeconds: number, };

export type Plan = "free" | "solo_pro" | "team" | "business";

export type BillingStatus = "active" | "read_only";

export type Role = "owner" | "admin" | "member";

export type KeyStatus = "active" | "disabled" | "expired";

export type ErrorBody = { error: ErrorCode, message: string, 
/**
 * With `validation_failed`: every bad field.
 */
fields?: Array<FieldError>, 
/**
 * With `insufficient_scope`: the scope the request needs.
 */
requiredScope?: Scope, 
/**
 * With `rate_limit_exceeded` and `too_many_attempts`: seconds to wait.
 */
retryAfter?: number, };

export type FieldError = { 
/**
 * The field's name as sent, e.g. `name` or `rateLimit.maxRequests`.
 */
field: string, message: string, };

export type UserInfo = { id: string, email: string, name: string, };

export type WorkspaceSummary = { id: string, name: string, plan: Plan, billingStatus: BillingStatus, 
/**
 * The caller's role in this workspace.
 */
role: Role, 
/**
 * Where integrations send their requests, e.g. `http://127.0.0.1:8080/api/v1`.
 */
apiBaseUrl: string, };

export type KeyCard = { id: string, name: string, 
/**
 * The first 8 characters of the key (`kdk_` and 4 more).
 */
prefix: string, 
/**
 * The last 4 characters of the key.
 */
hint: string, scopes: Array<Scope>, createdAt: string, createdBy: KeyCreator, 
/**
 * The last request made with the key, whatever its answer; `null` when never used.
 */
lastUsedAt: string | null, 
/**
 * The last request answered with a 2xx: the proof that whatever sends the key works.
 * `null` when no request has succeeded yet.
 */
lastSuccessAt: string | null, 
/**
 * The latest request that was refused (any answer other than a 2xx), so a client can
 * say why an integration's calls fail; `null` when none was.
 */
lastRefusal: KeyRefusal | null, requestCount: number, 
/**
 * `null` when the key never expires.
 */
expiresAt: string | null, enabled: boolean, status: KeyStatus, rateLimit: RateLimit, 
/**
 * The key this one replaces, when it was made by a rotation (`replaces` at creation).
 */
replaces: string | null, 
/**
 * The live key made to replace this one, while there is one.
 */
replacedBy: string | null, 
/**
 * The addresses and CIDR ranges requests with the key may come from; empty allows
 * any address. Others are refused with `ip_not_allowed`.
 */
allowedIps: Array<string>, 
/**
 * The server's plan to revoke the key once it has been silent, while there is one.
 */
revokePlan: RevokePlan | null, 
/**
 * Set when a secret scanner reported the key found in public; the key was disabled
 * at that moment.
 */
leak: LeakMark | null, };

export type RevokePlan = { silentSeconds: number, scheduledAt: string, 
/**
 * The earliest moment the plan can run, if no request comes before it: the later of
 * the last request and the plan's making, plus `silentSeconds`.
 */
revokesAt: string, };

export type LeakMark = { reportedAt: string, 
/**
 * Where the key was found, as the report gave it.
 */
url: string | null, 
/**
 * What kind of place it was found in, e.g. `content` or `commit`.
 */
source: string | null, };

export type KeyCreator = { id: string, name: string, 
/**
 * False once the creator has left the workspace or is no longer an owner or admin:
 * the key then stops working (`key_owner_removed`).
 */
canManageKeys: boolean, };

export type KeyRefusal = { at: string, 
/**
 * The API's error code of the answer.
 */
error: ErrorCode, status: number, };

export type UsageDay = { date: string, count: number, };

export type KeyRequestLog = { at: string, method: string, path: string, status: number, 
/**
 * The address the request came from.
 */
ip: string, };

export type Me = { workspace: MeWorkspace, key: MeKey, };

export type MeWorkspace = { id: string, name: string, };

export type MeKey = { id: string, name: string, hint: string, scopes: Array<Scope>, expiresAt: string | null, };

export type AuditPage = { entries: Array<AuditEntry>, 
/**
 * Pass as `before` for the next (older) page; `null` on the last page.
 */
nextBefore: string | null, };

export type AuditEntry = { id: string, at: string, actor: AuditActor, 
/**
 * The address the change came from; `null` for the admin command line and the server.
 */
ip: string | null, action: AuditAction, 
/**
 * The key changed, for key actions.
 */
keyId: string | null, 
/**
 * The member changed, for member actions.
 */
userId: string | null, 
/**
 * The fields that changed.
 */
changes: { [key in string]?: AuditChange }, 
/**
 * The key's name when the entry was written (after the change, for `renamed`).
 */
keyName: string | null, 
/**
 * The member's name when the entry was written, for member actions.
 */
userName: string | null, };

export type AuditActor = { kind: ActorKind, 
/**
 * The user, for `user`.
 */
id: string | null, name: string | null, };

export type AuditChange = { from: unknown, to: unknown, };

export type ActorKind = "user" | "admin_cli" | "server";

export type AuditAction = "created" | "renamed" | "scopes_changed" | "rate_limit_changed" | "allowed_ips_changed" | "disabled" | "enabled" | "revoked" | "revoke_scheduled" | "revoke_cancelled" | "revoked_when_silent" | "expired" | "creator_removed" | "creator_restored" | "member_added" | "role_changed" | "member_removed" | "leak_reported";

export type AppErrorCode = "signed_out" | "unreachable" | "unencrypted" | "no_keychain" | "no_clipboard" | "validation" | "plan_required" | "forbidden" | "key_limit_reached" | "read_only" | "not_found" | "other";

export type AppError = { code: AppErrorCode, message: string, fields?: Array<FieldError>, };

export type AccountSummary = { 
/**
 * Stable id: the email and server address.
 */
id: string, serverUrl: string, email: string, name: string, 
/**
 * The in-app demo workspace.
 */
isDemo: boolean, };

export type SessionView = { account: AccountSummary, workspaces: Array<WorkspaceSummary>, workspaceId: string, 
/**
 * The server's API reference page.
 */
docsUrl: string, };

export type RefusalAdvice = { at: string, error: ErrorCode, status: number, 
/**
 * What went wrong, as the end of a sentence: "sent another workspace's ID with it".
 */
cause: string, 
/**
 * What to do, as a sentence.
 */
fix: string, };

export type KeyCardView = { card: KeyCard, 
/**
 * The key's latest request was refused (nothing succeeded since), and what to fix.
 */
refusal?: RefusalAdvice, 
/**
 * This computer's keychain holds a secret at the key's address.
 */
inKeychain: boolean, 
/**
 * Older than the rotation policy.
 */
rotationDue: boolean, 
/**
 * Expires within 7 days.
 */
expiresSoon: boolean, 
/**
 * Due for a rotation: past the policy or expiring soon, and not expired.
 */
due: boolean, 
/**
 * The expiry a rotation's replacement gets (the nearest preset at least as long as
 * this key was given); none for a key that never expires.
 */
replacementExpiresInDays?: ExpiresInDays, keychainAccount: string, 
/**
 * Where a rotation of this key keeps the old secret until step 4.
 */
previousKeychainAccount: string, };

export type KeysView = { keys: Array<KeyCardView>, limit: number, fetchedAt: string, 
/**
 * The server could not be reached: these are the last cards seen.
 */
stale: boolean, staleReason?: string, 
/**
 * Rotations of this workspace's keys begun on this computer and not finished (to offer
 * resuming them).
 */
rotations: Array<Rotation>, };

export type PresetView = { purpose: Purpose, label: string, description: string, scopes: Array<Scope>, expiresInDays: ExpiresInDays | null, rateLimit: RateLimit, };

export type GenerateRequest = { name: string, purpose: Purpose, scopes: Array<Scope>, expiresInDays: ExpiresInDays | null, rateLimit: RateLimit, 
/**
 * False for the clipboard-only way when there is no keychain.
 */
storeInKeychain: boolean, };

export type GenerateResult = { key: KeyCardView, 
/**
 * The secret: the one time it reaches the web view.
 */
secret: string, 
/**
 * Where the keychain holds it (service, account), when it does.
 */
keychain?: KeychainLocation, 
/**
 * Why it is not in the keychain, when it is not.
 */
keychainProblem?: string, 
/**
 * Whether the clipboard holds it, and for how long.
 */
copied: boolean, clearAfterSeconds: number, 
/**
 * Why it was not copied, when it was not.
 */
clipboardProblem?: string, };

export type KeychainLocation = { service: string, account: string, };

export type ActivityQuery = { 
/**
 * Older than this entry (the `nextBefore` of the page before).
 */
before: string | null, 
/**
 * Entries about any of these keys.
 */
keyIds: Array<string>, 
/**
 * A user id, or `admin_cli` or `server`.
 */
actor: string | null, actions: Array<AuditAction>, };

export type ReminderCheck = { workspaceId: string, current: Array<Reminder>, new: Array<Reminder>, 
/**
 * The keys listed, whose events are kept in the record.
 */
liveKeys: Array<string>, };

export type Reminder = { kind: ReminderKind, 
/**
 * The event this reminder is about; the same event gives the same id.
 */
event: string, 
/**
 * The key to open when the reminder is clicked.
 */
keyId: string, title: string, body: string, };

export type ReminderKind = "expires_soon" | "rotation_due" | "refused" | "rotation_waiting";

export type ReminderKindView = { kind: ReminderKind, label: string, };

export type OpenKey = { workspaceId: string, keyId: string, };

export type KeyDetail = { key: KeyCardView, usage: Array<UsageDay>, requests: Array<KeyRequestLog>, };

export type TestKeyInput = { "source": "pasted", key: string, } | { "source": "keychain", keyName: string, };

export type TestReport = { verdict: Verdict, title: string, detail: string, 
/**
 * What to do about it; empty when all is well.
 */
action: string, 
/**
 * Where the test stopped, when it did not connect.
 */
failure?: TestFailure, 
/**
 * The API's error code, when the server refused the key.
 */
code?: ErrorCode, budget?: Budget, keyName?: string, workspaceName?: string, };

export type TestFailure = "malformed" | "unreachable" | "refused";

export type Verdict = "connected" | "problem";

export type Budget = { limit: number, remaining: number, resetInSeconds: number, };

export type Settings = { 
/**
 * Seconds before a copied key is cleared from the clipboard (if still there).
 */
clipboardClearSeconds: number, 
/**
 * Keys older than this many days are flagged "rotation due".
 */
rotationDays: number, 
/**
 * Rotation step 3: how long the old key must stay silent (seconds).
 */
quietSeconds: number, theme: Theme, 
/**
 * The kinds of reminder turned off; every kind is on until turned off here.
 */
remindersOff: Array<ReminderKind>, 
/**
 * Whether closing the window keeps Keydeck running in the tray (reminders go on);
 * off, closing the window quits.
 */
keepInTray: boolean, };

export type Theme = "system" | "light" | "dark";

export type Startup = { accounts: Array<AccountSummary>, session?: SessionView, settings: Settings, presets: Array<PresetView>, keychainAvailable: boolean, keychainProblem?: string, clipboardAvailable: boolean, 
/**
 * Whether this app shows a tray icon (the window's shell has a tray library); without
 * one, closing the window always quits.
 */
trayAvailable: boolean, 
/**
 * The session's keys, on the first start-up only, fetched while the window loaded.
 */
keys?: KeysView, };

export type Vocabulary = { 
/**
 * The purpose presets of the generate form, Zapier's among them.
 */
presets: Array<PresetView>, 
/**
 * Every scope, in the API's order.
 */
scopes: Array<ScopeView>, statuses: Array<StatusView>, plans: Array<PlanView>, roles: Array<RoleView>, 
/**
 * The expiries a key may be given, in days (or never).
 */
expiryPresets: Array<ExpiresInDays>, defaultRateLimit: RateLimit, defaultSettings: Settings, 
/**
 * The reminders Keydeck can send, each of which can be turned off.
 */
reminderKinds: Array<ReminderKindView>, limits: Limits, 
/**
 * The keychain service of API keys.
 */
keychainService: string, 
/**
 * What every key starts with.
 */
keyPrefix: string, 
/**
 * The event by which the shell asks the web view to open a key ([`OpenKey`]).
 */
openKeyEvent: string, };

export type ScopeView = { scope: Scope, label: string, description: string, };

export type StatusView = { status: KeyStatus, label: string, };

export type PlanView = { plan: Plan, label: string, hasApiAccess: boolean, };

export type RoleView = { role: Role, label: string, canManageKeys: boolean, };

export type Limits = { nameChars: Bounds, keysPerWorkspace: number, rateLimitMaxRequests: Bounds, rateLimitWindowSeconds: Bounds, clipboardClearSeconds: Bounds, rotationDays: Bounds, quietSeconds: Bounds, };

export type Bounds = { min: number, max: number, };

export type UpdateKeyRequest = { name?: string, scopes?: Array<Scope>, rateLimit?: RateLimit, enabled?: boolean, 
/**
 * Replaces the allowlist; `[]` allows any address again.
 */
allowedIps?: Array<string>, 
/**
 * Plans the key's revocation once it has been silent this many seconds (3600 to
 * 604800); `null` cancels the plan. Left out, the plan stays as it is.
 */
revokeWhenSilentSeconds?: number | null, };

export type RotationReason = "scheduled" | "incident";

export type Stage = "creating" | "created" | "updating" | "confirming" | "confirmed" | "revoking" | "done";

export type KeyRef = { id: string, name: string, prefix: string, hint: string, };

export type ConfirmedBy = "watching" | "test" | "override";

export type Confirmation = { by: ConfirmedBy, at: string, };

export type Rotation = { id: string, reason: RotationReason, accountId: string, workspaceId: string, oldKey: KeyRef, scopes: Array<Scope>, expiresInDays: ExpiresInDays | null, rateLimit: RateLimit, newKey: KeyRef | null, stage: Stage, 
/**
 * The step (1 to 4) the wizard shows.
 */
step: number, 
/**
 * Whether the rotation may still be called off.
 */
canCancel: boolean, 
/**
 * A creation or revocation was cut short: resuming finishes it first.
 */
interrupted: boolean, 
/**
 * The key's keychain account (the replacement's once step 1 is done).
 */
keychainAccount: string, 
/**
 * Where the old key's secret waits until step 4.
 */
previousKeychainAccount: string, startedAt: string, createdAt: string | null, updateStartedAt: string | null, confirmStartedAt: string | null, confirmation: Confirmation | null, finishedAt: string | null, previousInKeychain: boolean, };

export type Verification = { 
/**
 * The new key's last request answered with a 2xx.
 */
newLastSuccessAt: string | null, 
/**
 * A request with the new key succeeded after step 2 began.
 */
newSucceededSinceUpdate: boolean, 
/**
 * The new key's latest request since step 2 began was refused, and what to do about it:
 * step 3 does not pass while this is set.
 */
newRefusal: RefusalAdvice | null, 
/**
 * The old key's last request, of any outcome.
 */
oldLastUsedAt: string | null, 
/**
 * The old key was used (or tried) after step 2 began: step 4 warns.
 */
oldUsedSinceUpdate: boolean, 
/**
 * Seconds since the old key's last use (capped for display).
 */
oldSilentSeconds: number, quietSeconds: number, 
/**
 * Step 3 passes by itself.
 */
passed: boolean, };

export type RotationStep = { rotation: Rotation, generated?: GenerateResult, };

export type RotationCheck = { rotation: Rotation, verification: Verification, 
/**
 * `null` once the old key is revoked.
 */
oldKey?: KeyCardView, newKey?: KeyCardView, };

export type RotationTested = { rotation: Rotation, report: TestReport, };

export type RotationAction = "begin_update" | "begin_confirm" | "override";
