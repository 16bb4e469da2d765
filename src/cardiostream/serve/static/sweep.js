// A bedside-monitor sweep: the pen moves left to right over ECG paper and erases just ahead
// of itself. Paper is 25 mm/s and 10 mm/mV at gain ×1; the millimetre is scaled so that the
// trace height holds MV_SPAN millivolts at ×1, and the width then says how many seconds a
// sweep holds. Drawing is incremental: each frame adds only the samples the pen passed since
// the last. A beat's class comes up to ~3 s after its R mark was drawn: its letter is then
// written above the mark, on the trace already drawn, until the pen comes round and erases both.
//
// For the tile code (see Sweep):
//   sweep.setGain("auto" | 0.5 | 1 | 2)   gain of this trace (×1 = 10 mm/mV); the trace's own
//                                          gain button and the detail view call it too
//   sweep.setLeadOff(true | false)         draw dimmed under "LEADS OFF" (a window's reasons
//                                          hold lead_off, or the leads_off alarm is active);
//                                          until it is first called, the sweep reads the
//                                          tile's last window reasons from its Signal cell
//   sweep.onGain(fn)                       fn(gain, scale) after each change (for a label)
//   sweep.setDefaultGain(g)               the gain while the viewer has chosen none for this bed
// A trace taller than the tile is cut at its edge and capped there by a grey bracket: not a
// red triangle, which is the high-priority alarm's sign (a cut R wave is not an alarm).
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
export const GAINS = ["auto", 0.5, 1, 2];
// The gains auto may pick (the label stays readable), and how much signal it looks at.
const AUTO_STEPS = [0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.2, 1.5, 2, 2.5, 3, 4];
const AUTO_S = 8;
const CLIP = "#aab6c2"; // neutral grey: red and triangles belong to the alarms
const DIM = "#55616d"; // the trace's colour while the leads are off
const GAIN_KEY = "cardiostream.gain.";

/** Add one of this folder's stylesheets to the page, once. */
export function useStyle(name) {
  const href = `/static/${name}`;
  if (document.querySelector(`link[data-own="${name}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  link.dataset.own = name;
  document.head.append(link);
}

/** "×1", "×0.5", "auto ×0.8": how a gain is written on the tile. */
export function gainText(gain, scale) {
  const x = (g) => `×${Number(g.toFixed(2))}`;
  return gain === "auto" ? `auto ${x(scale)}` : x(gain);
}

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


const sweeps = new Set();

/** Register another kind of sweep (the RR tachogram) for sweepOf and the test hook. */
/** Size a tile's paper and pen canvases to the pen's css box at the screen's pixel ratio
 * (drawing in css px); return that box's [w, h]. */
export function sizeCanvases(paper, trace) {
  const dpr = window.devicePixelRatio || 1;
  const w = trace.clientWidth || 300;
  const h = trace.clientHeight || 120;
  for (const c of [paper, trace]) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    c.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  return [w, h];
}

/** Clear a sweep's canvas from time `from` to `to`, wrapping at its right edge (`sweep`: its
 * x(t), span, w and h, as a trace's Sweep and a tachogram have them). */
export function eraseSweep(sweep, ctx, from, to) {
  const x0 = sweep.x(from);
  const x1 = sweep.x(to);
  if (to - from >= sweep.span) { ctx.clearRect(0, 0, sweep.w, sweep.h); return; }
  if (x1 >= x0) ctx.clearRect(x0, 0, x1 - x0 + 1, sweep.h);
  else { ctx.clearRect(x0, 0, sweep.w - x0, sweep.h); ctx.clearRect(0, 0, x1 + 1, sweep.h); }
}

export function addSweep(s) { sweeps.add(s); }

/** The sweep drawing this stream's tile, or null (for the detail view and the page's tests). */
export function sweepOf(streamId) {
  for (const s of sweeps) {
    if (s.attached && !s.trace.isConnected) { sweeps.delete(s); continue; }
    if (s.trace.isConnected && s.streamId === streamId) return s;
  }
  return null;
}

// The page's test hook: what each trace drew, and its gain.
window.cardiostreamTrace = {
  probe: (id) => sweepOf(id)?.probe() ?? null,
  setGain: (id, gain) => sweepOf(id)?.setGain(gain),
};

const DRAWN = 8192; // drawn samples remembered for probe(): more than a sweep's worth

/**
 * One sweep on a pair of stacked canvases (paper below, trace above), with its gain button
 * and its "LEADS OFF" label over them (in the canvases' parent, which is positioned).
 */
export class Sweep {
  constructor(paper, trace) {
    useStyle("trace.css");
    this.paper = paper;
    this.trace = trace;
    this.box = trace.parentElement;
    this.streamId = trace.closest("[data-stream]")?.dataset.stream ?? null;
    this.head = null; // stream time the pen has drawn up to
    this.offset = null; // stream time minus wall time, for a steady pen
    this.marks = []; // stream times of the R marks drawn, oldest first (the last MARKS_KEPT)
    this.written = []; // [mark time, letter] of the letters written (not N), for a redraw
    this.lettered = { N: 0, S: 0, V: 0, F: 0, Q: 0 }; // letters written, for the page's test hook
    this.gain = 1; // "auto" or a number; `scale` is the gain in force
    this.scale = 1;
    this.chosen = false; // the viewer chose this bed's gain (kept per bed): no default replaces it
    this.dirty = false; // the gain changed: the next frame redraws the sweep at the new one
    this.leadOff = false;
    this.leadOffSet = false; // the tile code tells lead-off itself (setLeadOff was called)
    this.clips = 0; // clip marks drawn
    this.clipSide = 0; // -1 above, 1 below: the pen is in a clipped run
    this.listeners = [];
    this.drawnT = new Float64Array(DRAWN);
    this.drawnV = new Float32Array(DRAWN);
    this.drawnY = new Float32Array(DRAWN);
    this.drawnClip = new Int8Array(DRAWN);
    this.nDrawn = 0;
    this.ui();
    const saved = this.streamId && readSaved(this.streamId);
    if (saved != null) { this.setGain(saved, false); this.chosen = true; }
    this.resize();
    sweeps.add(this);
  }

  ui() {
    if (!this.box) return;
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "gain-btn";
    this.button.dataset.testid = "gain";
    this.button.addEventListener("click", (e) => {
      e.stopPropagation(); // the tile opens its detail on a click
      const i = GAINS.findIndex((g) => g === this.gain);
      this.setGain(GAINS[(i + 1) % GAINS.length]);
    });
    this.button.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") e.stopPropagation(); });
    this.label = document.createElement("span");
    this.label.className = "leads-off-label";
    this.label.dataset.testid = "leads-off";
    this.label.textContent = "■ LEADS OFF";
    this.label.hidden = true;
    this.box.append(this.label, this.button);
    this.showGain();
  }

  showGain() {
    if (!this.button) return;
    const text = gainText(this.gain, this.scale);
    if (this.button.textContent === text) return;
    this.button.textContent = text;
    const how = this.gain === "auto" ? "auto: the largest QRS fits" : `${Number((this.scale * 10).toFixed(1))} mm/mV`;
    this.button.title = `Gain ${text} (${how}); ×1 is 10 mm/mV. Press to change: auto, ×0.5, ×1, ×2.`;
    this.button.setAttribute("aria-label", this.button.title);
  }

  /** The gain: "auto" (the largest QRS of the last seconds fits the tile), or 0.5, 1, 2. */
  setGain(gain, save = true) {
    const g = gain === "auto" ? "auto" : Number(gain);
    if (g !== "auto" && !(Number.isFinite(g) && g > 0 && g <= 8)) throw new Error(`gain: ${gain}`);
    this.gain = g;
    if (g !== "auto") this.scale = g;
    else this.autoDue = true;
    this.dirty = true;
    if (save) this.chosen = true;
    if (save && this.streamId) {
      try { localStorage.setItem(GAIN_KEY + this.streamId, String(g)); } catch (_) { /* private mode */ }
    }
    this.showGain();
    for (const fn of this.listeners) fn(this.gain, this.scale);
  }

  /** The gain of a bed whose viewer chose none: the tile says which (auto on a compact tile,
   * whose few millimetres at ×1 cut most R waves; ×1, the paper's 10 mm/mV, otherwise). */
  setDefaultGain(gain) {
    if (this.chosen || gain === this.gain) return;
    this.setGain(gain, false);
  }

  /** Call fn(gain, scale) after each change of gain (auto's own steps included). */
  onGain(fn) {
    this.listeners.push(fn);
    return () => { this.listeners = this.listeners.filter((f) => f !== fn); };
  }

  /** Leads off (the stream's windows or its leads_off alarm say so): dimmed, labelled. */
  setLeadOff(on) {
    this.leadOffSet = true;
    this.showLeadOff(Boolean(on));
  }

  showLeadOff(on) {
    if (on === this.leadOff) return;
    this.leadOff = on;
    this.box?.classList.toggle("leads-off", on);
    if (this.label) this.label.hidden = !on;
  }

  /** Until the tile code calls setLeadOff: the reasons of its last window, from its tile. */
  readLeadOff() {
    if (this.leadOffSet) return;
    const tile = this.trace.closest(".tile");
    if (!tile) return;
    this.qualityEl ??= tile.querySelector("[data-testid=quality]");
    this.wordEl ??= tile.querySelector("[data-testid=badge] .word");
    const reasons = this.qualityEl?.title || "";
    const word = this.wordEl?.textContent || "";
    this.showLeadOff(/\blead_off\b/.test(reasons) || /^leads? off/i.test(word));
  }

  resize() {
    const [w, h] = sizeCanvases(this.paper, this.trace);
    this.w = w;
    this.h = h;
    this.pxPerMm = h / (MV_SPAN * MM_PER_MV);
    this.span = w / (this.pxPerMm * MM_PER_S);
    drawPaper(this.paper.getContext("2d"), w, h, this.pxPerMm);
    this.head = null;
    this.marks.length = 0;
    this.written.length = 0;
    this.nDrawn = 0;
    this.trace.getContext("2d").clearRect(0, 0, w, h);
  }

  x(t) { return ((t % this.span) + this.span) % this.span / this.span * this.w; }
  y(mv) { return this.h / 2 - mv * this.scale * MM_PER_MV * this.pxPerMm; }

  /** Auto gain: the largest step at which the last AUTO_S seconds fit between the R marks'
   * zone and the bottom edge (the baseline stays in the middle, as on paper). */
  autoScale(ring, target) {
    let hi = -Infinity;
    let lo = Infinity;
    const i1 = Math.round((target - ring.t0) * ring.fs);
    for (let i = Math.max(i1 - AUTO_S * ring.fs, ring.end - ring.n, 0); i <= Math.min(i1, ring.end - 1); i++) {
      const v = ring.values[i % ring.n];
      if (v > hi) hi = v;
      if (v < lo) lo = v;
    }
    if (hi === -Infinity) return this.scale; // nothing finite
    const mv = MM_PER_MV * this.pxPerMm;
    const room = Math.min(hi > 0 ? (this.h / 2 - MARK_ZONE - 3) / (hi * mv) : Infinity,
      lo < 0 ? (this.h / 2 - 3) / (-lo * mv) : Infinity);
    if (room === Infinity) return 1;
    let pick = AUTO_STEPS[0];
    for (const g of AUTO_STEPS) if (g <= room) pick = g;
    return pick;
  }

  /**
   * Advance the pen to where the wall clock says it should be, never past the newest data
   * (the pen waits for late data rather than drawing a guess). `pending`: R-peak times not
   * drawn yet, consumed here; `classes`: [time, letter] of classified beats not lettered yet,
   * consumed once the pen has passed them. Returns whether the pen moved.
   */
  advance(ring, pending, nowMs, colour, classes = []) {
    this.attached = true;
    this.readLeadOff();
    const latest = ring.latest;
    if (latest === null) return false;
    const target0 = nowMs / 1000 + (this.offset ?? 0);
    if (this.offset === null || target0 > latest + 2 || target0 < latest - 3) {
      this.offset = latest - LAG - nowMs / 1000; // (re)anchor the pen
    }
    const target = Math.min(nowMs / 1000 + this.offset, latest);
    if (this.head === null || target - this.head > this.span || target < this.head) {
      this.head = Math.max(target - 0.05, ring.first ?? target);
      this.autoDue = true;
    }
    if (target <= this.head) return false;
    // Auto looks again once a sweep (and when the pen meets a QRS that does not fit).
    if (Math.floor(target / this.span) !== Math.floor(this.head / this.span)) this.autoDue = true;
    if (this.gain === "auto" && this.autoDue && !this.leadOff) this.setAuto(this.autoScale(ring, target));
    this.autoDue = false;
    const ctx = this.trace.getContext("2d");
    const pen = this.leadOff ? DIM : colour;
    if (this.dirty) { // a new gain: the whole sweep again, at once
      this.dirty = false;
      ctx.clearRect(0, 0, this.w, this.h);
      this.nDrawn = 0;
      this.clipSide = 0;
      const from = Math.max(target - this.span + ERASE_S, ring.first ?? target);
      this.drawTrace(ctx, ring, from, target, pen);
      for (const p of this.marks) if (p >= from && p <= target) this.drawMark(ctx, this.x(p), colour);
      for (const [p, cls] of this.written) if (p >= from && p <= target) this.drawLetter(ctx, this.x(p), cls);
    } else {
      this.erase(ctx, this.head, target + ERASE_S);
      const clipped = this.drawTrace(ctx, ring, this.head, target, pen);
      if (clipped && this.gain === "auto" && !this.leadOff) {
        const s = this.autoScale(ring, target);
        if (s < this.scale) { this.setAuto(s); this.dirty = true; }
      }
    }
    // Marks wait in `pending` until the pen reaches them (the detector reports a beat about
    // a second late; the pen runs LAG behind the newest sample, so it usually is on time).
    let keep = 0;
    for (const p of pending) {
      if (p > target) { pending[keep++] = p; continue; }
      if (p < target - this.span) continue;
      this.drawMark(ctx, this.x(p), colour);
      this.marks.push(p);
    }
    pending.length = keep;
    if (this.marks.length > MARKS_KEPT) this.marks.splice(0, this.marks.length - MARKS_KEPT);
    this.head = target;
    this.letter(ctx, classes, target);
    return true;
  }

  setAuto(scale) {
    if (scale === this.scale) return;
    this.scale = scale;
    this.dirty = true;
    this.showGain();
    for (const fn of this.listeners) fn(this.gain, this.scale);
  }

  /** The trace from `from` to `to` (stream times); a sample beyond the tile is cut at its
   * edge, the cut capped by a grey bracket (a bar along the edge, its ends turned in towards
   * the trace). Returns whether any was cut. */
  drawTrace(ctx, ring, from, to, colour) {
    const top = MARK_ZONE; // the top MARK_ZONE px belong to the R marks
    const bottom = this.h - 1;
    const i0 = Math.round((from - ring.t0) * ring.fs);
    const i1 = Math.round((to - ring.t0) * ring.fs);
    ctx.beginPath();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.lineJoin = "round";
    let pen = false;
    let lastX = -1;
    const cuts = []; // [x0, x1, side]
    let cut = null;
    for (let i = i0; i <= i1; i++) {
      const t = ring.t0 + i / ring.fs;
      const v = ring.at(t);
      const x = this.x(t);
      if (!Number.isFinite(v) || x < lastX) { pen = false; }
      lastX = x;
      if (!Number.isFinite(v)) {
        if (cut) { cuts.push(cut); cut = null; }
        this.clipSide = 0;
        continue;
      }
      const yv = this.y(v);
      const side = yv < top ? -1 : yv > bottom ? 1 : 0;
      const y = side < 0 ? top : side > 0 ? bottom : yv;
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
      if (side && cut && cut[2] === side && x >= cut[1]) cut[1] = x;
      else {
        if (cut) { cuts.push(cut); cut = null; }
        if (side) cut = [x, x, side, side !== this.clipSide];
      }
      this.clipSide = side;
      const k = this.nDrawn++ % DRAWN;
      this.drawnT[k] = t;
      this.drawnV[k] = v;
      this.drawnY[k] = y;
      this.drawnClip[k] = side;
    }
    if (cut) cuts.push(cut);
    ctx.stroke();
    ctx.strokeStyle = CLIP;
    ctx.lineWidth = 2;
    ctx.lineJoin = "miter";
    for (const [x0, x1, side, starts] of cuts) {
      const y = side < 0 ? top + 1 : bottom - 1;
      const inward = side < 0 ? 5 : -5;
      ctx.beginPath();
      ctx.moveTo(x0 - 2, y + inward);
      ctx.lineTo(x0 - 2, y);
      ctx.lineTo(x1 + 2, y);
      ctx.lineTo(x1 + 2, y + inward);
      ctx.stroke();
      if (starts) this.clips++;
    }
    return cuts.length > 0;
  }

  drawMark(ctx, x, colour) {
    ctx.fillStyle = colour;
    ctx.strokeStyle = PAPER; // an outline keeps the mark apart from a tall R wave under it
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x - 3.5, 2);
    ctx.lineTo(x + 3.5, 2);
    ctx.lineTo(x, 8);
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
  }

  drawLetter(ctx, x, cls) {
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
      if (cls === "N") continue; // normal beats keep their plain mark
      this.written.push([best, cls]);
      if (this.written.length > MARKS_KEPT) this.written.shift();
      this.drawLetter(ctx, this.x(best), cls);
    }
    classes.length = keep;
  }

  erase(ctx, from, to) { eraseSweep(this, ctx, from, to); }

  /** What this sweep shows now: its gain, lead-off, clip marks and the samples on screen
   * (stream time, mV, y in css px, -1/1 where cut at the top/bottom edge), for the tests. */
  probe() {
    const n = Math.min(this.nDrawn, DRAWN);
    const seen = new Map();
    for (let j = this.nDrawn - n; j < this.nDrawn; j++) {
      const k = j % DRAWN;
      const t = this.drawnT[k];
      if (this.head !== null && t >= this.head - this.span + ERASE_S && t <= this.head) {
        seen.set(Math.round(t * 1000), [t, this.drawnV[k], this.drawnY[k], this.drawnClip[k]]);
      }
    }
    const samples = [...seen.values()].sort((a, b) => a[0] - b[0]);
    return {
      gain: this.gain, scale: this.scale, text: this.button?.textContent ?? gainText(this.gain, this.scale),
      leadOff: this.leadOff, clips: this.clips, w: this.w, h: this.h, top: MARK_ZONE,
      pxPerMv: MM_PER_MV * this.pxPerMm, head: this.head, span: this.span,
      samples, letters: this.written.map(([t, c]) => [t, c]),
    };
  }
}

function readSaved(id) {
  let v = null;
  try { v = localStorage.getItem(GAIN_KEY + id); } catch (_) { return null; }
  if (v === null) return null;
  return GAINS.find((g) => String(g) === v) ?? null;
}
