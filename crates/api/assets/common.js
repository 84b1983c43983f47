// What both dashboard pages share (app.js, the entity's page; overview.js, the
// overview), loaded before either as window.blackout: building the DOM, badges,
// times and shares as text, and reading the API.
//
// Everything shown may come from the network (banners, names, AS paths, summaries),
// so the DOM is built with createElement and textContent only: no string is ever
// parsed as HTML, and values from the network never become class names.
'use strict';

window.blackout = Object.freeze((function () {
  const STATES = ['up', 'degraded', 'down', 'unknown', 'ok', 'fail', 'stale', 'warning', 'critical',
    'online', 'dark', 'no-verdict'];

  const $ = (id) => document.getElementById(id);

  // el('td', {class: 'num'}, 'text', childNode): children become text nodes or are appended as nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (key === 'class') node.className = value;
        else node.setAttribute(key, String(value));
      }
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // A class name only from a known list.
  function known(value) {
    return STATES.includes(value) ? value : 'other';
  }

  // A badge reading `text`, coloured by `kind` (by the text itself when no kind is given).
  function badge(text, kind) {
    return el('span', { class: 'badge ' + known(kind === undefined ? text : kind) }, text);
  }

  function fmtTime(t) {
    if (!t) return '—';
    return String(t).replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', ' UTC');
  }

  function pct(v) {
    return (typeof v === 'number' && isFinite(v)) ? (v * 100).toFixed(1) + ' %' : '—';
  }

  function shorten(text, max) {
    const s = String(text === undefined || text === null ? '' : text);
    return s.length > max ? s.slice(0, max) + '…' : s;
  }

  function toSecs(t) {
    return Date.parse(t) / 1000;
  }

  // The API's JSON; a failure is an Error naming the path (without its query) and
  // the API's error code and message.
  async function getJSON(path) {
    const response = await fetch(path, { headers: { Accept: 'application/json' } });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? body.error.code + ': ' + body.error.message : response.statusText;
      throw new Error(path.split('?')[0] + ': ' + message);
    }
    return body;
  }

  return { $, el, known, badge, fmtTime, pct, shorten, toSecs, getJSON };
})());
