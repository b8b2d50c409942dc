// The state of the rotation wizard that its steps share: the queue of keys (one after the
// other, then a summary), the key under way with its journaled rotation, the new key's one
// reveal, and what moves a rotation along (advance, resume, copy again, cancel, finish one key).
// Each step's own view (the workspace-full list, step 3's checks and test, step 4's typed
// name) lives in its component.
import {
  backend,
  type GenerateResult,
  type KeyCardView,
  type Rotation,
  type RotationAction,
  type RotationReason,
  type RotationStep,
} from "$lib/backend";
import type { AppState } from "$lib/app.svelte";
import { formatSeconds } from "$lib/format";
import { stepLabels, type StepNumber } from "$lib/rotation";

export interface RotationRunProps {
  /** The keys to rotate, one after the other. */
  keyIds: string[];
  reason: RotationReason;
  /** A journaled rotation to resume (of `keyIds[0]`). */
  rotationId?: string;
}

export type Outcome = "rotated" | "skipped" | "cancelled";

export class RotationRun {
  readonly #app: AppState;
  /** The wizard's props, read when needed. */
  readonly #props: () => RotationRunProps;

  // The queue: which key is being rotated, and how each earlier one ended.
  index = $state(0);
  outcomes = $state<{ name: string; outcome: Outcome }[]>([]);
  finished = $state(false);
  /** How the previous key of the queue ended, said above the next one. */
  lastOutcome = $state<{ name: string; outcome: Outcome } | null>(null);

  // The key under way.
  oldCard = $state<KeyCardView | null>(null);
  loading = $state(true);
  loadProblem = $state<string | undefined>();
  rotation = $state<Rotation | null>(null);
  /** The new key's one reveal, dropped once step 2 begins. */
  reveal = $state<GenerateResult | null>(null);
  savedByHand = $state(false);
  /** The action under way ("create", "begin_update", "cancel"...), one at a time. */
  busy = $state<string | null>(null);
  problem = $state<string | undefined>();
  copyMessage = $state<{ text: string; failed: boolean } | null>(null);

  /** Rotations whose old key was left to the server, by rotation id: the silence chosen. */
  plannedSilence = $state<Record<string, number>>({});

  cancelOpen = $state(false);
  cancelProblem = $state<string | undefined>();

  readonly inQueue = $derived(this.keyIds.length > 1);
  readonly keyId = $derived(this.keyIds[this.index]);
  readonly incident = $derived((this.rotation?.reason ?? this.reason) === "incident");
  readonly labels = $derived(stepLabels(this.rotation?.reason ?? this.reason));
  readonly step = $derived.by((): StepNumber | "done" => {
    if (this.finished) return "done";
    if (!this.rotation) return 1;
    return this.rotation.stage === "done" ? "done" : (this.rotation.step as StepNumber);
  });
  readonly name = $derived(this.rotation?.oldKey.name ?? this.oldCard?.card.name ?? "");
  readonly canCancel = $derived(this.rotation?.canCancel ?? false);

  constructor(app: AppState, props: () => RotationRunProps) {
    this.#app = app;
    this.#props = props;
  }

  get keyIds(): string[] {
    return this.#props().keyIds;
  }

  get reason(): RotationReason {
    return this.#props().reason;
  }

  /** Whether the key under way is the journaled rotation being resumed. */
  get resuming(): boolean {
    return this.index === 0 && Boolean(this.#props().rotationId);
  }

  /** Loads the key at `index`: its card, or the journaled rotation to resume. */
  async openKey(): Promise<void> {
    this.oldCard = null;
    this.rotation = null;
    this.reveal = null;
    this.savedByHand = false;
    this.loadProblem = undefined;
    this.loading = true;
    const rotationId = this.#props().rotationId;
    try {
      if (this.index === 0 && rotationId) {
        this.started(await backend.resumeRotation(rotationId));
      } else {
        this.oldCard = await backend.keyCard(this.keyId);
      }
    } catch (error) {
      this.loadProblem = this.#app.problem(error) ?? "Sign in again to carry on.";
    } finally {
      this.loading = false;
    }
  }

  /** The back end answered a rotation with, maybe, the new key's reveal. */
  started(answer: RotationStep): void {
    this.rotation = answer.rotation;
    this.reveal = answer.generated ?? null;
  }

  async advance(action: RotationAction): Promise<void> {
    if (!this.rotation || this.busy) return;
    this.busy = action;
    this.problem = undefined;
    try {
      this.rotation = await backend.advanceRotation(this.rotation.id, action);
      // Past step 1 the secret has no business in the window any more.
      this.reveal = null;
    } catch (error) {
      this.problem = this.#app.problem(error) ?? undefined;
    } finally {
      this.busy = null;
    }
  }

  /** Repeats an interrupted creation: the server answers with the same key. */
  async resumeAgain(): Promise<void> {
    if (!this.rotation || this.busy) return;
    this.busy = "resume";
    this.problem = undefined;
    try {
      this.started(await backend.resumeRotation(this.rotation.id));
    } catch (error) {
      this.problem = this.#app.problem(error) ?? undefined;
    } finally {
      this.busy = null;
    }
  }

  async copyAgain(): Promise<void> {
    if (!this.rotation) return;
    this.copyMessage = null;
    try {
      await backend.copyRotationKey(this.rotation.id);
      this.copyMessage = {
        text: `Copied. The clipboard clears in ${formatSeconds(this.#app.settings.clipboardClearSeconds)}.`,
        failed: false,
      };
    } catch (error) {
      const message = this.#app.problem(error);
      if (message) this.copyMessage = { text: message, failed: true };
    }
  }

  async cancelRotation(): Promise<void> {
    if (!this.rotation || this.busy) return;
    this.busy = "cancel";
    this.cancelProblem = undefined;
    const cancelled = this.name;
    try {
      await backend.cancelRotation(this.rotation.id);
      this.cancelOpen = false;
      if (this.inQueue) {
        this.complete("cancelled");
      } else {
        this.#app.notify(`The rotation of “${cancelled}” was cancelled. The old key works as before.`);
        this.#app.screen = { name: "keys" };
      }
    } catch (error) {
      this.cancelProblem = this.#app.problem(error) ?? undefined;
      if (!this.cancelProblem) this.cancelOpen = false;
    } finally {
      this.busy = null;
    }
  }

  /** One key of the queue ended: on to the next one, or to the summary after the last. */
  complete(outcome: Outcome, done?: Rotation): void {
    const name = this.name;
    this.outcomes = [...this.outcomes, { name, outcome }];
    this.reveal = null;
    if (!this.inQueue) {
      if (done) this.rotation = done;
      return;
    }
    if (this.index + 1 < this.keyIds.length) {
      this.lastOutcome = { name, outcome };
      this.index += 1;
      void this.openKey();
    } else {
      this.rotation = done ?? null;
      this.lastOutcome = null;
      this.finished = true;
    }
  }

  close(): void {
    if (this.rotation && this.step !== "done" && this.rotation.stage !== "creating") {
      this.#app.notify(
        `The rotation of “${this.name}” waits at step ${this.step}. Resume it from the keys screen.`,
      );
    }
    this.reveal = null;
    this.#app.screen = { name: "keys" };
  }
}
