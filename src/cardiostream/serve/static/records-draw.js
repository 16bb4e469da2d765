// Drawing the ECG strip (paper grid, trace, overlays, calipers) and the whole-record overview.
// Pure functions of what is to be shown: the view module decides when to redraw.
import { KIND_COLORS, lowerBound, rhythmColor, rhythmName } from "./records-util.js";
import { BEAT_COLORS, aamiOf, kindColor, kindName } from "./arrhythmia.js";

const MM_PER_S = 25; // paper speed: a minor box is 0.04 s
// Rows of the strip, in CSS px from the top (and bottom) of the canvas.
const RHYTHM_H = 16;
const BEAT_Y = 28; // reference letters
const CLASS_Y = 42; // the classifier's letters
const PEAK_Y = 48;
const TRACE_TOP = 56;
const USER_H = 14;
const MAX_LANES = 3;
const AXIS_H = 16;
const CALIPER = "#e3b341";

/** Match the canvas's backing store to its CSS size and the screen's pixel ratio. */
export function fit(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const W = canvas.clientWidth;
  const H = canvas.clientHeight;
  if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { g, W, H };
}

export function readTheme() {
  const css = getComputedStyle(document.documentElement);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    bg: v("--bg", "#0f1419"), panel: v("--panel", "#182029"), text: v("--text", "#e6edf3"),
    muted: v("--muted", "#8b98a5"), minor: v("--grid-minor", "rgba(232,120,120,.13)"),
    major: v("--grid-major", "rgba(232,120,120,.32)"), trace: v("--trace", "#7ee787"),
    accent: v("--accent", "#58a6ff"), warn: v("--warn", "#d29922"), alarm: v("--alarm", "#f85149"),
  };
}

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

/** A dark shade of a colour, for a label's background ("#f85149" gives about AF's old red). */
function dark(hex) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${Math.round((n >> 16) * 0.48)}, ${Math.round(((n >> 8) & 255) * 0.48)}, ${Math.round((n & 255) * 0.48)}, 0.85)`;
}

function label(g, text, x, y, fg, bg) {
  const w = g.measureText(text).width + 6;
  g.fillStyle = bg;
  g.fillRect(x, y - 10, w, 13);
  g.fillStyle = fg;
  g.fillText(text, x + 3, y);
}

/** Draw the strip; returns what was drawn, for the page's test hook. */
export function drawTrace(canvas, v) {
  const { g, W, H } = fit(canvas);
  const t = v.theme;
  const end = v.start + v.duration;
  const X = (s) => ((s - v.start) / v.duration) * W;
  const pxPerMm = W / (v.duration * MM_PER_S);
  const bottom = H - AXIS_H - USER_H - 6;
  const mid = (TRACE_TOP + bottom) / 2;
  g.fillStyle = t.bg;
  g.fillRect(0, 0, W, H);
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "alphabetic";
  grid(g, v, W, H, pxPerMm, mid, t);

  for (const r of v.rhythms) {
    if (r.end < v.start || r.start > end) continue;
    const x0 = Math.max(0, X(r.start));
    const x1 = Math.min(W, X(r.end));
    g.fillStyle = alpha(rhythmColor(r.label), 0.3);
    g.fillRect(x0, 0, x1 - x0, RHYTHM_H);
    g.fillStyle = t.text;
    g.fillText(`${rhythmName(r.label)} (reference)`, x0 + 4, 12);
  }

  let labelEnd = -Infinity; // episodes' labels never overprint: a crowded one is left out
  for (const e of v.events) {
    if (e.end_s < v.start || e.start_s > end) continue;
    const x0 = X(e.start_s);
    const x1 = X(e.end_s);
    const colour = kindColor(e.kind);
    g.fillStyle = alpha(colour, e.kind === "af" ? 0.13 : 0.1);
    g.fillRect(x0, TRACE_TOP - 6, x1 - x0, bottom - TRACE_TOP + 6);
    g.strokeStyle = alpha(colour, 0.7);
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(x0, TRACE_TOP - 6); g.lineTo(x0, bottom);
    g.moveTo(x1, TRACE_TOP - 6); g.lineTo(x1, bottom);
    g.stroke();
    const conf = Number.isFinite(e.confidence) ? ` ${Math.round(e.confidence * 100)} %` : "";
    const text = `${kindName(e.kind, e.detail)} detected${conf}`;
    const x = Math.max(2, x0 + 2);
    if (x < labelEnd) continue;
    label(g, text, x, TRACE_TOP + 8, t.text, dark(colour));
    labelEnd = x + g.measureText(text).width + 12;
  }

  const drawn = { n_beats: 0, n_peaks: 0, n_classified: 0, loading: false };
  if (v.cache) {
    const { found, missing } = v.cache.chunks(v.start, end);
    drawn.loading = missing;
    trace(g, found, v, X, mid, pxPerMm, W, t);
    const peaks = v.cache.peaksIn(v.start, end);
    g.fillStyle = t.accent;
    for (const p of peaks) {
      const x = X(p);
      g.beginPath();
      g.moveTo(x - 3.5, PEAK_Y); g.lineTo(x + 3.5, PEAK_Y); g.lineTo(x, PEAK_Y + 6);
      g.fill();
    }
    drawn.n_peaks = peaks.length;
    if (missing) {
      g.fillStyle = t.muted;
      g.fillText("loading…", W / 2 - 20, mid);
    }
  }

  const i0 = lowerBound(v.beats.t, v.start);
  const i1 = lowerBound(v.beats.t, end);
  g.textAlign = "center";
  let lastLetter = -Infinity;
  for (let i = i0; i < i1; i++) {
    const sym = v.beats.sym[i];
    const x = X(v.beats.t[i]);
    g.fillStyle = sym === "N" ? t.text : t.warn;
    // Zoomed out, letters would overprint: a tick then, and letters for the odd beats only.
    if (x - lastLetter >= 9 || sym !== "N") {
      g.fillText(sym, x, BEAT_Y);
      lastLetter = x;
    } else {
      g.fillRect(Math.round(x), BEAT_Y - 6, 1, 5);
    }
  }
  drawn.n_beats = i1 - i0;
  drawn.n_classified = classified(g, v, X, t);
  g.textAlign = "left";
  rowNames(g, v, t);
  found(g, v, X, bottom);

  userAnnotations(g, v, X, W, H, t);
  axis(g, v, X, W, H, t);
  calipers(g, v.caliper, X, H);
  return drawn;
}

/** The classifier's letters under the reference's, boxed where the two classes differ. */
function classified(g, v, X, t) {
  const c = v.classified;
  if (!c || !c.t.length) return 0;
  const end = v.start + v.duration;
  const i0 = lowerBound(c.t, v.start);
  const i1 = lowerBound(c.t, end);
  let lastLetter = -Infinity;
  g.font = "bold 11px system-ui, sans-serif";
  for (let i = i0; i < i1; i++) {
    const sym = c.sym[i];
    const x = X(c.t[i]);
    const k = lowerBound(v.beats.t, c.t[i] - 0.15);
    const ref = k < v.beats.t.length && v.beats.t[k] <= c.t[i] + 0.15 ? aamiOf(v.beats.sym[k]) : null;
    const differs = v.beats.t.length > 0 && ref !== sym;
    g.fillStyle = sym === "N" ? t.muted : BEAT_COLORS[sym] || BEAT_COLORS.Q;
    if (x - lastLetter >= 9 || sym !== "N" || differs) {
      g.fillText(sym, x, CLASS_Y);
      lastLetter = x;
    } else {
      g.fillRect(Math.round(x), CLASS_Y - 6, 1, 5);
    }
    if (differs) {
      g.strokeStyle = g.fillStyle;
      g.lineWidth = 1;
      g.strokeRect(Math.round(x) - 5.5, CLASS_Y - 10.5, 11, 13);
    }
  }
  g.font = "11px system-ui, sans-serif";
  return i1 - i0;
}

/** Which letters are whose, on the left edge. */
function rowNames(g, v, t) {
  g.font = "9px system-ui, sans-serif";
  const rows = [["ref", BEAT_Y, v.beats.t.length], ["auto", CLASS_Y, v.classified?.t.length]];
  for (const [name, y, any] of rows) {
    if (!any) continue;
    const w = g.measureText(name).width + 4;
    g.fillStyle = alpha(t.panel, 0.9);
    g.fillRect(0, y - 9, w, 11);
    g.fillStyle = t.muted;
    g.fillText(name, 2, y - 1);
  }
  g.font = "11px system-ui, sans-serif";
}

/** The beat a "next V" or "next S" went to: a band of its class's colour. */
function found(g, v, X, bottom) {
  const f = v.found;
  if (!f || f.t < v.start || f.t > v.start + v.duration) return;
  const x = X(f.t);
  g.fillStyle = alpha(BEAT_COLORS[f.cls] || BEAT_COLORS.Q, 0.16);
  g.fillRect(x - 14, RHYTHM_H, 28, bottom - RHYTHM_H);
  g.strokeStyle = alpha(BEAT_COLORS[f.cls] || BEAT_COLORS.Q, 0.8);
  g.lineWidth = 1;
  g.strokeRect(x - 14.5, RHYTHM_H + 0.5, 29, bottom - RHYTHM_H - 1);
}

function grid(g, v, W, H, pxPerMm, mid, t) {
  const end = v.start + v.duration;
  const lines = (step, color) => {
    g.strokeStyle = color;
    g.lineWidth = 1;
    g.beginPath();
    for (let k = Math.ceil(v.start / step); k * step <= end; k++) {
      const x = Math.round(((k * step - v.start) / v.duration) * W) + 0.5;
      g.moveTo(x, RHYTHM_H); g.lineTo(x, H - AXIS_H);
    }
    const dy = step * MM_PER_S * pxPerMm;
    for (let y = mid % dy; y < H - AXIS_H; y += dy) {
      if (y < RHYTHM_H) continue;
      const yy = Math.round(y) + 0.5;
      g.moveTo(0, yy); g.lineTo(W, yy);
    }
    g.stroke();
  };
  // Lines a few px apart are noise, not paper: zoomed out, the finer levels go first.
  if (pxPerMm >= 3) lines(0.04, t.minor);
  if (5 * pxPerMm >= 6) lines(0.2, t.major);
  else lines(1, t.major);
}

function trace(g, chunks, v, X, mid, pxPerMm, W, t) {
  const end = v.start + v.duration;
  const visible = [];
  for (const c of chunks) {
    const i0 = Math.max(0, Math.floor((v.start - c.t0) * c.fs));
    const i1 = Math.min(c.samples.length, Math.ceil((end - c.t0) * c.fs) + 1);
    const stride = Math.max(1, Math.floor((i1 - i0) / 200));
    for (let i = i0; i < i1; i += stride) if (c.samples[i] !== null) visible.push(c.samples[i]);
  }
  visible.sort((a, b) => a - b);
  // Centred on the visible median, so baseline wander never pushes the trace off the paper.
  const base = visible.length ? visible[visible.length >> 1] : 0;
  const scale = v.gain * pxPerMm;
  const Y = (mv) => mid - (mv - base) * scale;
  g.strokeStyle = t.trace;
  g.lineWidth = 1.3;
  g.lineJoin = "round";
  g.beginPath();
  let pen = false;
  let lastEnd = null;
  for (const c of chunks) {
    if (lastEnd !== null && Math.abs(c.t0 - lastEnd) > 1.5 / c.fs) pen = false;
    lastEnd = c.t0 + c.samples.length / c.fs;
    const i0 = Math.max(0, Math.floor((v.start - c.t0) * c.fs) - 1);
    const i1 = Math.min(c.samples.length, Math.ceil((end - c.t0) * c.fs) + 2);
    const perPx = (c.fs * v.duration) / W;
    if (perPx <= 2) {
      for (let i = i0; i < i1; i++) {
        const s = c.samples[i];
        if (s === null) { pen = false; continue; }
        const x = X(c.t0 + i / c.fs);
        if (pen) g.lineTo(x, Y(s)); else g.moveTo(x, Y(s));
        pen = true;
      }
      continue;
    }
    // Many samples per pixel: one vertical stroke per column keeps every QRS visible.
    let col = null;
    let lo = 0;
    let hi = 0;
    const flush = () => {
      if (col === null) return;
      if (pen) g.lineTo(col, Y(hi)); else g.moveTo(col, Y(hi));
      g.lineTo(col, Y(lo));
      pen = true;
    };
    for (let i = i0; i < i1; i++) {
      const s = c.samples[i];
      if (s === null) { flush(); col = null; pen = false; continue; }
      const x = Math.round(X(c.t0 + i / c.fs));
      if (x !== col) { flush(); col = x; lo = s; hi = s; } else { lo = Math.min(lo, s); hi = Math.max(hi, s); }
    }
    flush();
  }
  g.stroke();
}

function userAnnotations(g, v, X, W, H, t) {
  const end = v.start + v.duration;
  const shown = v.userAnns.filter((a) => a.end_s >= v.start && a.start_s <= end)
    .sort((a, b) => a.start_s - b.start_s);
  // Overlapping annotations (a confirmed event and a note inside it) stack in lanes.
  const lanes = [];
  for (const a of shown) {
    let lane = lanes.findIndex((busyUntil) => busyUntil <= a.start_s);
    if (lane < 0) lane = Math.min(lanes.length, MAX_LANES - 1);
    lanes[lane] = Math.max(lanes[lane] ?? 0, a.end_s);
    const y = H - AXIS_H - (lane + 1) * (USER_H + 2);
    const color = KIND_COLORS[a.kind] || KIND_COLORS.other;
    const x0 = X(a.start_s);
    const x1 = X(a.end_s);
    const rejected = a.status === "rejected";
    g.setLineDash(rejected ? [4, 3] : []);
    g.strokeStyle = alpha(color, rejected ? 0.8 : 0.55);
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(x0, TRACE_TOP); g.lineTo(x0, y);
    g.moveTo(x1, TRACE_TOP); g.lineTo(x1, y);
    g.stroke();
    if (!rejected) {
      g.fillStyle = alpha(color, a.status === "confirmed" ? 0.6 : 0.3);
      g.fillRect(x0, y, x1 - x0, USER_H);
    }
    g.strokeStyle = color;
    g.lineWidth = a.status === "confirmed" ? 2 : 1;
    g.strokeRect(x0, y, x1 - x0, USER_H);
    if (rejected) { // struck through: the reviewer said this event is not there
      g.beginPath();
      g.moveTo(x0, y + USER_H / 2); g.lineTo(x1, y + USER_H / 2);
      g.stroke();
    }
    g.setLineDash([]);
    g.save();
    g.beginPath();
    g.rect(Math.max(0, x0), y, Math.min(W, x1) - Math.max(0, x0), USER_H);
    g.clip();
    g.fillStyle = t.text;
    g.fillText(`${a.kind} · ${a.status}${a.note ? ` · ${a.note}` : ""}`, Math.max(0, x0) + 4, y + 11);
    g.restore();
  }
}

function axis(g, v, X, W, H, t) {
  const minGap = 70; // px between labels
  const steps = [0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  const step = steps.find((s) => (s / v.duration) * W >= minGap) || 600;
  g.fillStyle = t.panel;
  g.fillRect(0, H - AXIS_H, W, AXIS_H);
  g.fillStyle = t.muted;
  for (let k = Math.ceil(v.start / step); k * step <= v.start + v.duration; k++) {
    const s = k * step;
    const x = X(s);
    g.fillRect(Math.round(x), H - AXIS_H, 1, 4);
    g.fillText(`${s.toFixed(step < 1 ? 1 : 0)} s`, x + 3, H - 4);
  }
}

function calipers(g, c, X, H) {
  if (!c || c.a === null) return;
  g.strokeStyle = CALIPER;
  g.lineWidth = 1.5;
  const xs = [c.a, c.b].filter((s) => s !== null).map(X);
  g.beginPath();
  for (const x of xs) { g.moveTo(x, RHYTHM_H); g.lineTo(x, H - AXIS_H); }
  if (xs.length === 2) {
    const y = TRACE_TOP + 26;
    g.moveTo(xs[0], y); g.lineTo(xs[1], y);
  }
  g.stroke();
  if (xs.length === 2) {
    const ms = Math.abs(c.b - c.a) * 1000;
    const text = `${ms.toFixed(0)} ms · ${(60000 / ms).toFixed(0)} bpm`;
    label(g, text, Math.min(xs[0], xs[1]) + 4, TRACE_TOP + 22, "#111", CALIPER);
  }
}

/** The whole record: reference rhythms, detected AF, user annotations, the window as a box. */
export function drawOverview(canvas, v) {
  const { g, W, H } = fit(canvas);
  const t = v.theme;
  const X = (s) => (s / v.total) * W;
  g.fillStyle = t.panel;
  g.fillRect(0, 0, W, H);
  const row = (y, h, items, color) => {
    for (const it of items) {
      g.fillStyle = color(it);
      g.fillRect(X(it.start), y, Math.max(1, X(it.end) - X(it.start)), h);
    }
  };
  row(3, 9, v.rhythms, (r) => alpha(rhythmColor(r.label), 0.55));
  row(15, 10, v.events.map((e) => ({ start: e.start_s, end: e.end_s, kind: e.kind })), (e) => alpha(kindColor(e.kind), 0.8));
  row(28, 8, v.userAnns.map((a) => ({ start: a.start_s, end: a.end_s, kind: a.kind, status: a.status })),
    (a) => alpha(KIND_COLORS[a.kind] || KIND_COLORS.other, a.status === "rejected" ? 0.35 : 0.9));
  g.font = "10px system-ui, sans-serif";
  g.fillStyle = t.muted;
  const steps = [5, 10, 30, 60, 120, 300, 600, 1800, 3600];
  const step = steps.find((s) => (s / v.total) * W >= 80) || 3600;
  for (let s = 0; s <= v.total; s += step) {
    g.fillRect(Math.round(X(s)), H - 12, 1, 3);
    const text = s >= 60 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` : `${s} s`;
    g.fillText(text, X(s) + 2, H - 2);
  }
  const x0 = X(v.start);
  const w = Math.max(3, X(v.start + v.duration) - x0);
  g.fillStyle = "rgba(88, 166, 255, 0.15)";
  g.fillRect(x0, 0, w, H);
  g.strokeStyle = t.accent;
  g.lineWidth = 1.5;
  g.strokeRect(x0 + 0.75, 0.75, w - 1.5, H - 1.5);
}
