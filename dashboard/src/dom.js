// dom.js — h(): elements from tag, attributes and children; nothing else.
export function h(tag, attrs, ...children) {
  const ns = tag.startsWith('svg:') ? 'http://www.w3.org/2000/svg' : null;
  const el = ns ? document.createElementNS(ns, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'style') setStyle(el, v);
    else if (k in el && !ns && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}
// "a:1;--b:2" through the CSSOM: a Content-Security-Policy without
// 'unsafe-inline' (pantaud's) blocks setAttribute('style', ...), not this.
function setStyle(el, css) {
  for (const decl of css.split(';')) {
    const i = decl.indexOf(':');
    if (i > 0) el.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
  }
}
function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}
// Replaces el's children (nodes, strings, arrays; null and false skipped).
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
// Sets text only when it changed (no layout work for the same value).
export function text(el, s) {
  if (el.textContent !== s) el.textContent = s;
}
