// Beat classes and arrhythmia kinds as the pages show them: colours, short names, priority.
// Shared by the live view (sweep letters, badge, detail) and the recordings browser.

/** AAMI beat classes: the colour of a letter on the dark ECG paper (N is left unlettered). */
export const BEAT_COLORS = {
  N: "#c9d1d9",
  S: "#ffb000", // amber
  V: "#ff4fc3", // magenta: apart from the red grid and the red alarm
  F: "#b892ff", // purple
  Q: "#9aa5b1", // grey
};
export const BEAT_NAMES = {
  N: "normal or bundle-branch block", S: "supraventricular ectopic", V: "ventricular ectopic",
  F: "fusion", Q: "paced or unclassifiable",
};

/** MIT-BIH reference symbols as AAMI classes (EC57), to set the classifier beside them. */
const AAMI = { N: "N", L: "N", R: "N", e: "N", j: "N", A: "S", a: "S", J: "S", S: "S", V: "V", E: "V",
  F: "F", "/": "Q", f: "Q", Q: "Q" };
export const aamiOf = (symbol) => AAMI[symbol] ?? null;

/** Episode kinds, most urgent first: `cls` is the badge's colour class (alarm red or a calm
 * note), `name` its word. AF sits where the rhythm model's verdict ranks among them. */
export const KINDS = {
  asystole: { cls: "alarm", name: "Asystole" },
  vt: { cls: "alarm", name: "VT" },
  svt: { cls: "alarm", name: "SVT" },
  pause: { cls: "alarm", name: "Pause" },
  ventricular_bigeminy: { cls: "alarm", name: "Bigeminy" },
  ventricular_trigeminy: { cls: "alarm", name: "Trigeminy" },
  idioventricular_rhythm: { cls: "alarm", name: "IVR" },
  af: { cls: "alarm", name: "AF" },
  tachycardia: { cls: "alarm", name: "Tachy" },
  bradycardia: { cls: "alarm", name: "Brady" },
  paced_rhythm: { cls: "note", name: "Paced" },
  sinus_tachycardia: { cls: "note", name: "Sinus tach" },
};
export const PRIORITY = Object.keys(KINDS);
/** Decided beat by beat on usable signal: these outrank a noisy or uncertain window. */
export const BEAT_DECIDED = new Set(["asystole", "vt", "svt", "pause", "ventricular_bigeminy",
  "ventricular_trigeminy", "idioventricular_rhythm"]);
/** Colours of episodes on timelines and strips. */
export const KIND_COLORS = {
  af: "#f85149", asystole: "#ff2d55", vt: "#ff4fc3", svt: "#ffb000", pause: "#e3b341",
  ventricular_bigeminy: "#d16ba5", ventricular_trigeminy: "#d16ba5", idioventricular_rhythm: "#c678dd",
  tachycardia: "#db6d28", bradycardia: "#58a6ff", sinus_tachycardia: "#8b98a5", paced_rhythm: "#8b98a5",
};
export const kindColor = (kind) => KIND_COLORS[kind] || "#d29922";

const num = (v, digits = 0) => (v == null || !Number.isFinite(v) ? null : v.toFixed(digits));

/** A short name with its key measure: "VT", "Pause 2.4 s", "Brady 42", "Sinus tach 118". */
export function kindName(kind, detail = {}) {
  const base = KINDS[kind]?.name ?? String(kind).replaceAll("_", " ");
  const d = detail || {};
  if (kind === "pause" && num(d.rr_s, 1)) return `${base} ${num(d.rr_s, 1)} s`;
  if (["tachycardia", "bradycardia", "sinus_tachycardia"].includes(kind) && num(d.rate_bpm)) {
    return `${base} ${num(d.rate_bpm)}`;
  }
  return base;
}

/** An episode's measures in words: "160 bpm · 12 beats · sustained". */
export function detailText(detail) {
  if (!detail) return "";
  const parts = [];
  if (num(detail.rate_bpm)) parts.push(`${num(detail.rate_bpm)} bpm`);
  if (detail.n_beats != null) parts.push(`${detail.n_beats} beats`);
  if (detail.n_cycles != null) parts.push(`${detail.n_cycles} cycles`);
  if (num(detail.rr_s, 2)) parts.push(`RR ${num(detail.rr_s, 2)} s`);
  if (detail.sustained) parts.push("sustained");
  if (detail.high) parts.push("high (≥ 3 s)");
  return parts.join(" · ");
}

/** Counted ectopy of a window's findings, most telling first: "V couplet", "3 VEB". */
export function ectopyWord(findings) {
  const count = (k) => findings.find((f) => f.kind === k)?.count ?? 0;
  const parts = [];
  const vc = count("veb_couplet");
  const v = count("veb");
  const sc = count("sveb_couplet");
  const s = count("sveb");
  if (vc) parts.push(vc > 1 ? `${vc} V couplets` : "V couplet");
  else if (v) parts.push(`${v} VEB`);
  if (sc) parts.push(sc > 1 ? `${sc} S couplets` : "S couplet");
  else if (s) parts.push(`${s} SVEB`);
  return parts.join(", ");
}
