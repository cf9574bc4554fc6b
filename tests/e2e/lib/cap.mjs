// lib/cap.mjs: build/tocsin-cap for the CAP tests (110-118): run it,
// register a CAP adapter on a bus stack with the arguments its import
// needs, and sign CAP as a registered sender would (116, 118).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT, run } from './harness.mjs';
import * as bus from './bus.mjs';

export const CAP = path.join(ROOT, 'build/tocsin-cap');
export const EXAMPLES = path.join(ROOT, 'tests/cap/examples');

// Runs a program; resolves { code, out, err }.
export function runCap(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 90_000, cwd: ROOT, maxBuffer: 16 << 20 }, (err, out, errOut) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out, err: errOut }));
  });
}

export const show = (r) => `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`;

// Registers adapter `name` (bound to the controller) and returns it with
// the arguments of `tocsin-cap import` (state in tmp, targets the sites;
// without sites, the message's own area, as geocodes map it, or the
// control room's inbox as a pending import).
export async function capAdapter(st, tmp, name, sites) {
  const adapter = await bus.addAdapter(st, name, 'controller');
  const ep = bus.busEndpoints(st);
  const serverKey = path.join(tmp, 'server.key.pub');
  fs.writeFileSync(serverKey, `public ${ep.serverPublicKey}\n`);
  const args = ['--bus', ep.ingest, '--server-key', serverKey, '--key', adapter.keyFile,
    '--state', path.join(tmp, 'state'), '--timeout', '60'];
  if (sites) args.push('--targets', JSON.stringify({ sites }));
  return { adapter, args };
}

// A console signs in to the alerts in force for its site (issue 17), the
// most urgent on the banner: acknowledges them all as that console, so
// that the banner of a page opened next shows what comes after.
export async function ackInForce(st, username) {
  const earlier = await st.connectAs(username, { label: 'ack-in-force' });
  await earlier.next('in_force_done', 20000);
  for (const m of earlier.seen.filter((x) => x.type === 'in_force')) {
    const r = await earlier.request({ type: 'ack', alert_id: m.alert_id ?? m.alert.id });
    if (r.type !== 'acked') throw new Error(`ack of an alert in force: ${JSON.stringify(r)}`);
  }
  earlier.close();
}

const XMLSEC = '/usr/bin/xmlsec1';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';

// A P-256 key and a self-signed certificate for each name, made by
// openssl in dir: { name: { key, cert } }.
export async function senderKeys(dir, names) {
  const keys = {};
  for (const k of names) {
    const key = path.join(dir, `${k}.key.pem`), cert = path.join(dir, `${k}.cert.pem`);
    const r = await run('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${k}.police.example`, '-days', '2']);
    if (r.code !== 0) throw new Error(`openssl req: ${r.stderr}`);
    keys[k] = { key, cert };
  }
  return keys;
}

// doc (CAP text) with an enveloped XML Signature made by xmlsec1 with the
// PEM private key keyFile, as the last child of <alert>: ECDSA P-256 over
// SHA-256, one reference to the whole document (URI=""), and the extra
// transforms given (XML text) after enveloped-signature. Temporary files
// in dir. Returns the signed text.
export async function signCap(dir, doc, keyFile, transforms = '') {
  const tmpl = `<Signature xmlns="${DSIG}">
<SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
<Reference URI="">
<Transforms>
<Transform Algorithm="${DSIG}enveloped-signature"/>${transforms}
<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
</Transforms>
<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<DigestValue/>
</Reference>
</SignedInfo>
<SignatureValue/>
</Signature>
`;
  const t = path.join(dir, `tmpl-${Math.random().toString(16).slice(2)}.xml`);
  fs.writeFileSync(t, doc.replace('</alert>', `${tmpl}</alert>`));
  const r = await run(XMLSEC, ['--sign', '--privkey-pem', keyFile, '--output', `${t}.signed`, t]);
  if (r.code !== 0) throw new Error(`xmlsec1 --sign: ${r.stderr}`);
  return fs.readFileSync(`${t}.signed`, 'utf8');
}
