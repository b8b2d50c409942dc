// The web view's one piece of shared state: what the back end said at startup, the current
// session, which screen is showing, and the "sign in again" prompt. Created once by App.svelte
// and handed to screens through Svelte context (tests hand in their own). It never holds a
// secret: a new key lives only inside the dialog that reveals it.
import { getContext, setContext } from "svelte";
import { vocabulary } from "$lib/vocabulary";
import {
  backend,
  type AccountSummary,
  type KeysView,
  type OpenKey,
  type PresetView,
  type RotationReason,
  type SessionView,
  type Settings,
  type Startup,
  type WorkspaceSummary,
} from "$lib/backend";
import { isCode, messageOf } from "$lib/errors";

export type Screen =
  | { name: "loading" }
  | { name: "failed"; message: string }
  | { name: "start" }
  | { name: "keys" }
  | { name: "key"; keyId: string }
  /**
   * The rotation wizard: the keys to rotate one after the other (one key, or all due keys),
   * and the journaled rotation to resume, when there is one (then `keyIds` is its old key).
   */
  | { name: "rotate"; keyIds: string[]; reason: RotationReason; rotationId?: string }
  /** A key leaked: disable it, review its requests, replace it. */
  | { name: "incident"; keyId: string }
  /** The guided "Connect Zapier" path. */
  | { name: "zapier" }
  /** The workspace's audit log (owners and admins). */
  | { name: "activity" };

/** Shown when a command answered `signed_out`: sign in again, then carry on where you were. */
export interface SignInPrompt {
  account: AccountSummary | null;
  message: string;
}

/** The settings before the back end has answered: core's defaults. */
export const DEFAULT_SETTINGS: Settings = vocabulary.defaultSettings;

export interface AppInit {
  startup?: Startup | null;
  session?: SessionView | null;
  screen?: Screen;
}

export class AppState {
  startup = $state<Startup | null>(null);
  session = $state<SessionView | null>(null);
  screen = $state<Screen>({ name: "loading" });
  signInPrompt = $state<SignInPrompt | null>(null);
  /** Bumped whenever the session changes under the current screen, so it loads again. */
  generation = $state(0);
  /** A short confirmation ("Key revoked"), announced politely and hidden after a while. */
  notice = $state<string | null>(null);
  #noticeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Reveals of a new key on screen now (see `holdForReveal`). */
  #revealsOnScreen = 0;
  /** The keys the shell fetched while the window loaded, for the first keys screen only. */
  #initialKeys: { workspaceId: string; keys: KeysView } | null = null;

  constructor(init: AppInit = {}) {
    this.startup = init.startup ?? null;
    this.session = init.session ?? init.startup?.session ?? null;
    this.#keepInitialKeys(init.startup ?? null);
    this.screen =
      init.screen ??
      (init.startup ? (this.session ? { name: "keys" } : { name: "start" }) : { name: "loading" });
  }

  get workspace(): WorkspaceSummary | undefined {
    const session = this.session;
    return session?.workspaces.find((w) => w.id === session.workspaceId);
  }

  get settings(): Settings {
    return this.startup?.settings ?? DEFAULT_SETTINGS;
  }

  get presets(): PresetView[] {
    return this.startup?.presets ?? vocabulary.presets;
  }

  get accounts(): AccountSummary[] {
    return this.startup?.accounts ?? [];
  }

  get keychainAvailable(): boolean {
    return this.startup?.keychainAvailable ?? false;
  }

  /**
   * Asks the back end for the first screen (or takes the answer to a request already sent):
   * the restored session, or the start screen.
   */
  async load(pending?: Promise<Startup>): Promise<void> {
    this.screen = { name: "loading" };
    try {
      const startup = await (pending ?? backend.startup());
      this.startup = startup;
      this.session = startup.session ?? null;
      this.#keepInitialKeys(startup);
      this.screen = this.session ? { name: "keys" } : { name: "start" };
    } catch (error) {
      this.screen = { name: "failed", message: messageOf(error) };
    }
  }

  /** A session started or came back: show its keys, or stay on the screen that was open. */
  enterSession(session: SessionView): void {
    const workspaceChanged = this.session?.workspaceId !== session.workspaceId;
    this.session = session;
    this.signInPrompt = null;
    this.remember(session.account);
    if (this.screen.name === "start" || this.screen.name === "loading" || this.screen.name === "failed") {
      this.screen = { name: "keys" };
    } else if (this.screen.name !== "keys" && workspaceChanged) {
      // A key, a rotation or a guided path belongs to the workspace that was open.
      this.screen = { name: "keys" };
    }
    this.generation += 1;
  }

  /** After signing out: the start screen, unless the back end kept another session. */
  leaveSession(startup: Startup): void {
    this.startup = startup;
    this.session = startup.session ?? null;
    this.signInPrompt = null;
    this.screen = this.session ? { name: "keys" } : { name: "start" };
    this.generation += 1;
  }

  /**
   * Signs out of one account. Signing out of another account than the current one keeps the
   * current session (the back end answers the start screen's data either way).
   */
  async signOut(accountId: string): Promise<void> {
    try {
      const startup = await backend.signOut(accountId);
      const account = this.accounts.find((a) => a.id === accountId);
      if (this.session && this.session.account.id !== accountId) {
        this.startup = { ...startup, session: this.session };
        this.notify(
          `Signed out of ${account?.isDemo ? "the demo workspace" : (account?.email ?? "that account")}.`,
        );
      } else {
        this.leaveSession(startup);
      }
    } catch (error) {
      this.notify(messageOf(error));
    }
  }

  async switchWorkspace(workspaceId: string): Promise<void> {
    const session = this.session;
    if (!session || workspaceId === session.workspaceId) return;
    try {
      this.enterSession(await backend.switchWorkspace(session.account.id, workspaceId));
    } catch (error) {
      const message = this.problem(error);
      if (message) this.notify(message);
    }
  }

  /**
   * Makes another remembered account current. The contract has no "switch account" command:
   * `switchWorkspace` with an unknown workspace id opens the account's last or first
   * workspace with API access; a `signed_out` answer asks for that account's password.
   */
  async switchAccount(account: AccountSummary): Promise<void> {
    try {
      this.enterSession(await backend.switchWorkspace(account.id, ""));
    } catch (error) {
      const message = this.problem(error, account);
      if (message) this.notify(message);
    }
  }

  /**
   * Handles what every screen handles alike. `signed_out` opens the sign-in prompt (for
   * `account`, or the current one) and answers null; anything else answers the sentence the
   * screen should show where the problem happened.
   */
  problem(error: unknown, account?: AccountSummary): string | null {
    if (isCode(error, "signed_out")) {
      this.signInPrompt = { account: account ?? this.session?.account ?? null, message: error.message };
      return null;
    }
    return messageOf(error);
  }

  /** The prompt was dismissed without signing in: back to the start screen, nothing lost. */
  dismissSignInPrompt(): void {
    this.signInPrompt = null;
    this.screen = { name: "start" };
  }

  /**
   * A reminder or the tray asked for a key: its page, in its workspace (switching to it when
   * it is another workspace of this account).
   */
  async openKey(key: OpenKey): Promise<void> {
    const session = this.session;
    if (!session) {
      this.notify("Sign in to open the key that reminder is about.");
      return;
    }
    if (this.#revealsOnScreen > 0) {
      this.notify(
        "A new key is on screen, shown only this once. Close it with Done, then open the reminder again.",
      );
      return;
    }
    if (key.workspaceId !== session.workspaceId) {
      if (!session.workspaces.some((w) => w.id === key.workspaceId)) {
        this.notify("That reminder is about a key of another account. Switch to that account to open it.");
        return;
      }
      await this.switchWorkspace(key.workspaceId);
      if (this.session?.workspaceId !== key.workspaceId) return;
    }
    this.screen = { name: "key", keyId: key.keyId };
  }

  /**
   * A new key's one reveal is on screen: nothing but the person's own choice may take it
   * away. Answers the function that ends the hold.
   */
  holdForReveal(): () => void {
    this.#revealsOnScreen += 1;
    let held = true;
    return () => {
      if (held) this.#revealsOnScreen -= 1;
      held = false;
    };
  }

  saveSettings(settings: Settings): void {
    if (this.startup) this.startup.settings = settings;
  }

  notify(message: string): void {
    this.notice = message;
    clearTimeout(this.#noticeTimer);
    this.#noticeTimer = setTimeout(() => (this.notice = null), 6000);
  }

  /**
   * The keys fetched at start for this workspace, once: the first keys screen shows them
   * without asking again; any later one asks the back end.
   */
  takeInitialKeys(workspaceId: string): KeysView | null {
    const initial = this.#initialKeys;
    this.#initialKeys = null;
    return initial?.workspaceId === workspaceId ? initial.keys : null;
  }

  #keepInitialKeys(startup: Startup | null): void {
    const workspaceId = startup?.session?.workspaceId;
    this.#initialKeys = workspaceId && startup?.keys ? { workspaceId, keys: startup.keys } : null;
  }

  private remember(account: AccountSummary): void {
    const startup = this.startup;
    if (!startup) return;
    if (!startup.accounts.some((a) => a.id === account.id)) startup.accounts = [...startup.accounts, account];
  }
}

/** The context key; tests render a screen with `context: new Map([[APP_CONTEXT, state]])`. */
export const APP_CONTEXT = Symbol("keydeck-app");

export function provideApp(state: AppState): AppState {
  return setContext(APP_CONTEXT, state);
}

/** The app's state when there is one (a component tested alone has none). */
export function maybeApp(): AppState | undefined {
  return getContext<AppState | undefined>(APP_CONTEXT);
}

export function useApp(): AppState {
  const state = getContext<AppState | undefined>(APP_CONTEXT);
  if (!state) throw new Error("useApp() outside the app: render inside App.svelte or pass the context");
  return state;
}
