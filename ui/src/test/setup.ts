// Vitest setup: DOM matchers (toBeInTheDocument, toBeDisabled...). The Svelte testing plugin
// unmounts rendered components after each test.
import "@testing-library/jest-dom/vitest";
