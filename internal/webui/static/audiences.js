// Audiences: build one from a rule (exclusion counts), plan the campaign over the strategy tiers, list
// what was built, and read an audience's uplift report with its chart (treated vs holdout).
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time } = PV;
  const purpose = { purpose: 'marketing' };
  const SVG = 'http://www.w3.org/2000/svg';
  // marker is the label and opt-out every message to an audience carries (GB/T 35273 §7.5), in the page's language.
  const marker = m => {
    const lang = document.documentElement.lang;
    return m ? T['aud.marker'] + ': “' + (m.label[lang] || m.label.en) + '” — ' + (m.opt_out[lang] || m.opt_out.en) : '';
  };
  const excludedText = ex => Object.entries(ex || {}).filter(([, n]) => n).map(([k, n]) => k + ' ' + n).join(', ') || '0';

  async function loadList() {
    const r = await api('GET', '/v1/audiences', purpose);
    const tb = clear(document.querySelector('#audiences tbody'));
    for (const a of r.audiences) {
      tb.append(el('tr', { 'data-id': a.id }, el('td', {}, time(a.created_at)), el('td', {}, a.name || a.rule), el('td', {}, a.channel),
        el('td', {}, String(a.size)), el('td', {}, String(a.holdout_size)), el('td', {}, excludedText(a.excluded)),
        el('td', {}, el('button', { type: 'button', 'data-report': a.id, onclick: () => report(a) }, T['aud.report']))));
    }
    if (!r.audiences.length) tb.append(el('tr', {}, el('td', { colspan: '7' }, T['none'])));
    document.getElementById('main').dataset.loaded = '1';
  }

  document.getElementById('build').addEventListener('submit', async ev => {
    ev.preventDefault();
    const out = clear(document.getElementById('built'));
    const body = { name: document.getElementById('a-name').value, rule: document.getElementById('a-rule').value,
      channel: document.getElementById('a-channel').value, holdout: Number(document.getElementById('a-holdout').value) || 0 };
    try {
      const a = await api('POST', '/v1/audiences', { purpose: 'marketing', body });
      await loadList(); // the list first: once the result shows, the list holds the new audience
      out.append(el('p', { class: 'ok', id: 'built-size', 'data-size': String(a.size) }, T['aud.size'] + ' ' + a.size + ', ' + T['aud.holdoutn'] + ' ' + a.holdout_size + '; ' + T['aud.excluded'] + ': ' + excludedText(a.excluded)),
        el('p', { class: 'why', id: 'built-marker' }, marker(a.personalised)));
    } catch (e) {
      const pos = e.data && e.data.error && e.data.error.position;
      out.append(el('p', { class: 'error', role: 'alert', id: 'built-error' }, e.message + (pos !== undefined ? ' (' + T['aud.at'] + ' ' + pos + ')' : '')));
    }
  });

  document.getElementById('plan').addEventListener('click', async () => {
    status(T['loading']);
    try {
      const p = await api('POST', '/v1/campaigns/plan', { purpose: 'marketing', body: { holdout: 0.1 } });
      const table = document.getElementById('tiers');
      const tb = clear(table.querySelector('tbody'));
      const lang = document.documentElement.lang;
      for (const t of p.tiers) {
        tb.append(el('tr', { 'data-tier': t.tier }, el('td', {}, t.tier), el('td', {}, t.channel), el('td', {}, t.content[lang] || t.content.en),
          el('td', {}, String(t.audience.size)), el('td', {}, String(t.audience.holdout_size)), el('td', {}, excludedText(t.audience.excluded))));
      }
      await loadList(); // as for a build: the tiers show once the list is redrawn
      table.hidden = false;
      document.getElementById('plan-summary').textContent = T['aud.excluded'] + ': ' + excludedText(p.excluded) + '; ' + T['aud.unmatched'] + ' ' + p.unmatched;
      document.getElementById('plan-marker').textContent = p.tiers.length ? marker(p.tiers[0].audience.personalised) : '';
      status('');
    } catch (e) { failed(e); }
  });

  const pct = v => (v === null || v === undefined) ? '—' : (v * 100).toFixed(1) + '%';
  // A difference of two rates is in percentage points, not per cent of anything.
  const pp = v => (v === null || v === undefined) ? '—' : (v >= 0 ? '+' : '') + (v * 100).toFixed(1) + ' pp';

  // chart draws the treated and holdout rates as bars, and the difference's 95 % interval as a whisker.
  // chart draws each rate of both groups as bars, and under them the difference (treated − holdout) as a
  // dot with its 95 % interval as a whisker on a scale centred on zero: a whisker across the zero line is
  // a difference the data cannot tell from none.
  function chart(rows) {
    const box = clear(document.getElementById('report-chart'));
    const W = 520, H = 40 + rows.length * 84, L = 120;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('class', 'plot');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', T['aud.report']);
    const x = v => L + Math.max(0, Math.min(1, v)) * (W - L - 20);
    const add = (tag, attrs, text) => {
      const n = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
      if (text !== undefined) n.textContent = text;
      svg.append(n);
    };
    const mid = L + (W - L - 20) / 2, half = (W - L - 20) / 2;
    const dx = v => mid + Math.max(-1, Math.min(1, v)) * half; // a difference of −100 to +100 points
    rows.forEach((r, i) => {
      const y = 20 + i * 84;
      add('text', { x: 4, y: y + 20, 'font-size': 12, fill: '#1b1f24' }, r.name);
      add('rect', { x: L, y, width: Math.max(1, x(r.treated) - L), height: 16, fill: '#0b5cad' });
      add('rect', { x: L, y: y + 20, width: Math.max(1, x(r.holdout) - L), height: 16, fill: '#5b6570' });
      add('text', { x: x(r.treated) + 4, y: y + 13, 'font-size': 11, fill: '#1b1f24' }, pct(r.treated));
      add('text', { x: x(r.holdout) + 4, y: y + 33, 'font-size': 11, fill: '#1b1f24' }, pct(r.holdout));
      const d = r.diff, wy = y + 56;
      add('line', { x1: mid, y1: wy - 8, x2: mid, y2: wy + 8, stroke: '#8a949e', 'stroke-dasharray': '2 2' });
      if (d && d.estimate !== null) {
        if (d.ci95_lo !== null && d.ci95_hi !== null) {
          add('line', { class: 'whisker', x1: dx(d.ci95_lo), y1: wy, x2: dx(d.ci95_hi), y2: wy, stroke: d.significant ? '#1e6b34' : '#b3261e', 'stroke-width': 2 });
        }
        add('circle', { cx: dx(d.estimate), cy: wy, r: 4, fill: '#1b1f24' });
        add('text', { x: 4, y: wy + 4, 'font-size': 11, fill: '#1b1f24' }, T['aud.diff'] + ' ' + pp(d.estimate));
      }
    });
    box.append(svg, el('ul', { class: 'legend' }, el('li', {}, el('span', { class: 'swatch swatch-0' }), T['aud.treated']),
      el('li', {}, el('span', { class: 'swatch swatch-6' }), T['aud.holdoutg'])));
  }

  async function report(a) {
    try {
      const r = await api('GET', '/v1/audiences/' + encodeURIComponent(a.id) + '/report', purpose);
      document.getElementById('report').hidden = false;
      document.getElementById('report-name').textContent = a.name || a.rule;
      const tb = clear(document.querySelector('#report-table tbody'));
      const row = (name, t, h, d, rel) => tb.append(el('tr', { 'data-metric': name }, el('th', {}, name), el('td', {}, t), el('td', {}, h),
        el('td', {}, d.estimate === null ? '—' : (name === 'aov' ? d.estimate.toFixed(2) : pp(d.estimate))),
        el('td', { class: d.significant ? 'ok' : '' }, d.ci95_lo === null ? '—' : '[' + fmt(name, d.ci95_lo) + ', ' + fmt(name, d.ci95_hi) + '] ' + (d.significant ? T['aud.sig'] : T['aud.notsig'])),
        el('td', {}, rel === null || rel === undefined ? '—' : pct(rel))));
      const fmt = (name, v) => name === 'aov' ? v.toFixed(2) : pp(v);
      row('conversion', pct(r.treated.conversion_rate) + ' (' + r.treated.converted + '/' + r.treated.members + ')',
        pct(r.holdout.conversion_rate) + ' (' + r.holdout.converted + '/' + r.holdout.members + ')', r.conversion.difference, r.conversion.relative);
      ['30d', '60d', '90d'].forEach((k, i) => {
        const rate = g => g.retention_known_30_60_90[i] ? g.retained_30_60_90[i] / g.retention_known_30_60_90[i] : null;
        row('retention ' + k, pct(rate(r.treated)), pct(rate(r.holdout)), r.retention[k].difference, r.retention[k].relative);
      });
      row('aov', r.treated.aov === null ? '—' : r.treated.aov.toFixed(2), r.holdout.aov === null ? '—' : r.holdout.aov.toFixed(2), r.aov.difference, null);
      document.getElementById('report-method').textContent = r.method;
      const rows = [{ name: 'conversion', treated: r.treated.conversion_rate || 0, holdout: r.holdout.conversion_rate || 0, diff: r.conversion.difference }];
      ['30d', '60d', '90d'].forEach((k, i) => {
        const known = g => g.retention_known_30_60_90[i];
        if (known(r.treated) && known(r.holdout)) {
          rows.push({ name: 'retention ' + k, treated: r.treated.retained_30_60_90[i] / known(r.treated),
            holdout: r.holdout.retained_30_60_90[i] / known(r.holdout), diff: r.retention[k].difference });
        }
      });
      chart(rows);
    } catch (e) { failed(e); }
  }

  loadList().catch(failed);
})();
