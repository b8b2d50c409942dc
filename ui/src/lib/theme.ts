// Applies the chosen theme to the document. "system" is left to CSS (prefers-color-scheme), so
// the app follows the operating system live without listening for changes here.
import type { Theme } from "$lib/backend";

export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  root.dataset.theme = theme;
}
