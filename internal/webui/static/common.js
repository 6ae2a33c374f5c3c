// Shared by every page: the phrase table, the API call (session cookie + CSRF header), DOM helpers that
// only ever set text (never HTML), and the status line.
'use strict';
const PV = (() => {
  const T = JSON.parse(document.getElementById('pv-strings').textContent);
  const csrf = document.querySelector('meta[name="pv-csrf"]').content;
  const lang = document.documentElement.lang;

  // api calls the /v1 API as this session. Errors carry the API's code, message and body.
  async function api(method, path, opts = {}) {
    const headers = { 'Accept-Language': lang, 'Accept': 'application/json' };
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
    if (opts.purpose) headers['X-Purpose'] = opts.purpose;
    let body;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const r = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
    let data = null;
    try { data = await r.json(); } catch (_) { /* empty body */ }
    if (!r.ok) {
      const e = new Error((data && data.error && data.error.message) || r.statusText);
      e.status = r.status;
      e.code = data && data.error && data.error.code;
      e.data = data;
      throw e;
    }
    return data;
  }

  // el builds an element; string children become text nodes.
  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }

  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); return n; }

  function status(msg, isError) {
    const s = document.getElementById('status');
    if (!s) return;
    s.textContent = msg || '';
    s.className = isError ? 'status error' : 'status';
  }

  function failed(e) { status(T['error'] + ' ' + (e.code ? e.code + ': ' : '') + e.message, true); }

  function time(ts) {
    if (!ts) return '';
    const d = new Date(ts);
    return isNaN(d) ? ts : d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB');
  }

  function hex(bytes) { return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join(''); }
  function fromBase64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  return { T, api, el, clear, status, failed, time, lang, hex, fromBase64 };
})();
