// DOM helpers. User content only ever becomes text nodes (textContent or
// Node.append with a string): nothing here parses HTML.

const SVG = 'http://www.w3.org/2000/svg';

export function $(id) {
  return document.getElementById(id);
}

/**
 * h builds an element: h('div', {class: 'x', testid: 'y', onclick: fn}, child, 'text').
 * Strings become text nodes. There is deliberately no way to set innerHTML or
 * an inline style.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'testid') el.dataset.testid = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'style' || k === 'innerHTML' || k === 'outerHTML' || k === 'srcdoc') throw new Error(`h: ${k} is not allowed`);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** icon returns <svg class="icon"><use href="#i-name"></svg>. */
export function icon(name, cls = 'icon') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', '#i-' + name);
  svg.append(use);
  return svg;
}

const PALETTE = 8;

/** A stable colour index for a name. */
export function colorOf(name) {
  let x = 2166136261;
  for (let i = 0; i < name.length; i++) {
    x ^= name.charCodeAt(i);
    x = Math.imul(x, 16777619);
  }
  return (x >>> 0) % PALETTE;
}

export function initials(name) {
  const parts = String(name).replace(/[_.]+/g, ' ').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  if (parts.length === 1) return [...parts[0]][0].toUpperCase();
  return (parts[0][0] + parts[1][0]).toUpperCase();
}

/** Fills an avatar element: initials on a colour derived from the name. */
export function paintAvatar(el, name, group = false) {
  el.className = el.className.replace(/\bav-\d\b|\bavatar-group\b/g, '').trim();
  el.classList.add('avatar', 'av-' + colorOf(name || '?'));
  if (group) el.classList.add('avatar-group');
  el.textContent = initials(name || '?');
  return el;
}

export function avatar(name, { group = false, status = null, cls = '' } = {}) {
  const el = paintAvatar(h('span', { class: cls, 'aria-hidden': 'true' }), name, group);
  if (status) {
    const wrap = h('span', { class: 'avatar-wrap' }, el,
      h('span', { class: 'presence', testid: 'presence-dot', dataset: { status } }));
    return wrap;
  }
  return el;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const shortDayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short' });

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function clock(d) {
  return timeFmt.format(d);
}

/** "Today", "Yesterday" or a date, for the separators between days. */
export function dayLabel(d) {
  const days = Math.round((startOfDay(new Date()) - startOfDay(d)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return dayFmt.format(d);
}

export function sameDay(a, b) {
  return startOfDay(a) === startOfDay(b);
}

/** Compact time for the conversation list. */
export function listTime(d) {
  const days = Math.round((startOfDay(new Date()) - startOfDay(d)) / 86_400_000);
  if (days === 0) return clock(d);
  if (days === 1) return 'Yesterday';
  if (days < 7) return weekdayFmt.format(d);
  return shortDayFmt.format(d);
}

/** "just now", "5 min ago", "2 h ago", "on Mar 3". */
export function ago(d) {
  const s = Math.max(0, (Date.now() - d.getTime()) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 7 * 86_400) return `${Math.floor(s / 86_400)} d ago`;
  return 'on ' + shortDayFmt.format(d);
}
