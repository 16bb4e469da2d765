// What a tile's badge says. Status is told by shape and word as well as colour: the word
// names the most urgent finding of the latest window ("VT", "Bigeminy", "Pause 2.4 s").
import { BEAT_DECIDED, KINDS as ARRHYTHMIAS, PRIORITY, detailText, ectopyWord, kindName } from "./arrhythmia.js";

const KINDS = {
  normal: { cls: "ok", shape: "●", word: "Normal" },
  af: { cls: "alarm", shape: "▲", word: "AF" },
  other: { cls: "alarm", shape: "▲", word: "Other rhythm" },
  noise: { cls: "warn", shape: "◆", word: "Noise" },
  uncertain: { cls: "warn", shape: "◆", word: "Uncertain" },
  warming: { cls: "off", shape: "○", word: "Starting" },
  nosignal: { cls: "off", shape: "○", word: "No signal" },
  disconnected: { cls: "off", shape: "○", word: "Disconnected" },
  ended: { cls: "off", shape: "○", word: "Ended" },
};
const SHAPES = { alarm: "▲", note: "◇" };

const REASONS = {
  low_confidence: "the model is not confident",
  too_short: "too little signal",
  missing_samples: "samples missing",
  lead_off: "lead off",
  flat: "flat line",
  clipping: "clipped signal",
  high_frequency_noise: "muscle or mains noise",
  baseline_wander: "baseline wander",
  no_beats: "no R peaks found",
  paced: "paced beats: no rhythm verdict",
};

export function fmt(v, digits = 0, unit = "") {
  return v == null || !Number.isFinite(v) ? "–" : `${v.toFixed(digits)}${unit}`;
}

function probabilities(w) {
  const p = w.probabilities || {};
  return Object.entries(p).map(([k, v]) => `${k} ${Math.round(v * 100)} %`).join(", ");
}

/** The finding the badge names: the most urgent of the window's, or null. A noisy or
 * uncertain window names only what its beats decided (asystole, runs, pauses, patterns). */
export function topFinding(w) {
  if (!w) return null;
  const found = new Map((w.findings || []).map((f) => [f.kind, f]));
  if (w.label === "af") found.set("af", { kind: "af", confidence: w.probabilities?.af ?? null });
  const doubtful = w.label === "noise" || w.label === "uncertain";
  for (const kind of PRIORITY) {
    const f = found.get(kind);
    if (f && (!doubtful || BEAT_DECIDED.has(kind))) return f;
  }
  return null;
}

/** The badge of a stream: {key, cls, shape, word, title}. */
export function statusOf(s) {
  let key;
  if (s.state === "disconnected" || s.state === "ended") key = s.state;
  else if (s.stale) key = "nosignal";
  else if (!s.window) key = "warming";
  else key = s.window.label in KINDS ? s.window.label : "uncertain";
  const live = !["disconnected", "ended", "nosignal", "warming"].includes(key);
  const top = live ? topFinding(s.window) : null;
  if (top && top.kind !== "af") return arrhythmiaStatus(s.window, top);
  const kind = { ...KINDS[key] };
  const ectopy = live && (key === "normal" || key === "other") ? ectopyWord(s.window.findings || []) : "";
  // An "other" verdict whose only finding is counted ectopy is named by it, not left generic.
  if (ectopy) kind.word = key === "other" ? `Ectopy · ${ectopy}` : `${kind.word} · ${ectopy}`;
  let title = kind.word;
  if (s.window && (key === "uncertain" || key === "noise")) {
    // What the doubtful signal holds back from the badge is still said on hover.
    const held = (s.window.findings || []).filter((f) => f.kind in ARRHYTHMIAS).map((f) => kindName(f.kind, f.detail));
    title = `${kind.word}: ${reasonsOf(s.window) || "no reason given"}` +
      ` (model: ${s.window.raw_label}; ${probabilities(s.window)})` +
      (held.length ? `; held, not shown for the signal: ${held.join(", ")}` : "");
  } else if (s.window && key !== "nosignal") {
    title = `${kind.word} (${probabilities(s.window)})`;
  } else if (key === "warming") {
    title = "The first verdict comes once 10 s of signal are in.";
  }
  return { key, ...kind, title };
}

function reasonsOf(w) {
  return (w.quality?.reasons || []).map((r) => REASONS[r] || r.replaceAll("_", " ")).join("; ");
}

function arrhythmiaStatus(w, f) {
  const cls = ARRHYTHMIAS[f.kind].cls;
  const word = kindName(f.kind, f.detail);
  const parts = [detailText(f.detail)];
  if (f.confidence != null) parts.push(`beats' class probability ${Math.round(f.confidence * 100)} %`);
  const ectopy = ectopyWord(w.findings || []);
  if (ectopy) parts.push(`in the last 10 s: ${ectopy}`);
  const reasons = reasonsOf(w);
  if (reasons) parts.push(`signal: ${reasons}`);
  parts.push(`rhythm model: ${w.label}; ${probabilities(w)}`);
  const title = `${word}: ${parts.filter(Boolean).join("; ")}`;
  return { key: f.kind, cls, shape: SHAPES[cls], word, title };
}
