// throttle.js — at most one call of fn per `ms`, for views whose data arrives
// faster than a wall screen needs redrawing: the first call runs at once,
// later ones within `ms` of the last run fold into one run `ms` later.
export function throttle(fn, ms) {
  let last = 0;
  let trailing = null;
  const run = () => {
    clearTimeout(trailing);
    trailing = null;
    last = Date.now();
    fn();
  };
  const call = () => {
    if (Date.now() - last > ms) run();
    else if (!trailing) trailing = setTimeout(run, ms);
  };
  call.now = run; // e.g. a language change: redraw now, drop what was pending
  call.cancel = () => {
    clearTimeout(trailing);
    trailing = null;
  };
  return call;
}
