// The live view: a tile per stream of the token, fed by the read-only /v1/watch socket.
import { SampleRing, Sweep } from "./sweep.js";
import { Detail } from "./live-detail.js";
import { statusOf, fmt } from "./live-status.js";
import { KINDS, PRIORITY, detailText, kindName } from "./arrhythmia.js";

const STALE_MS = 4000; // no samples for this long: the trace greys out and says so
const ENDED_KEEP_MS = 20000; // an ended stream's tile stays this long
const RING_S = 180; // seconds of samples kept per lead, for the detail view
const TREND_KEEP = 600;
const FRAME_STATS = 600;
const EVENTS_KEEP = 100; // closed episodes kept per stream, for the detail view's list
const BEATS_KEEP = 1200; // classified beats kept per stream (more than RING_S of them)

export function mount(root, ctx) {
  const view = new LiveView(root, ctx);
  return () => view.close();
}

class LiveView {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.streams = new Map();
    this.detail = null;
    this.closed = false;
    this.retry = 1000;
    this.frameWork = [];
    this.frameGaps = [];
    this.lastFrame = null;
    root.innerHTML = `
      <div class="live-head">
        <h1>Live</h1><span class="live-count" data-testid="stream-count"></span>
        <span class="hint">25 mm/s · 10 mm/mV · click a tile for its trend and events</span>
      </div>
      <div class="notice warn" data-testid="live-notice" hidden></div>
      <p class="live-empty hint" data-testid="live-empty">No live streams for this token yet.
        Send one to <code>/v1/stream</code> (see the README) and it appears here.</p>
      <div class="tiles" data-testid="tiles"></div>`;
    this.tiles = root.querySelector(".tiles");
    this.notice = root.querySelector("[data-testid=live-notice]");
    this.empty = root.querySelector("[data-testid=live-empty]");
    this.onResize = () => { for (const s of this.streams.values()) s.sweep.resize(); };
    window.addEventListener("resize", this.onResize);
    window.cardiostreamLive = {
      frameStats: () => this.frameStats(),
      streams: () => [...this.streams.values()].map((s) => ({
        id: s.id, badge: s.badge.dataset.status, lead: s.lead,
        head: s.sweep.head, label: s.window?.label ?? null, word: s.badge.querySelector(".word").textContent,
        letters: { ...s.sweep.lettered }, classified: { ...s.ectopy.n }, ectopy: s.ectopy.summary(),
        open: s.open.map((e) => ({ kind: e.kind, start_s: e.start_s })),
        events: s.events.filter((e) => e.type === "event").map((e) => ({ kind: e.kind, start_s: e.start_s, end_s: e.end_s })),
      })),
      resetFrameStats: () => { this.frameWork = []; this.frameGaps = []; },
    };
    this.connect();
    this.raf = requestAnimationFrame((t) => this.frame(t));
  }

  // ------------------------------------------------------------ socket
  connect() {
    if (this.closed) return;
    const ws = new WebSocket(this.ctx.api.wsUrl("/v1/watch"));
    this.ws = ws;
    ws.onopen = () => { this.retry = 1000; };
    ws.onmessage = (ev) => {
      for (const line of ev.data.split("\n")) this.handle(JSON.parse(line));
    };
    ws.onclose = (ev) => {
      if (this.closed) return;
      if (ev.code === 1008) { // the token was refused
        this.say("The server refused the token.", "error");
        this.ctx.api.onUnauthorized();
        return;
      }
      this.say(`Connection to the server lost; retrying in ${Math.round(this.retry / 1000)} s…`, "error");
      for (const s of this.streams.values()) s.connected = false;
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
  }

  say(text, level) {
    this.notice.hidden = !text;
    this.notice.textContent = text || "";
    this.notice.className = `notice ${level || "warn"}`;
    this.ctx.setStatus(text ? text : "live", text ? level : "ok");
  }

  handle(msg) {
    switch (msg.type) {
      case "streams": {
        this.say("");
        const seen = new Set(msg.streams.map((s) => s.stream_id));
        for (const id of [...this.streams.keys()]) if (!seen.has(id)) this.remove(id);
        for (const info of msg.streams) this.upsert(info, true);
        break;
      }
      case "stream": this.upsert(msg.stream, false); break;
      case "display": this.stream(msg.stream_id)?.display(msg); break;
      case "window": this.stream(msg.stream_id)?.setWindow(msg); break;
      case "event_open": case "event": this.stream(msg.stream_id)?.addEvent(msg); break;
      case "gap": this.stream(msg.stream_id)?.addGap(msg); break;
      case "dropped": this.say(`This page fell behind and skipped ${msg.messages} updates.`, "warn"); break;
      default: break;
    }
  }

  stream(id) { return this.streams.get(id); }

  upsert(info, snapshot) {
    let s = this.streams.get(info.stream_id);
    if (!s && info.state === "ended") return; // one this page never showed (expired unseen)
    if (!s) {
      s = new StreamTile(info, () => this.openDetail(s), this.ctx.api);
      this.streams.set(info.stream_id, s);
      this.tiles.append(s.el);
      s.sweep.resize();
    }
    s.update(info, snapshot);
    if (info.state === "ended") {
      setTimeout(() => { if (this.streams.get(info.stream_id) === s && s.state === "ended") this.remove(info.stream_id); }, ENDED_KEEP_MS);
    }
    this.counts();
  }

  remove(id) {
    const s = this.streams.get(id);
    if (!s) return;
    s.el.remove();
    this.streams.delete(id);
    if (this.detail?.stream === s) this.closeDetail();
    this.counts();
  }

  counts() {
    const n = this.streams.size;
    this.empty.hidden = n > 0;
    this.root.querySelector("[data-testid=stream-count]").textContent = `${n} stream${n === 1 ? "" : "s"}`;
  }

  openDetail(s) {
    this.closeDetail();
    this.detail = new Detail(this.root, s, () => this.closeDetail());
  }

  closeDetail() {
    if (this.detail) { this.detail.close(); this.detail = null; }
  }

  // --------------------------------------------------------- drawing
  frame(t) {
    if (this.closed) return;
    const t0 = performance.now();
    const now = Date.now();
    for (const s of this.streams.values()) s.draw(now, t);
    if (this.detail) this.detail.tick(now);
    const work = performance.now() - t0;
    if (this.lastFrame !== null) push(this.frameGaps, t - this.lastFrame);
    push(this.frameWork, work);
    this.lastFrame = t;
    this.raf = requestAnimationFrame((tt) => this.frame(tt));
  }

  frameStats() {
    const q = (a, p) => {
      if (!a.length) return null;
      const b = [...a].sort((x, y) => x - y);
      return b[Math.min(b.length - 1, Math.floor(p * b.length))];
    };
    return {
      frames: this.frameWork.length,
      work_p50_ms: q(this.frameWork, 0.5), work_p95_ms: q(this.frameWork, 0.95),
      work_max_ms: q(this.frameWork, 1), interval_p50_ms: q(this.frameGaps, 0.5),
      interval_p95_ms: q(this.frameGaps, 0.95),
    };
  }

  close() {
    this.closed = true;
    cancelAnimationFrame(this.raf);
    window.removeEventListener("resize", this.onResize);
    this.closeDetail();
    if (this.ws) this.ws.close();
    delete window.cardiostreamLive;
  }
}

function push(a, v) {
  a.push(v);
  if (a.length > FRAME_STATS) a.shift();
}

/** One stream: its data and its tile. */
class StreamTile {
  constructor(info, onOpen, api) {
    this.api = api;
    this.id = info.stream_id;
    this.leads = info.leads;
    this.lead = info.lead;
    this.rings = new Map(this.leads.map((l) => [l, new SampleRing(RING_S)]));
    this.pending = [];
    this.peaks = [];
    this.classes = []; // [time, letter] of classified beats not lettered on the sweep yet
    this.beats = []; // [time, letter] of the recent classified beats, for the detail strips
    this.ectopy = new Ectopy();
    this.window = null;
    this.events = [];
    this.openEvents = new Map(); // kind@start -> event_open: AF and arrhythmias run side by side
    this.trend = [];
    this.lastData = 0;
    this.state = info.state;
    this.el = document.createElement("article");
    this.el.className = "tile";
    this.el.dataset.testid = "tile";
    this.el.dataset.stream = this.id;
    this.el.tabIndex = 0;
    this.el.innerHTML = `
      <header>
        <span class="sid"></span>
        <select class="lead" data-testid="lead-select" aria-label="Lead shown"></select>
        <span class="badge" data-testid="badge" role="status"><span class="shape"></span><span class="word"></span></span>
      </header>
      <div class="body">
        <div class="trace"><canvas class="paper"></canvas><canvas class="pen" data-testid="trace"></canvas>
          <span class="stale-note" hidden></span></div>
        <dl class="numbers">
          <div class="hr"><dt>HR</dt><dd data-testid="hr">–</dd><span class="unit">bpm</span></div>
          <div><dt>RMSSD</dt><dd data-k="rmssd">–</dd></div>
          <div><dt>SDNN</dt><dd data-k="sdnn">–</dd></div>
          <div><dt>pNN50</dt><dd data-k="pnn50">–</dd></div>
          <div><dt>mean RR</dt><dd data-k="rr">–</dd></div>
          <div><dt>Signal</dt><dd data-testid="quality">–</dd></div>
        </dl>
      </div>
      <ul class="events" data-testid="events"></ul>
      <div class="controls" data-testid="controls" hidden>
        <label>Mode <select data-testid="control-mode"></select></label>
        <button type="button" data-testid="control-apply">Switch</button>
        <span class="control-note hint" data-testid="control-note" role="status"></span>
      </div>`;
    this.el.querySelector(".sid").textContent = this.id;
    const select = this.el.querySelector(".lead");
    for (const l of this.leads) select.append(new Option(l, l, false, l === this.lead));
    select.hidden = this.leads.length < 2;
    select.addEventListener("change", () => { this.lead = select.value; this.sweep.resize(); });
    select.addEventListener("click", (e) => e.stopPropagation());
    this.el.addEventListener("click", onOpen);
    this.el.addEventListener("keydown", (e) => { if (e.key === "Enter") onOpen(); });
    this.setupControls(info);
    this.badge = this.el.querySelector(".badge");
    this.staleNote = this.el.querySelector(".stale-note");
    this.sweep = new Sweep(this.el.querySelector(".paper"), this.el.querySelector(".pen"));
    this.renderStatus();
  }

  setupControls(info) {
    const box = this.el.querySelector(".controls");
    box.hidden = !(info.controls && info.controls.length);
    if (box.hidden) return;
    const select = box.querySelector("select");
    select.replaceChildren(...info.controls.map((m) => new Option(m, m, false, m === info.mode)));
    for (const el of box.querySelectorAll("select, button, label")) el.addEventListener("click", (e) => e.stopPropagation());
    box.querySelector("button").addEventListener("click", () => this.switchMode(select.value));
  }

  async switchMode(mode) {
    const note = this.el.querySelector(".control-note");
    note.textContent = `asking for ${mode}…`;
    try {
      await this.api.post(`/v1/streams/${encodeURIComponent(this.id)}/control`, { mode });
      // Say what will happen rather than hide it: the 10 s window must fill with the new
      // rhythm, and the verdict passes through "uncertain" on the way.
      note.textContent = `switched to ${mode}; the verdict follows within about 10 s`;
    } catch (err) {
      note.textContent = `could not switch: ${err.message}`;
    }
  }

  update(info, snapshot) {
    this.state = info.state;
    if (info.controls?.length && this.el.querySelector(".controls").hidden) this.setupControls(info);
    if (snapshot) {
      if (info.window) this.setWindow(info.window);
      this.events = info.events.slice(-EVENTS_KEEP);
      // Episodes that closed while this page was away: their close was in the snapshot.
      for (const e of info.events) this.openEvents.delete(eventKey(e));
      this.version = (this.version || 0) + 1;
      this.trend = info.trend.slice(-TREND_KEEP);
      this.renderEvents();
    }
    this.renderStatus();
  }

  display(msg) {
    for (const [lead, samples] of Object.entries(msg.leads)) this.rings.get(lead)?.push(msg.t, samples);
    for (const p of msg.peaks) { this.pending.push(p); this.peaks.push(p); }
    if (this.peaks.length > 400) this.peaks.splice(0, this.peaks.length - 400);
    for (const b of msg.beats || []) { this.classes.push(b); this.beats.push(b); this.ectopy.add(b[0], b[1]); }
    if (this.classes.length > 200) this.classes.splice(0, this.classes.length - 200);
    if (this.beats.length > BEATS_KEEP) this.beats.splice(0, this.beats.length - BEATS_KEEP);
    this.lastData = Date.now();
    if (this.state !== "live") { this.state = "live"; this.renderStatus(); }
  }

  setWindow(w) {
    this.window = w;
    this.trend.push({ t_end: w.t_end, heart_rate_bpm: w.heart_rate_bpm, label: w.label,
      probabilities: w.probabilities, usable: w.quality?.usable });
    if (this.trend.length > TREND_KEEP) this.trend.shift();
    const hrv = w.hrv || {};
    this.el.querySelector("[data-testid=hr]").textContent = fmt(w.heart_rate_bpm, 0);
    this.el.querySelector("[data-k=rmssd]").textContent = fmt(hrv.rmssd_ms, 0, " ms");
    this.el.querySelector("[data-k=sdnn]").textContent = fmt(hrv.sdnn_ms, 0, " ms");
    this.el.querySelector("[data-k=pnn50]").textContent = hrv.pnn50 == null ? "–" : `${Math.round(hrv.pnn50 * 100)} %`;
    this.el.querySelector("[data-k=rr]").textContent = fmt(hrv.mean_rr_ms, 0, " ms");
    const q = w.quality || {};
    const qEl = this.el.querySelector("[data-testid=quality]");
    qEl.textContent = q.usable ? `good${q.score != null ? ` ${Math.round(q.score * 100)} %` : ""}` : "poor";
    qEl.title = (q.reasons || []).join(", ");
    qEl.className = q.usable ? "" : "poor";
    this.renderStatus();
  }

  addEvent(e) {
    if (e.type === "event_open") this.openEvents.set(eventKey(e), e);
    else {
      this.openEvents.delete(eventKey(e));
      this.events.push(e);
      if (this.events.length > EVENTS_KEEP) this.events.shift();
      this.ectopy.episode(e);
    }
    this.version = (this.version || 0) + 1;
    this.renderEvents();
  }

  /** The open episodes, most urgent first. */
  get open() {
    const rank = (e) => { const i = PRIORITY.indexOf(e.kind); return i < 0 ? PRIORITY.length : i; };
    return [...this.openEvents.values()].sort((a, b) => rank(a) - rank(b) || a.start_s - b.start_s);
  }

  addGap(g) {
    this.events.push({ type: "gap", start_s: g.t_start, end_s: g.t_end, kind: `gap (${g.action})` });
    this.renderEvents();
  }

  renderEvents() {
    const ul = this.el.querySelector(".events");
    const open = this.open.map((e) => ({ ...e, open: true }));
    const items = [...open, ...this.events.slice(-Math.max(1, 3 - open.length)).reverse()].slice(0, 4);
    ul.replaceChildren(...items.map((e) => {
      const li = document.createElement("li");
      li.textContent = eventLine(e);
      li.title = detailText(e.detail);
      li.className = e.open ? `open ${KINDS[e.kind]?.cls ?? ""}` : "";
      li.dataset.kind = e.kind;
      return li;
    }));
  }

  get stale() { return this.state !== "live" || Date.now() - this.lastData > STALE_MS; }

  renderStatus() {
    const st = statusOf(this);
    this.badge.dataset.status = st.key;
    this.badge.className = `badge ${st.cls}`;
    this.badge.querySelector(".shape").textContent = st.shape;
    this.badge.querySelector(".word").textContent = st.word;
    this.badge.title = st.title;
    this.el.classList.toggle("stale", this.stale);
    this.el.classList.toggle("alarm", st.cls === "alarm" && !this.stale);
  }

  draw(now) {
    const stale = this.stale;
    if (stale !== this.el.classList.contains("stale")) this.renderStatus();
    if (stale) {
      const age = this.lastData ? Math.round((now - this.lastData) / 1000) : null;
      const why = this.state === "live" ? (age === null ? "waiting for samples" : `no samples for ${age} s`) : this.state;
      if (this.staleNote.textContent !== why) this.staleNote.textContent = why;
      this.staleNote.hidden = false;
      return;
    }
    this.staleNote.hidden = true;
    this.sweep.advance(this.rings.get(this.lead), this.pending, now, "#7ee787", this.classes);
  }
}

const eventKey = (e) => `${e.kind}@${e.start_s}`;

/** One line of a tile's event list: "VT at 812 s · ongoing · 160 bpm · 92 %". */
export function eventLine(e) {
  if (e.type === "gap") return `${e.kind} at ${fmt(e.start_s, 0)} s · ${fmt(e.end_s - e.start_s, 0)} s`;
  const dur = e.open ? "ongoing" : `${fmt(e.end_s - e.start_s, e.end_s - e.start_s < 10 ? 1 : 0)} s`;
  const rate = e.kind === "vt" || e.kind === "svt" || e.kind === "idioventricular_rhythm"
    ? (e.detail?.rate_bpm != null ? ` · ${Math.round(e.detail.rate_bpm)} bpm` : "") : "";
  return `${kindName(e.kind, e.detail)} at ${fmt(e.start_s, 0)} s · ${dur}${rate}` +
    (e.confidence != null ? ` · ${Math.round(e.confidence * 100)} %` : "");
}

/**
 * Ectopy tallies from the classified beats as they arrive (each beat comes once): beats per
 * class, and V and S beats by run length (isolated, couplets, runs of three or more), as a
 * Holter report counts them. Counted from the first beat this page received.
 */
export class Ectopy {
  constructor() { this.reset(); }

  reset() {
    this.n = { N: 0, S: 0, V: 0, F: 0, Q: 0 };
    this.runs = { V: [0, 0, 0], S: [0, 0, 0] }; // isolated, couplets, runs of 3+
    this.episodes = {};
    this.run = null; // [letter, length] of the run going on
    this.first = null;
    this.last = null;
    this.since = Date.now();
  }

  add(t, cls) {
    if (this.last !== null && t < this.last - 1) this.end(); // the stream restarted
    if (this.first === null || t < this.first) this.first = t;
    this.last = t;
    this.n[cls] = (this.n[cls] || 0) + 1;
    if (this.run && this.run[0] === cls) { this.run[1]++; return; }
    this.end();
    if (cls === "V" || cls === "S") this.run = [cls, 1];
  }

  end() {
    if (this.run) this.runs[this.run[0]][Math.min(this.run[1], 3) - 1]++;
    this.run = null;
  }

  episode(e) { this.episodes[e.kind] = (this.episodes[e.kind] || 0) + 1; }

  /** Totals with the run going on counted as it stands. */
  summary() {
    const runs = { V: [...this.runs.V], S: [...this.runs.S] };
    if (this.run) runs[this.run[0]][Math.min(this.run[1], 3) - 1]++;
    const hours = this.first === null ? 0 : (this.last - this.first) / 3600;
    return { beats: { ...this.n }, runs, episodes: { ...this.episodes }, hours, since: this.since };
  }
}
