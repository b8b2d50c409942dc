// A key test run from a form (Connect Zapier's help, rotation step 3): the key pasted into it,
// whether the test is running, and its answer or what went wrong, in plain words.
import type { TestReport } from "$lib/backend";
import type { AppState } from "$lib/app.svelte";

export interface KeyTestOptions {
  /** Runs the test with the key as pasted ("" when it comes from the keychain instead). */
  run: (pasted: string) => Promise<TestReport>;
  /** Whether the key has to be pasted (there is no keychain to read it from). */
  needsPaste: () => boolean;
  /** Said when the key has to be pasted and wasn't. */
  missing: string;
  /** Said when the session ended (the sign-in prompt opens); nothing when left out. */
  signInAgain?: string;
}

export class KeyTest {
  pasted = $state("");
  busy = $state(false);
  report = $state<TestReport | null>(null);
  error = $state<string | undefined>();
  /** The pasted field shows as wrong: a test was refused for want of a key. */
  readonly invalid = $derived(Boolean(this.error) && this.pasted.length === 0);

  readonly #app: AppState;
  readonly #options: KeyTestOptions;

  constructor(app: AppState, options: KeyTestOptions) {
    this.#app = app;
    this.#options = options;
  }

  /** The form's submit handler. */
  submit = async (event: SubmitEvent): Promise<void> => {
    event.preventDefault();
    if (this.busy) return;
    this.report = null;
    this.error = undefined;
    if (this.#options.needsPaste() && this.pasted.length === 0) {
      this.error = this.#options.missing;
      return;
    }
    this.busy = true;
    try {
      this.report = await this.#options.run(this.pasted);
    } catch (error) {
      this.error = this.#app.problem(error) ?? this.#options.signInAgain;
    } finally {
      this.busy = false;
    }
  };
}
