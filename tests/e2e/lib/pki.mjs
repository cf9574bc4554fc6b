// A test certificate authority made with the openssl CLI, and the
// certificates it signs (tests 92-nginx, 94-reload): a server certificate
// for given names with a chosen serial, renewed by issuing another.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const openssl = (args) => execFileSync('openssl', args, { stdio: 'pipe', timeout: 30_000 });

// { cert, key } of a new CA in dir (EC P-256, two days).
export function makeCa(dir, name = 'Tocsin test CA') {
  const cert = path.join(dir, 'ca.pem');
  const key = path.join(dir, 'ca-key.pem');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { cert, key };
}

// A server certificate signed by ca for dns names and ip addresses, with
// serial (a positive integer), written to dir/<label>.pem and
// dir/<label>-key.pem (a new key each time): { cert, key, serial (hex, as
// node's X509Certificate writes it) }.
export function issue(dir, ca, { label, serial, dns = [], ips = [] }) {
  const cert = path.join(dir, `${label}.pem`);
  const key = path.join(dir, `${label}-key.pem`);
  const csr = path.join(dir, `${label}.csr`);
  const ext = path.join(dir, `${label}.ext`);
  const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(',');
  fs.writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', csr, '-subj', `/CN=${dns[0] || ips[0]}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(serial),
    '-days', '2', '-extfile', ext, '-out', cert]);
  fs.rmSync(csr);
  fs.rmSync(ext);
  return { cert, key, serial: new X509Certificate(fs.readFileSync(cert)).serialNumber };
}

// Base64 of the SHA-256 of a certificate's SubjectPublicKeyInfo: what
// Chromium's --ignore-certificate-errors-spki-list takes.
export function spkiHash(certFile) {
  const x = new X509Certificate(fs.readFileSync(certFile));
  const spki = x.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}
