// The recordings browser: pick a record and a lead, read the strip on ECG paper with the
// reference and detected overlays, measure with calipers, review and mark episodes.
// Position lives in the hash (#/records/<id>/<lead>/<start>/<window>) so F5 comes back here.
import { SliceCache } from "./records-data.js";
import { drawOverview, drawTrace, readTheme } from "./records-draw.js";
import { wireKeys, wireOverview, wireStrip } from "./records-input.js";
import { buildLayout, renderRecordList, showKinds, showLeads, showWindow } from "./records-layout.js";
import { AnnotationPanel } from "./records-panel.js";
import { clamp, fmtTime, h, isAfLabel, isVanished, lowerBound, recordPath, stepEpisode } from "./records-util.js";
import { PRIORITY, aamiOf, kindName } from "./arrhythmia.js";
import { openStrip } from "./strip.js";

const MIN_S = 2;
const MAX_S = 120;
const HEARTBEAT_MS = 20000; // notices a vanished record or a stopped server while idle

export function mount(root, ctx) {
  const { api, setStatus } = ctx;
  const theme = readTheme();
  const s = {
    record: null, meta: null, lead: 0, start: 0, duration: 15, gain: 10, total: 0,
    beats: { t: [], sym: [] }, rhythms: [], annotationsLoaded: false,
    events: [], eventsState: "idle", caliper: { on: false, a: null, b: null },
    classified: { t: [], sym: [] }, beatsState: "idle", kind: "af", found: null,
    drawn: { n_beats: 0, n_peaks: 0, loading: false }, list: null,
  };
  let cache = null;
  let gen = 0; // bumped on each record or lead change: late answers for the old one are dropped
  let closed = false;
  let raf = 0;
  let fetchTimer = 0;
  let hashTimer = 0;
  let retry = { timer: 0, delay: 0 };
  let noticeKind = null;

  const panel = new AnnotationPanel(api, {
    jump: (t0, t1, kind) => { if (kind) chooseKind(kind); showOnset(t0); }, problem, changed: draw,
  });
  const ui = buildLayout(root, panel.element, {
    choose: (id) => choose(id),
    lead: (i) => setLead(i),
    window: (d) => setView(s.start, d),
    gain: (g) => { s.gain = g; draw(); },
    af: (dir) => jumpKind(dir),
    kind: (k) => chooseKind(k),
    beat: (cls, dir) => jumpBeat(cls, dir),
    calipers: () => toggleCalipers(),
    strip: (ext) => printStrip(ext),
    report: (ext) => openReport(ext),
  });

  // ---- problems, in words ----
  function notice(text, kind) {
    noticeKind = kind;
    ui.notice.replaceChildren(text);
    if (kind === "error") ui.notice.append(" ", h("button", { type: "button", onclick: () => { hideNotice(); recover(); } }, "Retry"));
    ui.notice.hidden = false;
  }
  function hideNotice() { ui.notice.hidden = true; noticeKind = null; }

  function problem(err) {
    if (closed) return;
    if (isVanished(err)) return vanished();
    if (err.status === 401) return setStatus("waiting for a token", "warn"); // app.js asks for it
    if (err.status === 0) return offline();
    if (noticeKind !== "vanished") notice(`The server could not answer: ${err.message.replace(/\.$/, "")}.`, "error");
  }

  function offline() {
    if (retry.timer) return;
    retry.delay = Math.min(15000, retry.delay ? retry.delay * 2 : 1000);
    notice(`Server unreachable, retrying in ${Math.round(retry.delay / 1000)} s…`, "offline");
    setStatus("server unreachable, retrying…", "error");
    retry.timer = setTimeout(async () => {
      try {
        await api.get(s.record ? recordPath(s.record) : "/v1/records");
      } catch (err) {
        retry.timer = 0;
        return problem(err);
      }
      retry = { timer: 0, delay: 0 };
      if (noticeKind === "offline") hideNotice();
      recover();
    }, retry.delay);
  }

  function vanished() {
    const id = s.record;
    if (!id) return; // several requests found it gone at once
    closeRecord();
    notice(`Record “${id}” is not in the store (it may have been removed). Pick another record below.`, "vanished");
    setStatus("record not found", "warn");
    history.replaceState(null, "", "#/records");
    if (s.list) renderList();
    loadList();
  }

  /** After a reconnect: ask again for whatever did not arrive. */
  function recover() {
    if (closed) return;
    if (!s.list) loadList();
    if (!s.record) return;
    if (!s.meta) return openRecord(s.record, { lead: s.lead, start: s.start, duration: s.duration });
    if (!s.annotationsLoaded) loadAnnotations();
    if (s.eventsState !== "ready" && s.eventsState !== "computing") loadEvents();
    if (s.beatsState !== "ready" && s.beatsState !== "computing") loadBeats();
    if (!panel.loaded && !panel.unavailable) panel.refresh();
    scheduleFetch(0);
    statusOk();
  }

  // ---- records ----
  async function loadList() {
    try {
      const list = await api.get("/v1/records");
      if (closed) return;
      const changed = JSON.stringify(list) !== JSON.stringify(s.list);
      s.list = list;
      if (changed) renderList();
    } catch (err) { problem(err); }
  }

  const renderList = () => renderRecordList(ui, s.list || [], s.record, choose);

  function choose(id) {
    if (!id || id === s.record) return;
    hideNotice();
    history.pushState(null, "", `#/records/${encodeURIComponent(id)}`);
    openRecord(id, {});
  }

  function closeRecord() {
    gen++;
    if (cache) cache.close();
    cache = null;
    Object.assign(s, { record: null, meta: null, events: [], eventsState: "idle", annotationsLoaded: false,
      classified: { t: [], sym: [] }, beatsState: "idle", found: null,
      beats: { t: [], sym: [] }, rhythms: [], caliper: { on: s.caliper.on, a: null, b: null } });
    panel.setRecord(null);
    panel.setEvents("idle");
    showBrowse(false);
  }

  async function openRecord(id, pos) {
    closeRecord();
    s.record = id;
    const mine = gen;
    showBrowse(true);
    ui.record.value = id;
    setStatus(`opening ${id}…`, "ok");
    let meta;
    try {
      meta = await api.get(recordPath(id));
    } catch (err) {
      if (mine === gen) problem(err);
      return;
    }
    if (mine !== gen) return;
    s.meta = meta;
    s.total = meta.duration_s ?? meta.n_samples / meta.fs;
    const leads = meta.leads || ["lead 0"];
    s.lead = clamp(Number.isInteger(pos.lead) ? pos.lead : 0, 0, leads.length - 1);
    showLeads(ui, leads, s.lead);
    panel.setRecord(id);
    panel.refresh();
    loadAnnotations();
    startLead();
    setView(pos.start ?? 0, pos.duration ?? s.duration);
    statusOk();
  }

  function statusOk() {
    if (s.meta) setStatus(`${s.record} · ${s.meta.fs} Hz · ${s.meta.leads?.[s.lead] ?? `lead ${s.lead}`}`, "ok");
  }

  function setLead(lead) {
    s.lead = lead;
    gen++;
    startLead();
    viewChanged();
    statusOk();
  }

  function startLead() {
    if (cache) cache.close();
    cache = new SliceCache(api, s.record, s.lead, s.total, { onChange: draw, onProblem: problem });
    s.events = []; // the detector's episodes and the classifier's beats are per lead
    s.classified = { t: [], sym: [] };
    s.found = null;
    showKinds(ui, kindsToFind(), s.kind);
    loadEvents();
    loadBeats();
  }

  async function loadBeats() {
    const mine = gen;
    s.beatsState = "computing";
    try {
      const doc = await api.get(recordPath(s.record, `/beats?lead=${s.lead}`));
      if (mine !== gen) return;
      s.classified = { t: Float64Array.from(doc.t_s), sym: doc.label, p: doc.p };
      s.beatsState = "ready";
    } catch (err) {
      if (mine !== gen) return;
      // A server without the route, or a classifier failure: the reference still serves.
      s.beatsState = err.status === 0 ? "idle" : "error";
      if (err.status === 0 || err.status === 401 || isVanished(err)) problem(err);
    }
    draw();
  }

  async function loadAnnotations() {
    const id = s.record;
    try {
      const doc = await api.get(recordPath(id, "/annotations"));
      if (id !== s.record) return;
      const fs = s.meta.fs;
      s.beats = { t: Float64Array.from(doc.beats.sample, (x) => x / fs), sym: doc.beats.symbol };
      const r = doc.rhythms;
      s.rhythms = r.start.map((x, i) => ({ start: x / fs, end: r.end[i] / fs, label: r.label[i] }));
      s.annotationsLoaded = true;
      draw();
    } catch (err) { if (id === s.record) problem(err); }
  }

  async function loadEvents() {
    const mine = gen;
    s.eventsState = "computing";
    panel.setEvents("computing");
    try {
      const doc = await api.get(recordPath(s.record, `/events?lead=${s.lead}`));
      if (mine !== gen) return;
      s.events = (doc.events || []).filter((e) => e.type === "event").sort((a, b) => a.start_s - b.start_s);
      s.eventsState = "ready";
      panel.setEvents("ready", s.events);
      showKinds(ui, kindsToFind(), s.kind);
    } catch (err) {
      if (mine !== gen) return;
      s.eventsState = "error";
      panel.setEvents("error", [], err.status === 0 ? "server unreachable, retrying…" : err.message);
      problem(err);
    }
    draw();
  }

  // ---- the view ----
  function showBrowse(on) {
    ui.browse.hidden = !on;
    ui.listView.hidden = on;
    for (const el of [ui.lead, ui.window, ui.gain, ui.prev, ui.next, ui.kind, ui.prevV, ui.nextV, ui.prevS, ui.nextS, ui.caliper, ui.strip, ui.stripPng, ui.report, ui.reportHtml]) {
      el.disabled = !on;
    }
    ui.viewStart.parentElement.hidden = !on;
  }

  function setView(start, duration) {
    if (!s.meta) return;
    s.duration = clamp(duration, MIN_S, Math.max(MIN_S, Math.min(MAX_S, s.total)));
    s.start = clamp(start, 0, Math.max(0, s.total - s.duration));
    viewChanged();
  }

  function viewChanged() {
    showWindow(ui, s.duration);
    ui.viewStart.textContent = `${s.start.toFixed(1)} s`;
    ui.viewRest.textContent = ` – ${fmtTime(s.start + s.duration)} of ${fmtTime(s.total)}`;
    suggest();
    draw();
    scheduleFetch(120);
    clearTimeout(hashTimer);
    hashTimer = setTimeout(() => {
      if (closed || !s.record || !location.hash.startsWith("#/records")) return;
      const hash = `#/records/${encodeURIComponent(s.record)}/${s.lead}/${s.start.toFixed(1)}/${+s.duration.toFixed(1)}`;
      if (location.hash !== hash) history.replaceState(null, "", hash);
    }, 400);
  }

  /** A little more than is shown, once the view has stopped moving. */
  function scheduleFetch(ms) {
    clearTimeout(fetchTimer);
    fetchTimer = setTimeout(() => cache && cache.want(s.start - s.duration / 2, s.start + 1.5 * s.duration), ms);
  }

  const pan = (dt) => setView(s.start + dt, s.duration);
  function zoomAt(t, frac, factor) {
    const d = clamp(s.duration * factor, MIN_S, Math.min(MAX_S, s.total));
    setView(t - frac * d, d);
  }
  const showOnset = (t0) => setView(t0 - 0.1 * s.duration, s.duration);

  /** Detected episodes when there are any; the reference's AF intervals otherwise. */
  function afEpisodes() {
    const detected = s.events.filter((e) => e.kind === "af").map((e) => ({ start: e.start_s, end: e.end_s }));
    if (detected.length) return { list: detected, source: "detected" };
    return { list: s.rhythms.filter((r) => isAfLabel(r.label)), source: "reference" };
  }

  /** AF, then each kind detected in this lead, with how many episodes. */
  function kindsToFind() {
    const n = {};
    for (const e of s.events) n[e.kind] = (n[e.kind] || 0) + 1;
    const rank = (k) => (PRIORITY.includes(k) ? PRIORITY.indexOf(k) : PRIORITY.length);
    const kinds = Object.keys(n).filter((k) => k !== "af").sort((a, b) => rank(a) - rank(b));
    return [["af", `AF${n.af ? ` (${n.af})` : ""}`], ...kinds.map((k) => [k, `${kindName(k)} (${n[k]})`])];
  }

  function chooseKind(kind) {
    s.kind = kind;
    showKinds(ui, kindsToFind(), kind);
  }

  function jumpKind(dir) {
    if (!s.meta) return;
    if (s.kind === "af") return jumpAf(dir);
    const name = kindName(s.kind);
    const list = s.events.filter((e) => e.kind === s.kind).map((e) => ({ start: e.start_s, end: e.end_s, detail: e.detail }));
    if (!list.length) return flash(`No ${name} episode detected in this lead.`);
    const onset = (ep) => clamp(ep.start - 0.1 * s.duration, 0, Math.max(0, s.total - s.duration));
    const i = stepEpisode(list, s.start, dir, onset);
    if (i < 0) return flash(`No ${dir > 0 ? "later" : "earlier"} ${name} episode.`);
    setView(onset(list[i]), s.duration);
    flash(`${kindName(s.kind, list[i].detail)} episode ${i + 1} of ${list.length} from ${fmtTime(list[i].start)}`);
  }

  /** The classifier's beats when it answered, else the reference's as AAMI classes. */
  function beatsToFind() {
    if (s.classified.t.length) return { t: s.classified.t, cls: s.classified.sym, source: "classifier" };
    return { t: s.beats.t, cls: Array.from(s.beats.sym, aamiOf), source: "reference" };
  }

  /** Centre the next (dir > 0) or previous V or S beat from the middle of the view. */
  function jumpBeat(cls, dir) {
    if (!s.meta) return;
    const { t, cls: classes, source } = beatsToFind();
    const mid = s.start + s.duration / 2;
    const waiting = s.beatsState === "computing" ? " (the classifier is still working)" : "";
    let i = -1;
    if (dir > 0) {
      for (let k = lowerBound(t, mid + 0.01); k < t.length; k++) if (classes[k] === cls) { i = k; break; }
    } else {
      for (let k = lowerBound(t, mid - 0.01) - 1; k >= 0; k--) if (classes[k] === cls) { i = k; break; }
    }
    if (i < 0) return flash(`No ${dir > 0 ? "later" : "earlier"} ${cls} beat (${source})${waiting}.`);
    let nth = 0;
    let all = 0;
    for (let k = 0; k < t.length; k++) if (classes[k] === cls) { all++; if (k <= i) nth++; }
    const ref = referenceAt(t[i]);
    s.found = { t: t[i], cls, source, ref };
    setView(t[i] - s.duration / 2, s.duration);
    flash(`${cls} beat ${nth} of ${all} (${source}) at ${fmtTime(t[i])}${ref && source === "classifier" ? ` · reference: ${ref}` : ""}`);
  }

  /** The reference's beat symbol within 150 ms of t, or null. */
  function referenceAt(t) {
    const k = lowerBound(s.beats.t, t - 0.15);
    return k < s.beats.t.length && s.beats.t[k] <= t + 0.15 ? s.beats.sym[k] : null;
  }

  function jumpAf(dir) {
    if (!s.meta) return;
    const { list, source } = afEpisodes();
    const waiting = s.eventsState === "computing" ? " (detection still computing)" : "";
    if (!list.length) return flash(`No AF episode in this record${waiting}.`);
    // A little of the rhythm before the onset stays in view, to see the change.
    const onset = (ep) => clamp(ep.start - 0.1 * s.duration, 0, Math.max(0, s.total - s.duration));
    const i = stepEpisode(list, s.start, dir, onset);
    if (i < 0) return flash(`No ${dir > 0 ? "later" : "earlier"} AF episode (${source})${waiting}.`);
    setView(onset(list[i]), s.duration);
    flash(`AF episode ${i + 1} of ${list.length} (${source}) from ${fmtTime(list[i].start)}`);
  }

  let flashTimer = 0;
  function flash(text) {
    ui.navHint.textContent = text;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { ui.navHint.textContent = ""; }, 6000);
  }

  // ---- printed strips ----
  /** The calipers' span when both points are set, else the span on screen. */
  function stripSpan() {
    const { a, b } = s.caliper;
    if (a !== null && b !== null && Math.abs(b - a) >= 0.5) return [Math.min(a, b), Math.max(a, b), "the calipers' span"];
    return [s.start, Math.min(s.start + s.duration, s.total || s.start + s.duration), "the span on screen"];
  }
  function printStrip(ext) {
    if (!s.record) return;
    const [t0, t1, what] = stripSpan();
    const path = recordPath(s.record, `/strip.${ext}?start=${t0.toFixed(3)}&end=${t1.toFixed(3)}&lead=${s.lead}`);
    const say = (text, link) => ui.stripNote.replaceChildren(text, ...(link ? [link] : []));
    openStrip(api, path, (text, link) => say(link ? text : `${text.replace(/\.$/, "")} (${what}, ${fmtTime(t0)}–${fmtTime(t1)}).`, link),
      `${s.record}-${t0.toFixed(1)}-${t1.toFixed(1)}.${ext}`);
  }

  /** The Holter report of the whole record and the lead shown; one pass of the engine on the
   * server the first time (about a minute for 24 h), kept there for the next. */
  function openReport(ext) {
    if (!s.record) return;
    const lead = s.meta && s.meta.leads ? s.meta.leads[s.lead] : undefined;
    const path = recordPath(s.record, `/report.${ext}?lead=${s.lead}`);
    const say = (text, link) => ui.stripNote.replaceChildren(text, ...(link ? [link] : []));
    openStrip(api, path, say, `${s.record}${lead ? `-${lead}` : ""}-holter.${ext}`, {
      preparing: "Preparing the Holter report… (about a minute for 24 h)",
      thing: "Holter report",
      absent: "This server cannot make Holter reports yet (no report route).",
    });
  }

  // ---- calipers ----
  function toggleCalipers(on = !s.caliper.on) {
    s.caliper.on = on;
    ui.caliper.setAttribute("aria-pressed", String(on));
    ui.caliper.classList.toggle("active", on);
    ui.canvas.classList.toggle("rec-measuring", on);
    caliperChanged();
  }
  function caliperChanged() {
    const { on, a, b } = s.caliper;
    if (a !== null && b !== null) {
      const ms = Math.abs(b - a) * 1000;
      ui.readout.textContent = `Δt ${ms.toFixed(0)} ms · ${(60000 / ms).toFixed(0)} bpm`;
    } else {
      ui.readout.textContent = on ? (a === null ? "click two points" : "click the second point") : "";
    }
    suggest();
    draw();
  }
  function escape() {
    if (s.caliper.a !== null) { s.caliper.a = null; s.caliper.b = null; caliperChanged(); }
    else if (s.caliper.on) toggleCalipers(false);
  }

  function suggest() {
    const { a, b } = s.caliper;
    if (a !== null && b !== null && a !== b) panel.prefill(Math.min(a, b), Math.max(a, b), "calipers");
    else panel.prefill(s.start, s.start + s.duration, "view");
  }

  wireStrip(ui.canvas, {
    timeAt: (x) => s.start + (x / ui.canvas.clientWidth) * s.duration,
    duration: () => s.duration,
    pan,
    zoomAt,
    caliperOn: () => s.caliper.on,
    caliperPoint(t) {
      const c = s.caliper;
      if (c.a === null || c.b !== null) { c.a = t; c.b = null; } else c.b = t;
      caliperChanged();
    },
    caliperSpan(a, b) { s.caliper.a = a; s.caliper.b = b; caliperChanged(); },
  });
  wireOverview(ui.overview, (frac) => s.meta && setView(frac * s.total - s.duration / 2, s.duration));
  const unwireKeys = wireKeys({
    ArrowLeft: () => pan(-s.duration / 4), ArrowRight: () => pan(s.duration / 4),
    Home: () => setView(0, s.duration), End: () => setView(s.total, s.duration),
    "+": () => zoomAt(s.start + s.duration / 2, 0.5, 1 / 1.5), "=": () => zoomAt(s.start + s.duration / 2, 0.5, 1 / 1.5),
    "-": () => zoomAt(s.start + s.duration / 2, 0.5, 1.5),
    n: () => jumpKind(1), p: () => jumpKind(-1), c: () => s.meta && toggleCalipers(), Escape: escape,
    v: () => jumpBeat("V", 1), V: () => jumpBeat("V", -1), s: () => jumpBeat("S", 1), S: () => jumpBeat("S", -1),
  });

  // ---- drawing ----
  function draw() {
    if (!raf && !closed) raf = requestAnimationFrame(paint);
  }
  function paint() {
    raf = 0;
    if (closed || !s.meta || ui.browse.hidden) return;
    const v = { ...s, cache, userAnns: panel.annotations, theme };
    s.drawn = drawTrace(ui.canvas, v);
    drawOverview(ui.overview, v);
    ui.peaksHint.hidden = !(cache && cache.peaksMissing);
  }
  const resize = new ResizeObserver(draw);
  resize.observe(ui.canvas);

  const heartbeat = setInterval(() => {
    if (retry.timer || document.hidden) return;
    // Also picks up what other reviewers annotated meanwhile (the store is shared).
    if (s.record) api.get(recordPath(s.record)).then(() => panel.loaded && panel.refresh(), problem);
    else loadList();
  }, HEARTBEAT_MS);

  window.cardiostreamRecords = Object.freeze({
    state: () => ({
      record: s.record, lead: s.lead, start_s: s.start, duration_s: s.duration,
      n_peaks_drawn: s.drawn.n_peaks, n_beats_drawn: s.drawn.n_beats, n_events: s.events.length,
      // A paint still pending counts as loading: the counts above are then the last view's.
      events_state: s.eventsState, loading: s.drawn.loading || raf !== 0, n_user_annotations: panel.annotations.length,
      beats_state: s.beatsState, n_classified_drawn: s.drawn.n_classified, event_kind: s.kind,
      found: s.found ? { ...s.found } : null,
    }),
  });

  // ---- start ----
  const [id, lead, start, duration] = (ctx.params || []).map(decodeParam);
  loadList();
  if (id) openRecord(id, { lead: toNumber(lead, true), start: toNumber(start), duration: toNumber(duration) });
  else { showBrowse(false); setStatus("choose a record", "ok"); }

  return () => {
    closed = true;
    if (cache) cache.close();
    for (const t of [fetchTimer, hashTimer, retry.timer, flashTimer]) clearTimeout(t);
    clearInterval(heartbeat);
    cancelAnimationFrame(raf);
    resize.disconnect();
    unwireKeys();
    delete window.cardiostreamRecords;
  };
}

function decodeParam(text) {
  try { return decodeURIComponent(text); } catch (_) { return text; } // a hand-typed "%" stays as typed
}

function toNumber(text, integer = false) {
  if (text === undefined || text === "") return undefined;
  const x = Number(text);
  if (!Number.isFinite(x) || x < 0 || (integer && !Number.isInteger(x))) return undefined;
  return x;
}
