// The policy matrix: role × purpose × category, allow or deny with the mask, for one role and action.
'use strict';
(() => {
  const { T, api, el, clear, status, failed } = PV;
  let cells = [];
  const role = document.getElementById('f-role');
  const action = document.getElementById('f-action');

  function draw() {
    const mine = cells.filter(c => c.role === role.value && c.action === action.value);
    const purposes = [...new Set(mine.map(c => c.purpose))];
    const categories = [...new Set(mine.map(c => c.category))];
    const head = clear(document.querySelector('#matrix thead'));
    head.append(el('tr', {}, el('th', {}, T['col.purpose']), categories.map(c => el('th', { scope: 'col' }, c))));
    const tb = clear(document.querySelector('#matrix tbody'));
    for (const p of purposes) {
      tb.append(el('tr', {}, el('th', { scope: 'row' }, p), categories.map(cat => {
        const c = mine.find(x => x.purpose === p && x.category === cat);
        const allowed = c && c.allowed;
        return el('td', { class: allowed ? 'allow' : 'deny', 'data-cell': p + '/' + cat }, allowed ? (c.mask || '✓') : '—');
      })));
    }
  }

  (async () => {
    status(T['loading']);
    try {
      const r = await api('GET', '/v1/policies/matrix');
      cells = r.matrix;
      document.getElementById('policy-hash').textContent = r.hash.slice(0, 16);
      for (const x of [...new Set(cells.map(c => c.role))]) role.append(el('option', { value: x }, x));
      role.addEventListener('change', draw);
      action.addEventListener('change', draw);
      draw();
      status('');
    } catch (e) { failed(e); }
  })();
})();
