// control.js: control.html, the force control room. Compose and publish
// alerts to security companies and sites, and watch each alert's tally
// (recipients, delivered, acknowledged) as the consoles answer.

import { requireSession, Session, loadCache, saveCache } from './session.js';
import {
  el, formatTime, timeElement, setupHeader, bindConnIndicator, showError, describeError,
} from './ui.js';

const SEVERITIES = ['minor', 'moderate', 'severe', 'extreme'];
const MAX_SENT = 200;           // sent alerts kept in the list and the cache
const MAX_BUFFERED_TALLIES = 500;

function main({ token, user }) {
  const $ = (id) => document.getElementById(id);
  const form = $('compose');
  const headline = $('headline');
  const body = $('body');
  const bodyCount = $('body-count');
  const severity = $('severity');
  const targetsBox = $('targets');
  const filter = $('target-filter');
  const summary = $('target-summary');
  const sendBtn = $('send');
  const composeError = $('compose-error');
  const sentList = $('sent-alerts');
  const sentEmpty = $('sent-empty');
  const announcer = $('control-announcer');

  const session = new Session(token);
  setupHeader(user, session);
  bindConnIndicator(session, $('conn'));
  $('org-name').textContent = user.org_name || '';

  let directory = { orgs: [], sites: [] };
  let companies = [];          // security companies, sorted by name
  let sitesByOrg = new Map();  // org id -> [site]
  let publishRef = null;       // ref of the publish awaiting `published`
  let directoryRetry = null;

  const sent = new Map();      // alert id -> record (built on `published`)
  const tallyBuffer = new Map(); // alert id -> latest tally not yet matched

  /* ---- Sent alerts ---------------------------------------------------- */

  // A record: { alert_id, seq, headline, body, severity, to, sent_at,
  //   sender (when not this user), durable, recipients, delivered,
  //   acknowledged, read?, escalated? (absent until a tally carries them),
  //   escalations: [{site_id, site_name, escalated_at}] }

  function persistSent() {
    saveCache('sent', [...sent.values()].slice(-MAX_SENT));
  }

  function countCell(label, cls) {
    return el('div', { class: `count count-${cls}` },
      el('dt', {}, label),
      el('dd', { class: cls }, '0'));
  }

  function renderSent(rec) {
    const sev = SEVERITIES.includes(rec.severity) ? rec.severity : 'minor';
    const from = rec.sender && rec.sender.user_id !== user.id ? rec.sender.display_name : '';
    const receipts = el('details', { class: 'receipts' },
      el('summary', {}, 'Per-site receipts'),
      el('div', { class: 'receipts-body' }, el('p', { class: 'muted' }, 'Loading…')));
    receipts.addEventListener('toggle', () => {
      if (receipts.open) requestReceipts(rec.alert_id, { shown: true });
    });
    const item = el('li', {
      class: `sent-item sev-${sev}`,
      dataset: { alertId: String(rec.alert_id), severity: sev },
    },
    el('div', { class: 'sent-head' },
      el('span', { class: `severity badge sev-${sev}` }, rec.severity),
      el('h3', { class: 'headline' }, rec.headline),
      timeElement(rec.sent_at, 'sent-at')),
    from ? el('p', { class: 'sent-by' }, `Sent by ${from}`) : null,
    rec.body ? el('p', { class: 'sent-body' }, rec.body) : null,
    rec.to ? el('p', { class: 'sent-to' }, `To: ${rec.to}`) : null,
    el('p', { class: 'durable-note', hidden: true },
      'Held in the broker\'s journal: the database is unreachable. Counts update when it is back.'),
    el('p', { class: 'escalations', hidden: true }),
    el('dl', { class: 'counts' },
      countCell('Recipients', 'recipients'),
      countCell('Delivered', 'delivered'),
      countCell('Read', 'read'),
      countCell('Acknowledged', 'acknowledged'),
      countCell('Escalated', 'escalated')),
    el('progress', { class: 'ack-progress', max: 1, value: 0, 'aria-label': 'Sites that acknowledged' }),
    receipts);
    updateSentItem(item, rec);
    return item;
  }

  function updateSentItem(item, rec) {
    for (const k of ['recipients', 'delivered', 'read', 'acknowledged', 'escalated']) {
      const known = Number.isInteger(rec[k]);
      item.querySelector(`.${k}`).textContent = String(known ? rec[k] : 0);
      // read and escalated appear once the broker counts them.
      if (k === 'read' || k === 'escalated') item.querySelector(`.count-${k}`).hidden = !known;
    }
    const bar = item.querySelector('.ack-progress');
    bar.max = Math.max(1, rec.recipients);
    bar.value = Math.min(rec.acknowledged, bar.max);
    const complete = rec.recipients > 0 && rec.acknowledged >= rec.recipients;
    item.dataset.complete = complete ? 'true' : 'false';
    item.dataset.durable = rec.durable || '';
    item.classList.toggle('complete', complete);
    item.classList.toggle('undelivered', rec.delivered < rec.recipients);
    item.querySelector('.durable-note').hidden = rec.durable !== 'journal';
    const esc = item.querySelector('.escalations');
    const list = rec.escalations || [];
    esc.textContent = list.length
      ? `Not acknowledged in time: ${list.map((x) => `${x.site_name || `site ${x.site_id}`} (${formatTime(x.escalated_at)})`).join(', ')}`
      : '';
    esc.hidden = !list.length;
    item.classList.toggle('has-escalation', list.length > 0 || rec.escalated > 0);
  }

  function itemFor(id) {
    return sentList.querySelector(`[data-alert-id="${CSS.escape(String(id))}"]`);
  }

  // Newest first; alert ids increase with time.
  function addSent(rec) {
    const buffered = tallyBuffer.get(rec.alert_id);
    if (buffered) {
      tallyBuffer.delete(rec.alert_id);
      applyTallyToRecord(rec, buffered);
    }
    sent.set(rec.alert_id, rec);
    const old = itemFor(rec.alert_id);
    const item = renderSent(rec);
    if (old) {
      old.replaceWith(item);
    } else {
      const older = [...sentList.children].find((li) => Number(li.dataset.alertId) < rec.alert_id);
      sentList.insertBefore(item, older || null);
    }
    while (sent.size > MAX_SENT) {
      const oldest = [...sent.keys()].sort((a, b) => a - b)[0];
      sent.delete(oldest);
      itemFor(oldest)?.remove();
    }
    sentEmpty.hidden = sent.size > 0;
    persistSent();
  }

  function refreshSent(rec) {
    const item = itemFor(rec.alert_id);
    if (item) updateSentItem(item, rec);
    persistSent();
  }

  function applyTallyToRecord(rec, t) {
    for (const k of ['recipients', 'delivered', 'read', 'acknowledged', 'escalated']) {
      if (Number.isInteger(t[k])) rec[k] = t[k];
    }
  }

  function onTally(t) {
    const id = t.alert_id;
    const rec = sent.get(id);
    if (!rec) {
      // published not seen yet (or an alert sent by a colleague of the
      // same organisation): keep the latest counts for a while.
      tallyBuffer.delete(id);
      tallyBuffer.set(id, t);
      if (tallyBuffer.size > MAX_BUFFERED_TALLIES) {
        tallyBuffer.delete(tallyBuffer.keys().next().value);
      }
      return;
    }
    applyTallyToRecord(rec, t);
    refreshSent(rec);
  }

  /* A recipient site has not acknowledged a severe or extreme alert in
   * time. The alert may be a colleague's: the frame carries all of it. */
  function onEscalation(frame) {
    let rec = sent.get(frame.alert_id);
    if (!rec && frame.alert) {
      const a = frame.alert;
      rec = {
        alert_id: a.id, seq: a.seq, headline: a.headline, body: a.body || '',
        severity: a.severity, to: '', sent_at: a.sent_at, sender: a.sender,
        recipients: 0, delivered: 0, acknowledged: 0, escalations: [],
      };
      addSent(rec);
    }
    if (!rec) return;
    rec.escalations = rec.escalations || [];
    if (!rec.escalations.some((x) => x.site_id === frame.site_id)) {
      rec.escalations.push({ site_id: frame.site_id, site_name: frame.site_name, escalated_at: frame.escalated_at });
    }
    refreshSent(rec);
    announcer.textContent = '';
    setTimeout(() => {
      announcer.textContent = `Escalation: ${frame.site_name || `site ${frame.site_id}`} has not acknowledged “${rec.headline}”.`;
    }, 50);
  }

  /* ---- Per-site receipts ---------------------------------------------- */

  let receiptsUnsupported = false;

  function requestReceipts(id, { shown = false } = {}) {
    const item = itemFor(id);
    const bodyBox = item?.querySelector('.receipts-body');
    if (receiptsUnsupported) {
      if (shown && bodyBox) bodyBox.replaceChildren(el('p', { class: 'muted' }, 'This broker does not give per-site receipts.'));
      return;
    }
    if (!session.request('receipts', { alert_id: id }) && shown && bodyBox) {
      bodyBox.replaceChildren(el('p', { class: 'muted' }, 'Not connected: receipts will load when the connection is back.'));
    }
  }

  function timeCell(iso) {
    return el('td', {}, iso ? timeElement(iso, 'receipt-time') : '—');
  }

  function onReceipts(frame) {
    const rec = sent.get(frame.alert_id);
    const sites = Array.isArray(frame.sites) ? frame.sites : null;
    if (!rec || !sites) return;
    // The receipts are the current truth: they also repair counts that
    // missed tallies while this page was offline.
    rec.recipients = sites.length;
    rec.delivered = sites.filter((x) => x.delivered_at).length;
    rec.acknowledged = sites.filter((x) => x.acked_at).length;
    if (sites.some((x) => 'read_at' in x)) rec.read = sites.filter((x) => x.read_at).length;
    if (sites.some((x) => 'escalated_at' in x)) rec.escalated = sites.filter((x) => x.escalated_at).length;
    refreshSent(rec);

    const item = itemFor(frame.alert_id);
    const bodyBox = item?.querySelector('.receipts-body');
    if (!bodyBox) return;
    const waitingFor = new Set(Array.isArray(frame.not_acknowledged) ? frame.not_acknowledged : []);
    const rows = [...sites]
      .sort((x, y) => Number(Boolean(x.acked_at)) - Number(Boolean(y.acked_at))
        || String(x.site_name).localeCompare(String(y.site_name)))
      .map((x) => el('tr', { class: waitingFor.has(x.site_id) || !x.acked_at ? 'not-acked' : 'acked' },
        el('th', { scope: 'row' }, x.site_name || `site ${x.site_id}`),
        timeCell(x.delivered_at), timeCell(x.read_at), timeCell(x.acked_at), timeCell(x.escalated_at)));
    const missing = sites.filter((x) => !x.acked_at).length;
    bodyBox.replaceChildren(
      el('p', { class: missing ? 'receipts-summary warn' : 'receipts-summary ok' },
        missing ? `${missing} of ${sites.length} site${sites.length === 1 ? '' : 's'} not acknowledged yet.`
          : `All ${sites.length} site${sites.length === 1 ? '' : 's'} acknowledged.`),
      el('table', { class: 'receipts-table' },
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col' }, 'Site'), el('th', { scope: 'col' }, 'Delivered'),
          el('th', { scope: 'col' }, 'Read'), el('th', { scope: 'col' }, 'Acknowledged'),
          el('th', { scope: 'col' }, 'Escalated'))),
        el('tbody', {}, ...rows)));
  }

  function onReceiptsError(frame, req) {
    if (frame.code === 'unknown_type') receiptsUnsupported = true;
    const bodyBox = itemFor(req.alert_id)?.querySelector('.receipts-body');
    if (bodyBox) {
      bodyBox.replaceChildren(el('p', { class: 'muted' },
        receiptsUnsupported ? 'This broker does not give per-site receipts.'
          : `Receipts unavailable: ${describeError(frame)}`));
    }
  }

  // Counts can go stale while the page is closed or offline: ask again for
  // the recent alerts that are not complete.
  function refreshRecent() {
    const recent = [...sent.values()]
      .filter((r) => !(r.recipients > 0 && r.acknowledged >= r.recipients))
      .sort((a, b) => b.alert_id - a.alert_id)
      .slice(0, 20);
    for (const r of recent) requestReceipts(r.alert_id);
    for (const d of sentList.querySelectorAll('details.receipts[open]')) {
      const id = Number(d.closest('[data-alert-id]').dataset.alertId);
      if (!recent.some((r) => r.alert_id === id)) requestReceipts(id, { shown: true });
    }
  }

  // Alerts sent earlier in this tab survive a reload.
  for (const rec of loadCache('sent', [])) {
    if (rec && Number.isFinite(rec.alert_id)) addSent(rec);
  }

  /* ---- Target picker ---------------------------------------------------- */

  function describeTargets(targets) {
    const names = [];
    for (const id of targets.orgs || []) {
      const org = directory.orgs.find((o) => o.id === id);
      names.push(`${org ? org.name : `organisation ${id}`} (all its sites)`);
    }
    for (const id of targets.sites || []) {
      const site = directory.sites.find((s) => s.id === id);
      names.push(site ? site.name : `site ${id}`);
    }
    return names.join(', ');
  }

  function checkedIds(name) {
    return [...form.querySelectorAll(`input[name="${name}"]:checked`)]
      .map((i) => Number(i.value))
      .filter(Number.isInteger);
  }

  function renderTargets() {
    const keepOrgs = new Set(checkedIds('target-org'));
    const keepSites = new Set(checkedIds('target-site'));

    companies = directory.orgs
      .filter((o) => o.kind === 'security_company')
      .sort((a, b) => a.name.localeCompare(b.name));
    sitesByOrg = new Map();
    for (const s of directory.sites) {
      if (!sitesByOrg.has(s.guard_org_id)) sitesByOrg.set(s.guard_org_id, []);
      sitesByOrg.get(s.guard_org_id).push(s);
    }
    for (const list of sitesByOrg.values()) list.sort((a, b) => a.name.localeCompare(b.name));

    const groups = [];
    const companyIds = new Set(companies.map((c) => c.id));
    for (const c of companies) {
      groups.push(renderGroup(c, sitesByOrg.get(c.id) || [], keepOrgs, keepSites));
    }
    // Sites guarded by an organisation that is not a security company.
    const others = directory.sites.filter((s) => !companyIds.has(s.guard_org_id));
    if (others.length) groups.push(renderGroup(null, others, keepOrgs, keepSites));

    targetsBox.replaceChildren(...groups);
    if (!groups.length) {
      targetsBox.append(el('p', { class: 'muted' }, 'The directory lists no companies or sites.'));
    }
    applyFilter();
    updateSummary();
  }

  function renderGroup(company, sites, keepOrgs, keepSites) {
    const group = el('div', {
      class: 'company-group',
      role: 'group',
      dataset: company ? { orgId: String(company.id) } : { orgId: 'other' },
    });
    const title = company ? company.name : 'Other sites';
    group.setAttribute('aria-label', title);
    if (!company) group.append(el('h3', { class: 'company-name' }, title));
    if (company) {
      const n = sites.length;
      group.append(el('label', { class: 'target target-org' },
        el('input', {
          type: 'checkbox', name: 'target-org', value: String(company.id),
          checked: keepOrgs.has(company.id),
        }),
        el('span', { class: 'target-name' }, company.name),
        el('span', { class: 'target-meta' },
          `all its sites (${n} site${n === 1 ? '' : 's'})`)));
    }
    const list = el('ul', { class: 'site-list' });
    for (const s of sites) {
      list.append(el('li', { class: 'site-entry', dataset: { siteId: String(s.id) } },
        el('label', { class: 'target target-site', title: s.address || '' },
          el('input', {
            type: 'checkbox', name: 'target-site', value: String(s.id),
            checked: keepSites.has(s.id),
          }),
          el('span', { class: 'target-name' }, s.name),
          el('span', { class: 'target-meta' }, s.sector || ''))));
    }
    group.append(list);
    return group;
  }

  function applyFilter() {
    const term = filter.value.trim().toLowerCase();
    for (const group of targetsBox.querySelectorAll('.company-group')) {
      const orgId = group.dataset.orgId;
      const company = companies.find((c) => String(c.id) === orgId);
      const companyMatch = !term || (company && company.name.toLowerCase().includes(term));
      let anySite = false;
      for (const li of group.querySelectorAll('.site-entry')) {
        const site = directory.sites.find((s) => String(s.id) === li.dataset.siteId);
        const hay = site ? `${site.name} ${site.sector || ''} ${site.address || ''}`.toLowerCase() : '';
        const show = companyMatch || hay.includes(term);
        li.hidden = !show;
        anySite ||= show;
      }
      group.hidden = !(companyMatch || anySite);
    }
  }

  function selectedRecipients() {
    const orgs = checkedIds('target-org');
    const sites = checkedIds('target-site');
    const covered = new Set(sites);
    for (const id of orgs) for (const s of sitesByOrg.get(id) || []) covered.add(s.id);
    return { orgs, sites, covered };
  }

  function updateSummary() {
    const { orgs, sites, covered } = selectedRecipients();
    const orgSet = new Set(orgs);
    for (const group of targetsBox.querySelectorAll('.company-group')) {
      group.classList.toggle('org-selected', orgSet.has(Number(group.dataset.orgId)));
    }
    if (!orgs.length && !sites.length) {
      summary.textContent = 'No recipients selected.';
      summary.dataset.count = '0';
      return;
    }
    const parts = [];
    if (orgs.length) parts.push(`${orgs.length} compan${orgs.length === 1 ? 'y' : 'ies'} (all their sites)`);
    if (sites.length) parts.push(`${sites.length} named site${sites.length === 1 ? '' : 's'}`);
    const n = covered.size;
    summary.textContent = `${n} site${n === 1 ? '' : 's'} will receive this alert: ${parts.join(' and ')}.`;
    summary.dataset.count = String(n);
  }

  targetsBox.addEventListener('change', (ev) => {
    if (ev.target.matches('input[type="checkbox"]')) {
      updateSummary();
      if (!composeError.hidden && composeError.dataset.kind === 'targets') showComposeError('');
    }
  });
  filter.addEventListener('input', applyFilter);
  $('targets-clear').addEventListener('click', () => {
    for (const i of form.querySelectorAll('input[name^="target-"]:checked')) i.checked = false;
    updateSummary();
  });

  /* ---- Compose and publish ------------------------------------------- */

  function showComposeError(message, kind = '') {
    showError(composeError, message);
    composeError.dataset.kind = kind;
  }

  function setInvalid(field, bad) {
    if (bad) field.setAttribute('aria-invalid', 'true');
    else field.removeAttribute('aria-invalid');
  }

  function updateBodyCount() {
    bodyCount.textContent = `${body.value.length} / 4000`;
  }
  body.addEventListener('input', () => {
    setInvalid(body, false);
    updateBodyCount();
  });
  headline.addEventListener('input', () => {
    setInvalid(headline, false);
    if (composeError.dataset.kind === 'headline') showComposeError('');
  });
  severity.addEventListener('change', () => {
    setInvalid(severity, false);
    form.dataset.severity = severity.value;
  });
  form.dataset.severity = severity.value;

  function setSending(on) {
    sendBtn.disabled = on;
    sendBtn.textContent = on ? 'Sending…' : 'Send alert';
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function clearForm() {
    form.reset();
    for (const f of [headline, body, severity]) setInvalid(f, false);
    form.dataset.severity = severity.value;
    filter.value = '';
    applyFilter();
    updateSummary();
    updateBodyCount();
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (publishRef) return;
    showComposeError('');
    const h = headline.value.trim();
    const b = body.value;
    const { orgs, sites } = selectedRecipients();

    if (!h) {
      setInvalid(headline, true);
      showComposeError('Enter a headline.', 'headline');
      headline.focus();
      return;
    }
    if (h.length > 200) {
      setInvalid(headline, true);
      showComposeError('The headline is longer than 200 characters.', 'headline');
      headline.focus();
      return;
    }
    if (b.length > 4000) {
      setInvalid(body, true);
      showComposeError('The details are longer than 4000 characters.', 'body');
      body.focus();
      return;
    }
    if (!orgs.length && !sites.length) {
      showComposeError('Choose at least one recipient: a security company or a site.', 'targets');
      (form.querySelector('input[name^="target-"]') || filter).focus();
      return;
    }
    if (orgs.length > 1000 || sites.length > 1000) {
      showComposeError('Too many recipients in one alert (at most 1000 companies and 1000 sites).', 'targets');
      return;
    }
    if (!session.connected) {
      showComposeError('Not connected to the broker: the alert was not sent. Wait until the connection is back, then send again.', 'connection');
      return;
    }

    const targets = {};
    if (orgs.length) targets.orgs = orgs;
    if (sites.length) targets.sites = sites;
    const ref = session.request('publish', { headline: h, body: b, severity: severity.value, targets });
    if (!ref) {
      showComposeError('Not connected to the broker: the alert was not sent.', 'connection');
      return;
    }
    publishRef = ref;
    setSending(true);
  });

  session.on('published', (frame, req) => {
    const mine = req && req.type === 'publish';
    const rec = {
      alert_id: frame.alert_id,
      seq: frame.seq,
      headline: mine ? req.headline : `Alert ${frame.alert_id}`,
      body: mine ? req.body : '',
      severity: mine ? req.severity : 'minor',
      to: mine ? describeTargets(req.targets) : '',
      sent_at: frame.sent_at,
      durable: frame.durable || '',
      recipients: Number.isInteger(frame.recipients) ? frame.recipients : 0,
      delivered: 0,
      acknowledged: 0,
      escalations: [],
    };
    addSent(rec);
    if (frame.ref && frame.ref === publishRef) {
      publishRef = null;
      setSending(false);
      clearForm();
      showComposeError('');
      headline.focus();
    }
  });

  session.on('tally', onTally);
  session.on('escalation', onEscalation);
  session.on('receipts', onReceipts);
  session.on('welcome', () => refreshRecent());

  session.on('error', (frame, req) => {
    const type = req ? req.type : null;
    if (type === 'ping') return;
    if (type === 'receipts') {
      onReceiptsError(frame, req);
      return;
    }
    if (type === 'directory') {
      showComposeError(`The directory could not be loaded: ${describeError(frame)}. Retrying…`, 'directory');
      clearTimeout(directoryRetry);
      directoryRetry = setTimeout(() => session.request('directory'), 5000);
      return;
    }
    if (type === 'publish' || (frame.ref && frame.ref === publishRef)) {
      publishRef = null;
      setSending(false);
      const field = String(frame.field || '');
      const target = field.startsWith('headline') ? headline
        : field.startsWith('body') ? body
          : field.startsWith('severity') ? severity : null;
      if (target) {
        setInvalid(target, true);
        target.focus();
      }
    }
    showComposeError(`${describeError(frame)}`, 'server');
  });

  session.on('lost', (requests) => {
    if (requests.some((r) => r.type === 'publish' && r.ref === publishRef)) {
      publishRef = null;
      setSending(false);
      showComposeError('The connection dropped before the broker confirmed this alert: it may or may not have been sent. Check with the recipients before sending it again.', 'connection');
    }
    if (requests.some((r) => r.type === 'directory')) clearTimeout(directoryRetry);
  });

  session.on('directory', (frame) => {
    clearTimeout(directoryRetry);
    if (composeError.dataset.kind === 'directory') showComposeError('');
    directory = {
      orgs: Array.isArray(frame.orgs) ? frame.orgs : [],
      sites: Array.isArray(frame.sites) ? frame.sites : [],
    };
    const own = directory.orgs.find((o) => o.id === user.org_id);
    if (own) $('org-name').textContent = own.name;
    renderTargets();
  });

  session.start();
}

const signedIn = requireSession(['controller', 'analyst']);
if (signedIn) main(signedIn);
