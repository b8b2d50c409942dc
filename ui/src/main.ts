// Entry point of the web view: global styles, then the app.
import "./app.css";
import { mount } from "svelte";
import App from "./App.svelte";
import { benchMode, markPainted } from "$lib/bench";
import { backend } from "$lib/backend";

if (/Linux/.test(navigator.userAgent) && !/Android/.test(navigator.userAgent)) {
  document.documentElement.dataset.platform = "linux";
}

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");

// The benchmark's baseline: the same binary and page, with nothing mounted.
if (benchMode === "blank") markPainted();

// The first start-up request goes out before mounting, so the two overlap.
export default benchMode === "blank"
  ? undefined
  : mount(App, { target, props: { startup: backend.startup() } });
