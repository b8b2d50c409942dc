import { fireEvent, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { BackendError, backend, type SessionView } from "$lib/backend";
import type { MockedBackend } from "../../test/backend-mock";
import { account, appState, renderWithApp, session, startup } from "../../test/fixtures";
import StartScreen from "./StartScreen.svelte";

vi.mock("$lib/backend", async (original) =>
  (await import("../../test/backend-mock")).mockBackendModule(await original()),
);
const api = backend as unknown as MockedBackend;

function signedOutState(accounts = [account()]) {
  return appState({
    startup: startup({ session: undefined, accounts }),
    session: null,
    screen: { name: "start" },
  });
}

async function fillSignIn(server: string, email: string, password: string) {
  const user = userEvent.setup();
  await user.type(screen.getByTestId("signin-server"), server);
  await user.type(screen.getByTestId("signin-email"), email);
  await user.type(screen.getByTestId("signin-password"), password);
  await user.click(screen.getByTestId("signin-submit"));
}

describe("the start screen", () => {
  it("shows progress while the demo starts, then opens its keys", async () => {
    let started!: (s: SessionView) => void;
    api.openDemo.mockReturnValue(new Promise((resolve) => (started = resolve)));
    const state = signedOutState([]);
    renderWithApp(StartScreen, {}, state);

    await fireEvent.click(screen.getByTestId("open-demo"));
    expect(screen.getByTestId("open-demo")).toBeDisabled();
    expect(screen.getByTestId("open-demo")).toHaveTextContent("Starting the demo workspace…");
    expect(screen.getByText(/This takes a few seconds/)).toBeInTheDocument();

    started(session({ account: account({ id: "demo", isDemo: true }) }));
    await vi.waitFor(() => expect(state.screen).toEqual({ name: "keys" }));
    expect(state.session?.account.isDemo).toBe(true);
  });

  it("says why the demo didn't start and lets you try again", async () => {
    api.openDemo.mockRejectedValueOnce(new BackendError({ code: "other", message: "Port 8080 is busy." }));
    renderWithApp(StartScreen, {}, signedOutState());
    await fireEvent.click(screen.getByTestId("open-demo"));
    expect(await screen.findByText("Port 8080 is busy.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });

  it("puts an unreachable server's message at the address field", async () => {
    api.signIn.mockRejectedValue(
      new BackendError({ code: "unreachable", message: "Nothing answered at https://keys.example.org." }),
    );
    renderWithApp(StartScreen, {}, signedOutState());
    await fillSignIn("https://keys.example.org", "ana@example.com", "secret words");

    const server = screen.getByTestId("signin-server");
    expect(server).toHaveAttribute("aria-invalid", "true");
    expect(server).toHaveAccessibleDescription("Nothing answered at https://keys.example.org.");
    expect(api.signIn).toHaveBeenCalledWith(
      "https://keys.example.org",
      "ana@example.com",
      "secret words",
      false,
    );
  });

  it("asks before signing in over plain http:// to another computer, and goes on only when told to", async () => {
    api.signIn.mockRejectedValueOnce(
      new BackendError({
        code: "unencrypted",
        message:
          "http://keys.example.org is not encrypted (http://, not https://): your password would cross the network.",
      }),
    );
    api.signIn.mockResolvedValueOnce(session({ account: account({ serverUrl: "http://keys.example.org" }) }));
    const { app } = renderWithApp(StartScreen, {}, signedOutState());
    await fillSignIn("http://keys.example.org", "ana@example.com", "secret words");
    const warning = await screen.findByTestId("signin-unencrypted");
    expect(warning).toHaveTextContent("This address is not encrypted");
    expect(warning).toHaveTextContent("your password would cross the network");
    expect(api.signIn).toHaveBeenCalledTimes(1);
    expect(api.signIn).toHaveBeenLastCalledWith(
      "http://keys.example.org",
      "ana@example.com",
      "secret words",
      false,
    );
    await userEvent.click(within(warning).getByRole("button", { name: "Sign in anyway" }));
    expect(api.signIn).toHaveBeenCalledTimes(2);
    expect(api.signIn).toHaveBeenLastCalledWith(
      "http://keys.example.org",
      "ana@example.com",
      "secret words",
      true,
    );
    await vi.waitFor(() => expect(app.session?.account.serverUrl).toBe("http://keys.example.org"));
  });

  it("shows a wrong password above the button, keeping what was typed", async () => {
    api.signIn.mockRejectedValue(
      new BackendError({ code: "other", message: "That email and password don't match." }),
    );
    renderWithApp(StartScreen, {}, signedOutState());
    await fillSignIn("https://keys.example.com", "ana@example.com", "wrong");

    expect(await screen.findByRole("alert")).toHaveTextContent("That email and password don't match.");
    expect(screen.getByTestId("signin-email")).toHaveValue("ana@example.com");
  });

  it("names each empty field before asking the server", async () => {
    renderWithApp(StartScreen, {}, signedOutState());
    await fireEvent.click(screen.getByTestId("signin-submit"));
    expect(api.signIn).not.toHaveBeenCalled();
    expect(screen.getByTestId("signin-server")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("signin-email")).toHaveAccessibleDescription(
      "Enter the email address you sign in with.",
    );
    expect(screen.getByTestId("signin-password")).toHaveAccessibleDescription("Enter your password.");
  });

  it("fills the form from a remembered account", async () => {
    renderWithApp(StartScreen, {}, signedOutState());
    await fireEvent.click(screen.getByRole("button", { name: /Olivia Owner/ }));
    expect(screen.getByTestId("signin-server")).toHaveValue("https://keys.example.com");
    expect(screen.getByTestId("signin-email")).toHaveValue("owner@example.com");
    expect(screen.getByTestId("signin-password")).toHaveFocus();
  });
});
