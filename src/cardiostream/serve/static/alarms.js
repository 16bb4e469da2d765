// Alarms as the server keeps them (docs/alarms.md): priorities after IEC 60601-1-8, told by
// colour, shape and word; the alarms of a stream, most urgent first; clock time.

/** Priority: badge class, shape, rank (0 first), the word a screen reader hears. */
export const PRIORITIES = {
  high: { cls: "high", shape: "▲", rank: 0, word: "high priority" },
  medium: { cls: "medium", shape: "◆", rank: 1, word: "medium priority" },
  technical: { cls: "technical", shape: "■", rank: 2, word: "technical" },
};
export const prioRank = (p) => PRIORITIES[p]?.rank ?? 3;

/** Words of each kind when the server gave none. */
const WORDS = {
  asystole: "Asystole", vt: "VT", af: "AF", pause: "Pause", bradycardia: "Brady", tachycardia: "Tachy",
  hr_low: "HR low", hr_high: "HR high", leads_off: "Leads off", noise: "Noisy signal",
  no_signal: "No signal", disconnected: "Disconnected",
};
export const alarmWords = (a) => a.text || WORDS[a.kind] || String(a.kind).replaceAll("_", " ");
/** Shorter words for a badge with too little room (a compact tile beside a long bed name):
 * a whole short word is read where a word cut mid-way ("Noisy signa", "Disconnecte") is not. */
export const SHORT_WORDS = {
  "Noisy signal": "Noisy", Disconnected: "Disconn.", "Other rhythm": "Other", Uncertain: "Uncert.",
};

/** Whether an alarm is still on screen: active, or latched until acknowledged. */
export const isShown = (a) => a && (a.state === "active" || a.state === "latched");

/** Most urgent first: by priority, then the newest first. */
export function byUrgency(a, b) {
  return prioRank(a.priority) - prioRank(b.priority) || (b.start_s ?? 0) - (a.start_s ?? 0);
}

/** The alarm a tile names: the most urgent shown one, or null. */
export function topAlarm(alarms) {
  let top = null;
  for (const a of alarms) if (isShown(a) && (!top || byUrgency(a, top) < 0)) top = a;
  return top;
}

/** Whether an alarm still asks for an acknowledgement (and sounds, unless silenced). */
export const wantsAck = (a) => isShown(a) && !a.acknowledged;

// ------------------------------------------------------------------ clock time
const CLOCK = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short",
});
const CLOCK_NO_ZONE = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

/** "09:12:03 UTC" (24 h, with the time zone); `short` leaves the zone out. */
export function clock(ms, short = false) {
  if (ms == null || !Number.isFinite(ms)) return "–";
  return (short ? CLOCK_NO_ZONE : CLOCK).format(new Date(ms));
}

/** The time zone's short name, as the clock times say it ("UTC", "CET"). */
export function zoneName() {
  const part = CLOCK.formatToParts(new Date()).find((p) => p.type === "timeZoneName");
  return part ? part.value : "";
}

/** Epoch ms of a time the server gave: ISO 8601 text, or epoch seconds. */
export function epochMs(v) {
  if (v == null) return null;
  if (typeof v === "number") return v * 1000;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : null;
}

/** Epoch ms of stream time `t` (s) of a stream: its `start_time` plus t, else `since` plus t. */
export function streamClock(stream, t) {
  if (t == null || !Number.isFinite(t)) return null;
  const base = epochMs(stream.startTime) ?? epochMs(stream.since);
  return base == null ? null : base + t * 1000;
}

/** Epoch ms an alarm started: the server's `started_at`, else from the stream's clock. */
export function alarmStartMs(a, stream) {
  return epochMs(a.started_at) ?? (stream ? streamClock(stream, a.start_s) : null);
}

/** "1:05" for 65 s. */
export function mmss(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
