import { fireEvent, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { backend } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import { demoKeys, renderWithApp, report } from "../../test/fixtures";
import TestKeyDialog from "./TestKeyDialog.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

describe("testing a key", () => {
  it("sends a pasted key exactly as typed, spaces included", async () => {
    api.testKey.mockResolvedValue(
      report({
        verdict: "problem",
        title: "The key has extra spaces",
        detail: "There is a space before the key and one after it.",
        action: "Remove the spaces around the key where you pasted it, then test again.",
        budget: undefined,
        keyName: undefined,
        workspaceName: undefined,
      }),
    );
    renderWithApp(TestKeyDialog, { keys: demoKeys(), onclose: vi.fn() });
    await fireEvent.input(screen.getByTestId("test-input"), {
      target: { value: " kdk_Zq8mN3pLx7TfR2vWc9YbK4hJd6Gs1Ae5Qu0oPi " },
    });
    await fireEvent.click(screen.getByTestId("test-submit"));

    expect(api.testKey).toHaveBeenCalledWith({
      source: "pasted",
      key: " kdk_Zq8mN3pLx7TfR2vWc9YbK4hJd6Gs1Ae5Qu0oPi ",
    });
    const verdict = await screen.findByTestId("test-verdict");
    expect(verdict).toHaveAttribute("data-verdict", "problem");
    expect(verdict).toHaveTextContent("Problem found");
    expect(verdict).toHaveTextContent("The key has extra spaces");
    expect(verdict).toHaveTextContent(
      "What to do: Remove the spaces around the key where you pasted it, then test again.",
    );
  });

  it("shows a connected key with the budget left", async () => {
    api.testKey.mockResolvedValue(report());
    renderWithApp(TestKeyDialog, { keys: demoKeys(), onclose: vi.fn() });
    await fireEvent.input(screen.getByTestId("test-input"), { target: { value: "kdk_x" } });
    await fireEvent.click(screen.getByTestId("test-submit"));

    const verdict = await screen.findByTestId("test-verdict");
    expect(verdict).toHaveAttribute("data-verdict", "connected");
    expect(verdict).toHaveTextContent("Connected");
    expect(verdict).toHaveTextContent("Key “Zapier” in workspace Harbor Design Co.");
    expect(verdict).toHaveTextContent("Rate limit: 97 of 100 requests left, resets in 42 s");
    // The result is announced to screen readers.
    expect(verdict.closest("[aria-live]")).toHaveAttribute("aria-live", "polite");
  });

  it("shows the seconds to wait when the key is rate limited", async () => {
    api.testKey.mockResolvedValue(
      report({
        verdict: "problem",
        title: "Too many requests",
        detail: "The key used up its 100 requests for this minute.",
        action: "Wait 37 seconds, then try again.",
        code: "rate_limit_exceeded",
        budget: { limit: 100, remaining: 0, resetInSeconds: 37 },
      }),
    );
    renderWithApp(TestKeyDialog, { keys: demoKeys(), onclose: vi.fn() });
    await fireEvent.input(screen.getByTestId("test-input"), { target: { value: "kdk_x" } });
    await fireEvent.click(screen.getByTestId("test-submit"));
    const verdict = await screen.findByTestId("test-verdict");
    expect(verdict).toHaveTextContent("What to do: Wait 37 seconds, then try again.");
    expect(verdict).toHaveTextContent("0 of 100 requests left, resets in 37 s");
  });

  it("asks for a key before testing an empty box", async () => {
    renderWithApp(TestKeyDialog, { keys: demoKeys(), onclose: vi.fn() });
    await fireEvent.click(screen.getByTestId("test-submit"));
    expect(api.testKey).not.toHaveBeenCalled();
    expect(screen.getByTestId("test-input")).toHaveAccessibleDescription("Paste the key you want to test.");
  });

  it("offers only the keys in this computer's keychain to pick, and tests the one picked", async () => {
    const user = userEvent.setup();
    api.testKey.mockResolvedValue(report());
    renderWithApp(TestKeyDialog, { keys: demoKeys(), onclose: vi.fn() });

    const picker = screen.getByTestId("test-keychain-select") as HTMLSelectElement;
    const options = Array.from(picker.options).map((o) => o.value);
    expect(options).toEqual(["", "Zapier"]);
    await user.selectOptions(picker, "Zapier");
    expect(screen.getByLabelText("A key in this computer's keychain")).toBeChecked();
    await user.click(screen.getByTestId("test-submit"));
    expect(api.testKey).toHaveBeenCalledWith({ source: "keychain", keyName: "Zapier" });
  });

  it("asks which keychain key to test when none is picked", async () => {
    const user = userEvent.setup();
    renderWithApp(TestKeyDialog, { keys: demoKeys(), onclose: vi.fn() });
    await user.click(screen.getByLabelText("A key in this computer's keychain"));
    await user.click(screen.getByTestId("test-submit"));
    expect(api.testKey).not.toHaveBeenCalled();
    expect(screen.getByTestId("test-keychain-select")).toHaveAccessibleDescription("Choose the key to test.");
  });

  it("offers no keychain choice when no key is in the keychain", () => {
    renderWithApp(TestKeyDialog, { keys: [], onclose: vi.fn() });
    expect(screen.queryByLabelText("A key in this computer's keychain")).not.toBeInTheDocument();
    expect(screen.getByTestId("test-input")).toBeInTheDocument();
  });
});
