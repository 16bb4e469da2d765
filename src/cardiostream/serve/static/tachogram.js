// A beat-time stream's RR tachogram, drawn as a sweep: each beat is a dot at its time (x) and
// the RR interval that ends on it (y, ms), joined beat to beat; the intervals the detector
// calls AF are tinted. The pen crosses the tile in a minute (TILE_SPAN_S): at the traces'
// 25 mm/s a tile held 3 to 6 beats, too few to see a rhythm's irregularity; a minute holds
// 60 to 150. It erases just ahead of itself and runs a little behind the newest beat: a beat
// is drawn when the pen reaches its time.
//
// For the tile code: new Tachogram(paper, trace) with the Sweep's interface where it applies
// (advance, resize, probe; setGain and setLeadOff do nothing: there is no gain and no lead).
import { addSweep, eraseSweep, sizeCanvases, useStyle } from "./sweep.js";

// The RR axis: 200 ms (300 bpm) at the top to 2000 ms (30 bpm) at the bottom.
export const RR_MIN = 200;
export const RR_MAX = 2000;
const RR_LINES = [400, 600, 800, 1000, 1200, 1400, 1600, 1800];
const RR_LABELS = [400, 800, 1200, 1600];
const MM_SPAN = 32; // a trace's height in mm (sweep.js: 3.2 mV at 10 mm/mV)
export const TILE_SPAN_S = 60; // seconds across a tile
const GRID_S = 10; // a time line every 10 s
const ERASE_S = 0.25;
const LAG_S = 1.5; // the pen runs this far behind the newest beat
const HOLD_S = 2.5; // and waits this far past it for the next (a slow rate, a dropout)
export const AF_COLOR = "#f85149";
const AF_TINT = "rgba(248, 81, 73, 0.22)";
// Not the ECG paper's pink: a tachogram is a plot of intervals, not a trace in mV.
const GRID_MINOR = "rgba(130, 160, 190, 0.12)";
const GRID_MAJOR = "rgba(130, 160, 190, 0.30)";
const TOP = 6; // px kept clear above and below the axis
// The RR axis's labels have this many px at the left to themselves: no beat is drawn over them.
export const GUTTER = 30;
const DRAWN = 1024;

/** A ring of beats: time (s), the RR interval ending on it (ms, null after a gap), AF call. */
export class BeatRing {
  constructor(seconds) {
    this.seconds = seconds;
    this.t = [];
    this.rr = [];
    this.af = [];
    this.total = 0; // beats ever pushed: beat i of the ring is number total - length + i
  }

  /** Add a display line's beats (a jump back in time restarts the ring). */
  push(times, rr, af) {
    if (times.length && this.t.length && times[0] <= this.t[this.t.length - 1]) this.clear();
    for (let i = 0; i < times.length; i++) {
      this.t.push(times[i]);
      this.rr.push(rr[i] ?? null);
      this.af.push(Boolean(af[i]));
    }
    this.total += times.length;
    const newest = this.latest;
    let drop = 0;
    while (drop < this.t.length && this.t[drop] < newest - this.seconds) drop++;
    if (drop) { this.t.splice(0, drop); this.rr.splice(0, drop); this.af.splice(0, drop); }
  }

  clear() { this.t.length = 0; this.rr.length = 0; this.af.length = 0; }

  get latest() { return this.t.length ? this.t[this.t.length - 1] : null; }
  get first() { return this.t.length ? this.t[0] : null; }
  get length() { return this.t.length; }
}

/** Draw the tachogram's paper: RR lines every 200 ms (labelled every 400, in the gutter left
 * of `x0`), a time line every `secondPx` css px from `x0` (a second in the detail view's rows,
 * 10 s on a tile). */
export function drawRRPaper(ctx, w, h, secondPx, x0 = 0) {
  ctx.clearRect(0, 0, w, h);
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.strokeStyle = GRID_MINOR;
  for (let x = x0 + 0.5; x < w; x += secondPx) { ctx.moveTo(x, 0); ctx.lineTo(x, h); }
  ctx.stroke();
  ctx.beginPath();
  ctx.strokeStyle = GRID_MAJOR;
  for (const ms of RR_LINES) {
    const y = Math.round(rrY(ms, h)) + 0.5;
    ctx.moveTo(0, y);
    ctx.lineTo(w, y);
  }
  ctx.stroke();
  ctx.font = "10px system-ui, sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.fillStyle = "#6e7d8b";
  for (const ms of RR_LABELS) ctx.fillText(String(ms), 3, rrY(ms, h) - 1);
  ctx.fillText("RR ms", 3, h - 2);
}

/** The y (css px) of an RR interval in a lane of height h, clamped to the axis. */
export function rrY(ms, h) {
  const v = Math.max(RR_MIN, Math.min(RR_MAX, ms));
  return TOP + ((RR_MAX - v) / (RR_MAX - RR_MIN)) * (h - 2 * TOP);
}

/**
 * Draw the beats of `ring` with times in [from, to] in a lane of css size w x h, x given by
 * `xOf(t)` (null: not shown). AF intervals are tinted first (from `tintFrom` at the earliest:
 * a beat's interval began before it), then the line, then the dots.
 * Returns the beats drawn as [t, rr, af, x, y].
 */
export function drawBeats(ctx, ring, from, to, h, xOf, colour, tintFrom = from) {
  const out = [];
  const n = ring.length;
  let i = 0;
  while (i < n && ring.t[i] < from) i++;
  const start = Math.max(i - 1, 0); // the beat before: the line comes from it
  for (let k = i; k < n && ring.t[k] <= to; k++) {
    if (!ring.af[k] || ring.rr[k] == null) continue;
    const xa = xOf(Math.max(ring.t[k] - ring.rr[k] / 1000, tintFrom));
    const xb = xOf(ring.t[k]);
    if (xa == null || xb == null) continue;
    ctx.fillStyle = AF_TINT;
    if (xb >= xa) ctx.fillRect(xa, 0, xb - xa + 1, h);
    else { ctx.fillRect(xa, 0, ctx.canvas.width, h); ctx.fillRect(0, 0, xb + 1, h); }
  }
  ctx.beginPath();
  ctx.strokeStyle = colour;
  ctx.lineWidth = 1.5;
  ctx.lineJoin = "round";
  let px = null;
  for (let k = start; k < n && ring.t[k] <= to; k++) {
    const x = xOf(ring.t[k]);
    if (ring.rr[k] == null || x == null) { px = null; continue; }
    const y = rrY(ring.rr[k], h);
    if (k >= i) {
      if (px !== null && x >= px) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    } else ctx.moveTo(x, y);
    px = x;
  }
  ctx.stroke();
  for (let k = i; k < n && ring.t[k] <= to; k++) {
    const x = xOf(ring.t[k]);
    if (ring.rr[k] == null || x == null) continue;
    const y = rrY(ring.rr[k], h);
    ctx.fillStyle = ring.af[k] ? AF_COLOR : colour;
    ctx.beginPath();
    ctx.arc(x, y, ring.af[k] ? 3.2 : 2.8, 0, 2 * Math.PI);
    ctx.fill();
    out.push([ring.t[k], ring.rr[k], ring.af[k], x, y]);
  }
  return out;
}

export class Tachogram {
  constructor(paper, trace) {
    useStyle("trace.css");
    this.kind = "rr";
    this.paper = paper;
    this.trace = trace;
    this.box = trace.parentElement;
    this.box?.classList.add("tacho");
    this.streamId = trace.closest("[data-stream]")?.dataset.stream ?? null;
    this.head = null;
    this.offset = null;
    this.gain = null;
    this.drawnT = new Float64Array(DRAWN);
    this.drawnRR = new Float32Array(DRAWN);
    this.drawnAF = new Uint8Array(DRAWN);
    this.drawnY = new Float32Array(DRAWN);
    this.nDrawn = 0;
    this.seen = 0; // beats of the ring drawn (its `total` when last drawn)
    this.resize();
    addSweep(this);
  }

  setGain() {}
  onGain() { return () => {}; }
  setLeadOff() {}

  resize() {
    const [w, h] = sizeCanvases(this.paper, this.trace);
    this.w = w;
    this.h = h;
    this.pxPerMm = h / MM_SPAN;
    this.span = TILE_SPAN_S;
    drawRRPaper(this.paper.getContext("2d"), w, h, ((w - GUTTER) / TILE_SPAN_S) * GRID_S, GUTTER);
    this.head = null;
    this.nDrawn = 0;
    this.trace.getContext("2d").clearRect(0, 0, w, h);
  }

  x(t) { return GUTTER + ((t % this.span) + this.span) % this.span / this.span * (this.w - GUTTER); }

  /** Move the pen to where the wall clock says, at most HOLD_S past the newest beat, drawing
   * the beats it passed (and any that came late, while still on screen). */
  advance(ring, pending, nowMs, colour) {
    this.attached = true;
    if (pending) pending.length = 0; // R marks are for traces: each beat is its own dot here
    const latest = ring?.latest ?? null;
    if (latest === null) return false;
    const target0 = nowMs / 1000 + (this.offset ?? 0);
    if (this.offset === null || target0 > latest + HOLD_S + 2 || target0 < latest - LAG_S - 3) {
      this.offset = latest - LAG_S - nowMs / 1000;
    }
    const target = Math.min(nowMs / 1000 + this.offset, latest + HOLD_S);
    const ctx = this.trace.getContext("2d");
    const oldest = target - this.span + ERASE_S;
    if (this.head === null || target - this.head > this.span || target < this.head) {
      // Start (or start again): the whole sweep's worth at once.
      ctx.clearRect(0, 0, this.w, this.h);
      this.head = target;
      this.nDrawn = 0;
      this.keep(drawBeats(ctx, ring, Math.max(oldest, ring.first), target, this.h, (t) => this.x(t), colour));
      this.seen = ring.total - ring.length + this.count(ring, target);
      return true;
    }
    if (target <= this.head) return false;
    this.erase(ctx, this.head, target + ERASE_S);
    // From the first beat not drawn yet: one that came late is drawn where it belongs.
    const firstNew = ring.total - ring.length;
    const k = Math.max(this.seen - firstNew, 0);
    let from = this.head + 1e-9; // past the beats drawn, unless one of those not drawn is earlier
    if (k < ring.length && ring.t[k] < from) from = Math.max(ring.t[k], oldest);
    this.keep(drawBeats(ctx, ring, from, target, this.h, (t) => this.x(t), colour, oldest));
    this.seen = firstNew + this.count(ring, target);
    this.head = target;
    return true;
  }

  count(ring, target) {
    let n = 0;
    while (n < ring.length && ring.t[n] <= target) n++;
    return n;
  }

  keep(drawn) {
    for (const [t, rr, af, , y] of drawn) {
      const j = this.nDrawn++ % DRAWN;
      this.drawnT[j] = t;
      this.drawnRR[j] = rr;
      this.drawnAF[j] = af ? 1 : 0;
      this.drawnY[j] = y;
    }
  }

  erase(ctx, from, to) { eraseSweep(this, ctx, from, to); }

  /** What the tachogram shows now, for the tests: the beats on screen [t, rr, af, y]. */
  probe() {
    const n = Math.min(this.nDrawn, DRAWN);
    const seen = new Map();
    for (let j = this.nDrawn - n; j < this.nDrawn; j++) {
      const k = j % DRAWN;
      const t = this.drawnT[k];
      if (this.head !== null && t >= this.head - this.span + ERASE_S && t <= this.head) {
        seen.set(Math.round(t * 1000), [t, this.drawnRR[k], this.drawnAF[k] === 1, this.drawnY[k]]);
      }
    }
    return {
      kind: "rr", head: this.head, span: this.span, w: this.w, h: this.h,
      pxPerMm: this.pxPerMm, rrMin: RR_MIN, rrMax: RR_MAX,
      beats: [...seen.values()].sort((a, b) => a[0] - b[0]),
    };
  }
}
