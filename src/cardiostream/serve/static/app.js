// The page shell: the token (asked once, kept for the tab only), the routes, the status line.
import { Api } from "./api.js";

const KEY = "cardiostream.token";
const view = document.getElementById("view");
const conn = document.getElementById("conn");
const dialog = document.getElementById("token-dialog");
let unmount = null;
let api = null;

function takeTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token !== null) {
    sessionStorage.setItem(KEY, token);
    // A wall screen opens /?token=...: keep it out of the address bar and the history.
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

export function setStatus(text, level = "ok") {
  conn.textContent = text;
  conn.dataset.level = level;
}

function askToken(why) {
  document.getElementById("token-why").textContent = why;
  if (!dialog.open) dialog.showModal();
}

document.getElementById("token-form").addEventListener("submit", () => {
  const value = document.getElementById("token-input").value.trim();
  if (!value) return;
  sessionStorage.setItem(KEY, value);
  api.token = value;
  route();
});

async function needsToken() {
  // /v1/streams answers 401 when a token is needed and the tab has none (or a wrong one).
  try {
    const r = await fetch("/v1/streams", { headers: api.headers() });
    return r.status === 401;
  } catch (_) {
    return false; // the server is down: the views say so and retry
  }
}

async function route() {
  const name = (location.hash.replace(/^#\/?/, "").split("/")[0]) || "live";
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.route === name);
  }
  if (unmount) { unmount(); unmount = null; }
  view.replaceChildren();
  if (await needsToken()) {
    askToken(api.token ? "The token was refused: enter a valid one." : "This server needs its access token.");
    setStatus("waiting for a token", "warn");
    return;
  }
  const module = name === "records" ? await import("./records.js") : await import("./live.js");
  unmount = module.mount(view, { api, setStatus, params: location.hash.split("/").slice(2) });
}

takeTokenFromUrl();
api = new Api(sessionStorage.getItem(KEY), () => askToken("The token was refused: enter a valid one."));
window.addEventListener("hashchange", route);
route();
