// The browser's page: toolbar, notice, strip, overview, record list. Behaviour comes from
// records.js through `on`; nothing here keeps state.
import { fmtTime, h } from "./records-util.js";

export const WINDOWS = [5, 10, 15, 20, 30, 60];
const GAINS = [5, 10, 20];

const option = (value, text) => h("option", { value }, text);

/** on: {choose(id), lead(i), window(s), gain(mm/mV), af(dir), kind(k), beat(cls, dir), calipers(),
 * strip(ext), report(ext)}. */
export function buildLayout(root, panelElement, on) {
  const ui = {
    record: h("select", { testid: "record-select", "aria-label": "Record", onchange: () => on.choose(ui.record.value) }),
    lead: h("select", { testid: "lead-select", "aria-label": "Lead", onchange: () => on.lead(Number(ui.lead.value)) }),
    window: h("select", { testid: "window-select", "aria-label": "Window", onchange: () => on.window(Number(ui.window.value)) },
      WINDOWS.map((w) => option(w, `${w} s`)), option("custom", "")),
    gain: h("select", { "aria-label": "Gain", title: "Gain (at 10 mm/mV a minor box is 0.1 mV)", onchange: () => on.gain(Number(ui.gain.value)) },
      GAINS.map((g) => option(g, `${g} mm/mV`))),
    // "Find" as LightWAVE has it: the previous or next episode of the chosen kind, or beat of a class.
    kind: h("select", { testid: "event-kind", "aria-label": "Episode kind to find", title: "Kind of episode ◀ ▶ (p, n) go to",
      onchange: () => on.kind(ui.kind.value) }, option("af", "AF")),
    prev: h("button", { type: "button", testid: "prev-af", title: "Previous episode of this kind (p)", onclick: () => on.af(-1) }, "◀"),
    next: h("button", { type: "button", testid: "next-af", title: "Next episode of this kind (n)", onclick: () => on.af(1) }, "▶"),
    prevV: h("button", { type: "button", testid: "prev-v", title: "Previous V beat (Shift+V)", onclick: () => on.beat("V", -1) }, "◀"),
    nextV: h("button", { type: "button", testid: "next-v", title: "Next V beat (v)", onclick: () => on.beat("V", 1) }, "▶"),
    prevS: h("button", { type: "button", testid: "prev-s", title: "Previous S beat (Shift+S)", onclick: () => on.beat("S", -1) }, "◀"),
    nextS: h("button", { type: "button", testid: "next-s", title: "Next S beat (s)", onclick: () => on.beat("S", 1) }, "▶"),
    caliper: h("button", { type: "button", testid: "caliper-toggle", "aria-pressed": "false", title: "Calipers (c); Esc clears", onclick: () => on.calipers() }, "Calipers"),
    readout: h("span", { class: "rec-readout", testid: "caliper-readout", "aria-live": "polite" }),
    strip: h("button", { type: "button", testid: "strip-pdf", onclick: () => on.strip("pdf"),
      title: "A printable strip (PDF) of the span on screen, or of the calipers' span when both points are set" }, "Strip PDF"),
    stripPng: h("button", { type: "button", testid: "strip-png", onclick: () => on.strip("png"),
      title: "The same strip as a PNG image" }, "PNG"),
    stripNote: h("span", { class: "hint rec-strip-note", testid: "strip-note", "aria-live": "polite" }),
    report: h("button", { type: "button", testid: "report-pdf", onclick: () => on.report("pdf"),
      title: "The Holter report of the whole record and this lead (PDF): rates, ectopy, pauses, AF, HRV, strips and the annotations" },
      "Holter report (PDF)"),
    reportHtml: h("button", { type: "button", testid: "report-html", onclick: () => on.report("html"),
      title: "The same Holter report as a web page" }, "HTML"),
    viewStart: h("span", { testid: "view-start" }, "0.0 s"),
    viewRest: h("span", { class: "hint" }),
    navHint: h("span", { class: "hint rec-nav-hint", "aria-live": "polite" }),
    peaksHint: h("span", { class: "hint", hidden: true }, "R peaks unavailable"),
    notice: h("div", { class: "notice error", testid: "records-error", role: "alert", hidden: true }),
    canvas: h("canvas", { class: "rec-trace", testid: "trace-canvas", tabindex: "0", "aria-label": "ECG strip" }),
    overview: h("canvas", { class: "rec-overview", testid: "overview", "aria-label": "Whole record: click to go there" }),
    listView: h("div", { class: "rec-choose", testid: "record-list" }),
  };
  // A focused select would take the arrow keys meant for the strip.
  for (const el of [ui.record, ui.lead, ui.window, ui.gain, ui.kind]) el.addEventListener("change", () => el.blur());
  ui.gain.value = "10";
  ui.window.value = "15";
  ui.browse = h("div", { class: "rec-browse", hidden: true },
    h("div", { class: "rec-strip" }, ui.canvas),
    ui.overview,
    h("p", { class: "hint rec-legend" },
      "25 mm/s. Letters: “ref” row the reference beats, “auto” row the classifier's (V magenta, S amber, ",
      "boxed where the two differ) · ▼ detected R peaks · shaded: detected episodes (red AF) · bars: annotations. ",
      "Keys: ←/→ pan, +/− zoom, Home/End, n/p next/previous episode of the kind chosen, v/V and s/S next/previous ",
      "V and S beat, c calipers, Esc clears. Wheel zooms, drag pans."),
    panelElement);
  const bar = h("div", { class: "rec-toolbar" },
    ui.record, ui.lead, ui.window, ui.gain,
    h("span", { class: "rec-find" }, ui.prev, ui.kind, ui.next),
    h("span", { class: "rec-find", title: "Ventricular ectopic beats (classifier; the reference without it)" }, ui.prevV, h("b", { class: "rec-find-v" }, "V"), ui.nextV),
    h("span", { class: "rec-find", title: "Supraventricular ectopic beats (classifier; the reference without it)" }, ui.prevS, h("b", { class: "rec-find-s" }, "S"), ui.nextS),
    ui.caliper, ui.readout, h("span", { class: "rec-find" }, ui.strip, ui.stripPng),
    h("span", { class: "rec-find" }, ui.report, ui.reportHtml), ui.stripNote,
    h("span", { class: "rec-pos" }, ui.viewStart, ui.viewRest), ui.peaksHint, ui.navHint);
  root.replaceChildren(h("div", { class: "rec" }, bar, ui.notice, ui.listView, ui.browse));
  return ui;
}

/** The kinds to find: AF always, then those detected in this lead, with their counts. */
export function showKinds(ui, kinds, current) {
  ui.kind.replaceChildren(...kinds.map(([k, text]) => option(k, text)));
  ui.kind.value = kinds.some(([k]) => k === current) ? current : "af";
}

export function showLeads(ui, leads, lead) {
  ui.lead.replaceChildren(...leads.map((name, i) => option(i, name)));
  ui.lead.value = String(lead);
}

/** The window control shows a zoomed-to length as an extra "custom" entry. */
export function showWindow(ui, duration) {
  const known = WINDOWS.includes(duration);
  const custom = ui.window.lastElementChild;
  custom.textContent = known ? "other" : `${duration.toFixed(1)} s`;
  custom.hidden = known;
  ui.window.value = known ? String(duration) : "custom";
}

export function renderRecordList(ui, list, current, choose) {
  ui.record.replaceChildren(option("", list.length ? "choose a record…" : "the store is empty"),
    ...list.map((r) => option(r.id, `${r.name || r.id} (${fmtTime(r.duration_s)})`)));
  ui.record.value = current && list.some((r) => r.id === current) ? current : "";
  const open = (id) => (e) => { e.preventDefault(); choose(id); };
  ui.listView.replaceChildren(h("h2", {}, "Recordings"),
    list.length ? h("table", { class: "rec-table" },
      h("thead", {}, h("tr", {}, ["Record", "Length", "Rate", "Leads"].map((c) => h("th", {}, c)))),
      h("tbody", {}, list.map((r) => h("tr", { dataset: { record: r.id } },
        h("td", {}, h("a", { href: `#/records/${encodeURIComponent(r.id)}`, onclick: open(r.id) }, r.name || r.id)),
        h("td", {}, fmtTime(r.duration_s)), h("td", {}, `${r.fs} Hz`), h("td", {}, (r.leads || []).join(", "))))))
      : h("p", { class: "hint" }, "No records in the store."));
}
