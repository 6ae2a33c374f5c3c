// Charts from the aggregate reports (counts only): consent rate per purpose, access volume per purpose and
// per role, and denials, per UTC day. Drawn here as SVG elements (no library, nothing inline for the CSP),
// each with its numbers in a table beside it for screen readers and copying.
'use strict';
(() => {
  const { T, api, el, clear, status, failed } = PV;
  const SVG = 'http://www.w3.org/2000/svg';
  const palette = ['#0b5cad', '#b3261e', '#1e6b34', '#8a4baf', '#c26a00', '#00838f', '#5b6570', '#ad1457', '#2e7d32', '#283593', '#6d4c41', '#558b2f'];

  function svg(tag, attrs, ...children) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return n;
  }

  // lineChart draws series [{name, values}] over days; percent scales 0..1 to 0..100 %.
  function lineChart(box, title, days, series, percent) {
    clear(box);
    const W = 720, H = 260, L = 48, R = 12, Tp = 12, B = 36;
    const max = percent ? 1 : 4 * Math.ceil(Math.max(1, ...series.flatMap(s => s.values)) / 4); // whole ticks
    const x = i => L + (days.length < 2 ? 0 : i * (W - L - R) / (days.length - 1));
    const y = v => Tp + (H - Tp - B) * (1 - v / max);
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'plot' }, svg('title', {}, title));
    for (let k = 0; k <= 4; k++) {
      const v = max * k / 4;
      chart.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#d6dbe1' }),
        svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6570' }, percent ? Math.round(v * 100) + '%' : Math.round(v)));
    }
    const step = Math.max(1, Math.ceil(days.length / 8));
    days.forEach((d, i) => {
      const lastApart = i === days.length - 1 && i % step >= step / 2;
      if (i % step === 0 || lastApart) chart.append(svg('text', { x: x(i), y: H - 12, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6570' }, d.slice(5)));
    });
    series.forEach((s, j) => {
      const color = palette[j % palette.length];
      chart.append(svg('polyline', { fill: 'none', stroke: color, 'stroke-width': 2, points: s.values.map((v, i) => x(i) + ',' + y(v)).join(' '), 'data-series': s.name }));
    });
    const legend = el('ul', { class: 'legend' }, series.map((s, j) => el('li', { 'data-color': palette[j % palette.length] },
      el('span', { class: 'swatch swatch-' + (j % palette.length) }), s.name)));
    const fmt = v => percent ? (v * 100).toFixed(1) + '%' : String(v);
    const table = el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, el('th', {}, T['col.time']), series.map(s => el('th', {}, s.name)))),
      el('tbody', {}, days.map((d, i) => el('tr', {}, el('td', {}, d), series.map(s => el('td', {}, fmt(s.values[i])))))));
    box.append(chart, legend, el('details', {}, el('summary', {}, T['charts.numbers']), el('div', { class: 'scroll' }, table)));
  }

  // keys lists the names that appear in any day's map, most frequent first, at most n.
  function keys(days, field, n) {
    const total = {};
    for (const d of days) for (const [k, v] of Object.entries(d[field])) total[k] = (total[k] || 0) + v;
    return Object.keys(total).sort((a, b) => total[b] - total[a]).slice(0, n);
  }

  async function load() {
    const days = Number(document.getElementById('f-days').value);
    const until = new Date();
    const since = new Date(until.getTime() - (days - 1) * 86400000);
    const q = '?since=' + encodeURIComponent(since.toISOString()) + '&until=' + encodeURIComponent(until.toISOString());
    const purpose = { purpose: 'compliance_audit' };
    status(T['loading']);
    try {
      const [rates, act] = await Promise.all([api('GET', '/v1/audit/reports/consent-rates' + q, purpose), api('GET', '/v1/audit/reports/activity' + q, purpose)]);
      lineChart(document.getElementById('chart-consent'), T['charts.consent'], rates.days,
        rates.purposes.map(p => ({ name: p.purpose, values: p.granted.map((g, i) => rates.subjects[i] ? g / rates.subjects[i] : 0) })), true);
      const ad = act.days.map(d => d.day);
      lineChart(document.getElementById('chart-purpose'), T['charts.purpose'], ad,
        keys(act.days, 'by_purpose', 12).map(k => ({ name: k, values: act.days.map(d => d.by_purpose[k] || 0) })), false);
      lineChart(document.getElementById('chart-role'), T['charts.role'], ad,
        keys(act.days, 'by_role', 12).map(k => ({ name: k, values: act.days.map(d => d.by_role[k] || 0) })), false);
      lineChart(document.getElementById('chart-denied'), T['charts.denied'], ad,
        [{ name: 'deny', values: act.days.map(d => d.denied) }, { name: 'total', values: act.days.map(d => d.total) }], false);
      document.getElementById('main').dataset.loaded = String(days);
      status('');
    } catch (e) { failed(e); }
  }
  document.getElementById('f-days').addEventListener('change', load);
  load();
})();
