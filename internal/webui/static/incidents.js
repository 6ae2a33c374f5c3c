// Incidents (PIPL Art. 57), for compliance officers: record one (the vault derives who is affected from the
// trail), notify it once (the notices to the subjects and the regulator report are queued), and see them all.
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time } = PV;
  const purpose = 'compliance_audit';

  async function load() {
    const r = await api('GET', '/v1/incidents', { purpose });
    const tb = clear(document.querySelector('#incidents tbody'));
    for (const x of r.incidents) {
      const act = x.state === 'open'
        ? el('button', { type: 'button', class: 'notify', onclick: () => notify(x.id) }, T['incidents.notify'])
        : time(x.notified_at);
      tb.append(el('tr', { 'data-id': x.id, 'data-state': x.state },
        el('td', {}, x.title), el('td', { class: 'state' }, T['incident.' + x.state] || x.state), el('td', {}, time(x.detected_at)),
        el('td', { class: 'affected' }, String(x.affected_subjects)), el('td', { class: 'queued' }, String(x.subject_notices_queued)), el('td', {}, act)));
    }
    if (!r.incidents.length) tb.append(el('tr', {}, el('td', { colspan: '6' }, T['none'])));
  }

  async function notify(id) {
    try {
      const x = await api('POST', '/v1/incidents/' + encodeURIComponent(id) + '/notify', { purpose });
      status(T['incidents.notified'] + ' ' + x.subject_notices_queued);
      await load();
    } catch (e) { failed(e); }
  }

  // A datetime-local value is local time without a zone; the API takes RFC 3339.
  const iso = id => { const v = document.getElementById(id).value; return v ? new Date(v).toISOString() : undefined; };
  const text = id => document.getElementById(id).value.trim();

  document.getElementById('record').addEventListener('submit', async ev => {
    ev.preventDefault();
    const body = { title: text('i-title'), detected_at: iso('i-detected'), summary: text('i-summary'),
      actor: text('i-actor') || undefined, since: iso('i-since'), until: iso('i-until') };
    try {
      const x = await api('POST', '/v1/incidents', { purpose, body });
      status(T['incidents.recorded'] + ' ' + x.affected_subjects);
      ev.target.reset();
      await load();
    } catch (e) { failed(e); }
  });

  (async () => {
    status(T['loading']);
    try { await load(); status(''); } catch (e) { failed(e); }
  })();
})();
