// A bedside-monitor sweep: the pen moves left to right over ECG paper and erases just ahead
// of itself. Paper is 25 mm/s and 10 mm/mV; the millimetre is scaled so that the trace
// height holds MV_SPAN millivolts, and the width then says how many seconds a sweep holds.
// Drawing is incremental: each frame adds only the samples the pen passed since the last.
// A beat's class comes up to ~3 s after its R mark was drawn: its letter is then written
// above the mark, on the trace already drawn, until the pen comes round and erases both.
import { BEAT_COLORS } from "./arrhythmia.js";

export const MM_PER_S = 25;
export const MM_PER_MV = 10;
const MV_SPAN = 3.2;
const ERASE_S = 0.25;
// Seconds the pen runs behind the newest sample: frames arrive in bursts, beats a second late.
export const LAG = 1.2;
// A class goes to the drawn R mark within this many seconds of its beat time.
const MATCH_S = 0.08;
const MARKS_KEPT = 64;
const MARK_ZONE = 10;
const PAPER = "#0b0f13"; // the trace's background (live.css .trace): halo of marks and letters

/** Draw ECG paper (1 mm and 5 mm lines) on a 2-D context of css size w x h. */
export function drawPaper(ctx, w, h, pxPerMm) {
  const css = getComputedStyle(document.documentElement);
  ctx.clearRect(0, 0, w, h);
  for (const [step, colour] of [[1, css.getPropertyValue("--grid-minor")], [5, css.getPropertyValue("--grid-major")]]) {
    const d = step * pxPerMm;
    if (d < 3) continue; // lines closer than 3 px are noise, not grid
    ctx.beginPath();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1;
    for (let x = 0.5; x < w; x += d) { ctx.moveTo(x, 0); ctx.lineTo(x, h); }
    for (let y = h / 2 + 0.5; y < h; y += d) { ctx.moveTo(0, y); ctx.lineTo(w, y); }
    for (let y = h / 2 + 0.5 - d; y > 0; y -= d) { ctx.moveTo(0, y); ctx.lineTo(w, y); }
    ctx.stroke();
  }
}

/** A ring of display samples (125 Hz) with their stream times, for sweeps and strips. */
export class SampleRing {
  constructor(seconds, fs = 125) {
    this.fs = fs;
    this.n = Math.ceil(seconds * fs);
    this.values = new Float32Array(this.n).fill(NaN);
    this.t0 = null; // stream time of sample index 0
    this.end = 0; // index one past the newest sample
  }

  /** Append samples starting at stream time t (a jump back or far ahead restarts). */
  push(t, samples) {
    let start = this.t0 === null ? 0 : Math.round((t - this.t0) * this.fs);
    if (this.t0 === null || start < this.end - 2 || start > this.end + this.n) {
      this.t0 = t;
      this.end = 0;
      this.values.fill(NaN);
      start = 0;
    }
    for (let i = this.end; i < start; i++) this.values[i % this.n] = NaN; // a gap
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i];
      this.values[(start + i) % this.n] = v === null ? NaN : v;
    }
    this.end = Math.max(this.end, start + samples.length);
  }

  get latest() { return this.t0 === null ? null : this.t0 + this.end / this.fs; }
  get first() { return this.t0 === null ? null : this.t0 + Math.max(0, this.end - this.n) / this.fs; }

  /** The sample at stream time t, or NaN when it is not kept. */
  at(t) {
    const i = Math.round((t - this.t0) * this.fs);
    if (i < 0 || i >= this.end || i < this.end - this.n) return NaN;
    return this.values[i % this.n];
  }
}

/** One sweep on a pair of stacked canvases (paper below, trace above). */
export class Sweep {
  constructor(paper, trace) {
    this.paper = paper;
    this.trace = trace;
    this.head = null; // stream time the pen has drawn up to
    this.offset = null; // stream time minus wall time, for a steady pen
    this.marks = []; // stream times of the R marks drawn, oldest first (the last MARKS_KEPT)
    this.lettered = { N: 0, S: 0, V: 0, F: 0, Q: 0 }; // letters written, for the page's test hook
    this.resize();
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.trace.clientWidth || 300;
    const h = this.trace.clientHeight || 120;
    for (const c of [this.paper, this.trace]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    this.w = w;
    this.h = h;
    this.pxPerMm = h / (MV_SPAN * MM_PER_MV);
    this.span = w / (this.pxPerMm * MM_PER_S);
    drawPaper(this.paper.getContext("2d"), w, h, this.pxPerMm);
    this.head = null;
    this.marks.length = 0;
    this.trace.getContext("2d").clearRect(0, 0, w, h);
  }

  x(t) { return ((t % this.span) + this.span) % this.span / this.span * this.w; }
  y(mv) { return this.h / 2 - mv * MM_PER_MV * this.pxPerMm; }

  /**
   * Advance the pen to where the wall clock says it should be, never past the newest data
   * (the pen waits for late data rather than drawing a guess). `pending`: R-peak times not
   * drawn yet, consumed here; `classes`: [time, letter] of classified beats not lettered yet,
   * consumed once the pen has passed them. Returns whether the pen moved.
   */
  advance(ring, pending, nowMs, colour, classes = []) {
    const latest = ring.latest;
    if (latest === null) return false;
    const target0 = nowMs / 1000 + (this.offset ?? 0);
    if (this.offset === null || target0 > latest + 2 || target0 < latest - 3) {
      this.offset = latest - LAG - nowMs / 1000; // (re)anchor the pen
    }
    const target = Math.min(nowMs / 1000 + this.offset, latest);
    if (this.head === null || target - this.head > this.span || target < this.head) {
      this.head = Math.max(target - 0.05, ring.first ?? target);
    }
    if (target <= this.head) return false;
    const ctx = this.trace.getContext("2d");
    this.erase(ctx, this.head, target + ERASE_S);
    ctx.beginPath();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.lineJoin = "round";
    const dt = 1 / ring.fs;
    let pen = false;
    let lastX = -1;
    for (let t = this.head; t <= target + 1e-9; t += dt) {
      const v = ring.at(t);
      const x = this.x(t);
      if (!Number.isFinite(v) || x < lastX) { pen = false; }
      // The top MARK_ZONE px belong to the R marks: a tall R wave is clipped below them.
      const y = Math.max(MARK_ZONE, this.y(Math.max(-MV_SPAN / 2, Math.min(MV_SPAN / 2, v))));
      if (Number.isFinite(v)) {
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      }
      lastX = x;
    }
    ctx.stroke();
    // Marks wait in `pending` until the pen reaches them (the detector reports a beat about
    // a second late; the pen runs LAG behind the newest sample, so it usually is on time).
    ctx.fillStyle = colour;
    ctx.strokeStyle = PAPER; // an outline keeps the mark apart from a tall R wave under it
    ctx.lineWidth = 1;
    let keep = 0;
    for (const p of pending) {
      if (p > target) { pending[keep++] = p; continue; }
      if (p < target - this.span) continue;
      const x = this.x(p);
      ctx.beginPath();
      ctx.moveTo(x - 3.5, 2);
      ctx.lineTo(x + 3.5, 2);
      ctx.lineTo(x, 8);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
      this.marks.push(p);
    }
    pending.length = keep;
    if (this.marks.length > MARKS_KEPT) this.marks.splice(0, this.marks.length - MARKS_KEPT);
    this.head = target;
    this.letter(ctx, classes, target);
    return true;
  }

  /** Write the letters of the classified beats the pen has passed over their R marks. */
  letter(ctx, classes, target) {
    if (!classes.length) return;
    let keep = 0;
    for (const beat of classes) {
      const [t, cls] = beat;
      if (t > target) { classes[keep++] = beat; continue; } // its mark is not drawn yet
      // Erased already (or about to be): the pen is less than ERASE_S from coming round.
      if (t < target - this.span + ERASE_S + 0.1) continue;
      let best = null;
      for (let i = this.marks.length - 1; i >= 0; i--) {
        const d = Math.abs(this.marks[i] - t);
        if (d <= MATCH_S && (best === null || d < Math.abs(best - t))) best = this.marks[i];
        if (this.marks[i] < t - MATCH_S) break;
      }
      if (best === null) continue;
      this.lettered[cls] = (this.lettered[cls] || 0) + 1;
      const x = this.x(best);
      if (cls === "N") continue; // normal beats keep their plain mark
      const colour = BEAT_COLORS[cls] || BEAT_COLORS.Q;
      // Over the mark, recoloured, with the letter just below it on a dark halo.
      ctx.fillStyle = colour;
      ctx.strokeStyle = PAPER;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x - 4, 1);
      ctx.lineTo(x + 4, 1);
      ctx.lineTo(x, 9);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
      ctx.font = "bold 12px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      ctx.lineWidth = 3;
      ctx.strokeText(cls, x, 10);
      ctx.fillText(cls, x, 10);
    }
    classes.length = keep;
  }

  erase(ctx, from, to) {
    const x0 = this.x(from);
    const x1 = this.x(to);
    if (to - from >= this.span) { ctx.clearRect(0, 0, this.w, this.h); return; }
    if (x1 >= x0) ctx.clearRect(x0, 0, x1 - x0 + 1, this.h);
    else { ctx.clearRect(x0, 0, this.w - x0, this.h); ctx.clearRect(0, 0, x1 + 1, this.h); }
  }
}
