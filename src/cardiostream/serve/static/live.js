// The ward: a tile per stream of the token, fed by the read-only /v1/watch socket, with the
// alarms the server keeps (docs/alarms.md): an alarm bar naming every bed in alarm (off-screen
// ones too), tiles ordered by bed or by priority, a compact density for large wards, ward-wide
// silence and pause, the alarm log, an optional audible alarm, and keyboard navigation.
import { SampleRing, Sweep } from "./sweep.js";
import { BeatRing, Tachogram } from "./tachogram.js";
import { Detail } from "./live-detail.js";
import { ALARM_KINDS, fmt, rateOf, statusOf, windowText } from "./live-status.js";
import { PRIORITY, detailText, kindName } from "./arrhythmia.js";
import { PRIORITIES, SHORT_WORDS, alarmStartMs, alarmWords, clock, epochMs, isShown, mmss, prioRank,
  streamClock, topAlarm, wantsAck, zoneName } from "./alarms.js";
import { AlarmAudio } from "./audio.js";
import { AlarmLog } from "./alarm-log.js";

const STALE_MS = 4000; // no samples for this long: the trace greys out and says so
const ENDED_KEEP_MS = 20000; // an ended stream's tile stays this long
const RING_S = 180; // seconds of samples kept per lead, for the detail view
const TREND_KEEP = 600;
const FRAME_STATS = 600;
const EVENTS_KEEP = 100; // closed episodes kept per stream, for the detail view's list
const BEATS_KEEP = 1200; // classified beats kept per stream (more than RING_S of them)
const AUTO_COMPACT = 8; // more beds than this: compact tiles, unless chosen otherwise
const COMPACT_H = [124, 230]; // a compact tile's height (px): fitted to the screen within these
const COMPACT_W = [250, 420]; // and its width
const PREFS = "cardiostream.ward";
const MINUTES = [1, 2, 3, 5, 10];

const natural = new Intl.Collator("en", { numeric: true }).compare;
const loadPrefs = () => { try { return JSON.parse(localStorage.getItem(PREFS)) || {}; } catch (_) { return {}; } };

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
    this.log = null;
    this.closed = false;
    this.retry = 1000;
    this.frameWork = [];
    this.frameGaps = [];
    this.lastFrame = null;
    this.ward = { silencedUntil: null, pausedUntil: null };
    const prefs = loadPrefs();
    this.density = prefs.density || "auto";
    this.order = prefs.order || "bed";
    this.audio = new AlarmAudio();
    root.innerHTML = `
      <div class="ward-top" data-testid="ward-top">
        <div class="live-head">
          <h1>Ward</h1><span class="live-count" data-testid="stream-count"></span>
          <div class="ward-controls" role="group" aria-label="Ward controls">
            <span class="ctl"><button type="button" data-testid="silence">Silence</button><select
              data-testid="silence-minutes" aria-label="Silence for minutes"></select></span>
            <span class="ctl"><button type="button" data-testid="pause">Pause alarms</button><select
              data-testid="pause-minutes" aria-label="Pause alarms for minutes"></select></span>
            <button type="button" class="sound" data-testid="sound" aria-pressed="false"></button>
            <label>Tiles <select data-testid="density"><option value="auto">auto</option>
              <option value="comfortable">comfortable</option><option value="compact">compact</option></select></label>
            <label>Order <select data-testid="order"><option value="bed">by bed</option>
              <option value="priority">by priority</option></select></label>
            <button type="button" data-testid="open-log">Alarm log</button>
          </div>
        </div>
        <div class="ward-state" data-testid="ward-state" hidden></div>
        <nav class="alarm-bar" data-testid="alarm-bar" aria-label="Beds in alarm">
          <span class="bar-none">No alarms</span></nav>
        <div class="sr-only" data-testid="alarm-announce" aria-live="assertive" aria-atomic="true"></div>
      </div>
      <div class="notice warn" data-testid="live-notice" hidden></div>
      <p class="live-empty hint" data-testid="live-empty">No live streams for this token yet.
        Send one to <code>/v1/stream</code> (see the README) and it appears here.</p>
      <div class="tiles" data-testid="tiles"></div>`;
    this.tiles = root.querySelector(".tiles");
    this.notice = root.querySelector("[data-testid=live-notice]");
    this.empty = root.querySelector("[data-testid=live-empty]");
    this.bar = root.querySelector("[data-testid=alarm-bar]");
    this.announcer = root.querySelector("[data-testid=alarm-announce]");
    this.setupControls();
    this.tiles.addEventListener("keydown", (e) => this.onTileKey(e));
    this.onResize = () => this.layout();
    window.addEventListener("resize", this.onResize);
    window.cardiostreamLive = {
      frameStats: () => this.frameStats(),
      streams: () => [...this.streams.values()].map((s) => ({
        id: s.id, badge: s.badge.dataset.status, lead: s.lead, priority: s.badge.dataset.priority || null,
        head: s.sweep.head, span_s: s.sweep.span, label: s.window?.label ?? null, word: s.word,
        hr: s.hrEl.textContent, why: s.whyEl.textContent,
        letters: { ...s.sweep.lettered }, classified: { ...s.ectopy.n }, ectopy: s.ectopy.summary(),
        open: s.open.map((e) => ({ kind: e.kind, start_s: e.start_s })),
        events: s.events.filter((e) => e.type === "event").map((e) => ({ kind: e.kind, start_s: e.start_s, end_s: e.end_s })),
        alarms: s.alarmList.map((a) => ({ id: a.id, kind: a.kind, priority: a.priority, state: a.state,
          acknowledged: a.acknowledged })),
      })),
      resetFrameStats: () => { this.frameWork = []; this.frameGaps = []; },
      handle: (msg) => this.handle(msg), // feeds a message as if the server sent it
      audio: () => this.audio.state(),
      ward: () => ({ ...this.ward, density: this.tiles.dataset.density, order: this.order }),
    };
    this.layout();
    this.loadWard();
    this.connect();
    this.raf = requestAnimationFrame((t) => this.frame(t));
    this.timer = setInterval(() => this.tick(), 1000);
  }

  // ------------------------------------------------------------ header controls
  setupControls() {
    const q = (id) => this.root.querySelector(`[data-testid=${id}]`);
    for (const [sel, dflt] of [[q("silence-minutes"), 2], [q("pause-minutes"), 3]]) {
      for (const m of MINUTES) sel.append(new Option(`${m} min`, String(m), false, m === dflt));
    }
    q("silence").addEventListener("click", () => this.wardCommand("silence"));
    q("pause").addEventListener("click", () => this.wardCommand("pause"));
    const sound = q("sound");
    const soundLabel = () => {
      sound.setAttribute("aria-pressed", String(this.audio.enabled));
      sound.textContent = this.audio.enabled ? "♪ Sound on" : "Sound off (muted)";
      sound.classList.toggle("on", this.audio.enabled);
    };
    sound.addEventListener("click", () => { this.audio.setEnabled(!this.audio.enabled); soundLabel(); this.tick(); });
    soundLabel();
    const density = q("density");
    density.value = this.density;
    density.addEventListener("change", () => { this.density = density.value; this.savePrefs(); this.layout(); });
    const order = q("order");
    order.value = this.order;
    order.addEventListener("change", () => { this.order = order.value; this.savePrefs(); this.arrange(); });
    q("open-log").addEventListener("click", () => this.openLog());
  }

  savePrefs() {
    try { localStorage.setItem(PREFS, JSON.stringify({ density: this.density, order: this.order })); } catch (_) { /* private mode */ }
  }

  async wardCommand(what) {
    const until = what === "silence" ? this.ward.silencedUntil : this.ward.pausedUntil;
    const on = until != null && until > Date.now();
    const minutes = on ? 0 : Number(this.root.querySelector(`[data-testid=${what}-minutes]`).value);
    try {
      const doc = await this.ctx.api.post(`/v1/alarms/${what}`, { minutes });
      this.setWard(doc || {});
      if (!doc || (doc.silenced_until === undefined && doc.paused_until === undefined)) {
        const t = minutes ? Date.now() + minutes * 60000 : null;
        if (what === "silence") this.ward.silencedUntil = t; else this.ward.pausedUntil = t;
      }
    } catch (err) {
      this.say(`Could not ${what} the ward: ${err.message}`, "error");
    }
    this.tick();
  }

  /** The ward-wide silence and pause as they stand (the alarm log's answer carries them). */
  async loadWard() {
    try {
      const doc = await this.ctx.api.get("/v1/alarms?limit=1");
      if (doc?.ward) { this.setWard(doc.ward); this.renderWard(Date.now()); }
    } catch (_) { /* an older server: no alarms */ }
  }

  setWard(msg) {
    if ("silenced_until" in msg) this.ward.silencedUntil = epochMs(msg.silenced_until);
    if ("paused_until" in msg) this.ward.pausedUntil = epochMs(msg.paused_until);
  }

  renderWard(now) {
    const left = (t) => (t != null && t > now ? (t - now) / 1000 : 0);
    const silence = left(this.ward.silencedUntil);
    const pause = left(this.ward.pausedUntil);
    const sb = this.root.querySelector("[data-testid=silence]");
    const pb = this.root.querySelector("[data-testid=pause]");
    const st = silence ? `Silenced ${mmss(silence)} · lift` : "Silence";
    const pt = pause ? `Paused ${mmss(pause)} · resume` : "Pause alarms";
    if (sb.textContent !== st) sb.textContent = st;
    if (pb.textContent !== pt) pb.textContent = pt;
    sb.classList.toggle("engaged", !!silence);
    pb.classList.toggle("engaged", !!pause);
    const box = this.root.querySelector("[data-testid=ward-state]");
    const parts = [];
    if (pause) parts.push(`Alarms paused on the whole ward: no new alarm is raised for ${mmss(pause)}`);
    if (silence) parts.push(`Sound silenced on the whole ward for ${mmss(silence)}`);
    const text = parts.join(" · ");
    box.hidden = !text;
    if (box.textContent !== text) box.textContent = text;
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
      this.setOffline(this.offlineSince ?? Date.now());
      this.say(`Connection to the server lost at ${clock(this.offlineSince)}: nothing on this page is current;` +
        ` retrying in ${Math.round(this.retry / 1000)} s…`, "error", `offline since ${clock(this.offlineSince, true)}`);
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
  }

  /** The server cannot be reached (since `since`, epoch ms), or can again (null): one state
   * for the whole ward, greyed, with the alarm bar marked as last known; not a technical alarm
   * on every bed, which the bar would not count. */
  setOffline(since) {
    if (since === this.offlineSince) return;
    this.offlineSince = since;
    this.root.classList.toggle("offline", since != null);
    for (const s of this.streams.values()) { s.offline = since != null; s.renderStatus(); }
    this.barKey = null;
    this.renderBar(Date.now());
  }

  /** A notice over the tiles, said in the top bar too (as `status` there, where it is given). */
  say(text, level, status) {
    this.notice.hidden = !text;
    this.notice.textContent = text || "";
    this.notice.className = `notice ${level || "warn"}`;
    this.ctx.setStatus(text ? status || text : "live", text ? level : "ok");
  }

  handle(msg) {
    switch (msg.type) {
      case "streams": {
        this.setOffline(null);
        this.say("");
        if (msg.ward) this.setWard(msg.ward);
        const seen = new Set(msg.streams.map((s) => s.stream_id));
        for (const id of [...this.streams.keys()]) if (!seen.has(id)) this.remove(id);
        for (const info of msg.streams) this.upsert(info, true);
        this.alarmsChanged();
        break;
      }
      case "stream": this.upsert(msg.stream, false); this.alarmsChanged(); break;
      case "display": this.stream(msg.stream_id)?.display(msg); break;
      case "window": this.stream(msg.stream_id)?.setWindow(msg); break;
      case "event_open": case "event": this.stream(msg.stream_id)?.addEvent(msg); break;
      case "gap": this.stream(msg.stream_id)?.addGap(msg); break;
      case "alarm": this.alarm(msg.alarm || msg, msg.stream_id); break;
      case "ward": this.setWard(msg); this.renderWard(Date.now()); break;
      case "dropped": this.say(`This page fell behind and skipped ${msg.messages} updates.`, "warn"); break;
      default: break;
    }
  }

  stream(id) { return this.streams.get(id); }

  alarm(a, sid) {
    const s = this.stream(a.stream_id || sid);
    if (!s) return;
    const fresh = s.setAlarm(a);
    if (fresh && a.state === "active") this.announce(s, a);
    this.alarmsChanged();
  }

  /** The one live region: new alarms only (assertive for high priority, polite otherwise). */
  announce(s, a) {
    const p = PRIORITIES[a.priority] || PRIORITIES.technical;
    this.announcer.setAttribute("aria-live", a.priority === "high" ? "assertive" : "polite");
    this.announcer.textContent = `${p.word} alarm, ${s.id}: ${alarmWords(a)}`;
  }

  upsert(info, snapshot) {
    let s = this.streams.get(info.stream_id);
    if (!s && info.state === "ended") return; // one this page never showed (expired unseen)
    if (!s) {
      s = new StreamTile(info, () => this.openDetail(s), this.ctx.api, (m) => this.say(m, "error"));
      this.streams.set(info.stream_id, s);
      this.tiles.append(s.el);
      this.layout();
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
    if (this.detail?.stream === s) this.closeDetail(false);
    this.counts();
    this.layout();
    this.alarmsChanged();
  }

  counts() {
    const n = this.streams.size;
    this.empty.hidden = n > 0;
    this.root.querySelector("[data-testid=stream-count]").textContent = `${n} bed${n === 1 ? "" : "s"}`;
  }

  // ------------------------------------------------------------ layout and order
  /** Density (auto: compact past AUTO_COMPACT beds); compact tiles are sized so that the whole
   * ward fits the screen when it can (columns and height chosen for the largest trace), and
   * scroll at their smallest size when it cannot. */
  layout() {
    const n = this.streams.size;
    const density = this.density === "auto" ? (n > AUTO_COMPACT ? "compact" : "comfortable") : this.density;
    this.tiles.dataset.density = density;
    if (density === "compact" && n) {
      const gap = parseFloat(getComputedStyle(this.tiles).rowGap) || 0;
      const width = this.tiles.clientWidth;
      const top = this.tiles.getBoundingClientRect().top + window.scrollY;
      const height = window.innerHeight - top - 12; // main's bottom padding
      let best = null;
      for (let cols = 1; cols <= 12; cols++) {
        const w = (width - (cols - 1) * gap) / cols;
        if (w < COMPACT_W[0]) break;
        const rows = Math.ceil(n / cols);
        const h = Math.min(COMPACT_H[1], Math.floor((height - (rows - 1) * gap) / rows));
        // All on screen, the widest trace (the most seconds a sweep holds); else (scrolling)
        // the most beds a screen shows.
        const score = h >= COMPACT_H[0] ? 1e7 + Math.min(w, COMPACT_W[1]) * 1000 + h : cols;
        if (!best || score > best.score) best = { cols, h: Math.max(COMPACT_H[0], h), score };
      }
      best = best || { cols: 1, h: COMPACT_H[0] };
      this.tiles.style.gridTemplateColumns = `repeat(${best.cols}, minmax(0, 1fr))`;
      this.tiles.style.setProperty("--tile-h", `${best.h}px`);
      this.cols = best.cols;
    } else {
      this.tiles.style.removeProperty("grid-template-columns");
      this.tiles.style.removeProperty("--tile-h");
      this.cols = null;
    }
    for (const s of this.streams.values()) s.fit(density);
    this.arrange();
  }

  /** The tiles in screen order. */
  ordered() {
    const list = [...this.streams.values()];
    if (this.order === "priority") {
      return list.sort((a, b) => a.rank - b.rank || (b.alarmStart ?? 0) - (a.alarmStart ?? 0) || natural(a.id, b.id));
    }
    return list.sort((a, b) => natural(a.id, b.id));
  }

  arrange() {
    this.screen = this.ordered();
    this.screen.forEach((s, i) => { if (s.el.style.order !== String(i)) s.el.style.order = String(i); });
  }

  alarmsChanged() {
    for (const s of this.streams.values()) s.renderStatus();
    this.arrange();
    this.renderBar(Date.now());
    this.sound(Date.now());
  }

  // ------------------------------------------------------------ alarm bar
  /** Every bed with an active or latched alarm, most urgent first, each a button to its tile. */
  renderBar(now) {
    const inAlarm = [...this.streams.values()].filter((s) => s.top)
      .sort((a, b) => a.rank - b.rank || (b.alarmStart ?? 0) - (a.alarmStart ?? 0) || natural(a.id, b.id));
    const offscreen = this.offscreen();
    const key = inAlarm.map((s) => `${s.id}/${s.top.id}/${s.top.state}/${s.top.acknowledged}/${offscreen.get(s.id) || ""}/${s.alarmList.length}`).join("|") +
      `|${this.offlineSince}`;
    if (key === this.barKey) return;
    this.barKey = key;
    this.bar.classList.toggle("stale", this.offlineSince != null);
    const offline = [];
    if (this.offlineSince != null) {
      const head = document.createElement("span");
      head.className = "bar-offline";
      head.dataset.testid = "offline";
      // One line even on a tablet: the bar's two rows are for the alarms (the notice says why).
      head.textContent = `⚠ Monitoring offline since ${clock(this.offlineSince)}: ` +
        (inAlarm.length ? "alarms as last known" : "alarms unknown");
      offline.push(head);
    }
    if (!inAlarm.length) {
      const none = document.createElement("span");
      none.className = "bar-none";
      none.textContent = "No alarms";
      this.bar.replaceChildren(...(offline.length ? offline : [none]));
      return;
    }
    const hidden = inAlarm.filter((s) => offscreen.get(s.id)).length;
    const head = document.createElement("span");
    head.className = "bar-count";
    head.dataset.testid = "bar-count";
    head.textContent = `${inAlarm.length} bed${inAlarm.length === 1 ? "" : "s"} in alarm${hidden ? ` · ${hidden} off-screen` : ""}` +
      ` · times ${zoneName()}`;
    if (offline.length) head.hidden = true; // its count is of alarms no longer known
    this.bar.replaceChildren(...offline, head, ...inAlarm.map((s) => {
      const a = s.top;
      const p = PRIORITIES[a.priority] || PRIORITIES.technical;
      const b = document.createElement("button");
      b.type = "button";
      b.className = `bar-item ${p.cls}${a.state === "latched" ? " latched" : ""}${a.acknowledged ? " acked" : ""}`;
      b.dataset.testid = "bar-item";
      b.dataset.stream = s.id;
      b.dataset.priority = a.priority;
      const where = offscreen.get(s.id);
      if (where) b.dataset.offscreen = where;
      const more = s.alarmList.filter(isShown).length - 1;
      const parts = [[p.shape, "shape"], [s.id, "bed"], [alarmWords(a), "word"],
        [clock(alarmStartMs(a, s), true), "time"]];
      if (a.state === "latched") parts.push(["latched", "state"]);
      else if (a.acknowledged) parts.push(["ack'd", "state"]);
      if (more > 0) parts.push([`+${more}`, "more"]);
      if (where) parts.push([where === "above" ? "↑" : "↓", "where"]);
      for (const [text, cls] of parts) {
        const span = document.createElement("span");
        span.className = cls;
        span.textContent = text;
        b.append(span);
      }
      b.title = `${p.word} alarm since ${clock(alarmStartMs(a, s))}${where ? `; the bed is off-screen (${where})` : ""}: show the bed`;
      b.addEventListener("click", () => this.goTo(s.id));
      return b;
    }));
  }

  /** Beds whose tile is not wholly on screen: id -> "above" | "below". */
  offscreen() {
    const out = new Map();
    const top = this.root.querySelector(".ward-top").getBoundingClientRect().bottom;
    const bottom = window.innerHeight;
    for (const s of this.streams.values()) {
      if (!s.top) continue;
      const r = s.el.getBoundingClientRect();
      if (r.top < top - 1) out.set(s.id, "above");
      else if (r.bottom > bottom + 1) out.set(s.id, "below");
    }
    return out;
  }

  goTo(id) {
    const s = this.stream(id);
    if (!s) return;
    s.el.scrollIntoView({ block: "center", behavior: "instant" });
    s.el.focus({ preventScroll: true });
    this.barKey = null;
    this.renderBar(Date.now());
  }

  // ------------------------------------------------------------ sound
  sound(now) {
    const wardQuiet = this.ward.silencedUntil != null && this.ward.silencedUntil > now;
    let best = null;
    if (!wardQuiet) {
      for (const s of this.streams.values()) {
        const until = epochMs(s.settings.silenced_until);
        if (until != null && until > now) continue;
        for (const a of s.alarmList) {
          if (wantsAck(a) && (best === null || prioRank(a.priority) < prioRank(best))) best = a.priority;
        }
      }
    }
    this.audio.update(best);
    const btn = this.root.querySelector("[data-testid=sound]");
    btn.title = this.audio.enabled ? "Audible alarm on: click to mute" : "Audible alarm muted: click to turn the sound on";
  }

  tick() {
    const now = Date.now();
    for (const s of this.streams.values()) s.renderBedState(now, this.ward);
    this.renderWard(now);
    this.renderBar(now);
    this.sound(now);
  }

  // ------------------------------------------------------------ keyboard, detail, log
  onTileKey(e) {
    const tile = e.target.closest?.(".tile");
    if (!tile || e.target !== tile) return; // keys in a tile's own controls are theirs
    const list = this.screen || this.ordered();
    const i = list.findIndex((s) => s.el === tile);
    if (i < 0) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault(); // else the same key press reaches the detail's Close button
      this.openDetail(list[i]);
      return;
    }
    const cols = getComputedStyle(this.tiles).gridTemplateColumns.split(" ").length || 1;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols, Home: -i, End: list.length - 1 - i }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    const j = Math.max(0, Math.min(list.length - 1, i + step));
    list[j].el.focus();
    list[j].el.scrollIntoView({ block: "nearest" });
  }

  openDetail(s) {
    this.closeDetail(false);
    this.closeLog(false);
    this.detail = new Detail(this.root, s, () => this.closeDetail(true));
  }

  closeDetail(refocus = true) {
    if (!this.detail) return;
    const s = this.detail.stream;
    this.detail.close();
    this.detail = null;
    if (refocus && s.el.isConnected) s.el.focus();
  }

  openLog() {
    this.closeDetail(false);
    this.closeLog(false);
    const beds = [...this.streams.keys()].sort(natural);
    this.log = new AlarmLog(this.root, this.ctx.api, beds, () => this.closeLog(true));
  }

  closeLog(refocus = true) {
    if (!this.log) return;
    this.log.close();
    this.log = null;
    if (refocus) this.root.querySelector("[data-testid=open-log]").focus();
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
    clearInterval(this.timer);
    window.removeEventListener("resize", this.onResize);
    this.closeDetail(false);
    this.closeLog(false);
    this.audio.close();
    if (this.ws) this.ws.close();
    delete window.cardiostreamLive;
  }
}

function push(a, v) {
  a.push(v);
  if (a.length > FRAME_STATS) a.shift();
}

/** One stream: its data, its alarms and its tile. */
class StreamTile {
  constructor(info, onOpen, api, onError) {
    this.api = api;
    this.onError = onError;
    this.id = info.stream_id;
    this.leads = info.leads;
    this.lead = info.lead;
    // A beat-time stream ("beats") has no samples: its beats draw an RR tachogram.
    this.source = info.source === "beats" ? "beats" : "ecg";
    this.rings = new Map(this.source === "beats" ? [] : this.leads.map((l) => [l, new SampleRing(RING_S)]));
    this.rr = this.source === "beats" ? new BeatRing(RING_S) : null;
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
    this.since = info.since ?? null;
    this.startTime = info.start_time ?? null;
    this.alarms = new Map(); // id -> alarm (active or latched)
    this.settings = {}; // alarm_settings: hr_low, hr_high, silenced_until, paused_until
    this.top = null;
    this.el = document.createElement("article");
    this.el.className = "tile";
    this.el.dataset.testid = "tile";
    this.el.dataset.stream = this.id;
    this.el.tabIndex = 0;
    this.el.innerHTML = `
      <header>
        <span class="sid"></span>
        <select class="lead" data-testid="lead-select" aria-label="Lead shown"></select>
        <span class="badge" data-testid="badge"><span class="shape" aria-hidden="true"></span><span
          class="word"></span><span class="state" data-testid="alarm-state"></span></span>
        <button type="button" class="ack" data-testid="ack" hidden>Ack</button>
      </header>
      <div class="body">
        <div class="trace"><canvas class="paper"></canvas><canvas class="pen" data-testid="trace"></canvas>
          <span class="stale-note" hidden></span></div>
        <dl class="numbers">
          <div class="hr"><dt>HR</dt><dd data-testid="hr">---</dd><span class="unit">bpm</span></div>
          <div class="why" data-testid="hr-why"></div>
          <div class="bed-state" data-testid="bed-state"></div>
          <div class="label2" data-testid="window-label" title="The latest 10 s window's rhythm verdict (the badge follows the alarms)"></div>
          <div class="hrv"><dt>RMSSD</dt><dd data-k="rmssd">–</dd></div>
          <div class="hrv"><dt>SDNN</dt><dd data-k="sdnn">–</dd></div>
          <div class="hrv"><dt>pNN50</dt><dd data-k="pnn50">–</dd></div>
          <div class="hrv"><dt>mean RR</dt><dd data-k="rr">–</dd></div>
          <div class="hrv signal"><dt>Signal</dt><dd data-testid="quality">–</dd></div>
        </dl>
      </div>
      <div class="foot"><ul class="events" data-testid="events"></ul></div>
      <div class="controls" data-testid="controls" hidden>
        <label>Mode <select data-testid="control-mode"></select></label>
        <button type="button" data-testid="control-apply">Switch</button>
        <span class="control-note" data-testid="control-note"></span>
      </div>`;
    this.el.querySelector(".sid").textContent = this.id;
    const select = this.el.querySelector(".lead");
    for (const l of this.leads) select.append(new Option(l, l, false, l === this.lead));
    select.hidden = this.leads.length < 2 || this.rr !== null;
    if (this.rr) {
      const pulse = info.timing === "pulse";
      const note = Object.assign(document.createElement("span"), { className: "lead-note", textContent: pulse ? "pulse beat times" : "beat times" });
      note.dataset.testid = "lead-note";
      note.title = "A beat-time stream (chest strap, watch, Holter beats): the trace is its RR tachogram, RR interval (ms) against time; AF intervals tinted red." +
        (pulse ? " Its beats were timed by a pulse sensor, and are judged by the AF model made for a pulse wave's timing noise." : "");
      select.after(note);
      this.el.classList.add("beats");
      if (pulse) this.markPulseHrv();
    }
    select.addEventListener("change", () => { this.lead = select.value; this.sweep.resize(); });
    select.addEventListener("click", (e) => e.stopPropagation());
    this.el.addEventListener("click", onOpen);
    this.ackBtn = this.el.querySelector(".ack");
    this.ackBtn.setAttribute("aria-label", `Acknowledge the alarms of ${this.id}`);
    this.ackBtn.addEventListener("click", (e) => { e.stopPropagation(); this.acknowledge(); });
    this.setupControls(info);
    this.badge = this.el.querySelector(".badge");
    this.hrEl = this.el.querySelector("[data-testid=hr]");
    this.whyEl = this.el.querySelector("[data-testid=hr-why]");
    this.staleNote = this.el.querySelector(".stale-note");
    const [paper, pen] = [this.el.querySelector(".paper"), this.el.querySelector(".pen")];
    this.sweep = this.rr ? new Tachogram(paper, pen) : new Sweep(paper, pen);
    this.renderStatus();
  }

  // A pulse wave times each beat 10-30 ms less exactly than an R peak. White noise of sd s on
  // the beat times adds 2 s^2 to the variance of the intervals (SDNN) and 6 s^2 to that of
  // their successive differences (RMSSD, pNN50): 20 ms of noise alone gives an RMSSD of about
  // 49 ms. The mean RR does not move. The numbers are shown as measured, and marked, since a
  // sensor's noise is not known.
  markPulseHrv() {
    const why = "Beats timed by a pulse sensor: its timing noise (10-30 ms) adds to the intervals' spread, " +
      "so RMSSD, SDNN and pNN50 read higher than from an ECG (20 ms of noise alone gives an RMSSD of about 49 ms).";
    for (const k of ["rmssd", "sdnn", "pnn50"]) {
      const row = this.el.querySelector(`[data-k=${k}]`).parentElement;
      row.classList.add("pulse-hrv");
      row.dataset.testid = `pulse-hrv-${k}`;
      row.title = why;
      row.querySelector("dt").textContent += "*";
    }
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
    if (info.state === "disconnected" && (this.state !== "disconnected" || this.leftAt == null)) {
      // When it left: the server's time since its last frame, as it was when this came.
      const age = Number(info.last_frame_age_s);
      this.leftAt = Date.now() - (Number.isFinite(age) && age > 0 ? age * 1000 : 0);
    } else if (info.state !== "disconnected") this.leftAt = null;
    this.state = info.state;
    if (info.since != null) this.since = info.since;
    if (info.start_time != null && info.start_time !== this.startTime) {
      this.startTime = info.start_time;
      this.renderEvents();
    }
    if (info.alarm_settings) this.settings = { ...info.alarm_settings };
    if (Array.isArray(info.alarms)) {
      this.alarms = new Map(info.alarms.filter(isShown).map((a) => [a.id, a]));
    }
    if (info.controls?.length && this.el.querySelector(".controls").hidden) this.setupControls(info);
    if (snapshot) {
      if (info.window) this.setWindow(info.window);
      this.events = info.events.slice(-EVENTS_KEEP);
      // Episodes that closed while this page was away: their close was in the snapshot.
      for (const e of info.events) this.openEvents.delete(eventKey(e));
      // Episodes in progress when this page opened.
      for (const e of info.open_events || []) this.openEvents.set(eventKey(e), { ...e, type: "event_open" });
      this.version = (this.version || 0) + 1;
      this.trend = info.trend.slice(-TREND_KEEP);
      this.renderEvents();
    }
    this.renderStatus();
  }

  /** An alarm raised, ended, latched or acknowledged; true when this page had not seen it. */
  setAlarm(a) {
    const fresh = !this.alarms.has(a.id);
    if (isShown(a)) this.alarms.set(a.id, a); else this.alarms.delete(a.id);
    this.renderStatus();
    return fresh;
  }

  /** A bed's own silence or pause (the ward's is said in the header), with the time left. */
  renderBedState(now, ward) {
    const left = (v, wardUntil) => {
      const t = epochMs(v);
      return t != null && t > now && (wardUntil == null || Math.abs(t - wardUntil) > 1500) ? (t - now) / 1000 : 0;
    };
    const paused = left(this.settings.paused_until, ward.pausedUntil);
    const silenced = left(this.settings.silenced_until, ward.silencedUntil);
    const text = paused ? `paused ${mmss(paused)}` : silenced ? `silenced ${mmss(silenced)}` : "";
    const el = this.el.querySelector("[data-testid=bed-state]");
    setText(el, text);
  }

  /** The badge's word, or its short form where the header has no room for it: measured
   * only when the word, the header or the tile's width changed. */
  fitWord(word) {
    const el = this.badge.querySelector(".word");
    const compact = this.el.parentElement?.dataset.density === "compact";
    const key = `${word}|${compact}|${this.width}|${this.ackBtn.hidden}|${this.badge.querySelector(".state").textContent}`;
    if (key === this.wordKey) return;
    this.wordKey = key;
    this.word = word;
    setText(el, word);
    const short = SHORT_WORDS[word];
    if (compact && short && el.isConnected && el.scrollWidth > el.clientWidth + 0.5) setText(el, short);
  }

  /** Resize the sweep only when its trace changed size (a resize clears the trace); the
   * density sets the gain of a bed whose viewer chose none. */
  fit(density) {
    if (density) this.sweep.setDefaultGain?.(density === "compact" ? "auto" : 1);
    // A compact header holds the name and the badge only: Ack goes to the foot, by the events.
    const home = this.el.querySelector(density === "compact" ? ".foot" : "header");
    if (density && this.ackBtn.parentElement !== home) home.append(this.ackBtn);
    this.width = this.el.clientWidth;
    if (this.word != null) this.fitWord(this.word);
    const pen = this.sweep.trace;
    if (pen.clientWidth !== this.sweep.w || pen.clientHeight !== this.sweep.h) this.sweep.resize();
  }

  get alarmList() { return [...this.alarms.values()]; }
  /** Rank of the tile's most urgent alarm (0 high ... 3 none). */
  get rank() { return this.top ? prioRank(this.top.priority) : 3; }
  get alarmStart() { return this.top ? alarmStartMs(this.top, this) : null; }

  async acknowledge() {
    const todo = this.alarmList.filter(wantsAck);
    this.ackBtn.disabled = true;
    try {
      for (const a of todo) {
        const doc = await this.api.post(`/v1/alarms/${encodeURIComponent(a.id)}/ack`, {});
        const after = doc?.alarm || (doc && doc.id === a.id ? doc : null);
        if (after) this.setAlarm(after);
      }
    } catch (err) {
      this.onError(`Could not acknowledge the alarm of ${this.id}: ${err.message}`);
    } finally {
      this.ackBtn.disabled = false;
      this.renderStatus();
    }
  }

  display(msg) {
    for (const [lead, samples] of Object.entries(msg.leads)) this.rings.get(lead)?.push(msg.t, samples);
    if (this.rr && msg.rr_ms) this.rr.push(msg.peaks, msg.rr_ms, msg.af || []);
    for (const p of msg.peaks) { this.pending.push(p); this.peaks.push(p); }
    if (this.peaks.length > 400) this.peaks.splice(0, this.peaks.length - 400);
    for (const b of msg.beats || []) { this.classes.push(b); this.beats.push(b); this.ectopy.add(b[0], b[1]); }
    if (this.classes.length > 200) this.classes.splice(0, this.classes.length - 200);
    if (this.beats.length > BEATS_KEEP) this.beats.splice(0, this.beats.length - BEATS_KEEP);
    this.lastData = Date.now();
    if (this.state !== "live") { this.state = "live"; this.leftAt = null; this.renderStatus(); }
  }

  setWindow(w) {
    this.window = w;
    this.trend.push({ t_end: w.t_end, heart_rate_bpm: w.heart_rate_bpm, label: w.label,
      probabilities: w.probabilities, usable: w.quality?.usable });
    if (this.trend.length > TREND_KEEP) this.trend.shift();
    const hrv = w.hrv || {};
    this.el.querySelector("[data-k=rmssd]").textContent = fmt(hrv.rmssd_ms, 0, " ms");
    this.el.querySelector("[data-k=sdnn]").textContent = fmt(hrv.sdnn_ms, 0, " ms");
    this.el.querySelector("[data-k=pnn50]").textContent = hrv.pnn50 == null ? "–" : `${Math.round(hrv.pnn50 * 100)} %`;
    this.el.querySelector("[data-k=rr]").textContent = fmt(hrv.mean_rr_ms, 0, " ms");
    const q = w.quality || {};
    const qEl = this.el.querySelector("[data-testid=quality]");
    qEl.textContent = q.usable ? `good${q.score != null ? ` ${Math.round(q.score * 100)} %` : ""}` : "poor";
    qEl.title = (q.reasons || []).join(", ");
    qEl.className = q.usable ? "" : "poor";
    const label = this.el.querySelector("[data-testid=window-label]");
    label.replaceChildren(Object.assign(document.createElement("span"), { className: "pre", textContent: "rhythm: " }),
      windowText(w).replace(/^rhythm: /, ""));
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
      li.textContent = eventLine(e, this);
      li.title = detailText(e.detail);
      li.className = e.open ? `open ${!ALARM_KINDS.has(e.kind) ? "note" : e.kind === "vt" || e.kind === "asystole" ? "high" : "medium"}` : "";
      li.dataset.kind = e.kind;
      return li;
    }));
  }

  /** Epoch ms the stream disconnected (its disconnected alarm's start, else when the server
   * last heard from it), or null. */
  get disconnectedAt() {
    if (this.state !== "disconnected") return null;
    const alarm = this.alarmList.find((a) => a.kind === "disconnected" && a.state === "active");
    return epochMs(alarm?.started_at) ?? this.leftAt ?? null;
  }

  get stale() { return this.offline || this.state !== "live" || Date.now() - this.lastData > STALE_MS; }

  renderStatus() {
    this.top = [...this.alarms.values()].length ? topAlarm(this.alarms.values()) : null;
    const st = statusOf(this);
    const a = st.alarm || null;
    const b = this.badge;
    b.dataset.status = st.key;
    if (a) { b.dataset.priority = a.priority; b.dataset.state = a.state; b.dataset.alarmId = a.id; } else {
      delete b.dataset.priority; delete b.dataset.state; delete b.dataset.alarmId;
    }
    const cls = `badge ${st.cls}${a?.state === "latched" ? " latched" : ""}${a?.acknowledged ? " acked" : ""}`;
    if (b.className !== cls) b.className = cls;
    setText(b.querySelector(".shape"), st.shape);
    setText(b.querySelector(".state"), a?.state === "latched" ? "latched" : a?.acknowledged ? "ack'd" : "");
    b.title = st.title;
    const tileCls = a ? `prio-${PRIORITIES[a.priority]?.cls ?? "technical"}` : st.cls === "technical" ? "prio-technical" : "";
    for (const c of ["prio-high", "prio-medium", "prio-technical"]) this.el.classList.toggle(c, c === tileCls);
    this.el.classList.toggle("latched", a?.state === "latched");
    this.el.classList.toggle("stale", this.stale);
    this.ackBtn.hidden = !this.alarmList.some(wantsAck);
    this.fitWord(st.word);
    const rate = rateOf(this);
    setText(this.hrEl, rate.text);
    setText(this.whyEl, rate.why);
    // What a screen reader says on reaching the tile (not a live region: no announcement).
    const said = `${this.id}: ${a ? `${PRIORITIES[a.priority]?.word ?? ""} alarm ${st.word}${a.state === "latched" ? ", latched" : ""}` : st.word}` +
      `, heart rate ${rate.text === "---" ? `not available, ${rate.why}` : `${rate.text} per minute`}`;
    if (this.el.getAttribute("aria-label") !== said) this.el.setAttribute("aria-label", said);
    this.el.classList.toggle("no-rate", rate.text === "---");
  }

  draw(now) {
    const stale = this.stale;
    if (stale !== this.el.classList.contains("stale")) this.renderStatus();
    if (stale) {
      const age = this.lastData ? Math.round((now - this.lastData) / 1000) : null;
      const what = this.rr ? "beats" : "samples";
      const left = this.disconnectedAt;
      const why = this.offline ? "offline"
        : left != null ? `disconnected since ${clock(left, true)}`
        : this.state === "live" ? (age === null ? `waiting for ${what}` : `no ${what} for ${age} s`) : this.state;
      if (this.staleNote.textContent !== why) this.staleNote.textContent = why;
      this.staleNote.hidden = false;
      return;
    }
    this.staleNote.hidden = true;
    this.sweep.advance(this.rr ?? this.rings.get(this.lead), this.pending, now, "#7ee787", this.classes);
  }
}

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

const eventKey = (e) => `${e.kind}@${e.start_s}`;

/** One line of a tile's event list, at clock time: "VT 09:12:03 UTC · ongoing · 160 bpm · 92 %"
 * (stream time in seconds where the stream's clock is unknown). */
export function eventLine(e, stream = {}) {
  const ms = streamClock(stream, e.start_s);
  const at = ms == null ? `at ${fmt(e.start_s, 0)} s` : clock(ms);
  if (e.type === "gap") return `${e.kind} ${at} · ${fmt(e.end_s - e.start_s, 0)} s`;
  const dur = e.open ? "ongoing" : `${fmt(e.end_s - e.start_s, e.end_s - e.start_s < 10 ? 1 : 0)} s`;
  const rate = e.kind === "vt" || e.kind === "svt" || e.kind === "idioventricular_rhythm"
    ? (e.detail?.rate_bpm != null ? ` · ${Math.round(e.detail.rate_bpm)} bpm` : "") : "";
  return `${kindName(e.kind, e.detail)} ${at} · ${dur}${rate}` +
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
