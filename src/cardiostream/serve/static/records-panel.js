// The review panel: detected events to confirm or reject, the "mark episode" form, the
// reviewer's annotations (kept by the server beside the record) and their export.
import { fmtTime, h, isVanished, KIND_COLORS, recordPath } from "./records-util.js";
import { detailText, kindColor, kindName } from "./arrhythmia.js";

const KINDS = ["af", "other", "noise", "normal"];
const SAME = 0.01; // s: an annotation reviews an event when their times agree this closely

export class AnnotationPanel {
  /** host: {jump(t0, t1, kind), problem(err), changed()}: the view that owns the panel. */
  constructor(api, host) {
    this.api = api;
    this.host = host;
    this.record = null;
    this.annotations = [];
    this.loaded = false;
    this.unavailable = false;
    this.events = [];
    this.eventsState = "idle";
    this.eventsError = "";
    this.dirty = false; // the reviewer typed times: stop filling them in from the view
    this.editing = null;
    this.suggested = { t0: 0, t1: 0, from: "view" };
    this.build();
  }

  build() {
    this.eventList = h("ul", { class: "rec-list", testid: "event-list" });
    this.userList = h("ul", { class: "rec-list", testid: "user-annotation-list" });
    this.message = h("p", { class: "hint rec-message", role: "status" });
    this.start = h("input", { type: "number", step: "0.01", min: "0", required: true, testid: "mark-start" });
    this.end = h("input", { type: "number", step: "0.01", min: "0", required: true, testid: "mark-end" });
    for (const input of [this.start, this.end]) input.addEventListener("input", () => { this.dirty = true; });
    this.kind = h("select", { testid: "mark-kind" }, KINDS.map((k) => h("option", { value: k }, k)));
    this.note = h("input", { type: "text", maxlength: "2000", placeholder: "note", testid: "mark-note" });
    this.source = h("span", { class: "hint" });
    this.submit = h("button", { type: "submit", testid: "mark-submit" }, "Mark episode");
    this.cancel = h("button", { type: "button", hidden: true, onclick: () => this.stopEditing() }, "Cancel");
    this.form = h("form", { class: "rec-mark", testid: "mark-form", onsubmit: (e) => { e.preventDefault(); this.save(); } },
      h("label", {}, "Start (s) ", this.start),
      h("label", {}, "End (s) ", this.end),
      h("label", {}, "Kind ", this.kind),
      h("label", { class: "rec-note" }, "Note ", this.note),
      h("div", { class: "rec-row" }, this.submit, this.cancel,
        h("button", { type: "button", title: "Fill in the calipers or the window again", onclick: () => this.refill() }, "↺"),
        this.source));
    this.exportCsv = h("button", { type: "button", testid: "export-csv", onclick: () => this.download("csv") }, "Export CSV");
    this.exportWfdb = h("button", { type: "button", testid: "export-wfdb", onclick: () => this.download("wfdb") }, "Export WFDB");
    this.element = h("div", { class: "rec-panel" },
      h("section", {}, h("h3", {}, "Detected episodes"), this.eventList),
      h("section", {}, h("h3", {}, "Mark an episode"), this.form),
      h("section", {}, h("h3", {}, "Annotations"), this.userList,
        h("div", { class: "rec-row" }, this.exportCsv, this.exportWfdb), this.message));
  }

  base(rest = "") { return recordPath(this.record, `/user-annotations${rest}`); }

  setRecord(id) {
    this.record = id;
    this.annotations = [];
    this.loaded = false;
    this.stopEditing();
    this.render();
  }

  setEvents(state, events = [], error = "") {
    this.eventsState = state;
    this.events = events;
    this.eventsError = error;
    this.renderEvents();
  }

  /** The times the form offers when the reviewer has not typed any (calipers, else the view). */
  prefill(t0, t1, from) {
    this.suggested = { t0, t1, from };
    if (this.dirty || this.editing) return;
    this.start.value = t0.toFixed(2);
    this.end.value = t1.toFixed(2);
    this.source.textContent = from === "calipers" ? "from the calipers" : "from the window";
  }

  refill() {
    this.dirty = false;
    const { t0, t1, from } = this.suggested;
    this.prefill(t0, t1, from);
  }

  say(text, error = false) {
    this.message.textContent = text;
    this.message.classList.toggle("rec-bad", error);
  }

  async refresh() {
    if (!this.record) return;
    const record = this.record;
    try {
      const doc = await this.api.get(this.base());
      if (record !== this.record) return;
      const same = this.loaded && JSON.stringify(doc.annotations) === JSON.stringify(this.annotations);
      this.annotations = doc.annotations || [];
      this.loaded = true;
      if (this.unavailable) this.say("");
      this.unavailable = false;
      if (same) return; // a poll that found nothing new: leave the rows (and their focus) alone
    } catch (err) {
      if (record !== this.record) return;
      if (err.status === 404 && !isVanished(err)) {
        this.unavailable = true;
        this.say("This server keeps no annotations (it has no user-annotations route).", true);
      } else {
        this.host.problem(err);
      }
    }
    this.render();
    this.host.changed();
  }

  /** Send one change; the list is then read back, so the page shows what the server kept. */
  async send(method, path, body, done) {
    const record = this.record;
    this.element.classList.add("rec-busy");
    try {
      await this.api[method](path, body);
      this.say(done);
    } catch (err) {
      if (err.status === 0) this.say("Not saved: the server cannot be reached.", true);
      else if (err.status === 404 && !isVanished(err)) this.say("Not saved: this server keeps no annotations.", true);
      else this.say(`Not saved: ${err.message}`, true);
      this.host.problem(err);
      return false;
    } finally {
      this.element.classList.remove("rec-busy");
    }
    if (record === this.record) await this.refresh();
    return true;
  }

  review(event, status) {
    // The annotation kinds are rhythms: an arrhythmia is kept as "other", named in the note.
    const kind = KINDS.includes(event.kind) ? event.kind : "other";
    const note = kind === event.kind ? "" : kindName(event.kind, event.detail);
    const body = {
      kind, status, start_s: event.start_s, end_s: event.end_s, note,
      event: { start_s: event.start_s, end_s: event.end_s, confidence: event.confidence ?? null },
    };
    return this.send("post", this.base(), body, `${kindName(event.kind, event.detail)} at ${fmtTime(event.start_s)} ${status}.`);
  }

  remove(ann, what = "Annotation deleted.") {
    return this.send("del", this.base(`/${encodeURIComponent(ann.id)}`), undefined, what);
  }

  async save() {
    const start = Number(this.start.value);
    const end = Number(this.end.value);
    if (!(Number.isFinite(start) && Number.isFinite(end) && end > start)) {
      this.say("The end must come after the start.", true);
      return;
    }
    const body = { kind: this.kind.value, status: "marked", start_s: start, end_s: end, note: this.note.value.trim(), event: null };
    const editing = this.annotations.find((a) => a.id === this.editing);
    const ok = editing
      ? await this.send("put", this.base(`/${encodeURIComponent(editing.id)}`), { ...body, status: editing.status, event: editing.event }, "Annotation saved.")
      : await this.send("post", this.base(), body, `Marked ${body.kind} ${fmtTime(start)} – ${fmtTime(end)}.`);
    if (ok) {
      this.note.value = "";
      this.stopEditing();
      this.refill();
    }
  }

  edit(ann) {
    this.editing = ann.id;
    this.start.value = ann.start_s.toFixed(2);
    this.end.value = ann.end_s.toFixed(2);
    this.kind.value = KINDS.includes(ann.kind) ? ann.kind : "other";
    this.note.value = ann.note || "";
    this.submit.textContent = "Save changes";
    this.cancel.hidden = false;
    this.source.textContent = "editing an annotation";
  }

  stopEditing() {
    this.editing = null;
    this.submit.textContent = "Mark episode";
    this.cancel.hidden = true;
    this.refill();
  }

  async download(format) {
    try {
      const blob = await this.api.blob(this.base(`/export?format=${format}`));
      const url = URL.createObjectURL(blob);
      // The server's own names (Content-Disposition): <id>.csv, or <id>.usr for WFDB.
      const name = `${this.record}.${format === "csv" ? "csv" : "usr"}`;
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
    } catch (err) {
      this.say(`Export failed: ${err.message}`, true);
      this.host.problem(err);
    }
  }

  reviewOf(event) {
    return this.annotations.find((a) => a.event && a.status !== "marked"
      && Math.abs(a.event.start_s - event.start_s) < SAME && Math.abs(a.event.end_s - event.end_s) < SAME);
  }

  render() {
    this.renderEvents();
    this.renderAnnotations();
    const off = this.unavailable || !this.record;
    for (const el of [this.submit, this.exportCsv, this.exportWfdb]) el.disabled = off;
  }

  renderEvents() {
    const rows = [];
    if (this.eventsState === "computing") {
      rows.push(h("li", { class: "hint rec-computing" }, "Computing the episodes of this record…"));
    } else if (this.eventsState === "error") {
      rows.push(h("li", { class: "rec-bad" }, `Episodes unavailable: ${this.eventsError}`));
    } else if (this.eventsState === "ready" && !this.events.length) {
      rows.push(h("li", { class: "hint" }, "No episode detected in this lead."));
    }
    for (const e of this.events) {
      const review = this.reviewOf(e);
      const conf = Number.isFinite(e.confidence) ? `, ${Math.round(e.confidence * 100)} %` : "";
      const dur = e.end_s - e.start_s;
      const detail = detailText(e.detail);
      const text = h("button", { type: "button", class: "rec-link", title: `Show it${detail ? ` (${detail})` : ""}; ◀ ▶ then go to the others of its kind`,
        onclick: () => this.host.jump(e.start_s, e.end_s, e.kind) },
        `${kindName(e.kind, e.detail)} ${fmtTime(e.start_s)} – ${fmtTime(e.end_s)} (${dur.toFixed(dur < 10 ? 1 : 0)} s${conf})`);
      const off = this.unavailable || !this.loaded;
      const actions = review
        ? [h("span", { class: `rec-badge rec-${review.status}` }, review.status),
           h("button", { type: "button", testid: "event-undo", disabled: off, onclick: () => this.remove(review, "Review undone.") }, "Undo")]
        : [h("button", { type: "button", testid: "event-confirm", disabled: off, onclick: () => this.review(e, "confirmed") }, "Confirm"),
           h("button", { type: "button", testid: "event-reject", disabled: off, onclick: () => this.review(e, "rejected") }, "Reject")];
      rows.push(h("li", { class: "rec-event", dataset: { start: String(e.start_s), kind: e.kind } },
        h("span", { class: "rec-swatch", style: `background:${kindColor(e.kind)}` }), text, h("span", { class: "rec-actions" }, actions)));
    }
    this.eventList.replaceChildren(...rows);
  }

  renderAnnotations() {
    const rows = this.annotations
      .slice()
      .sort((a, b) => a.start_s - b.start_s)
      .map((a) => h("li", { class: `rec-ann rec-${a.status}`, dataset: { annotationId: a.id } },
        h("span", { class: "rec-swatch", style: `background:${KIND_COLORS[a.kind] || KIND_COLORS.other}` }),
        h("button", { type: "button", class: "rec-link", title: a.author ? `by ${a.author}` : "Show it", onclick: () => this.host.jump(a.start_s, a.end_s) },
          `${a.kind} ${a.status} ${fmtTime(a.start_s)} – ${fmtTime(a.end_s)}${a.note ? ` · ${a.note}` : ""}`),
        h("span", { class: "rec-actions" },
          h("button", { type: "button", onclick: () => this.edit(a) }, "Edit"),
          h("button", { type: "button", testid: "annotation-delete", onclick: () => this.remove(a) }, "Delete"))));
    if (!rows.length) {
      const text = this.unavailable ? "Unavailable on this server." : this.loaded ? "None yet." : "Loading…";
      rows.push(h("li", { class: "hint" }, text));
    }
    this.userList.replaceChildren(...rows);
  }
}
