// The larger view of one stream: the bed's alarms (acknowledge, silence, pause, HR limits, the
// alarm log), the last two minutes of trace as rhythm strips (beats lettered by class, clock
// time) with a printed strip, the heart-rate trend, the window probabilities, the AF timeline
// (burden per minute, episodes of every kind), ectopy counts and the list of recent episodes.
import { GAINS, drawPaper, gainText, useStyle } from "./sweep.js";
import { statusOf, fmt } from "./live-status.js";
import { BEAT_COLORS, KINDS, PRIORITY, detailText, kindColor, kindName } from "./arrhythmia.js";
import { openStrip } from "./strip.js";
import { BeatRing, GUTTER, drawBeats, drawRRPaper } from "./tachogram.js";

const STRIP_ROWS = 4;
const STRIP_S = 30;
// Each row's clock time has a band of its own above the row: drawn over the row, it hid the
// beat letters of its first seconds.
const LABEL_H = 16;
const ALARMS_MS = 3000; // the bed's alarms and log are asked for this often while open
const SETTINGS_MS = 15000; // its settings and clock (the stream listing), this often
const SILENCE_MIN = [1, 2, 3, 5, 10, 15];
const PAUSE_MIN = [1, 3, 5, 10, 15];
const STRIP_SECONDS = [6, 10, 20, 30];
const SHAPE = { high: "▲", medium: "◆", low: "◇", technical: "■" };
const ZONE = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short" };

/** "09:12:03 UTC": a clock time in this browser's time zone, named. */
export function clockText(date, zone = true) {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return "–";
  return date.toLocaleTimeString("en-GB", zone ? ZONE : { ...ZONE, timeZoneName: undefined });
}
const CLASSES = [["normal", "#2ea043"], ["af", "#f85149"], ["other", "#db6d28"], ["noise", "#8b98a5"]];

function sized(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return [ctx, w, h];
}

export class Detail {
  constructor(root, stream, onClose) {
    useStyle("trace.css");
    this.stream = stream;
    this.api = stream.api;
    this.last = 0;
    this.info = null; // this stream as GET /v1/streams gives it (alarms, settings, start_time)
    this.log = null; // its alarm log, newest first
    this.asked = { alarms: 0, settings: 0 };
    this.busy = { alarms: false, settings: false };
    this.closed = false;
    this.el = document.createElement("section");
    this.el.className = "detail";
    this.el.dataset.testid = "detail";
    this.el.setAttribute("role", "dialog");
    this.el.setAttribute("aria-label", `Stream ${stream.id}`);
    const opts = (list, unit, pick) => list.map((v) => `<option value="${v}"${v === pick ? " selected" : ""}>${v} ${unit}</option>`).join("");
    this.el.innerHTML = `
      <header><h2></h2><span class="badge"><span class="shape"></span><span class="word"></span></span>
        <span class="head-info"><span class="probs hint" data-testid="detail-probs"></span>
        <span class="detail-clock hint" data-testid="detail-clock"></span></span>
        <button class="close" data-testid="detail-close" aria-label="Close">✕ Close</button></header>
      <section class="detail-alarms" aria-labelledby="alarms-h">
        <div class="alarm-now">
          <h3 id="alarms-h">Alarms of this bed</h3>
          <ul class="alarm-list" data-testid="detail-alarms"><li class="hint">Asking the server…</li></ul>
          <div class="alarm-row">
            <button type="button" data-testid="ack-all" disabled>Acknowledge all</button>
            <span class="alarm-state" data-testid="alarm-state"></span>
          </div>
          <div class="alarm-row">
            <label>Silence sound for <select data-testid="silence-minutes">${opts(SILENCE_MIN, "min", 2)}</select></label>
            <button type="button" data-testid="silence">Silence</button>
            <button type="button" data-testid="unsilence" hidden>Sound on</button>
          </div>
          <div class="alarm-row">
            <label>Pause alarms for <select data-testid="pause-minutes">${opts(PAUSE_MIN, "min", 3)}</select></label>
            <button type="button" data-testid="pause">Pause</button>
            <button type="button" data-testid="unpause" hidden>Resume alarms</button>
          </div>
          <form class="alarm-row limits" data-testid="limits-form">
            <label>HR low <input type="number" min="1" max="399" step="1" inputmode="numeric" data-testid="hr-low" placeholder="none"></label>
            <label>HR high <input type="number" min="1" max="399" step="1" inputmode="numeric" data-testid="hr-high" placeholder="none"></label>
            <button type="submit" data-testid="limits-apply">Set limits</button>
            <span class="hint" data-testid="limits-now"></span>
          </form>
          <p class="alarm-note" data-testid="alarm-note" aria-live="polite"></p>
        </div>
        <div class="bed-alarm-log">
          <h3>Alarm history <span class="hint">(newest first, from the server's log)</span></h3>
          <div class="bed-alarm-log-scroll"><table data-testid="alarm-history"><thead><tr><th>Started</th><th>Alarm</th>
            <th>State</th><th>Ended</th><th>Acknowledged</th></tr></thead><tbody></tbody></table></div>
        </div>
      </section>
      <div class="strip-head"><h3>Last ${STRIP_ROWS * STRIP_S / 60} minutes</h3>
        <label>Tile gain <select data-testid="detail-gain">${GAINS.map((g) => `<option value="${g}">${g === "auto" ? "auto" : gainText(g, g)}</option>`).join("")}</select></label>
        <label>Strip of the last <select data-testid="strip-seconds">${opts(STRIP_SECONDS, "s", 10)}</select></label>
        <button type="button" data-testid="print-strip">Print strip (PDF)</button>
        <button type="button" data-testid="strip-png">Strip as PNG</button>
        <span class="strip-note" data-testid="strip-note" aria-live="polite"></span></div>
      <canvas class="strips" data-testid="detail-strips"></canvas>
      <h3>Heart rate (bpm)</h3><canvas class="hrtrend" data-testid="detail-hr"></canvas>
      <h3>Window probabilities</h3><canvas class="probs-plot" data-testid="detail-probabilities"></canvas>
      <h3>AF burden per minute and episodes <span class="burden hint" data-testid="detail-burden"></span></h3>
      <canvas class="timeline" data-testid="detail-timeline"></canvas>
      <p class="legend hint">${CLASSES.map(([k, c]) => `<span style="color:${c}">■</span> ${k}`).join(" ")}
        · lower lane: other episodes, coloured by kind</p>
      <div class="detail-cols">
        <section><h3>Ectopy <span class="hint" data-testid="ectopy-since"></span></h3>
          <table class="ectopy" data-testid="detail-ectopy"><thead><tr><th></th><th>count</th><th>per hour</th></tr></thead>
          <tbody></tbody></table>
          <p class="hint beat-mix" data-testid="detail-beats"></p></section>
        <section><h3>Episodes <span class="hint">(open first, then the latest)</span></h3>
          <table class="episodes" data-testid="detail-episodes"><thead><tr><th>Kind</th><th>Start</th>
            <th>End</th><th>Duration</th><th>Detail</th></tr></thead><tbody></tbody></table></section>
      </div>`;
    this.el.querySelector("h2").textContent = stream.id;
    this.el.querySelector(".close").addEventListener("click", onClose);
    this.onKey = (e) => { if (e.key === "Escape") onClose(); };
    document.addEventListener("keydown", this.onKey);
    root.append(this.el);
    this.wire();
    this.el.querySelector(".close").focus();
    this.tick(Date.now(), true);
  }

  close() {
    this.closed = true;
    this.offGain?.();
    document.removeEventListener("keydown", this.onKey);
    this.el.remove();
  }

  $(id) { return this.el.querySelector(`[data-testid=${id}]`); }

  wire() {
    const id = encodeURIComponent(this.stream.id);
    const bed = this.stream.id;
    this.$("silence").addEventListener("click", () => this.act("silence", "/v1/alarms/silence",
      { stream_id: bed, minutes: Number(this.$("silence-minutes").value) }));
    this.$("unsilence").addEventListener("click", () => this.act("sound on", "/v1/alarms/silence", { stream_id: bed, minutes: 0 }));
    this.$("pause").addEventListener("click", () => this.act("pause", "/v1/alarms/pause",
      { stream_id: bed, minutes: Number(this.$("pause-minutes").value) }));
    this.$("unpause").addEventListener("click", () => this.act("resume", "/v1/alarms/pause", { stream_id: bed, minutes: 0 }));
    this.$("ack-all").addEventListener("click", () => this.ackAll());
    this.$("limits-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const value = (el) => (el.value.trim() === "" ? null : Number(el.value));
      const body = { hr_low: value(this.$("hr-low")), hr_high: value(this.$("hr-high")) };
      if (body.hr_low !== null && body.hr_high !== null && body.hr_low >= body.hr_high) {
        this.note("The low limit must be below the high one.");
        return;
      }
      this.limitsEdited = false;
      this.act("limits", `/v1/streams/${id}/limits`, body, "put");
    });
    for (const input of [this.$("hr-low"), this.$("hr-high")]) input.addEventListener("input", () => { this.limitsEdited = true; });
    const gain = this.$("detail-gain");
    const sweep = this.stream.sweep;
    if (this.stream.rr) { // a beat-time stream: no gain, no samples to print
      this.$("detail-gain").closest("label").hidden = true;
      this.el.querySelector(".strip-head h3").textContent = `RR tachogram, last ${STRIP_ROWS * STRIP_S / 60} minutes (beat times)`;
      for (const k of ["strip-seconds", "print-strip", "strip-png"]) {
        const el = this.$(k);
        (el.closest("label") ?? el).hidden = true;
      }
    } else if (sweep?.setGain) {
      gain.value = String(sweep.gain);
      gain.addEventListener("change", () => sweep.setGain(gain.value === "auto" ? "auto" : Number(gain.value)));
      this.offGain = sweep.onGain?.((g) => { gain.value = String(g); });
    } else gain.closest("label").hidden = true;
    const strip = (ext) => {
      const seconds = Number(this.$("strip-seconds").value);
      const say = (text, link) => this.$("strip-note").replaceChildren(text, ...(link ? [link] : []));
      openStrip(this.api, `/v1/streams/${id}/strip.${ext}?seconds=${seconds}`, say, `${bed}-${seconds}s.${ext}`);
    };
    this.$("print-strip").addEventListener("click", () => strip("pdf"));
    this.$("strip-png").addEventListener("click", () => strip("png"));
  }

  note(text) { this.$("alarm-note").textContent = text; }

  /** One alarm request; then the bed's state again from the server. */
  async act(what, path, body, method = "post") {
    this.note(`${what}…`);
    try {
      await this.api[method](path, body);
      this.note(`${what[0].toUpperCase()}${what.slice(1)}: done.`);
    } catch (err) {
      this.note(err.status === 404 && /not found/i.test(err.message)
        ? `This server has no alarm routes yet (${what} not sent).`
        : `Could not ${what}: ${err.message}.`);
    }
    this.refresh(true);
  }

  async ackAll() {
    const ids = this.shownAlarms().filter((a) => !a.acknowledged).map((a) => a.id);
    this.note("acknowledging…");
    let failed = null;
    for (const aid of ids) {
      try { await this.api.post(`/v1/alarms/${aid}/ack`, {}); } catch (err) { failed = err; }
    }
    this.note(failed ? `Could not acknowledge: ${failed.message}.` : `Acknowledged ${ids.length} alarm${ids.length === 1 ? "" : "s"}.`);
    this.refresh(true);
  }

  async ack(alarm) {
    this.note(`acknowledging ${alarm.text}…`);
    try {
      await this.api.post(`/v1/alarms/${alarm.id}/ack`, {});
      this.note(`${alarm.text}: acknowledged.`);
    } catch (err) {
      this.note(`Could not acknowledge ${alarm.text}: ${err.message}.`);
    }
    this.refresh(true);
  }

  /** Ask the server for the bed's alarms (often) and settings (now and then, or `all`). */
  refresh(all = false) {
    const now = Date.now();
    if (!this.api) return;
    const q = encodeURIComponent(this.stream.id);
    if (this.disclosure === undefined) {
      this.disclosure = null; // asked once: a server without the route draws what the page got
      this.api.get(`/v1/streams/${q}/trace?seconds=${STRIP_ROWS * STRIP_S}`).then((doc) => {
        if (this.stream.rr && Array.isArray(doc?.rr) && doc.rr.length) { // a beats stream's kept beats
          const kept = new BeatRing(STRIP_ROWS * STRIP_S + STRIP_S);
          kept.push(doc.rr.map((b) => b[0]), doc.rr.map((b) => b[1]), doc.rr.map((b) => b[2]));
          this.keptBeats = kept;
          if (!this.closed) this.strips();
          return;
        }
        if (!doc || !Array.isArray(doc.samples) || !doc.samples.length) return;
        this.disclosure = { t0: doc.t0, fs: doc.fs, peaks: doc.peaks || [], beats: doc.beats || [],
          samples: Float32Array.from(doc.samples, (v) => (v === null ? NaN : v)) };
        if (!this.closed) this.strips();
      }, () => {});
    }
    if ((all || now - this.asked.alarms > ALARMS_MS) && !this.busy.alarms) {
      this.asked.alarms = now;
      this.busy.alarms = true;
      this.api.get(`/v1/alarms?stream_id=${q}&limit=100`).then((doc) => {
        this.log = Array.isArray(doc) ? doc : doc?.alarms ?? [];
        this.logError = null;
      }, (err) => { this.logError = err; }).finally(() => { this.busy.alarms = false; if (!this.closed) this.alarms(); });
    }
    if ((all || now - this.asked.settings > SETTINGS_MS) && !this.busy.settings) {
      this.asked.settings = now;
      this.busy.settings = true;
      this.api.get("/v1/streams").then((doc) => {
        this.info = (doc?.streams || []).find((x) => x.stream_id === this.stream.id) ?? this.info;
      }, () => {}).finally(() => { this.busy.settings = false; if (!this.closed) { this.alarms(); this.episodesKey = null; } });
    }
  }

  /** The clock time of stream time `s`: the stream's start_time (the server's), else when
   * the server first saw it. */
  clock(s) {
    const start = this.info?.start_time ? Date.parse(this.info.start_time) / 1000 : this.info?.since ?? null;
    return start === null || !Number.isFinite(start) || s == null ? null : new Date((start + s) * 1000);
  }

  when(s, zone = true) {
    const d = this.clock(s);
    return d ? clockText(d, zone) : `${fmt(s, 1)} s`;
  }

  shownAlarms() {
    // The log's active and latched ones are the newest word; the listing's before the log came.
    if (this.log) return this.log.filter((a) => a.state === "active" || a.state === "latched");
    return this.info?.alarms ?? [];
  }

  alarms() {
    const list = this.$("detail-alarms");
    const shown = this.shownAlarms();
    const key = JSON.stringify(shown.map((a) => [a.id, a.state, a.acknowledged]));
    if (key !== this.alarmsKey || (!this.log && !this.info)) {
      this.alarmsKey = key;
      const focused = document.activeElement?.closest?.(".alarm-list li")?.dataset.alarm;
      if (!shown.length) {
        const words = this.logError
          ? (this.logError.status === 404 ? "This server keeps no alarms (no alarm routes)." : `The alarms could not be read: ${this.logError.message}.`)
          : this.log || this.info ? "No alarm now." : "Asking the server…";
        list.innerHTML = `<li class="hint"></li>`;
        list.firstChild.textContent = words;
      } else {
        list.replaceChildren(...shown.map((a) => {
          const li = document.createElement("li");
          li.dataset.alarm = String(a.id);
          li.className = `alarm ${a.priority}${a.acknowledged ? " acked" : ""}`;
          const text = document.createElement("span");
          text.className = "alarm-text";
          text.textContent = `${SHAPE[a.priority] ?? "■"} ${a.text}`;
          const meta = document.createElement("span");
          meta.className = "hint";
          const since = a.started_at ? clockText(new Date(a.started_at)) : this.when(a.start_s);
          meta.textContent = `${a.state}${a.acknowledged ? `, acknowledged${a.ack_by ? ` by ${a.ack_by}` : ""}` : ""} · since ${since}`;
          li.append(text, meta);
          if (!a.acknowledged) {
            const b = document.createElement("button");
            b.type = "button";
            b.dataset.testid = "ack";
            b.textContent = "Acknowledge";
            b.setAttribute("aria-label", `Acknowledge ${a.text}`);
            b.addEventListener("click", () => this.ack(a));
            li.append(b);
          }
          return li;
        }));
        if (focused) list.querySelector(`li[data-alarm="${focused}"] button`)?.focus();
      }
    }
    this.$("ack-all").disabled = !shown.some((a) => !a.acknowledged);
    const set = this.info?.alarm_settings;
    const until = (iso) => clockText(new Date(iso));
    const state = [];
    if (set?.silenced_until) state.push(`Sound silenced until ${until(set.silenced_until)}`);
    if (set?.paused_until) state.push(`Alarms paused until ${until(set.paused_until)}`);
    this.$("alarm-state").textContent = state.join(" · ");
    this.$("unsilence").hidden = !set?.silenced_until;
    this.$("unpause").hidden = !set?.paused_until;
    if (set) {
      const lo = this.$("hr-low");
      const hi = this.$("hr-high");
      if (!this.limitsEdited && document.activeElement !== lo && document.activeElement !== hi) {
        lo.value = set.hr_low ?? "";
        hi.value = set.hr_high ?? "";
      }
      this.$("limits-now").textContent = `now ${set.hr_low ?? "none"} – ${set.hr_high ?? "none"} bpm`;
    }
    this.history();
  }

  history() {
    const tbody = this.$("alarm-history").querySelector("tbody");
    const rows = this.log ?? [];
    const key = JSON.stringify(rows.map((a) => [a.id, a.state, a.acknowledged, a.end_s]));
    if (key === this.historyKey && rows.length) return;
    this.historyKey = key;
    if (!rows.length) {
      tbody.innerHTML = `<tr><td colspan="5" class="hint"></td></tr>`;
      tbody.querySelector("td").textContent = this.logError
        ? (this.logError.status === 404 ? "No alarm log on this server." : `Could not read the log: ${this.logError.message}.`)
        : this.log ? "No alarm yet." : "Asking the server…";
      return;
    }
    tbody.replaceChildren(...rows.map((a) => {
      const tr = document.createElement("tr");
      tr.dataset.alarm = String(a.id);
      tr.className = `${a.priority} ${a.state}`;
      const ack = a.acknowledged
        ? `${a.ack_at ? clockText(new Date(a.ack_at), false) : "yes"}${a.ack_by ? ` by ${a.ack_by}` : ""}` : "–";
      const cells = [
        a.started_at ? clockText(new Date(a.started_at)) : this.when(a.start_s),
        `${SHAPE[a.priority] ?? "■"} ${a.text}`, a.state,
        a.ended_at ? clockText(new Date(a.ended_at), false) : a.end_s != null ? this.when(a.end_s, false) : "–", ack,
      ];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      tr.title = `${a.priority} priority · stream time ${fmt(a.start_s, 1)} s`;
      return tr;
    }));
  }

  tick(now, force = false) {
    if (!force && now - this.last < 1000) return; // a second's detail is plenty here
    this.last = now;
    this.refresh();
    const s = this.stream;
    const st = statusOf(s);
    const badge = this.el.querySelector(".badge");
    badge.className = `badge ${st.cls}`;
    badge.title = st.title;
    badge.querySelector(".shape").textContent = st.shape;
    badge.querySelector(".word").textContent = st.word;
    const zone = clockText(new Date()).split(" ").slice(1).join(" ");
    this.$("detail-clock").textContent = this.info?.start_time
      ? `times in ${zone || "local time"}; stream began ${clockText(new Date(this.info.start_time))}`
      : this.info ? `times in ${zone || "local time"} (from when the server first saw the stream)` : "";
    const p = s.stale ? null : s.window?.probabilities; // nothing from before a drop as current
    const probs = p ? CLASSES.map(([k]) => `${k} ${Math.round((p[k] ?? 0) * 100)} %`) : [];
    const probsEl = this.el.querySelector(".probs");
    if (probsEl.textContent !== probs.join(" · ")) { // each value on one line: never "other 21 / %"
      probsEl.replaceChildren(...probs.flatMap((text, i) => [...(i ? [" · "] : []),
        Object.assign(document.createElement("span"), { className: "prob", textContent: text })]));
    }
    this.strips();
    this.trend();
    this.probabilities();
    this.timeline();
    this.ectopy();
    this.episodes();
  }

  ectopy() {
    const e = this.stream.ectopy.summary();
    // Beats by class: the server's running totals since the stream began (the latest
    // window's beat_totals), per hour of stream; a server without them, this page's count.
    // Couplets and runs are this page's (the server counts beats, not runs): marked †.
    const w = this.stream.window;
    const totals = w?.beat_totals && Number.isFinite(w.t_end) && w.t_end > 0 ? w.beat_totals : null;
    const hours = totals ? w.t_end / 3600 : e.hours;
    const beats = totals ? { N: 0, S: 0, V: 0, F: 0, Q: 0, ...totals } : e.beats;
    const perHour = (n, h) => (h >= 1 / 60 ? fmt(n / h, 0) : "–");
    const [vi, vc, vr] = e.runs.V;
    const [si, sc, sr] = e.runs.S;
    const mine = e.hours;
    const rows = [
      ["V", "V beats (VEB)", beats.V, hours, false], ["V", "isolated VEB", vi, mine, true],
      ["V", "V couplets", vc, mine, true], ["V", "V runs (3+)", vr, mine, true],
      ["S", "S beats (SVEB)", beats.S, hours, false], ["S", "isolated SVEB", si, mine, true],
      ["S", "S couplets", sc, mine, true], ["S", "S runs (3+)", sr, mine, true],
    ];
    const tbody = this.el.querySelector(".ectopy tbody");
    tbody.replaceChildren(...rows.map(([cls, what, n, h, page]) => {
      const tr = document.createElement("tr");
      tr.dataset.row = what;
      tr.innerHTML = `<td><span class="beat-letter" style="color:${BEAT_COLORS[cls]}">${cls}</span> ${what}${page && totals ? " †" : ""}</td><td></td><td></td>`;
      tr.children[1].textContent = String(n);
      tr.children[2].textContent = perHour(n, h);
      return tr;
    }));
    const span = (hrs) => { const m = hrs * 60; return m < 1 ? `${fmt(m * 60, 0)} s` : `${fmt(m, m < 10 ? 1 : 0)} min`; };
    const since = this.el.querySelector("[data-testid=ectopy-since]");
    if (totals) {
      since.textContent = `(the server's count since the stream began, ${this.when(0)}: ${span(hours)}` +
        (e.hours > 0 ? `; † this page's, since ${this.when(this.stream.ectopy.first)}: ${span(e.hours)})` : ")");
    } else {
      since.textContent = e.hours > 0
        ? `(beats this page received since ${this.when(this.stream.ectopy.first)}: ${span(e.hours)})`
        : "(no beats classified yet)";
    }
    const all = beats.N + beats.S + beats.V + beats.F + beats.Q;
    const eps = Object.entries(e.episodes).sort(([x], [y]) => PRIORITY.indexOf(x) - PRIORITY.indexOf(y))
      .map(([k, n]) => `${kindName(k)} ${n}`).join(", ");
    this.el.querySelector("[data-testid=detail-beats]").textContent =
      `${all} beats classified: N ${beats.N} · S ${beats.S} · V ${beats.V} · F ${beats.F} · Q ${beats.Q}` +
      (eps ? `. Episodes closed while this page was open: ${eps}.` : ".");
  }

  episodes() {
    const s = this.stream;
    const key = `${s.version || 0}/${s.openEvents.size}`;
    if (key === this.episodesKey) return; // a list in use (scrolled, selected) stays put
    this.episodesKey = key;
    const closed = s.events.filter((e) => e.type === "event").slice(-30).reverse();
    const rows = [...s.open.map((e) => ({ ...e, open: true })), ...closed];
    const tbody = this.el.querySelector(".episodes tbody");
    if (!rows.length) {
      tbody.innerHTML = `<tr><td colspan="5" class="hint">No episode yet.</td></tr>`;
      return;
    }
    tbody.replaceChildren(...rows.map((e) => {
      const tr = document.createElement("tr");
      tr.dataset.kind = e.kind;
      tr.className = e.open ? `open ${KINDS[e.kind]?.cls ?? ""}` : "";
      const dur = e.open ? "ongoing" : `${fmt(e.end_s - e.start_s, e.end_s - e.start_s < 10 ? 1 : 0)} s`;
      const conf = e.confidence != null ? `${Math.round(e.confidence * 100)} %` : "";
      const cells = [kindName(e.kind, e.detail), this.when(e.start_s), e.open ? "–" : this.when(e.end_s, false), dur,
        [detailText(e.detail), conf, e.reason ? `closed: ${e.reason.replaceAll("_", " ")}` : ""].filter(Boolean).join(" · ")];
      for (const [i, text] of cells.entries()) {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 0) td.style.borderLeft = `4px solid ${kindColor(e.kind)}`;
        tr.append(td);
      }
      return tr;
    }));
  }

  /** A beat-time stream's strips: four rows of 30 s of RR tachogram, at the strips' scale. */
  rrStrips() {
    const [ctx, w, h] = sized(this.el.querySelector(".strips"));
    const live = this.stream.rr;
    const kept = this.keptBeats;
    // The server's kept beats before this page's first, then the page's own.
    const ring = new BeatRing(STRIP_ROWS * STRIP_S + STRIP_S);
    if (kept?.length) {
      const upTo = live.first ?? Infinity;
      const n = kept.t.findIndex((t) => t >= upTo);
      const m = n < 0 ? kept.length : n;
      ring.push(kept.t.slice(0, m), kept.rr.slice(0, m), kept.af.slice(0, m));
    }
    ring.push(live.t, live.rr, live.af);
    const rowH = h / STRIP_ROWS;
    const stripH = rowH - LABEL_H;
    const end = ring.latest;
    this.rrDrawn = [];
    for (let r = 0; r < STRIP_ROWS; r++) {
      ctx.save();
      ctx.translate(0, r * rowH);
      const t0 = end === null ? 0 : Math.floor(end / STRIP_S) * STRIP_S - (STRIP_ROWS - 1 - r) * STRIP_S;
      if (end !== null && t0 >= 0) this.rowLabel(ctx, t0);
      ctx.translate(0, LABEL_H);
      drawRRPaper(ctx, w, stripH, (w - GUTTER) / STRIP_S, GUTTER);
      if (end !== null && t0 + STRIP_S > ring.first) {
        const xOf = (t) => GUTTER + ((t - t0) / STRIP_S) * (w - GUTTER);
        const drawn = drawBeats(ctx, ring, t0, Math.min(t0 + STRIP_S, end), stripH, xOf, "#7ee787");
        this.rrDrawn.push(...drawn.map(([t, rr, af]) => [t, rr, af, r]));
      }
      ctx.fillStyle = "#3a4756";
      ctx.fillRect(0, stripH - 1, w, 1);
      ctx.restore();
    }
    // What the rows hold, for the page's tests: beats drawn, of them AF.
    const canvas = this.el.querySelector(".strips");
    canvas.dataset.beats = String(this.rrDrawn.length);
    canvas.dataset.af = String(this.rrDrawn.filter((b) => b[2]).length);
  }

  /** A row's clock time and stream time, in the band above it. */
  rowLabel(ctx, t0) {
    ctx.font = "13px system-ui";
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillStyle = "#aab6c2";
    ctx.fillText(`${this.when(t0)} · ${t0.toFixed(0)} s`, 2, 12);
  }

  strips() {
    if (this.stream.rr) { this.rrStrips(); return; }
    const [ctx, w, h] = sized(this.el.querySelector(".strips"));
    const ring = this.stream.rings.get(this.stream.lead);
    // Before this page's first sample: the server's kept trace (full disclosure) of the
    // analysed lead, so the strips hold two minutes as soon as the view opens.
    const d = this.disclosure && this.stream.lead === (this.info?.lead ?? this.stream.lead) ? this.disclosure : null;
    const dEnd = d ? d.t0 + d.samples.length / d.fs : null;
    const at = (t) => {
      const v = ring.at(t);
      if (Number.isFinite(v) || !d) return v;
      const i = Math.round((t - d.t0) * d.fs);
      return i >= 0 && i < d.samples.length ? d.samples[i] : NaN;
    };
    const rowH = h / STRIP_ROWS;
    const stripH = rowH - LABEL_H;
    const pxPerMm = w / (STRIP_S * 25);
    const end = ring.latest ?? dEnd;
    const first = Math.min(ring.first ?? Infinity, d ? d.t0 : Infinity);
    const peaks = d ? [...d.peaks, ...this.stream.peaks] : this.stream.peaks;
    const beats = d ? [...d.beats, ...this.stream.beats] : this.stream.beats;
    for (let r = 0; r < STRIP_ROWS; r++) {
      ctx.save();
      ctx.translate(0, r * rowH);
      const t0 = end === null ? 0 : Math.floor(end / STRIP_S) * STRIP_S - (STRIP_ROWS - 1 - r) * STRIP_S;
      if (end !== null && t0 >= 0) this.rowLabel(ctx, t0);
      ctx.translate(0, LABEL_H);
      drawPaper(ctx, w, stripH, pxPerMm);
      if (end !== null && t0 + STRIP_S > first) { // rows before the kept trace stay blank
        ctx.beginPath();
        ctx.strokeStyle = "#7ee787";
        ctx.lineWidth = 1;
        let pen = false;
        const step = Math.max(1 / ring.fs, STRIP_S / w / 2);
        for (let t = t0; t < Math.min(t0 + STRIP_S, end); t += step) {
          const v = at(t);
          if (!Number.isFinite(v)) { pen = false; continue; }
          const x = ((t - t0) / STRIP_S) * w;
          const lim = stripH / 2 / (10 * pxPerMm);
          const y = stripH / 2 - Math.max(-lim, Math.min(lim, v)) * 10 * pxPerMm;
          if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
          pen = true;
        }
        ctx.stroke();
        ctx.fillStyle = "#7ee787";
        for (const pk of peaks) {
          if (pk >= t0 && pk < t0 + STRIP_S) ctx.fillRect(((pk - t0) / STRIP_S) * w - 1, 2, 2, 5);
        }
        ctx.font = "bold 12px system-ui";
        ctx.textAlign = "center";
        for (const [bt, cls] of beats) {
          if (cls === "N" || bt < t0 || bt >= t0 + STRIP_S || !Number.isFinite(at(bt))) continue;
          const x = ((bt - t0) / STRIP_S) * w;
          ctx.lineWidth = 3;
          ctx.strokeStyle = "#0b0f13";
          ctx.strokeText(cls, x, 19);
          ctx.fillStyle = BEAT_COLORS[cls] || BEAT_COLORS.Q;
          ctx.fillText(cls, x, 19);
        }
      }
      ctx.restore();
    }
  }

  span() {
    const tr = this.stream.trend;
    if (!tr.length) return null;
    const t1 = tr[tr.length - 1].t_end;
    return [Math.max(tr[0].t_end, t1 - 600), t1];
  }

  axes(ctx, w, h, t0, t1) {
    ctx.fillStyle = "#8b98a5";
    ctx.font = "11px system-ui";
    const step = t1 - t0 > 240 ? 60 : 30;
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const x = ((t - t0) / Math.max(t1 - t0, 1)) * w;
      ctx.fillRect(x, h - 4, 1, 4);
      ctx.fillText(`${t.toFixed(0)} s`, x + 2, h - 6);
    }
  }

  trend() {
    const [ctx, w, h] = sized(this.el.querySelector(".hrtrend"));
    const span = this.span();
    if (!span) return;
    const [t0, t1] = span;
    const pts = this.stream.trend.filter((p) => p.t_end >= t0 && p.heart_rate_bpm != null);
    const hrs = pts.map((p) => p.heart_rate_bpm);
    const lo = Math.min(40, ...hrs);
    const hi = Math.max(140, ...hrs);
    const y = (v) => h - 14 - ((v - lo) / (hi - lo)) * (h - 24);
    ctx.strokeStyle = "#2d3a47";
    ctx.fillStyle = "#8b98a5";
    ctx.font = "11px system-ui";
    for (const v of [60, 100]) { ctx.fillRect(0, y(v), w, 1); ctx.fillText(`${v}`, 2, y(v) - 2); }
    ctx.beginPath();
    ctx.strokeStyle = "#58a6ff";
    ctx.lineWidth = 1.5;
    pts.forEach((p, i) => {
      const x = ((p.t_end - t0) / Math.max(t1 - t0, 1)) * w;
      if (i) ctx.lineTo(x, y(p.heart_rate_bpm)); else ctx.moveTo(x, y(p.heart_rate_bpm));
    });
    ctx.stroke();
    this.axes(ctx, w, h, t0, t1);
  }

  probabilities() {
    const [ctx, w, h] = sized(this.el.querySelector(".probs-plot"));
    const span = this.span();
    if (!span) return;
    const [t0, t1] = span;
    const pts = this.stream.trend.filter((p) => p.t_end >= t0 && p.probabilities);
    const barW = Math.max(w / Math.max(t1 - t0, 1), 1);
    const plotH = h - 14;
    for (const p of pts) {
      const x = ((p.t_end - t0) / Math.max(t1 - t0, 1)) * w;
      let y = plotH;
      for (const [k, colour] of CLASSES) {
        const v = (p.probabilities[k] ?? 0) * plotH;
        ctx.fillStyle = colour;
        ctx.fillRect(x - barW, y - v, barW + 0.5, v);
        y -= v;
      }
      if (p.label === "uncertain") { ctx.fillStyle = "#d29922"; ctx.fillRect(x - barW, 0, barW + 0.5, 3); }
    }
    this.axes(ctx, w, h, t0, t1);
  }

  timeline() {
    const [ctx, w, h] = sized(this.el.querySelector(".timeline"));
    const span = this.span();
    const s = this.stream;
    if (!span) return;
    const [t0, t1] = span;
    const X = (t) => ((t - t0) / Math.max(t1 - t0, 1)) * w;
    const bins = new Map();
    for (const p of s.trend) {
      if (p.t_end < t0) continue;
      const b = Math.floor(p.t_end / 60);
      const e = bins.get(b) || [0, 0];
      e[0] += p.label === "af" ? 1 : 0;
      e[1] += 1;
      bins.set(b, e);
    }
    const laneH = h - 34;
    let af = 0;
    let all = 0;
    for (const [b, [n, m]] of bins) {
      af += n;
      all += m;
      const v = (n / m) * laneH;
      ctx.fillStyle = "rgba(248, 81, 73, 0.7)";
      ctx.fillRect(X(b * 60), laneH - v, Math.max(X(b * 60 + 60) - X(b * 60) - 1, 1), v);
    }
    const episodes = [...s.events.filter((e) => e.type === "event")];
    for (const e of s.open) episodes.push({ ...e, end_s: t1 });
    for (const e of episodes) {
      if (e.end_s < t0) continue;
      // AF on the first lane (under its burden), every other kind on the second.
      const y = e.kind === "af" ? laneH + 2 : laneH + 11;
      ctx.fillStyle = kindColor(e.kind);
      ctx.fillRect(X(Math.max(e.start_s, t0)), y, Math.max(X(e.end_s) - X(Math.max(e.start_s, t0)), 2), 7);
    }
    this.axes(ctx, w, h, t0, t1);
    this.el.querySelector(".burden").textContent = all
      ? `(AF in ${Math.round((100 * af) / all)} % of the windows shown)` : "";
  }
}
