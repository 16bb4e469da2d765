// Signal and detected R peaks of one record and lead, fetched by fixed chunks so that panning
// and zooming reuse what came before instead of asking again for every pixel moved.
import { isVanished, recordPath } from "./records-util.js";

export const CHUNK_S = 20;
// About 20 min of one lead at 360 Hz: enough to pan back and forth without refetching.
const MAX_CHUNKS = 60;
const PENDING = "pending";

export class SliceCache {
  constructor(api, record, lead, totalS, { onChange, onProblem }) {
    this.api = api;
    this.record = record;
    this.lead = lead;
    this.total = totalS;
    this.onChange = onChange;
    this.onProblem = onProblem;
    this.signal = new Map(); // chunk index -> {t0, fs, samples} or PENDING
    this.peaks = new Map(); // chunk index -> sorted seconds or PENDING
    this.peaksMissing = false; // no rpeaks route, or the detector failed: a hint, not an error
    this.closed = false;
  }

  close() { this.closed = true; }

  range(t0, t1) {
    const last = Math.max(0, Math.ceil(this.total / CHUNK_S) - 1);
    const a = Math.max(0, Math.floor(t0 / CHUNK_S));
    const b = Math.min(last, Math.floor(Math.max(t0, t1 - 1e-9) / CHUNK_S));
    const out = [];
    for (let i = a; i <= b; i++) out.push(i);
    return out;
  }

  /** Ask for what [t0, t1] needs and is neither here nor on its way. */
  want(t0, t1) {
    for (const i of this.range(t0, t1)) {
      if (!this.signal.has(i)) this.fetchSignal(i);
      if (!this.peaksMissing && !this.peaks.has(i)) this.fetchPeaks(i);
    }
    this.evict((t0 + t1) / 2);
  }

  query(kind, i) {
    const start = i * CHUNK_S;
    const duration = Math.min(CHUNK_S, this.total - start);
    return recordPath(this.record, `/${kind}?lead=${this.lead}&start=${start}&duration=${duration}`);
  }

  async fetchSignal(i) {
    this.signal.set(i, PENDING);
    try {
      const doc = await this.api.get(this.query("signal", i));
      if (this.closed) return;
      this.signal.set(i, { t0: doc.start_s, fs: doc.fs, samples: doc.samples });
      this.onChange();
    } catch (err) {
      if (this.closed) return;
      this.signal.delete(i); // asked again on the next want(), after a reconnect
      this.onProblem(err);
    }
  }

  async fetchPeaks(i) {
    this.peaks.set(i, PENDING);
    try {
      const doc = await this.api.get(this.query("rpeaks", i));
      if (this.closed) return;
      this.peaks.set(i, doc.peaks_s);
    } catch (err) {
      if (this.closed) return;
      if (err.status === 0 || err.status === 401 || isVanished(err)) {
        this.peaks.delete(i);
        this.onProblem(err);
        return;
      }
      // A server without the route (404) or a detector failure: draw the rest anyway.
      this.peaksMissing = true;
      this.peaks.set(i, []);
    }
    this.onChange();
  }

  /**
   * Loaded chunks overlapping [t0, t1], in time order, and whether some of their signal or
   * R peaks are still missing.
   */
  chunks(t0, t1) {
    const found = [];
    let missing = false;
    for (const i of this.range(t0, t1)) {
      const c = this.signal.get(i);
      if (c && c !== PENDING) found.push(c);
      else missing = true;
      if (!this.peaksMissing && !Array.isArray(this.peaks.get(i))) missing = true;
    }
    return { found, missing };
  }

  peaksIn(t0, t1) {
    const out = [];
    for (const i of this.range(t0, t1)) {
      const p = this.peaks.get(i);
      if (!Array.isArray(p)) continue;
      for (const t of p) if (t >= t0 && t <= t1) out.push(t);
    }
    return out;
  }

  evict(center) {
    if (this.signal.size <= MAX_CHUNKS) return;
    const far = [...this.signal.keys()]
      .filter((i) => this.signal.get(i) !== PENDING)
      .sort((a, b) => Math.abs(b * CHUNK_S - center) - Math.abs(a * CHUNK_S - center));
    for (const i of far.slice(0, this.signal.size - MAX_CHUNKS)) {
      this.signal.delete(i);
      if (this.peaks.get(i) !== PENDING) this.peaks.delete(i);
    }
  }
}
