// Identity reviews: pairs of records that may be one person; the steward decides distinct or same_person.
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time } = PV;
  const purpose = 'account_management';
  async function load() {
    status(T['loading']);
    try {
      const r = await api('GET', '/v1/identity/reviews?state=open', { purpose });
      const tb = clear(document.querySelector('#reviews tbody'));
      for (const x of r.reviews) {
        const decide = d => el('button', { type: 'button', 'data-decision': d, onclick: async () => {
          try {
            await api('POST', '/v1/identity/reviews/' + encodeURIComponent(x.id) + '/decision', { purpose, body: { decision: d } });
            status(T['done']);
            load();
          } catch (e) { failed(e); }
        } }, T['identity.' + d]);
        tb.append(el('tr', { 'data-id': x.id }, el('td', {}, time(x.created_at)),
          el('td', { class: 'mono' }, x.subject_a + ' / ' + x.subject_b), el('td', {}, x.reason), el('td', {}, x.state),
          el('td', {}, decide('distinct'), ' ', decide('same_person'))));
      }
      if (!r.reviews.length) tb.append(el('tr', {}, el('td', { colspan: '5' }, T['none'])));
      status('');
    } catch (e) { failed(e); }
  }
  load();
})();
