// What a tile's badge says. Status is told by shape and word as well as colour.

const KINDS = {
  normal: { cls: "ok", shape: "●", word: "Normal" },
  af: { cls: "alarm", shape: "▲", word: "AF" },
  other: { cls: "alarm", shape: "▲", word: "Arrhythmia" },
  noise: { cls: "warn", shape: "◆", word: "Noise" },
  uncertain: { cls: "warn", shape: "◆", word: "Uncertain" },
  warming: { cls: "off", shape: "○", word: "Starting" },
  nosignal: { cls: "off", shape: "○", word: "No signal" },
  disconnected: { cls: "off", shape: "○", word: "Disconnected" },
  ended: { cls: "off", shape: "○", word: "Ended" },
};

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
};

export function fmt(v, digits = 0, unit = "") {
  return v == null || !Number.isFinite(v) ? "–" : `${v.toFixed(digits)}${unit}`;
}

function probabilities(w) {
  const p = w.probabilities || {};
  return Object.entries(p).map(([k, v]) => `${k} ${Math.round(v * 100)} %`).join(", ");
}

/** The badge of a stream: {key, cls, shape, word, title}. */
export function statusOf(s) {
  let key;
  if (s.state === "disconnected" || s.state === "ended") key = s.state;
  else if (s.stale) key = "nosignal";
  else if (!s.window) key = "warming";
  else key = s.window.label in KINDS ? s.window.label : "uncertain";
  const kind = KINDS[key];
  let title = kind.word;
  if (s.window && (key === "uncertain" || key === "noise")) {
    const reasons = (s.window.quality?.reasons || []).map((r) => REASONS[r] || r.replaceAll("_", " "));
    title = `${kind.word}: ${reasons.length ? reasons.join("; ") : "no reason given"}` +
      ` (model: ${s.window.raw_label}; ${probabilities(s.window)})`;
  } else if (s.window && key !== "nosignal") {
    title = `${kind.word} (${probabilities(s.window)})`;
  } else if (key === "warming") {
    title = "The first verdict comes once 10 s of signal are in.";
  }
  return { key, ...kind, title };
}
