import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import { DAY, ago, ahead, view } from "../../test/fixtures";
import KeyCard from "./KeyCard.svelte";

function show(v = view(), now = Date.now()) {
  const onopen = vi.fn();
  const { container } = render(KeyCard, { props: { view: v, now, onopen } });
  return { onopen, card: container.querySelector<HTMLElement>("[data-testid='key-card']")! };
}

describe("a key card", () => {
  it("shows the name, status, hint, readable permissions, use and who added it", () => {
    const { card } = show(view({ createdAt: "2026-11-01T10:00:00Z" }));
    expect(card).toHaveAttribute("data-key-name", "Zapier");
    expect(card).toHaveTextContent("Active");
    expect(card).toHaveTextContent("kdk_…9xQz");
    expect(screen.getByRole("list", { name: "Permissions" })).toHaveTextContent(
      "Read time entriesCreate time entries",
    );
    expect(card).toHaveTextContent("Last used 2 minutes ago · 1,204 requests");
    expect(card).toHaveTextContent("Added Nov 1, 2026 by Ana Silva");
  });

  it("shows a plan to revoke the key once it falls silent", () => {
    const plan = { silentSeconds: (3 * DAY) / 1000, scheduledAt: ago(DAY), revokesAt: ahead(2 * DAY) };
    expect(show(view({ revokePlan: plan })).card).toHaveTextContent("Revoked once silent for 3 days");
    expect(show(view()).card.querySelector("[data-testid=marker-revoke-plan]")).toBeNull();
  });

  it("says when a key was never used", () => {
    const { card } = show(view({ lastUsedAt: null, requestCount: 0 }));
    expect(card).toHaveTextContent("Never used · 0 requests");
  });

  it("says when the key's latest request was refused, and why, until one succeeds", () => {
    const refusal = {
      at: ago(60_000),
      error: "insufficient_scope" as const,
      status: 403,
      cause: "asked for something the key may not do",
      fix: "Add the permission the request needs to the key on its page.",
    };
    const { card } = show(view({ lastSuccessAt: ago(600_000) }, { refusal }));
    expect(card).toHaveTextContent("Latest request refused: asked for something the key may not do");
    show(view({ id: "working" }));
    expect(screen.getAllByTestId("marker-refused")).toHaveLength(1);
  });

  it("words the expiry", () => {
    expect(show(view({ expiresAt: ahead(3 * DAY + 60_000) })).card).toHaveTextContent("Expires in 3 days");
  });

  it("words a key that never expires and an expired one", () => {
    show(view({ id: "a", expiresAt: null }));
    show(
      view({ id: "b", status: "expired", expiresAt: "2026-11-03T09:00:00Z" }),
      Date.parse("2026-11-24T00:00:00Z"),
    );
    const [never, expired] = screen.getAllByTestId("key-card");
    expect(never).toHaveTextContent("Never expires");
    expect(expired).toHaveTextContent("Expired on Nov 3, 2026");
    expect(expired).toHaveTextContent("Expired");
  });

  it("marks the keychain, a due rotation and a close expiry", () => {
    const { card } = show(
      view({ createdAt: ago(120 * DAY) }, { inKeychain: true, rotationDue: true, expiresSoon: true }),
    );
    expect(card).toHaveTextContent("In this computer's keychain");
    expect(card).toHaveTextContent("Rotation due");
    expect(card).toHaveTextContent("Expires soon");
  });

  it("warns when its creator is no longer an admin", () => {
    const { card } = show(view({ createdBy: { id: "u9", name: "Sam Lee", canManageKeys: false } }));
    expect(card).toHaveTextContent("Added");
    expect(card).toHaveTextContent("Sam Lee is no longer an admin here, so this key stopped working.");
  });

  it("opens the detail from the card's button", async () => {
    const { onopen } = show();
    await fireEvent.click(screen.getByRole("button", { name: "Zapier, active; show details" }));
    expect(onopen).toHaveBeenCalledWith("key_zapier");
  });
});
