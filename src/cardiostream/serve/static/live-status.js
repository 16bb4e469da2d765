// What a tile's badge and numbers say. The badge follows the stream's ALARMS (kept by the
// server, docs/alarms.md), not each window: an AF alarm stays "◆ AF" while single windows go
// uncertain, so the tile does not flicker. Priority is told by colour, shape and word: high
// "▲" red, medium "◆" yellow, technical "■" cyan. Findings that are not alarms (sinus
// tachycardia, bigeminy...) are shown in a calm style; the window's own verdict is secondary
// text. The heart rate is never held: no valid rate, or a technical alarm, shows "---" and why.
import { BEAT_DECIDED, KINDS as ARRHYTHMIAS, PRIORITY, detailText, ectopyWord, kindName } from "./arrhythmia.js";
import { PRIORITIES, alarmStartMs, alarmWords, clock, topAlarm } from "./alarms.js";

/** Badges that are not an alarm. */
const CALM = {
  normal: { cls: "ok", shape: "●", word: "Normal" },
  af: { cls: "note", shape: "◇", word: "AF?" },
  other: { cls: "note", shape: "◇", word: "Other rhythm" },
  noise: { cls: "note", shape: "◇", word: "Noise" },
  uncertain: { cls: "note", shape: "◇", word: "Uncertain" },
  warming: { cls: "off", shape: "○", word: "Starting" },
  offline: { cls: "off", shape: "○", word: "Offline" },
  ended: { cls: "off", shape: "○", word: "Ended" },
};
/** Technical conditions the page sees itself (the server's alarm says the same, or is coming). */
const TECHNICAL = {
  disconnected: "Disconnected",
  nosignal: "No signal",
  leads_off: "Leads off",
  no_signal: "No signal",
};
/** Episode kinds that are alarms (the server raises them): not named as calm findings. */
export const ALARM_KINDS = new Set(["asystole", "vt", "af", "pause", "bradycardia", "tachycardia"]);
/** Of these, a short run of ventricular beats (3-4) is a finding until it is an alarm. */
const CALM_SKIP = new Set([...ALARM_KINDS].filter((k) => k !== "vt"));

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
  few_beats: "too few beats for the AF detector (16 intervals)",
  beat_gap: "a gap in the beats (over 3 s)",
};
/** Why a window has no heart rate, in a tile's words. */
const NO_RATE = {
  lead_off: "Leads off", missing_samples: "No signal", flat: "Flat line", no_beats: "No beats",
  high_frequency_noise: "Noisy signal", baseline_wander: "Noisy signal", clipping: "Clipped signal",
  too_short: "Starting", paced: "Paced", few_beats: "Few beats", beat_gap: "Beat gap",
};

export function fmt(v, digits = 0, unit = "") {
  return v == null || !Number.isFinite(v) ? "–" : `${v.toFixed(digits)}${unit}`;
}

function probabilities(w) {
  const p = w.probabilities || {};
  return Object.entries(p).map(([k, v]) => `${k} ${Math.round(v * 100)} %`).join(", ");
}

/** The finding a window names, most urgent first, or null. A noisy or uncertain window
 * names only what its beats decided (runs, patterns). `calm`: only findings that are not
 * alarms. */
export function topFinding(w, calm = false) {
  if (!w) return null;
  const found = new Map((w.findings || []).map((f) => [f.kind, f]));
  if (w.label === "af") found.set("af", { kind: "af", confidence: w.probabilities?.af ?? null });
  const doubtful = w.label === "noise" || w.label === "uncertain";
  for (const kind of PRIORITY) {
    if (calm && CALM_SKIP.has(kind)) continue;
    const f = found.get(kind);
    if (f && (!doubtful || BEAT_DECIDED.has(kind))) return f;
  }
  return null;
}

const reasonsOf = (w) => (w?.quality?.reasons || []).map((r) => REASONS[r] || r.replaceAll("_", " ")).join("; ");
const hasReason = (w, r) => (w?.quality?.reasons || []).includes(r);

/** The technical condition of a stream the page knows without the server's alarm (none while
 * the server cannot be reached: the page knows nothing of the stream then). */
function technicalKey(s) {
  if (s.offline) return null;
  if (s.state === "disconnected") return "disconnected";
  if (s.state === "ended") return null;
  if (s.stale) return "nosignal";
  if (hasReason(s.window, "lead_off")) return "leads_off";
  if (hasReason(s.window, "missing_samples")) return "no_signal";
  return null;
}

/** The badge of a stream: {key, cls, shape, word, title, alarm?}. `s.alarmList`: its alarms. */
export function statusOf(s) {
  const alarm = topAlarm(s.alarmList || []);
  if (alarm) {
    const p = PRIORITIES[alarm.priority] || PRIORITIES.technical;
    const when = clock(alarmStartMs(alarm, s));
    const state = alarm.state === "latched" ? "latched (ended, not acknowledged)" : alarm.state;
    const ack = alarm.acknowledged ? `; acknowledged${alarm.ack_by ? ` by ${alarm.ack_by}` : ""}` : "";
    return {
      key: alarm.kind, cls: p.cls, shape: p.shape, word: alarmWords(alarm), alarm,
      title: `${alarmWords(alarm)}: ${p.word} alarm since ${when}, ${state}${ack}`,
    };
  }
  if (s.offline) {
    return { key: "offline", ...CALM.offline,
      title: "Monitoring offline: the server cannot be reached, so this bed's state is not known." };
  }
  const tech = technicalKey(s);
  if (tech) {
    const title = tech === "leads_off" || tech === "no_signal" ? `${TECHNICAL[tech]}: ${reasonsOf(s.window)}`
      : tech === "nosignal" ? "No samples have come for a few seconds." : "The stream's connection dropped.";
    return { key: tech, cls: "technical", shape: "■", word: TECHNICAL[tech], title };
  }
  if (s.state === "ended") return { key: "ended", ...CALM.ended, title: "The stream ended." };
  if (!s.window) return { key: "warming", ...CALM.warming, title: "The first verdict comes once 10 s of signal are in." };
  const w = s.window;
  const f = topFinding(w, true);
  if (f) {
    const beats = f.detail?.n_beats;
    const word = f.kind === "vt" ? `V run${beats ? ` · ${beats} beats` : ""}` : kindName(f.kind, f.detail);
    const parts = [detailText(f.detail)];
    if (f.confidence != null) parts.push(`beats' class probability ${Math.round(f.confidence * 100)} %`);
    parts.push(`rhythm model: ${w.label}; ${probabilities(w)}`);
    return { key: f.kind, cls: "note", shape: "◇", word, title: `${word} (a finding, not an alarm): ${parts.filter(Boolean).join("; ")}` };
  }
  const key = w.label in CALM ? w.label : "uncertain";
  const kind = { ...CALM[key] };
  const ectopy = key === "normal" || key === "other" ? ectopyWord(w.findings || []) : "";
  if (ectopy) kind.word = key === "other" ? `Ectopy · ${ectopy}` : `${kind.word} · ${ectopy}`;
  let title = `${kind.word} (${probabilities(w)})`;
  if (key === "uncertain" || key === "noise") {
    const held = (w.findings || []).filter((x) => x.kind in ARRHYTHMIAS).map((x) => kindName(x.kind, x.detail));
    title = `${kind.word}: ${reasonsOf(w) || "no reason given"} (model: ${w.raw_label}; ${probabilities(w)})` +
      (held.length ? `; held, not shown for the signal: ${held.join(", ")}` : "");
  }
  return { key, ...kind, title };
}

/** The heart rate a tile shows: {text, why}. Never a held value: "---" and the reason when
 * the latest window has none, its signal is unusable, or a technical alarm is on. */
export function rateOf(s) {
  if (s.offline) return { text: "---", why: "Offline" };
  const tech = (s.alarmList || []).filter((a) => a.technical || a.priority === "technical")
    .find((a) => a.state === "active");
  if (tech) return { text: "---", why: alarmWords(tech) };
  const key = technicalKey(s);
  if (key) return { text: "---", why: TECHNICAL[key] };
  if (s.state === "ended") return { text: "---", why: "Ended" };
  const w = s.window;
  if (!w) return { text: "---", why: "Starting" };
  const usable = w.quality?.usable !== false;
  if (w.heart_rate_bpm == null || !Number.isFinite(w.heart_rate_bpm) || !usable) {
    const r = (w.quality?.reasons || []).find((x) => x in NO_RATE);
    return { text: "---", why: r ? NO_RATE[r] : usable ? "No rate" : "Noisy signal" };
  }
  return { text: w.heart_rate_bpm.toFixed(0), why: "" };
}

/** The window's own verdict, as secondary text: "rhythm: AF 91 %", "rhythm: uncertain". */
export function windowText(w) {
  if (!w) return "";
  const p = w.probabilities?.[w.label];
  const word = { normal: "normal", af: "AF", other: "other", noise: "noise", uncertain: "uncertain" }[w.label] ?? w.label;
  return `rhythm: ${word}${p != null && w.label !== "uncertain" ? ` ${Math.round(p * 100)} %` : ""}`;
}
