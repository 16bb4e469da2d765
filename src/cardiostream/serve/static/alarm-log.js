// The alarm log: every alarm the server recorded (GET /v1/alarms), newest first, with its clock
// time, bed, priority, words, state and who acknowledged it when; filtered by bed.
import { PRIORITIES, alarmWords, clock, epochMs } from "./alarms.js";

const LIMIT = 500;

export class AlarmLog {
  constructor(root, api, beds, onClose) {
    this.api = api;
    this.onClose = onClose;
    this.el = document.createElement("section");
    this.el.className = "alarm-log";
    this.el.dataset.testid = "alarm-log";
    this.el.setAttribute("role", "dialog");
    this.el.setAttribute("aria-label", "Alarm log");
    this.el.innerHTML = `
      <header><h2>Alarm log</h2>
        <label>Bed <select data-testid="log-bed"><option value="">all beds</option></select></label>
        <button type="button" data-testid="log-refresh">Refresh</button>
        <span class="log-note" data-testid="log-note"></span>
        <button type="button" class="close" data-testid="log-close">✕ Close</button></header>
      <table><thead><tr><th>Time</th><th>Bed</th><th>Priority</th><th>Alarm</th><th>State</th>
        <th>Ended</th><th>Acknowledged</th></tr></thead><tbody data-testid="log-rows"></tbody></table>`;
    this.bed = this.el.querySelector("select");
    for (const id of beds) this.bed.append(new Option(id, id));
    this.bed.addEventListener("change", () => this.load());
    this.el.querySelector("[data-testid=log-refresh]").addEventListener("click", () => this.load());
    this.el.querySelector(".close").addEventListener("click", () => onClose());
    this.onKey = (e) => { if (e.key === "Escape") { e.preventDefault(); onClose(); } };
    document.addEventListener("keydown", this.onKey);
    root.append(this.el);
    this.bed.focus();
    this.load();
  }

  async load() {
    const note = this.el.querySelector("[data-testid=log-note]");
    note.textContent = "loading…";
    const q = new URLSearchParams({ limit: String(LIMIT) });
    if (this.bed.value) q.set("stream_id", this.bed.value);
    let alarms;
    try {
      const doc = await this.api.get(`/v1/alarms?${q}`);
      alarms = Array.isArray(doc) ? doc : doc.alarms || [];
    } catch (err) {
      note.textContent = `could not load the log: ${err.message}`;
      return;
    }
    alarms.sort((a, b) => (epochMs(b.started_at) ?? 0) - (epochMs(a.started_at) ?? 0) || b.id - a.id);
    note.textContent = `${alarms.length} alarm${alarms.length === 1 ? "" : "s"}`;
    const tbody = this.el.querySelector("tbody");
    tbody.replaceChildren(...alarms.map((a) => {
      const tr = document.createElement("tr");
      const p = PRIORITIES[a.priority] || PRIORITIES.technical;
      tr.dataset.id = a.id;
      tr.dataset.stream = a.stream_id;
      tr.className = `prio-${p.cls}`;
      const ack = a.acknowledged || a.ack_at
        ? `${a.ack_by || "someone"} at ${clock(epochMs(a.ack_at))}` : "–";
      const cells = [clock(epochMs(a.started_at)), a.stream_id, `${p.shape} ${a.priority}`, alarmWords(a),
        a.state, a.ended_at ? clock(epochMs(a.ended_at)) : "–", ack];
      for (const [i, text] of cells.entries()) {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 2) td.className = "prio";
        tr.append(td);
      }
      return tr;
    }));
  }

  close() {
    document.removeEventListener("keydown", this.onKey);
    this.el.remove();
  }
}
