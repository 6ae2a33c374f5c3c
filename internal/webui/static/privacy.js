// The privacy centre: the subject's own data through /v1/me — profile and correction, purposes with their
// legal basis and notice and the consent controls, the objection to personalised marketing, tags with
// their explanations, the incidents the person was notified of, who accessed the data and why, export,
// requests and deletion.
'use strict';
(() => {
  const { T, api, el, clear, status, failed, time, lang } = PV;
  const correctable = ['name', 'gender', 'birth_date', 'phone', 'email', 'province', 'city', 'district', 'address_line', 'occupation', 'industry'];

  let lastMe = null; // /v1/me as last loaded: the consents' channels

  async function loadProfile() {
    const me = await api('GET', '/v1/me');
    lastMe = me;
    const tb = clear(document.querySelector('#profile tbody'));
    for (const [k, v] of Object.entries(me.fields || {}).sort()) {
      tb.append(el('tr', { 'data-field': k }, el('th', {}, k), el('td', {}, String(v))));
    }
    const sel = clear(document.getElementById('correct-field'));
    for (const f of correctable) sel.append(el('option', { value: f }, f));
    const tags = clear(document.querySelector('#tags tbody'));
    for (const t of me.tags || []) {
      tags.append(el('tr', {}, el('td', {}, t.key), el('td', {}, String(t.value)), el('td', {}, t.purpose),
        el('td', {}, (lang === 'zh' ? t.explanation_zh : t.explanation_en) || t.explanation || '')));
    }
    if (!(me.tags || []).length) tags.append(el('tr', {}, el('td', { colspan: '4' }, T['none'])));
    // The incidents the vault notified this person of (PIPL Art. 57): what happened, never who did it.
    const notices = clear(document.getElementById('notices'));
    for (const n of me.notices || []) {
      notices.append(el('li', { 'data-incident': n.incident_id }, el('strong', {}, n.title || ''),
        ' — ' + T['privacy.detected'] + ' ' + time(n.detected_at || n.discovered_at) + ' — ',
        el('span', { class: 'notice-text' }, n.notice || ''),
        (n.categories || []).length ? ' (' + n.categories.join(', ') + ')' : ''));
    }
    if (!(me.notices || []).length) notices.append(el('li', {}, T['none']));
    // A restriction of processing (PIPL Art. 44) the person asked for stands until they lift it.
    document.getElementById('restriction').hidden = !(me.objections || []).some(o => (o.kind || o) === 'restriction');
    const objected = (me.objections || []).some(o => (o.kind || o) === 'personalized_marketing');
    document.getElementById('objection-state').textContent = objected ? T['privacy.objected'] : T['privacy.notobj'];
    const toggle = document.getElementById('objection-toggle');
    toggle.textContent = objected ? T['privacy.unobject'] : T['privacy.object'];
    toggle.dataset.objected = objected ? '1' : '';
  }

  async function loadPurposes() {
    const ex = await api('GET', '/v1/me/explanation');
    const box = clear(document.getElementById('purposes'));
    for (const p of ex.purposes) {
      const consentBased = p.legal_basis === 'consent' || !!p.consent_kind;
      const granted = p.your_consent === 'granted';
      const msg = el('p', { class: 'error', role: 'alert', hidden: true });
      const card = el('article', { class: 'purpose', 'data-purpose': p.purpose },
        el('h3', {}, p.purpose),
        el('p', {}, p.description || ''),
        el('dl', {},
          el('dt', {}, T['privacy.basis']), el('dd', {}, p.legal_basis + (p.consent_kind ? ' (' + p.consent_kind + ')' : '')),
          el('dt', {}, T['privacy.notice']), el('dd', {}, p.notice_version || ''),
          el('dt', {}, T['privacy.retention']), el('dd', {}, String(p.retention_days || '')),
          el('dt', {}, T['privacy.categories']), el('dd', {}, (p.categories || []).join(', ')),
          (p.recipients || []).length ? [el('dt', {}, T['privacy.recipients']), el('dd', {}, p.recipients.join(', '))] : [],
          consentBased ? [el('dt', {}, T['privacy.consent']), el('dd', { class: 'consent-state' }, p.your_consent || 'none')] : []),
        el('p', { class: 'why' }, p.why || ''));
      if (consentBased && p.consent_blocked && !granted) {
        const why = p.consent_blocked === 'guardian_consent_required' ? T['privacy.guardian'] : T['privacy.ageunknown'];
        card.append(el('p', { class: 'blocked', 'data-blocked': p.consent_blocked }, why));
      } else if (consentBased) {
        const btn = el('button', { type: 'button', class: granted ? 'withdraw' : 'grant' }, granted ? T['privacy.withdraw'] : T['privacy.grant']);
        // A purpose that provides data to others (PIPL Art. 23, 39) is consented to for one recipient.
        const pick = !granted && (p.recipients || []).length
          ? el('select', { class: 'recipient', 'aria-label': T['privacy.recipients'] }, p.recipients.map(r => el('option', { value: r }, r)))
          : null;
        btn.addEventListener('click', async () => {
          msg.hidden = true;
          const body = granted ? { granted: false } : { granted: true, notice_version: p.notice_version };
          if (pick) body.recipient = pick.value;
          try {
            await api('PUT', '/v1/me/consents/' + encodeURIComponent(p.purpose), { body });
            status(T['done']);
            await loadProfile();
            await loadPurposes();
          } catch (e) {
            msg.textContent = T['error'] + ' ' + (e.code ? e.code + ': ' : '') + e.message;
            msg.hidden = false;
          }
        });
        card.append(...(pick ? [pick] : []), btn, msg);
        // Channels of commercial messages, each withdrawable on its own (Advertising Law Art. 43).
        const live = ((lastMe && lastMe.consents) || []).find(c => c.purpose === p.purpose && c.status === 'granted');
        if (live && (live.channels || []).length) {
          card.append(el('p', { class: 'channels' }, T['privacy.channels'] + ' ',
            live.channels.map(ch => el('button', { type: 'button', class: 'channel', 'data-channel': ch, title: T['privacy.stopchannel'], onclick: async () => {
              try {
                await api('PUT', '/v1/me/consents/' + encodeURIComponent(p.purpose), { body: { granted: false, channel: ch } });
                status(T['done']);
                await loadProfile();
                await loadPurposes();
              } catch (e) { failed(e); }
            } }, ch + ' ×'))));
        }
      }
      box.append(card);
    }
  }

  // loadNotice shows the public processing notice: who handles the data, how to reach them, the rights.
  async function loadNotice() {
    const n = await api('GET', '/v1/notice');
    const h = n.handler || {};
    const dpo = h.pi_protection_officer || {};
    clear(document.getElementById('notice-body')).append(
      el('dt', {}, T['privacy.handler']), el('dd', {}, [h.name, h.address, h.contact].filter(Boolean).join(' · ')),
      el('dt', {}, T['privacy.dpo']), el('dd', {}, [dpo.name, dpo.contact].filter(Boolean).join(' · ')),
      el('dt', {}, T['privacy.rights']), el('dd', {}, n.rights || ''),
      el('dt', {}, T['privacy.notice']), el('dd', { class: 'mono' }, n.version || ''));
  }

  let logCursor = '';
  async function loadAccessLog(more) {
    const q = new URLSearchParams({ limit: '20' });
    if (more && logCursor) q.set('cursor', logCursor);
    const page = await api('GET', '/v1/me/access-log?' + q.toString());
    const tb = document.querySelector('#access-log tbody');
    if (!more) clear(tb);
    for (const e of page.entries) {
      tb.append(el('tr', {}, el('td', {}, time(e.ts)), el('td', {}, (e.actor_roles || []).join(', ')), el('td', {}, e.team || ''),
        el('td', {}, e.purpose || '', e.under_request ? el('span', { class: 'under-request' }, ' — ' + T['privacy.underrequest'] + ' (' + (e.reason_category || '') + ')') : null), el('td', {}, e.action),
        // The fields, or for an access that names none (a tag run, an audience, a collection) its categories.
        el('td', {}, (e.fields && e.fields.length ? e.fields : (e.categories || [])).join(', ')), el('td', {}, e.decision)));
    }
    logCursor = page.next_cursor || '';
    document.getElementById('access-log-more').hidden = !logCursor;
  }

  async function loadRequests() {
    const r = await api('GET', '/v1/me/requests');
    const tb = clear(document.querySelector('#requests tbody'));
    for (const q of r.requests) {
      // The answer: why a request was refused (PIPL Art. 50), or what fulfilled it and how it reaches the person.
      const answer = [q.reason, q.note, q.answer_route].filter(Boolean).join(' — ');
      // A request not answered yet can be withdrawn, beside its state (a restriction request lifts the
      // restriction with it).
      const open = ['received', 'verified', 'in_progress'].includes(q.state);
      const withdraw = open ? el('button', { type: 'button', class: 'withdraw-request' }, T['privacy.withdrawrequest']) : null;
      if (withdraw) withdraw.addEventListener('click', async () => {
        try {
          await api('DELETE', '/v1/me/requests/' + encodeURIComponent(q.id));
          status(T['done']);
          await loadProfile();
          await loadRequests();
        } catch (e) { failed(e); }
      });
      tb.append(el('tr', { 'data-request': q.id, 'data-state': q.state }, el('td', {}, T['request.' + q.type] || q.type), el('td', { class: 'state' }, T['state.' + q.state] || q.state, withdraw ? ' ' : null, withdraw),
        el('td', {}, time(q.created_at)), el('td', {}, time(q.due_at)), el('td', { class: 'answer' }, answer)));
    }
    if (!r.requests.length) tb.append(el('tr', {}, el('td', { colspan: '5' }, T['none'])));
  }

  document.getElementById('correct').addEventListener('submit', async ev => {
    ev.preventDefault();
    const f = document.getElementById('correct-field').value;
    const v = document.getElementById('correct-value').value;
    try {
      await api('PATCH', '/v1/me', { body: { fields: { [f]: v } } });
      document.getElementById('correct-value').value = '';
      status(T['done']);
      await loadProfile();
    } catch (e) { failed(e); }
  });

  document.getElementById('restriction-lift').addEventListener('click', async () => {
    try {
      await api('DELETE', '/v1/me/restriction');
      status(T['done']);
      await loadProfile();
      await loadRequests();
    } catch (e) { failed(e); }
  });

  document.getElementById('objection-toggle').addEventListener('click', async ev => {
    try {
      if (ev.target.dataset.objected) await api('DELETE', '/v1/me/objections/personalized_marketing');
      else await api('POST', '/v1/me/objections', { body: { kind: 'personalized_marketing' } });
      status(T['done']);
      await loadProfile();
      await loadPurposes();
    } catch (e) { failed(e); }
  });

  document.getElementById('access-log-more').addEventListener('click', () => loadAccessLog(true).catch(failed));

  document.getElementById('file-request').addEventListener('submit', async ev => {
    ev.preventDefault();
    try {
      await api('POST', '/v1/me/requests', { body: { type: document.getElementById('request-type').value } });
      status(T['done']);
      await loadRequests();
    } catch (e) { failed(e); }
  });

  document.getElementById('erase').addEventListener('submit', async ev => {
    ev.preventDefault();
    const out = document.getElementById('erase-result');
    try {
      const r = await api('DELETE', '/v1/me');
      out.textContent = T['privacy.erased'] + '\n' + JSON.stringify(r.receipt, null, 2);
    } catch (e) {
      if (e.code === 'legal_hold') out.textContent = T['privacy.held'] + '\n' + JSON.stringify(e.data.error.held, null, 2) + '\n' + JSON.stringify(e.data.receipt, null, 2);
      else { failed(e); return; }
    }
    out.hidden = false;
  });

  (async () => {
    status(T['loading']);
    try {
      await loadProfile();
      await loadPurposes();
      await Promise.all([loadAccessLog(false), loadRequests(), loadNotice()]);
      status('');
    } catch (e) { failed(e); }
  })();
})();
