// The larger view of one stream: the last two minutes of trace as rhythm strips (beats lettered
// by class), the heart-rate trend, the window probabilities, the AF timeline (burden per
// minute, episodes of every kind), ectopy counts and the list of recent episodes.
import { drawPaper } from "./sweep.js";
import { statusOf, fmt } from "./live-status.js";
import { BEAT_COLORS, KINDS, PRIORITY, detailText, kindColor, kindName } from "./arrhythmia.js";

const STRIP_ROWS = 4;
const STRIP_S = 30;
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
    this.stream = stream;
    this.last = 0;
    this.el = document.createElement("section");
    this.el.className = "detail";
    this.el.dataset.testid = "detail";
    this.el.setAttribute("role", "dialog");
    this.el.setAttribute("aria-label", `Stream ${stream.id}`);
    this.el.innerHTML = `
      <header><h2></h2><span class="badge"><span class="shape"></span><span class="word"></span></span>
        <span class="probs hint" data-testid="detail-probs"></span>
        <button class="close" data-testid="detail-close" aria-label="Close">✕ Close</button></header>
      <h3>Last ${STRIP_ROWS * STRIP_S / 60} minutes</h3><canvas class="strips" data-testid="detail-strips"></canvas>
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
    this.el.querySelector(".close").focus();
    this.tick(Date.now(), true);
  }

  close() {
    document.removeEventListener("keydown", this.onKey);
    this.el.remove();
  }

  tick(now, force = false) {
    if (!force && now - this.last < 1000) return; // a second's detail is plenty here
    this.last = now;
    const s = this.stream;
    const st = statusOf(s);
    const badge = this.el.querySelector(".badge");
    badge.className = `badge ${st.cls}`;
    badge.title = st.title;
    badge.querySelector(".shape").textContent = st.shape;
    badge.querySelector(".word").textContent = st.word;
    const p = s.window?.probabilities;
    this.el.querySelector(".probs").textContent = p
      ? CLASSES.map(([k]) => `${k} ${Math.round((p[k] ?? 0) * 100)} %`).join(" · ") : "";
    this.strips();
    this.trend();
    this.probabilities();
    this.timeline();
    this.ectopy();
    this.episodes();
  }

  ectopy() {
    const e = this.stream.ectopy.summary();
    const perHour = (n) => (e.hours >= 1 / 60 ? fmt(n / e.hours, 0) : "–");
    const [vi, vc, vr] = e.runs.V;
    const [si, sc, sr] = e.runs.S;
    const rows = [
      ["V", "V beats (VEB)", e.beats.V], ["V", "isolated VEB", vi], ["V", "V couplets", vc], ["V", "V runs (3+)", vr],
      ["S", "S beats (SVEB)", e.beats.S], ["S", "isolated SVEB", si], ["S", "S couplets", sc], ["S", "S runs (3+)", sr],
    ];
    const tbody = this.el.querySelector(".ectopy tbody");
    tbody.replaceChildren(...rows.map(([cls, what, n]) => {
      const tr = document.createElement("tr");
      tr.dataset.row = what;
      tr.innerHTML = `<td><span class="beat-letter" style="color:${BEAT_COLORS[cls]}">${cls}</span> ${what}</td><td></td><td></td>`;
      tr.children[1].textContent = String(n);
      tr.children[2].textContent = perHour(n);
      return tr;
    }));
    const minutes = e.hours * 60;
    this.el.querySelector("[data-testid=ectopy-since]").textContent = e.hours > 0
      ? `(since this page began receiving: ${minutes < 1 ? `${fmt(minutes * 60, 0)} s` : `${fmt(minutes, minutes < 10 ? 1 : 0)} min`} of beats)`
      : "(no beats classified yet)";
    const b = e.beats;
    const all = b.N + b.S + b.V + b.F + b.Q;
    const eps = Object.entries(e.episodes).sort(([a], [c]) => PRIORITY.indexOf(a) - PRIORITY.indexOf(c))
      .map(([k, n]) => `${kindName(k)} ${n}`).join(", ");
    this.el.querySelector("[data-testid=detail-beats]").textContent =
      `${all} beats classified: N ${b.N} · S ${b.S} · V ${b.V} · F ${b.F} · Q ${b.Q}` +
      (eps ? `. Episodes closed meanwhile: ${eps}.` : ".");
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
      const cells = [kindName(e.kind, e.detail), `${fmt(e.start_s, 1)} s`, e.open ? "–" : `${fmt(e.end_s, 1)} s`, dur,
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

  strips() {
    const [ctx, w, h] = sized(this.el.querySelector(".strips"));
    const ring = this.stream.rings.get(this.stream.lead);
    const rowH = h / STRIP_ROWS;
    const pxPerMm = w / (STRIP_S * 25);
    const end = ring.latest;
    for (let r = 0; r < STRIP_ROWS; r++) {
      ctx.save();
      ctx.translate(0, r * rowH);
      drawPaper(ctx, w, rowH, pxPerMm);
      if (end !== null) {
        const t0 = Math.floor(end / STRIP_S) * STRIP_S - (STRIP_ROWS - 1 - r) * STRIP_S;
        ctx.fillStyle = "#8b98a5";
        ctx.font = "11px system-ui";
        ctx.fillText(`${t0.toFixed(0)} s`, 4, 12);
        ctx.beginPath();
        ctx.strokeStyle = "#7ee787";
        ctx.lineWidth = 1;
        let pen = false;
        const step = Math.max(1 / ring.fs, STRIP_S / w / 2);
        for (let t = t0; t < Math.min(t0 + STRIP_S, end); t += step) {
          const v = ring.at(t);
          if (!Number.isFinite(v)) { pen = false; continue; }
          const x = ((t - t0) / STRIP_S) * w;
          const lim = rowH / 2 / (10 * pxPerMm);
          const y = rowH / 2 - Math.max(-lim, Math.min(lim, v)) * 10 * pxPerMm;
          if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
          pen = true;
        }
        ctx.stroke();
        ctx.fillStyle = "#7ee787";
        for (const pk of this.stream.peaks) {
          if (pk >= t0 && pk < t0 + STRIP_S) ctx.fillRect(((pk - t0) / STRIP_S) * w - 1, 2, 2, 5);
        }
        ctx.font = "bold 11px system-ui";
        ctx.textAlign = "center";
        for (const [bt, cls] of this.stream.beats) {
          if (cls === "N" || bt < t0 || bt >= t0 + STRIP_S || !Number.isFinite(ring.at(bt))) continue;
          const x = ((bt - t0) / STRIP_S) * w;
          ctx.lineWidth = 3;
          ctx.strokeStyle = "#0b0f13";
          ctx.strokeText(cls, x, 19);
          ctx.fillStyle = BEAT_COLORS[cls] || BEAT_COLORS.Q;
          ctx.fillText(cls, x, 19);
        }
        ctx.textAlign = "left";
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
