// Mouse, wheel and keyboard on the strip: zoom, pan, calipers. The view supplies the actions;
// this module only turns gestures into them.

const DRAG_PX = 3; // less than this between press and release is a click, not a drag

/** Wire the strip canvas; `v` = {timeAt(x), pan(dt), zoomAt(t, frac, factor), caliperOn(),
 * caliperPoint(t), caliperSpan(a, b), duration()}. The listeners go with the canvas. */
export function wireStrip(canvas, v) {
  let drag = null;
  const down = (e) => {
    if (e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    drag = { x: e.offsetX, last: e.offsetX, t: v.timeAt(e.offsetX), moved: false };
    canvas.focus({ preventScroll: true });
  };
  const move = (e) => {
    if (!drag) return;
    if (Math.abs(e.offsetX - drag.x) > DRAG_PX) drag.moved = true;
    if (!drag.moved) return;
    if (v.caliperOn()) {
      v.caliperSpan(drag.t, v.timeAt(e.offsetX));
    } else {
      v.pan(-((e.offsetX - drag.last) / canvas.clientWidth) * v.duration());
      drag.last = e.offsetX;
    }
  };
  const up = (e) => {
    if (!drag) return;
    if (!drag.moved && v.caliperOn()) v.caliperPoint(v.timeAt(e.offsetX));
    drag = null;
  };
  const wheel = (e) => {
    e.preventDefault();
    const sideways = e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY);
    if (sideways) {
      const d = e.shiftKey ? e.deltaY : e.deltaX;
      v.pan((d / canvas.clientWidth) * v.duration());
      return;
    }
    // Pixels or lines, trackpad or mouse: a notch (about 100 px) zooms by about 16 %.
    const px = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
    const frac = e.offsetX / canvas.clientWidth;
    v.zoomAt(v.timeAt(e.offsetX), frac, Math.exp(px * 0.0015));
  };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", () => { drag = null; });
  canvas.addEventListener("wheel", wheel, { passive: false });
}

/** The overview strip: press or drag anywhere to centre the window there. */
export function wireOverview(canvas, centreAt) {
  let pressed = false;
  const at = (e) => centreAt(e.offsetX / canvas.clientWidth);
  canvas.addEventListener("pointerdown", (e) => { pressed = true; canvas.setPointerCapture(e.pointerId); at(e); });
  canvas.addEventListener("pointermove", (e) => { if (pressed) at(e); });
  canvas.addEventListener("pointerup", () => { pressed = false; });
}

/** Keys anywhere on the page while the view is mounted, except while typing in a field. */
export function wireKeys(actions) {
  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const target = e.target;
    if (target.closest && target.closest("input, textarea, select, dialog[open]")) return;
    if (document.querySelector("dialog[open]")) return; // the token dialog owns the keys
    const action = actions[e.key];
    if (!action) return;
    action();
    e.preventDefault();
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
