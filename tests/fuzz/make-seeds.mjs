#!/usr/bin/env node
// tests/fuzz/make-seeds.mjs: writes the seed corpus tests/fuzz/corpus/{frame,token}/
// (node tests/fuzz/make-seeds.mjs). Seeds are named by what they are; files
// already there (crashers added by hand, named crash-*) are left alone.
// Tokens are signed like token.c does (HMAC-SHA-512-256 = the first 32 bytes
// of HMAC-SHA-512) with the fuzz targets' fixed key: bytes 0..31.
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const put = (dir, name, data) => {
  mkdirSync(join(here, 'corpus', dir), { recursive: true });
  writeFileSync(join(here, 'corpus', dir, name), data);
};
const frame = (name, v) => put('frame', name, typeof v === 'string' || Buffer.isBuffer(v) ? v : JSON.stringify(v));

// ---- frames: one valid message of every type in docs/protocol.md
const circle = { circle: { lat: 51.514, lon: -0.088, radius_m: 400 } };
const square = { polygon: [[51.51, -0.09], [51.52, -0.09], [51.52, -0.08], [51.51, -0.08], [51.51, -0.09]] };
frame('hello', { type: 'hello', token: 'v1.eyJzdWIiOjF9.AAAA' });
frame('hello-resume', { type: 'hello', token: 'v1.a.b', resume: { epoch: '9c1e0f', seq: 118 } });
frame('hello-no-token', { type: 'hello' });
frame('publish', { type: 'publish', ref: 'c-1', headline: 'Suspicious package, Cheapside',
  body: 'Cordon in place.', severity: 'severe', targets: { orgs: [5], sites: [12, 14] } });
frame('publish-full', { type: 'publish', ref: 'c-2', headline: 'Protest march', body: 'Route via Cheapside',
  severity: 'moderate', status: 'exercise', msg_type: 'alert', category: 'planned_event', urgency: 'expected',
  certainty: 'likely', instruction: 'Close the side doors', effective: '2026-11-22T14:15:00Z',
  expires: '2026-11-22T18:00:00.250+01:00', area: circle, classification: 'OFFICIAL-SENSITIVE',
  handling: 'Do not forward', request: { kind: 'choice', options: ['Done', 'Unable', 'Need police'] },
  images: ['AAAAAAAAAAAAAAAAAAAAAA'], image_days: 30,
  targets: { sites: [1], orgs: [2], sectors: ['finance', 'retail'], area: true, roles: ['site_console'] } });
frame('publish-polygon-number', { type: 'publish', headline: 'H', severity: 'minor', area: square,
  request: { kind: 'number', label: 'Guards visible', min: 0, max: 1000 }, targets: { area: true } });
frame('publish-update', { type: 'publish', msg_type: 'update', references: 41, headline: 'Updated', severity: 'extreme' });
frame('publish-cancel', { type: 'publish', msg_type: 'cancel', references: 41 });
frame('ack', { type: 'ack', ref: 'a-1', alert_id: 41 });
frame('read', { type: 'read', ref: 'r-1', alert_id: 41 });
frame('receipts', { type: 'receipts', ref: 'q-1', alert_id: 41 });
frame('ping', { type: 'ping', ref: 'p' });
frame('directory', { type: 'directory', ref: 'd' });
frame('preview', { type: 'preview', ref: 'v-1', classification: 'OFFICIAL', area: circle, targets: { sectors: ['finance'], area: true } });
frame('relay', { type: 'relay', ref: 'y-1', alert_id: 41, sites: [12, 13], note: 'Front desks: lock the side doors.' });
frame('answer-choice', { type: 'answer', ref: 'w-1', alert_id: 41, choice: 'Done' });
frame('answer-number', { type: 'answer', ref: 'w-2', alert_id: 42, number: 3 });
frame('status', { type: 'status', ref: 's-1', people: 240, officers: 3, trauma_packs: 2, first_aid_kits: 6,
  defibrillators: 1, cctv: 'working', state: 'normal', note: 'All quiet', in_reply_to: 'r-7' });
frame('status-where', { type: 'status', ref: 's-2', people: 240, officers: 3, trauma_packs: 2, first_aid_kits: 6,
  defibrillators: 1, cctv: 'working', state: 'normal', first_aiders: 5, trauma_packs_where: 'Reception desk',
  defibrillators_where: 'Lobby, by the lifts', stale: ['officers', 'first_aiders'] });
frame('board', { type: 'board' });
frame('area-totals', { type: 'area_totals', lat: 51.514, lon: -0.088, radius_m: 400 });
frame('report-now', { type: 'report_now', area: circle });
frame('report-now-polygon', { type: 'report_now', area: square });
frame('report', { type: 'report', ref: 'p-1', kind: 'sighting', text: 'Man at the side door', lat: 51.5139,
  lon: -0.0888, occurred_at: '2026-11-22T14:15:00Z', image: 'AAAAAAAAAAAAAAAAAAAAAA' });
frame('inbox', { type: 'inbox', limit: 50 });
frame('inbox-filter', { type: 'inbox', kind: 'sighting', org_id: 5, since: '2026-11-22T08:00:00Z',
  until: '2026-11-22T20:00:00Z', handled: false, q: 'red van' });
frame('report-update', { type: 'report_update', ref: 'u-1', report_id: 7, handled: true, assigned_to: 3, alert_id: 41 });
frame('report-update-null', { type: 'report_update', report_id: 7, assigned_to: null, alert_id: null });
frame('refresh', { type: 'refresh', ref: 't-7' });
frame('admin-list', { type: 'admin', ref: 'm-1', op: 'list' });
frame('admin-site-add', { type: 'admin', op: 'site_add', fields: { slug: 'basinghall', name: 'Basinghall Court',
  address: '30 Basinghall Street', lat: 51.5166, lon: -0.0905, sector: 'finance', guard: 5, cleared: false } });
frame('admin-user-update', { type: 'admin', op: 'user_update', username: 'analyst', fields: { role: 'controller', cleared: true } });
frame('admin-device-add', { type: 'admin', op: 'device_add', site: 12, name: 'desk2' });

// ---- frames: boundary cases
frame('empty', '');
frame('whitespace', ' \t\r\n');
frame('not-object-array', '[1,2,3]');
frame('not-object-string', '"hello"');
frame('not-object-number', '42');
frame('truncated', '{"type":"publish","headline":"H');
frame('trailing-garbage', '{"type":"ping"} {"type":"ping"}');
frame('deep-16', '{"type":"ping","x":' + '['.repeat(15) + ']'.repeat(15) + '}');
frame('deep-17', '{"type":"ping","x":' + '['.repeat(16) + ']'.repeat(16) + '}');
frame('deep-2000', '['.repeat(2000) + ']'.repeat(2000));
frame('deep-in-string', '{"type":"ping","x":"' + '['.repeat(100) + '"}');
frame('deep-escaped-quote', '{"type":"ping","x":"\\"' + '['.repeat(40) + '"}');
frame('deep-unbalanced', ']'.repeat(50) + '{"type":"ping"}');
frame('huge-int', '{"type":"ack","alert_id":9223372036854775808}');
frame('max-int', '{"type":"ack","alert_id":9223372036854775807}');
frame('min-int', '{"type":"ack","alert_id":-9223372036854775808}');
frame('huge-real', '{"type":"area_totals","lat":1e400,"lon":-1e400,"radius_m":1e-400}');
frame('real-id', '{"type":"ack","alert_id":41.0}');
frame('zero-id', '{"type":"read","alert_id":0}');
frame('big-site-id', '{"type":"publish","headline":"H","severity":"minor","targets":{"sites":[2147483648]}}');
frame('bad-utf8', Buffer.concat([Buffer.from('{"type":"ping","ref":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]));
frame('overlong-utf8', Buffer.concat([Buffer.from('{"type":"publish","headline":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","severity":"minor","targets":{"sites":[1]}}')]));
frame('surrogate-escape', '{"type":"ping","ref":"\\ud800"}');
frame('raw-nul', Buffer.from('{"type":"ping"}\0{"type":"ack"}'));
frame('nul-in-ref', '{"type":"ping","ref":"a\\u0000b"}');
frame('nul-in-type', '{"type":"ping\\u0000x"}');
frame('nul-in-headline', '{"type":"publish","headline":"a\\u0000b","severity":"minor","targets":{"sites":[1]}}');
frame('nul-in-key', '{"type":"ping","a\\u0000b":1}');
frame('dup-type', '{"type":"ping","type":"publish"}');
frame('dup-nested', '{"type":"publish","headline":"H","severity":"minor","targets":{"sites":[1],"sites":[2]}}');
frame('ref-64', JSON.stringify({ type: 'ping', ref: 'r'.repeat(64) }));
frame('ref-65', JSON.stringify({ type: 'ping', ref: 'r'.repeat(65) }));
frame('ref-number', '{"type":"ping","ref":7}');
frame('headline-201', JSON.stringify({ type: 'publish', headline: 'h'.repeat(201), severity: 'minor', targets: { sites: [1] } }));
frame('headline-200-multibyte', JSON.stringify({ type: 'publish', headline: '€'.repeat(200), severity: 'minor', targets: { sites: [1] } }));
frame('body-4001', JSON.stringify({ type: 'publish', headline: 'H', body: 'b'.repeat(4001), severity: 'minor', targets: { sites: [1] } }));
frame('note-501-multibyte', JSON.stringify({ type: 'status', people: 1, officers: 0, trauma_packs: 0, first_aid_kits: 0,
  defibrillators: 0, cctv: 'down', state: 'lockdown', note: 'é'.repeat(501) }));
frame('targets-1001', JSON.stringify({ type: 'publish', headline: 'H', severity: 'minor', targets: { sites: Array.from({ length: 1001 }, (_, i) => i + 1) } }));
frame('targets-mixed', '{"type":"publish","headline":"H","severity":"minor","targets":{"sites":[1,"2",null,-3,4.5]}}');
frame('targets-none', '{"type":"publish","headline":"H","severity":"minor","targets":{}}');
frame('unknown-type', '{"type":"subscribe"}');
frame('type-long', JSON.stringify({ type: 'x'.repeat(5000) }));
frame('type-number', '{"type":5}');
frame('unknown-type-cut-utf8', JSON.stringify({ type: 'a' + 'é'.repeat(30) })); // "%.40s" cuts an é in two
frame('no-type', '{"ref":"x"}');
frame('time-leap', '{"type":"publish","headline":"H","severity":"minor","effective":"2026-12-31T23:59:60Z","targets":{"sites":[1]}}');
frame('time-feb31', '{"type":"publish","headline":"H","severity":"minor","expires":"2026-02-31T00:00:00Z","targets":{"sites":[1]}}');
frame('time-offset-bad', '{"type":"publish","headline":"H","severity":"minor","expires":"2026-02-01T00:00:00+24:99","targets":{"sites":[1]}}');
frame('time-frac-long', '{"type":"publish","headline":"H","severity":"minor","expires":"2026-02-01T00:00:00.123456789123Z","targets":{"sites":[1]}}');
frame('time-year-9999', '{"type":"publish","headline":"H","severity":"minor","expires":"9999-12-31T23:59:59Z","targets":{"sites":[1]}}');
frame('polygon-open', JSON.stringify({ type: 'report_now', area: { polygon: [[1, 1], [1, 2], [2, 2], [2, 1]] } }));
frame('polygon-501', JSON.stringify({ type: 'report_now', area: { polygon: Array.from({ length: 501 }, () => [1, 1]) } }));
frame('area-both', JSON.stringify({ type: 'report_now', area: { ...circle, ...square } }));
frame('area-nan-like', '{"type":"report_now","area":{"circle":{"lat":"NaN","lon":null,"radius_m":-1}}}');
frame('request-dup-options', '{"type":"publish","headline":"H","severity":"minor","request":{"kind":"choice","options":["a","a"]},"targets":{"sites":[1]}}');
frame('request-min-gt-max', '{"type":"publish","headline":"H","severity":"minor","request":{"kind":"number","label":"n","min":9,"max":1},"targets":{"sites":[1]}}');
frame('cancel-with-targets', '{"type":"publish","msg_type":"cancel","references":1,"targets":{"sites":[1]}}');
frame('hello-resume-bad', '{"type":"hello","resume":{"epoch":"","seq":-1}}');
frame('escapes', '{"type":"ping","ref":"\\b\\f\\n\\r\\t\\/\\\\\\"\\u00e9"}');

// ---- tokens
const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const b64 = (b) => Buffer.from(b).toString('base64url');
const sign = (head, k = key) => head + '.' + b64(createHmac('sha512', k).update(head).digest().subarray(0, 32));
const mint = (claims, k) => sign('v1.' + b64(typeof claims === 'string' ? claims : JSON.stringify(claims)), k);
const base = { clr: false, exp: 1900000000, iat: 1700000000, org: 4, role: 'site_console', site: 17, sub: 42, usr: 'console.gherkin' };
const token = (name, v) => put('token', name, v);
const good = mint(base);
token('valid', good);
token('valid-controller-no-site', mint({ ...base, role: 'controller', site: null, clr: true }));
token('valid-no-clr', mint((({ clr, ...c }) => c)(base)));
token('expired', mint({ ...base, exp: 1700000100 }));
token('wrong-key', mint(base, Buffer.alloc(32, 7)));
token('truncated-tag', good.slice(0, -5));
token('truncated-payload', good.slice(0, 20));
token('truncated-after-dot', good.slice(0, good.lastIndexOf('.') + 1));
token('no-tag', good.slice(0, good.lastIndexOf('.')));
token('v1-only', 'v1.');
token('v1-dot-dot', 'v1..');
token('wrong-version', 'v2' + good.slice(2));
token('extra-dot', good + '.x');
token('bad-base64-payload', sign('v1.' + '!!!!' + b64(JSON.stringify(base)).slice(4)));
token('bad-base64-tag', good.slice(0, -3) + '$$$');
token('padded-base64', sign('v1.' + Buffer.from(JSON.stringify(base)).toString('base64')));
token('std-base64-chars', good.replace(/-/g, '+').replace(/_/g, '/'));
token('payload-not-json', mint('not json at all'));
token('payload-array', mint('[1,2,3]'));
token('payload-empty-object', mint('{}'));
token('payload-dup-keys', mint('{"sub":1,"sub":2,"usr":"a","role":"admin","org":1,"site":null,"iat":1,"exp":1900000000}'));
token('payload-nul', mint('{"sub":1,"usr":"a\\u0000b","role":"admin","org":1,"site":null,"iat":1,"exp":1900000000}'));
token('role-unknown', mint({ ...base, role: 'superuser' }));
token('role-none', mint({ ...base, role: 'none' }));
token('sub-zero', mint({ ...base, sub: 0 }));
token('site-negative', mint({ ...base, site: -1 }));
token('org-string', mint({ ...base, org: '4' }));
token('clr-string', mint({ ...base, clr: 'yes' }));
token('exp-max', mint('{"sub":42,"usr":"u","role":"admin","org":1,"site":null,"iat":1,"exp":9223372036854775807}'));
token('exp-overflow', mint('{"sub":42,"usr":"u","role":"admin","org":1,"site":null,"iat":1,"exp":99999999999999999999}'));
token('exp-real', mint('{"sub":42,"usr":"u","role":"admin","org":1,"site":null,"iat":1,"exp":1.9e9}'));
token('usr-64', mint({ ...base, usr: 'u'.repeat(64) }));
token('usr-65', mint({ ...base, usr: 'u'.repeat(65) }));
token('usr-empty', mint({ ...base, usr: '' }));
token('usr-multibyte', mint({ ...base, usr: 'ünïcødé' }));
token('over-1024', mint({ ...base, pad: 'x'.repeat(1200) }));
token('empty', '');
token('short', 'v1.a');
token('binary', Buffer.from([0x76, 0x31, 0x2e, 0, 0xff, 0x2e, 0x80, 0x01]));
// bare claims: fuzz_token also signs its input as a token's payload
token('claims-valid', JSON.stringify(base));
token('claims-null-site-admin', '{"sub":1,"usr":"admin","role":"admin","org":1,"site":null,"iat":1,"exp":1900000000}');
token('claims-dup-keys', '{"sub":1,"sub":2,"usr":"a","role":"admin","org":1,"site":null,"iat":1,"exp":1900000000}');
token('claims-wrong-types', '{"sub":"1","usr":7,"role":["admin"],"org":{},"site":1.5,"iat":null,"exp":true,"clr":0}');
token('claims-deep', '{"sub":1,"x":' + '['.repeat(200) + ']'.repeat(200) + '}');
token('claims-int-limits', '{"sub":9223372036854775807,"usr":"u","role":"analyst","org":-9223372036854775808,"site":0,"iat":-1,"exp":9223372036854775807}');
// ---- alert events as a bus subscriber reads them (fuzz_alert: the
// signature check and the canonical form; docs/bus.md)
const alertEv = (name, v) => put('alert', name, typeof v === 'string' ? v : JSON.stringify(v));
const anAlert = { id: 41, seq: 41, status: 'actual', msg_type: 'alert', references: null, category: 'security',
  urgency: 'immediate', severity: 'severe', certainty: 'observed', headline: 'Gas leak "east" \\ wing',
  body: 'Line one\nline two\ttabbed \u0001 café 🚒 </script> \u2028', instruction: null,
  sent_at: '2026-12-07T15:00:00.000Z', effective: '2026-12-07T15:00:00.000Z', expires: null,
  area: { polygon: [[51.51381, -0.08701], [51.5142, -0.0861], [51.5129, -0.0859], [51.51381, -0.08701]] },
  classification: 'OFFICIAL', handling: null, request: null, images: [], cap_info: null, cancelled: false,
  relay: null, sender: { user_id: 3, display_name: 'PC Ada Hart', org_id: 2, org_name: 'City Police' },
  source: { kind: 'person' } };
const sig = { alg: 'Ed25519', key_id: 'fuzz', sig: 'A'.repeat(86) + '==' };
const event = (alert, signature = sig) => ({ type: 'alert.published', at: '2026-12-07T15:00:00.010Z',
  alert_id: alert.id, headline: alert.headline, durable: 'database', alert, signature });
alertEv('published', event(anAlert));
alertEv('unknown-key', event(anAlert, { ...sig, key_id: '3f9c0a7be21d4c58' }));
alertEv('no-signature', (({ signature, ...e }) => e)(event(anAlert)));
alertEv('sig-not-base64', event(anAlert, { ...sig, sig: '!!not base64!!' }));
alertEv('sig-short', event(anAlert, { ...sig, sig: 'AAAA' }));
alertEv('alg-other', event(anAlert, { ...sig, alg: 'RS256' }));
alertEv('numbers', event({ id: 9007199254740991, n: [0, -0.0, 0.1, 1e-7, 1e21, 1e+300, 5e-324, 123456789012, -2.5e-8] }));
alertEv('integer-beyond-2-53', event({ id: 9007199254740993 }));
alertEv('alert-not-object', event([1, 2, 3]));
alertEv('escapes', '{"alert":{"k":"\\u0000x\\u001f\\u007f\\ud83d\\ude92\\u2028\\/"},"signature":null}');
alertEv('deep', '{"alert":{"a":' + '['.repeat(100) + ']'.repeat(100) + '}}');
alertEv('keys-unsorted', '{"alert":{"b":1,"a":{"é":1,"e":2,"Z":3,"aa":[true,false,null]}}}');
console.log('seeds written to', join(here, 'corpus'));
