// Small helpers shared by the recordings browser's modules.

/** An element with attributes, listeners (`onclick`) and children; `testid` sets data-testid. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "testid") el.dataset.testid = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds as "83.4 s", or "1:23.4" past a minute (a 30-min record reads better in m:ss). */
export function fmtTime(t) {
  if (!Number.isFinite(t)) return "–";
  if (t < 60) return `${t.toFixed(1)} s`;
  const m = Math.floor(t / 60);
  const s = (t - 60 * m).toFixed(1).padStart(4, "0");
  return `${m}:${s}`;
}

/** First index of sorted `arr` whose value is >= x. */
export function lowerBound(arr, x) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Record-scoped API path; ids are restricted by the server, but encoding costs nothing. */
export function recordPath(id, rest = "") {
  return `/v1/records/${encodeURIComponent(id)}${rest}`;
}

/** The server's "no such record" 404, as opposed to a route this server does not have. */
export function isVanished(err) {
  return err && err.status === 404 && /no such record|no record/i.test(err.message || "");
}

export const KIND_COLORS = {
  af: "#f85149",
  other: "#d29922",
  noise: "#8b98a5",
  normal: "#2ea043",
};

/** Reference rhythm labels come as "AFIB" or WFDB's "(AFIB". */
export const rhythmName = (label) => String(label).replace(/^\(/, "");
export const isAfLabel = (label) => /^(AFIB|AF)$/i.test(rhythmName(label));

export function rhythmColor(label) {
  const name = rhythmName(label).toUpperCase();
  if (name === "AFIB" || name === "AF") return "#f85149";
  if (name === "AFL") return "#db6d28";
  if (name === "N") return "#2ea043";
  return "#d29922";
}

/** Index in `episodes` ({start}, sorted) of the next (dir > 0) or previous one from the view
 * at `start`, or -1; `onset(ep)` is where the view goes to show it. */
export function stepEpisode(episodes, start, dir, onset) {
  if (dir > 0) return episodes.findIndex((ep) => onset(ep) > start + 0.05);
  for (let k = episodes.length - 1; k >= 0; k--) if (onset(episodes[k]) < start - 0.05) return k;
  return -1;
}
