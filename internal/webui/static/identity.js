// Identity reviews: pairs of records that may be one person; the steward decides distinct or same_person.
// The open queue comes a page at a time, oldest first; "show more" appends the next page.
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time } = PV;
  const purpose = 'account_management';
  const more = document.getElementById('more');
  let cursor = '';
  async function load(after) {
    status(T['loading']);
    try {
      const r = await api('GET', '/v1/identity/reviews?state=open&limit=100' + (after ? '&cursor=' + encodeURIComponent(after) : ''), { purpose });
      const body = document.querySelector('#reviews tbody');
      const tb = after ? body : clear(body);
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
      if (!r.reviews.length && !after) tb.append(el('tr', {}, el('td', { colspan: '5' }, T['none'])));
      cursor = r.next_cursor || '';
      more.hidden = !cursor;
      status('');
    } catch (e) { failed(e); }
  }
  more.addEventListener('click', () => load(cursor));
  load();
})();
