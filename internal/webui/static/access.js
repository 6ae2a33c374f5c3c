// Access requests: file one within what grants.json lets your roles ask for; follow yours (state, grant,
// reads made under it, revoke); approvers decide the queue (oldest first) — approve, possibly for less
// time, deny with a note, revoke — and open the audit browser on a grant's reads.
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time } = PV;
  let grantable = [];

  function scope(r) { return [...(r.categories || []), ...(r.fields || []).map(f => 'field:' + f)].join(', ') + ' · ' + (r.subject_count || 0) + ' ' + T['access.subjectsn']; }

  async function loadGrantable() {
    grantable = (await api('GET', '/v1/access-requests/grantable')).grantable;
    const sel = clear(document.getElementById('f-entry'));
    grantable.forEach((g, i) => sel.append(el('option', { value: String(i) }, g.purpose + ': ' + [...g.categories, ...g.fields.map(f => 'field:' + f)].join(', '))));
    document.getElementById('file-section').hidden = grantable.length === 0;
    const showMax = () => { const g = grantable[Number(sel.value)]; document.getElementById('f-max').textContent = g ? '(≤ ' + g.max_duration + ')' : ''; };
    sel.addEventListener('change', showMax);
    showMax();
  }

  async function loadMine() {
    const r = await api('GET', '/v1/access-requests?mine=true');
    const tb = clear(document.querySelector('#mine tbody'));
    for (const x of r.requests) {
      const revoke = (x.state === 'pending' || x.state === 'approved') ? el('button', { type: 'button', class: 'withdraw', 'data-revoke': x.id, onclick: () => act('POST', '/v1/access-requests/' + encodeURIComponent(x.id) + '/revoke') }, T['access.revoke']) : null;
      tb.append(el('tr', { 'data-id': x.id, 'data-state': x.state }, el('td', {}, time(x.created_at)), el('td', {}, x.purpose), el('td', {}, scope(x)),
        el('td', { class: 'state' }, x.state), el('td', {}, time(x.expires_at)), el('td', { class: 'mono grant' }, x.grant_id || ''),
        el('td', { class: 'reads' }, String(x.reads) + (x.max_reads ? ' / ' + x.max_reads : '')), el('td', {}, revoke)));
    }
    if (!r.requests.length) tb.append(el('tr', {}, el('td', { colspan: '8' }, T['none'])));
    return r.requests;
  }

  async function loadQueue() {
    const all = (await api('GET', '/v1/access-requests')).requests;
    const mine = new Set((await api('GET', '/v1/access-requests?mine=true')).requests.map(x => x.id));
    const theirs = all.filter(x => !mine.has(x.id)).sort((a, b) => a.created_at.localeCompare(b.created_at)); // oldest first
    document.getElementById('queue-section').hidden = theirs.length === 0;
    const tb = clear(document.querySelector('#queue tbody'));
    for (const x of theirs) {
      const cell = el('td', {});
      if (x.state === 'pending') {
        const dur = el('input', { size: '5', 'aria-label': T['access.duration'], placeholder: x.duration });
        const note = el('input', { size: '12', 'aria-label': T['access.note'], placeholder: T['access.note'] });
        cell.append(dur, note,
          el('button', { type: 'button', 'data-approve': x.id, onclick: () => act('POST', '/v1/access-requests/' + encodeURIComponent(x.id) + '/decision', { decision: 'approve', note: note.value, duration: dur.value }) }, T['access.approve']),
          el('button', { type: 'button', class: 'withdraw', 'data-deny': x.id, onclick: () => act('POST', '/v1/access-requests/' + encodeURIComponent(x.id) + '/decision', { decision: 'deny', note: note.value }) }, T['access.deny']));
      } else if (x.state === 'approved') {
        cell.append(el('button', { type: 'button', class: 'withdraw', onclick: () => act('POST', '/v1/access-requests/' + encodeURIComponent(x.id) + '/revoke') }, T['access.revoke']));
      }
      if (x.grant_id) cell.append(' ', el('a', { href: '/console/audit#grant=' + encodeURIComponent(x.grant_id) }, T['access.readsof'] + ' (' + x.reads + ')'));
      tb.append(el('tr', { 'data-id': x.id, 'data-state': x.state }, el('td', {}, time(x.created_at)), el('td', { class: 'mono' }, x.requested_by),
        el('td', {}, x.purpose), el('td', {}, scope(x)), el('td', {}, x.duration), el('td', {}, x.justification || ''), el('td', {}, x.state), cell));
    }
  }

  async function act(method, path, body) {
    try {
      await api(method, path, { body });
      status(T['done']);
      await refresh();
    } catch (e) { failed(e); }
  }

  async function refresh() {
    await loadMine();
    await loadQueue();
    document.getElementById('main').dataset.loaded = '1';
  }

  document.getElementById('file').addEventListener('submit', async ev => {
    ev.preventDefault();
    const g = grantable[Number(document.getElementById('f-entry').value)];
    const subjects = document.getElementById('f-subjects').value.split(/[\s,]+/).filter(Boolean);
    const body = { categories: g.categories, fields: g.fields, subjects, justification: document.getElementById('f-justification').value,
      reason_category: document.getElementById('f-reason').value, duration: document.getElementById('f-duration').value,
      max_reads: Number(document.getElementById('f-reads').value) || 0 };
    try {
      await api('POST', '/v1/access-requests', { purpose: g.purpose, body });
      document.getElementById('file').reset();
      status(T['done']);
      await refresh();
    } catch (e) { failed(e); }
  });

  (async () => {
    status(T['loading']);
    try {
      await loadGrantable();
      await refresh();
      status('');
    } catch (e) { failed(e); }
  })();
})();
