// The one module of the web view that talks to the Rust shell. Every command is typed with the
// generated types of ./types.ts; a failed command throws a BackendError whose `code` the
// screens branch on.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type {
  ActivityQuery,
  AppError,
  AppErrorCode,
  AuditPage,
  FieldError,
  GenerateRequest,
  GenerateResult,
  KeyCardView,
  KeyDetail,
  KeysView,
  OpenKey,
  Rotation,
  RotationAction,
  RotationCheck,
  RotationReason,
  RotationStep,
  RotationTested,
  SessionView,
  Settings,
  Startup,
  TestKeyInput,
  TestReport,
  UpdateKeyRequest,
  Vocabulary,
} from "./types";
import vocabularyJson from "./vocabulary.json";

/** The event by which the shell asks for a key's page. */
const OPEN_KEY_EVENT = (vocabularyJson as Vocabulary).openKeyEvent;

export * from "./types";

export class BackendError extends Error {
  readonly code: AppErrorCode;
  readonly fields: FieldError[];

  constructor(error: AppError) {
    super(error.message);
    this.code = error.code;
    this.fields = error.fields ?? [];
  }
}

function isAppError(value: unknown): value is AppError {
  return typeof value === "object" && value !== null && "code" in value && "message" in value;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    if (isAppError(error)) throw new BackendError(error);
    throw new BackendError({ code: "other", message: String(error) });
  }
}

export const backend = {
  /** Remembered accounts, the restored session if any, settings, presets, keychain state. */
  startup: () => call<Startup>("startup"),
  /** Starts the in-app demo workspace and signs in to it. */
  openDemo: () => call<SessionView>("open_demo"),
  /**
   * Signs in. Plain `http://` to another computer fails with `unencrypted` unless
   * `allowUnencrypted`, which the form sets only once the person has agreed.
   */
  signIn: (serverUrl: string, email: string, password: string, allowUnencrypted = false) =>
    call<SessionView>("sign_in", { serverUrl, email, password, allowUnencrypted }),
  /** Signs out of one account; answers what the start screen needs next. */
  signOut: (accountId: string) => call<Startup>("sign_out", { accountId }),
  switchWorkspace: (accountId: string, workspaceId: string) =>
    call<SessionView>("switch_workspace", { accountId, workspaceId }),
  /** The current workspace's keys; when the server is unreachable, the last ones, marked stale. */
  listKeys: () => call<KeysView>("list_keys"),
  /** Creates a key, stores it in the keychain (read back), copies it: the one reveal. */
  generateKey: (request: GenerateRequest) => call<GenerateResult>("generate_key", { request }),
  keyDetail: (keyId: string) => call<KeyDetail>("key_detail", { keyId }),
  updateKey: (keyId: string, changes: UpdateKeyRequest) =>
    call<KeyCardView>("update_key", { keyId, changes }),
  /** Revokes for good; `confirmName` must be the key's name, typed by the user. */
  revokeKey: (keyId: string, confirmName: string) => call<void>("revoke_key", { keyId, confirmName }),
  testKey: (input: TestKeyInput) => call<TestReport>("test_key", { input }),
  saveSettings: (settings: Settings) => call<Settings>("save_settings", { settings }),
  /**
   * Calls `handler` each time the shell asks for a key's page (a reminder or the tray's menu
   * was clicked); resolves to the function that stops listening.
   */
  onOpenKey: (handler: (key: OpenKey) => void) =>
    listen<OpenKey>(OPEN_KEY_EVENT, (event) => handler(event.payload)),
  /** Copies a value that is not a secret (the API address, the workspace ID). */
  copyText: (text: string) => call<void>("copy_text", { text }),
  /** Opens the current server's API reference in the default browser. */
  openDocs: () => call<void>("open_docs"),
  /** One key's card, fresh from the server (to watch for its first use). */
  keyCard: (keyId: string) => call<KeyCardView>("key_card", { keyId }),
  /** Revokes a key that was never used (to make room); refuses a key that was used. */
  deleteUnusedKey: (keyId: string) => call<void>("delete_unused_key", { keyId }),
  /**
   * Rotation step 1: journals the rotation, creates the replacement with the old key's name,
   * scopes, rate limit and expiry preset, moves the old secret to the "previous" keychain
   * address and stores the new one at the key's address (read back), copies it. Answers the
   * one reveal in `generated`. Fails with `key_limit_reached` when the workspace is full.
   * For a key with an unfinished rotation, resumes that one instead.
   */
  startRotation: (keyId: string, reason: RotationReason) =>
    call<RotationStep>("start_rotation", { keyId, reason }),
  /**
   * Resumes a journaled rotation: repeats an interrupted creation (same Idempotency-Key, so
   * the same key; `generated` then holds its reveal) or revocation, else just answers it.
   */
  resumeRotation: (rotationId: string) => call<RotationStep>("resume_rotation", { rotationId }),
  /** begin_update (step 2), begin_confirm (step 3), override (to step 4 without proof). */
  advanceRotation: (rotationId: string, action: RotationAction) =>
    call<Rotation>("advance_rotation", { rotationId, action }),
  /** Step 3's live view; when the rule passes, the rotation moves to step 4 (stage confirmed). */
  checkRotation: (rotationId: string) => call<RotationCheck>("check_rotation", { rotationId }),
  /**
   * Tests the new key (from the keychain, or `pasted` when there is none); a connected test of
   * the new key passes step 3.
   */
  testRotation: (rotationId: string, pasted: string | null) =>
    call<RotationTested>("test_rotation", { rotationId, pasted }),
  /** Step 4: revokes the old key once its name is typed, deletes the "previous" entry. */
  finishRotation: (rotationId: string, confirmName: string) =>
    call<Rotation>("finish_rotation", { rotationId, confirmName }),
  /**
   * Step 4 the other way: the server revokes the old key once it has had no request for
   * `silentSeconds` (1 hour to 7 days), even with Keydeck closed; the rotation ends now and the
   * "previous" entry is deleted. The old key's card shows the plan; `updateKey` with
   * `revokeWhenSilentSeconds: null` calls it off.
   */
  finishRotationWhenSilent: (rotationId: string, silentSeconds: number) =>
    call<Rotation>("finish_rotation_when_silent", { rotationId, silentSeconds }),
  /**
   * Calls a rotation off before step 4: revokes the replacement, puts the old secret back at
   * the key's keychain address, deletes the journal. The old key keeps working.
   */
  cancelRotation: (rotationId: string) => call<void>("cancel_rotation", { rotationId }),
  /** Copies the rotation's new key to the clipboard again, from the keychain. */
  copyRotationKey: (rotationId: string) => call<void>("copy_rotation_key", { rotationId }),
  /**
   * A page of the workspace's audit log, newest first, narrowed by `query` (owners and admins;
   * a member gets `forbidden`). Pass the page's `nextBefore` as `before` for the next one.
   */
  activity: (query: ActivityQuery) => call<AuditPage>("activity", { query }),
  /** Bench-only: reports that the page has painted (ignored outside `make bench`). */
  benchPainted: () => call<void>("bench_painted"),
};

export type Backend = typeof backend;
