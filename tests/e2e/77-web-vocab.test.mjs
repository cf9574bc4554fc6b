// The protocol's vocabulary in the browser (web-client/js/vocab.js) is the
// broker's: every list the broker checks a frame against (severities,
// urgencies, certainties, categories, statuses, msg types, classifications,
// request kinds, target roles, roles, building states, CCTV states, report
// kinds), read out of its C source, holds the same codes as vocab.js. And
// the pages use only those codes: the <select> options and role boxes of
// control.html and console.html, and the alert templates. No broker and
// no browser: node reads the files.
//
// The broker's files are found by name anywhere under broker/, so this
// works before and after they move into subfolders (broker/base/…).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vocab from '../../web-client/js/vocab.js';
import { TEMPLATES } from '../../web-client/js/control/templates.js';
import { homeFor } from '../../web-client/js/session.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/* The one file called `name` under broker/, in whichever subfolder. */
function brokerFile(rel) {
  return readFileSync(join(ROOT, 'broker', rel), 'utf8');
}

/* The strings of `static const char *const <array>[] = { "a", "b", NULL };`
 * (designated initialisers such as `[ROLE_X] = "x"` included). */
function cArray(src, array) {
  const m = new RegExp(`static\\s+const\\s+char\\s*\\*\\s*const\\s+${array}\\s*\\[\\]\\s*=\\s*\\{([^}]*)\\}`).exec(src);
  assert.ok(m, `no array ${array}[] in the broker source`);
  return [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]);
}

/* Same codes, whatever the order; the message names what differs. */
function sameCodes(web, other, what) {
  const missing = other.filter((c) => !web.includes(c));
  const extra = web.filter((c) => !other.includes(c));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] },
    `${what} is [${other}]: vocab.js lacks [${missing}] and has [${extra}] beyond it`);
  assert.equal(new Set(web).size, web.length, `${what}: a code twice in vocab.js`);
}

describe('the web vocabulary is the broker\'s', () => {
  it('the alert model (frame_publish.c)', () => {
    const src = brokerFile('base/frame_publish.c');
    const pairs = {
      msg_types: vocab.MSG_TYPES,
      statuses: vocab.STATUSES,
      categories: vocab.CATEGORIES,
      urgencies: vocab.URGENCIES,
      severities: vocab.SEVERITIES,
      certainties: vocab.CERTAINTIES,
      classifications: vocab.CLASSIFICATIONS,
      target_roles: vocab.TARGET_ROLES,
      kinds: vocab.REQUEST_KINDS,
    };
    for (const [array, web] of Object.entries(pairs)) sameCodes(web, cArray(src, array), `frame_publish.c ${array}`);
  });

  it('the roles (token.c)', () => {
    const roles = cArray(brokerFile('base/token.c'), 'role_names').filter((r) => r !== 'none');
    sameCodes(vocab.ROLES, roles, 'token.c role_names');
    for (const r of vocab.TARGET_ROLES) assert.ok(vocab.ROLES.includes(r), `target role ${r} is a role`);
    for (const r of vocab.ROLES) assert.ok(homeFor(r), `role ${r} has a page to go to (session.js)`);
  });

  it('building status (handle/status.c) and partner reports (handle/report.c)', () => {
    const status = brokerFile('handle/status.c');
    sameCodes(vocab.SITE_STATES, cArray(status, 'states'), 'handle/status.c states');
    sameCodes(vocab.CCTV_STATES, cArray(status, 'cctv_values'), 'handle/status.c cctv_values');
    sameCodes(vocab.STATUS_COUNTS, cArray(status, 'status_counts'), 'handle/status.c status_counts');
    sameCodes(vocab.REPORT_KINDS, cArray(brokerFile('handle/report.c'), 'kinds'), 'handle/report.c kinds');
  });

  it('administration (handle/admin.c, organisations.kind)', () => {
    sameCodes(vocab.ADMIN_OPS, cArray(brokerFile('handle/admin.c'), 'admin_ops'), 'handle/admin.c admin_ops');
    const ddl = readFileSync(join(ROOT, 'sql/schema/02_directory.sql'), 'utf8');
    const m = /kind\s+text NOT NULL CHECK \(kind IN \(([^)]*)\)\)/.exec(ddl);
    assert.ok(m, 'organisations.kind has a CHECK in sql/schema/02_directory.sql');
    sameCodes(vocab.ORG_KINDS, [...m[1].matchAll(/'([^']*)'/g)].map((x) => x[1]), 'organisations.kind');
  });

  it('serious severities are the top of the ranking', () => {
    assert.deepEqual(vocab.SERIOUS_SEVERITIES, ['severe', 'extreme']);
  });
});

/* The option values of <select id="id"> in a page. */
function selectOptions(html, id) {
  const m = new RegExp(`<select[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</select>`).exec(html);
  assert.ok(m, `no <select id="${id}">`);
  return [...m[1].matchAll(/<option[^>]*\bvalue="([^"]*)"/g)].map((x) => x[1]);
}

describe('the pages use the vocabulary', () => {
  it('control.html: the compose form\'s choices', () => {
    const html = readFileSync(join(ROOT, 'web-client/control.html'), 'utf8');
    sameCodes(vocab.STATUSES, selectOptions(html, 'status'), 'control.html #status');
    sameCodes(vocab.CATEGORIES, selectOptions(html, 'category'), 'control.html #category');
    sameCodes(vocab.SEVERITIES, selectOptions(html, 'severity'), 'control.html #severity');
    sameCodes(vocab.URGENCIES, selectOptions(html, 'urgency'), 'control.html #urgency');
    sameCodes(vocab.CERTAINTIES, selectOptions(html, 'certainty'), 'control.html #certainty');
    sameCodes(vocab.CLASSIFICATIONS, selectOptions(html, 'classification'), 'control.html #classification');
    sameCodes(vocab.REQUEST_KINDS, selectOptions(html, 'request-kind').filter((k) => k !== 'none'),
      'control.html #request-kind');
    const roles = [...html.matchAll(/<input[^>]*name="target-role"[^>]*value="([^"]*)"/g)].map((x) => x[1]);
    sameCodes(vocab.TARGET_ROLES, roles, 'control.html target-role boxes');
  });

  it('console.html: the status and report forms\' choices', () => {
    const html = readFileSync(join(ROOT, 'web-client/console.html'), 'utf8');
    sameCodes(vocab.CCTV_STATES, selectOptions(html, 'status-cctv'), 'console.html #status-cctv');
    sameCodes(vocab.SITE_STATES, selectOptions(html, 'status-state'), 'console.html #status-state');
    sameCodes(vocab.PARTNER_REPORT_KINDS, selectOptions(html, 'report-kind'), 'console.html #report-kind');
    sameCodes(vocab.PROPERTY_STATUSES, selectOptions(html, 'report-property-status').filter((k) => k !== ''),
      'console.html #report-property-status');
  });

  it('crime records: the categories (047_crime_records.sql) and property statuses (crime_report.c)', () => {
    const sql = readFileSync(join(ROOT, 'sql/migrations/047_crime_records.sql'), 'utf8');
    const insert = /INSERT INTO crime_categories[^;]*;/.exec(sql)[0];
    sameCodes(vocab.CRIME_CATEGORIES, [...insert.matchAll(/\('([a-z-]+)',/g)].map((x) => x[1]),
      '047_crime_records.sql crime_categories');
    sameCodes(vocab.PROPERTY_STATUSES, cArray(brokerFile('handle/crime_report.c'), 'property_statuses'),
      'handle/crime_report.c property_statuses');
  });

  it('the alert templates', () => {
    const lists = {
      category: vocab.CATEGORIES, severity: vocab.SEVERITIES, urgency: vocab.URGENCIES,
      certainty: vocab.CERTAINTIES, classification: vocab.CLASSIFICATIONS,
    };
    for (const t of TEMPLATES) {
      for (const [k, list] of Object.entries(lists)) {
        if (t[k] !== undefined) assert.ok(list.includes(t[k]), `template ${t.id}: ${k} ${t[k]} is not in vocab.js`);
      }
      if (t.request) assert.ok(vocab.REQUEST_KINDS.includes(t.request.kind), `template ${t.id}: request kind`);
    }
  });
});
