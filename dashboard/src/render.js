// render.js — at most one render per animation frame: parts of the state
// mark themselves dirty, one requestAnimationFrame draws what is dirty.
const dirty = new Set();
const painters = new Set();
let pending = false;

export function invalidate(what) {
  dirty.add(what);
  if (pending) return;
  pending = true;
  requestAnimationFrame(frame);
}
function frame() {
  pending = false;
  const what = new Set(dirty);
  dirty.clear();
  for (const p of painters) p(what);
}
// paint(what: Set of dirty part names) runs once per frame when anything is dirty.
export function onPaint(paint) {
  painters.add(paint);
  return () => painters.delete(paint);
}
