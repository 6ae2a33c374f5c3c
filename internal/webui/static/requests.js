// The request queue of data-subject requests: overdue first, then by due date; transitions with a reason.
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time } = PV;
  const purpose = 'compliance_audit';
  const form = document.getElementById('filters');
  const next = { received: ['verified', 'rejected'], verified: ['in_progress', 'completed', 'rejected'], in_progress: ['completed', 'rejected'] };

  async function load() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    status(T['loading']);
    try {
      const r = await api('GET', '/v1/requests?' + q.toString(), { purpose });
      const items = r.requests.slice().sort((a, b) => (b.overdue - a.overdue) || a.due_at.localeCompare(b.due_at));
      const tb = clear(document.querySelector('#queue tbody'));
      for (const x of items) {
        const reason = el('input', { 'aria-label': T['requests.reason'], placeholder: T['requests.reason'], size: '16' });
        const moves = (next[x.state] || []).map(to => el('button', { type: 'button', 'data-to': to, onclick: async () => {
          try {
            await api('POST', '/v1/requests/' + encodeURIComponent(x.id) + '/transition', { purpose, body: { to, reason: reason.value } });
            status(T['done']);
            load();
          } catch (e) { failed(e); }
        } }, to));
        tb.append(el('tr', { 'data-id': x.id, class: x.overdue ? 'overdue' : '' },
          el('td', {}, time(x.due_at), x.overdue ? el('strong', { class: 'error' }, ' ' + T['requests.late']) : null),
          el('td', {}, x.type), el('td', {}, x.state), el('td', {}, time(x.created_at)), el('td', { class: 'mono' }, x.subject_ref || ''),
          el('td', {}, x.note || ''), el('td', {}, moves.length ? [reason, ...moves] : '')));
      }
      if (!items.length) tb.append(el('tr', {}, el('td', { colspan: '7' }, T['none'])));
      status('');
    } catch (e) { failed(e); }
  }
  form.addEventListener('submit', ev => { ev.preventDefault(); load(); });
  load();
})();
