import { fireEvent, render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { createRawSnippet } from "svelte";
import { describe, expect, it, vi } from "vitest";
import Dialog from "./Dialog.svelte";

const body = createRawSnippet(() => ({
  render: () => `<div><input aria-label="First" data-autofocus /><button type="button">Last</button></div>`,
}));

function openFrom(trigger: HTMLElement, props: { dismissible?: boolean } = {}) {
  trigger.focus();
  const onclose = vi.fn();
  const r = render(Dialog, { props: { title: "Rename key", onclose, children: body, ...props } });
  return { ...r, onclose };
}

describe("a dialog", () => {
  it("is labelled by its title and focuses the marked field", async () => {
    const trigger = document.body.appendChild(document.createElement("button"));
    openFrom(trigger);
    const dialog = screen.getByRole("dialog", { name: "Rename key" });
    expect(dialog).toHaveAttribute("aria-modal", "true");
    await vi.waitFor(() => expect(screen.getByLabelText("First")).toHaveFocus());
  });

  it("closes on Escape", async () => {
    const trigger = document.body.appendChild(document.createElement("button"));
    const { onclose } = openFrom(trigger);
    await fireEvent.keyDown(screen.getByLabelText("First"), { key: "Escape" });
    expect(onclose).toHaveBeenCalled();
  });

  it("ignores Escape and has no close button when closing would lose something", async () => {
    const trigger = document.body.appendChild(document.createElement("button"));
    const { onclose } = openFrom(trigger, { dismissible: false });
    await fireEvent.keyDown(screen.getByLabelText("First"), { key: "Escape" });
    expect(onclose).not.toHaveBeenCalled();
    expect(screen.queryByRole("button", { name: "Close" })).not.toBeInTheDocument();
  });

  it("keeps Tab inside and gives focus back when it closes", async () => {
    const user = userEvent.setup();
    const trigger = document.body.appendChild(document.createElement("button"));
    trigger.textContent = "Open";
    const { unmount } = openFrom(trigger);
    await vi.waitFor(() => expect(screen.getByLabelText("First")).toHaveFocus());

    await user.tab();
    expect(screen.getByRole("button", { name: "Last" })).toHaveFocus();
    await user.tab();
    expect(screen.getByRole("button", { name: "Close" })).toHaveFocus();
    await user.tab({ shift: true });
    expect(screen.getByRole("button", { name: "Last" })).toHaveFocus();

    unmount();
    expect(trigger).toHaveFocus();
  });
});
