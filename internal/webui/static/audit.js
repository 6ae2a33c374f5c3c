// The audit browser: every filter of GET /v1/audit/events, cursor paging, an entry's detail, the latest
// signed checkpoint, the whole-trail verification, and the inclusion proof of the selected entry checked
// here, in the page, against the checkpoint's root (RFC 6962 / 9162 hashing over the entry's bytes).
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time, hex, fromBase64 } = PV;
  const purpose = { purpose: 'compliance_audit' };
  const form = document.getElementById('filters');
  const tbody = document.querySelector('#entries tbody');
  const next = document.getElementById('next');
  const first = document.getElementById('first');
  let query = null;  // URLSearchParams of the current search
  let cursor = '';   // next_cursor of the page shown

  function rfc3339(v) { return v ? new Date(v).toISOString() : ''; }

  let generation = 0; // a newer search wins over a slower older one

  async function search(fromCursor) {
    const gen = ++generation;
    const q = new URLSearchParams(query);
    q.set('limit', '50');
    if (fromCursor) q.set('cursor', fromCursor);
    status(T['loading']);
    try {
      const page = await api('GET', '/v1/audit/events?' + q.toString(), purpose);
      if (gen !== generation) return;
      clear(tbody);
      for (const e of page.events) {
        const actor = e.actor || {};
        const tr = el('tr', { tabindex: '0', 'data-seq': e.seq, class: 'decision-' + e.decision },
          el('td', {}, String(e.seq)), el('td', {}, time(e.ts)), el('td', {}, actor.pseudonym || actor.sub || ''),
          el('td', {}, (actor.roles || []).join(', ')), el('td', {}, e.purpose || ''), el('td', {}, e.action),
          el('td', { class: 'mono' }, e.subject_ref || ''), el('td', {}, e.decision));
        const open = () => show(e);
        tr.addEventListener('click', open);
        tr.addEventListener('keydown', ev => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); } });
        tbody.append(tr);
      }
      if (page.events.length === 0) tbody.append(el('tr', {}, el('td', { colspan: '8' }, T['none'])));
      cursor = page.next_cursor || '';
      next.hidden = !cursor;
      first.hidden = !fromCursor;
      document.getElementById('entries').dataset.query = query.toString();
      status('');
    } catch (e) { failed(e); }
  }

  let selected = null;
  function show(e) {
    selected = e;
    document.getElementById('entry').hidden = false;
    document.getElementById('entry-seq').textContent = '#' + e.seq;
    document.getElementById('entry-json').textContent = JSON.stringify(e, null, 2);
    document.getElementById('proof').textContent = '';
    document.getElementById('proof').className = '';
    document.getElementById('entry').scrollIntoView({ block: 'nearest' });
  }

  function nodeHash(left, right) {
    const b = new Uint8Array(65);
    b[0] = 1; b.set(left, 1); b.set(right, 33);
    return PVSHA256(b);
  }

  // rootFromProof is RFC 9162 §2.1.3.2: the root an inclusion proof leads to from a leaf hash, or null
  // when the proof does not fit the tree size.
  function rootFromProof(index, size, leaf, path) {
    if (index >= size) return null;
    let fn = index, sn = size - 1, r = leaf;
    for (const p of path) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  // checkpointRoot reads the root hash line of a signed checkpoint note (origin, size, base64 root).
  function checkpointRoot(note, size) {
    const lines = note.split('\n');
    if (lines.length < 3 || lines[1] !== String(size)) return null;
    return hex(fromBase64(lines[2]));
  }

  // verifyInclusion checks an inclusion proof (GET /v1/audit/proof) against a checkpoint (GET
  // /v1/audit/checkpoint) for entry seq, and against the entry shown when given; it lists what fails.
  function verifyInclusion(cp, p, seq, shown) {
    const problems = [];
    let bytes, entry;
    try {
      bytes = fromBase64(p.entry);
      entry = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (_) {
      return ['the logged bytes are not an entry'];
    }
    if (entry.seq !== seq) problems.push('the proof is for another entry');
    if (shown && (entry.prev_hash !== shown.prev_hash || entry.action !== shown.action || entry.decision !== shown.decision || entry.ts !== shown.ts)) {
      problems.push('the entry shown differs from the logged bytes');
    }
    if (p.tree_size !== cp.size) problems.push('tree size differs from the checkpoint');
    if (checkpointRoot(cp.note, cp.size) !== cp.root_hash) problems.push('the checkpoint note names another root');
    const leafIn = new Uint8Array(bytes.length + 1);
    leafIn.set(bytes, 1);
    let root = null;
    try { root = rootFromProof(p.leaf_index, p.tree_size, PVSHA256(leafIn), p.hashes.map(fromBase64)); } catch (_) { /* bad base64 */ }
    if (!root || hex(root) !== cp.root_hash) problems.push('the proof does not lead to the checkpoint root');
    return problems;
  }
  window.PVAudit = { verifyInclusion };

  async function prove(attempt) {
    const out = document.getElementById('proof');
    const seq = selected.seq;
    try {
      const cp = await api('GET', '/v1/audit/checkpoint');
      if (seq > cp.size) {
        if (attempt >= 10) throw new Error('not covered by a checkpoint');
        out.textContent = T['audit.pending'];
        setTimeout(() => selected && selected.seq === seq && prove(attempt + 1), 1000);
        return;
      }
      const p = await api('GET', '/v1/audit/proof/' + seq + '?tree_size=' + cp.size);
      const problems = verifyInclusion(cp, p, seq, selected);
      if (problems.length) {
        out.textContent = T['audit.failed'] + ': ' + problems.join('; ');
        out.className = 'error';
        out.dataset.result = 'failed';
        return;
      }
      out.textContent = T['audit.verified'] + ' (' + T['audit.size'] + ' ' + cp.size + ', ' + T['audit.root'] + ' ' + cp.root_hash.slice(0, 16) + '…)';
      out.className = 'ok';
      out.dataset.result = 'verified';
      showCheckpoint(cp);
    } catch (e) {
      out.textContent = T['audit.failed'] + ': ' + e.message;
      out.className = 'error';
      out.dataset.result = 'failed';
    }
  }

  function showCheckpoint(cp) {
    const tb = clear(document.querySelector('#checkpoint tbody'));
    const rows = [[T['audit.size'], String(cp.size)], [T['audit.root'], cp.root_hash], ['origin', cp.origin], ['key', cp.public_key]];
    for (const [k, v] of rows) tb.append(el('tr', {}, el('th', {}, k), el('td', { class: 'mono' }, v)));
  }

  async function verify() {
    const out = document.getElementById('verify-result');
    out.textContent = T['loading'];
    try {
      const r = await api('GET', '/v1/audit/verify');
      out.textContent = r.ok ? T['audit.ok'] + ' (' + r.entries + ', ' + r.checkpoints + ')' : T['audit.bad'] + ' ' + r.first_bad_seq + ': ' + r.reason;
      out.className = r.ok ? 'ok' : 'error';
    } catch (e) { out.textContent = T['error'] + ' ' + e.message; out.className = 'error'; }
  }

  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      if (!v) continue;
      q.set(k, k === 'since' || k === 'until' ? rfc3339(v) : v);
    }
    query = q;
    search('');
  });
  next.addEventListener('click', () => search(cursor));
  first.addEventListener('click', () => search(''));
  document.getElementById('prove').addEventListener('click', () => selected && prove(0));
  document.getElementById('verify').addEventListener('click', verify);
  // A link from the access-request page opens the reads under one grant: #grant=ID.
  const hashGrant = new URLSearchParams(location.hash.slice(1)).get('grant');
  query = new URLSearchParams();
  if (hashGrant) {
    document.getElementById('f-grant').value = hashGrant;
    query.set('grant', hashGrant);
  }
  search('');
  api('GET', '/v1/audit/checkpoint').then(showCheckpoint).catch(() => {});
})();
