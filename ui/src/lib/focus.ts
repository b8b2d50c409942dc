// Focus helpers for dialogs and forms: trap Tab inside a dialog, close it with Escape, give
// focus back to where it was when the dialog closes, and move focus to the first bad field.
import { tick } from "svelte";
import type { Action } from "svelte/action";

const FOCUSABLE = [
  "a[href]",
  "button:not([disabled])",
  "input:not([disabled]):not([type='hidden'])",
  "select:not([disabled])",
  "textarea:not([disabled])",
  "[tabindex]:not([tabindex='-1'])",
].join(",");

export function focusableIn(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (el) => !el.closest("[hidden]") && !el.hasAttribute("inert"),
  );
}

export interface TrapOptions {
  /** Called on Escape; leave it out to ignore Escape. */
  onEscape?: () => void;
}

/**
 * Keeps keyboard focus inside the node while it exists. On creation focuses the element
 * marked `data-autofocus` (or the first focusable one, or the node itself); on destruction
 * gives focus back to the element that had it before.
 */
export const trapFocus: Action<HTMLElement, TrapOptions | undefined> = (node, initial) => {
  let options = initial ?? {};
  const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;

  queueMicrotask(() => {
    const preferred = node.querySelector<HTMLElement>("[data-autofocus]");
    (preferred ?? focusableIn(node)[0] ?? node).focus();
  });

  function onKeydown(event: KeyboardEvent) {
    if (event.key === "Escape" && options.onEscape) {
      event.preventDefault();
      event.stopPropagation();
      options.onEscape();
      return;
    }
    if (event.key !== "Tab") return;
    const items = focusableIn(node);
    if (items.length === 0) {
      event.preventDefault();
      node.focus();
      return;
    }
    const first = items[0];
    const last = items[items.length - 1];
    const active = document.activeElement;
    if (event.shiftKey && (active === first || !node.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !node.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  }

  node.addEventListener("keydown", onKeydown);
  return {
    update(next) {
      options = next ?? {};
    },
    destroy() {
      node.removeEventListener("keydown", onKeydown);
      if (previous?.isConnected) previous.focus();
    },
  };
};

/** Focuses the first element inside `root` marked `aria-invalid="true"`, once the DOM shows it. */
export async function focusFirstInvalid(root: HTMLElement | undefined): Promise<void> {
  await tick();
  root?.querySelector<HTMLElement>("[aria-invalid='true']")?.focus();
}
