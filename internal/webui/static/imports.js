// Import reports: what each import accepted, merged and rejected, and why (counts only).
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time } = PV;
  (async () => {
    status(T['loading']);
    try {
      const r = await api('GET', '/v1/imports', { purpose: 'account_management' });
      const box = clear(document.getElementById('reports'));
      for (const rep of r.reports) {
        box.append(el('article', { class: 'purpose', 'data-id': rep.id }, el('h3', {}, time(rep.created_at)), el('pre', {}, (rep.lines || []).join('\n'))));
      }
      if (!r.reports.length) box.append(el('p', {}, T['none']));
      status('');
    } catch (e) { failed(e); }
  })();
})();
