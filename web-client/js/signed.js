// signed.js: checks the Ed25519 signature an alert frame carries
// (docs/protocol.md, "Signed alerts") with WebCrypto, before the alert is
// shown. The canonical form is RFC 8785's: JSON.stringify writes every
// string and number exactly as the broker does (base/canon_json.c), and
// members are sorted by UTF-16 code units, which is what sort() does.
// No DOM: Node's tests import it too.

// The canonical text of a parsed JSON value.
export function canonical(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
}

function bytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// The public keys (GET /api/keys/alerts), imported once per key id.
export class AlertKeys {
  constructor(fetchKeys) {
    this.fetchKeys = fetchKeys; // () => Promise of the keys document
    this.keys = new Map();      // key_id -> Promise of a CryptoKey
    this.loaded = null;
  }

  async load(force) {
    if (!this.loaded || force) {
      this.loaded = this.fetchKeys().then((doc) => {
        for (const k of doc?.keys || []) {
          if (!this.keys.has(k.key_id)) {
            this.keys.set(k.key_id, crypto.subtle.importKey('raw', bytes(k.public_key),
              { name: 'Ed25519' }, false, ['verify']));
          }
        }
      }).catch((e) => { this.loaded = null; throw e; });
    }
    return this.loaded;
  }

  // 'valid', 'unsigned', 'unknown_key' or 'bad': the words of the broker.
  async verify(alert, signature) {
    if (!signature || signature.alg !== 'Ed25519' || !signature.key_id || !signature.sig) return 'unsigned';
    if (!this.keys.has(signature.key_id)) {
      try { await this.load(true); } catch { /* the key stays unknown */ }
    }
    if (!this.keys.has(signature.key_id)) return 'unknown_key';
    let key, sig;
    try {
      key = await this.keys.get(signature.key_id);
      sig = bytes(signature.sig);
    } catch {
      return 'bad';
    }
    const data = new TextEncoder().encode(canonical(alert));
    return (await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, data)) ? 'valid' : 'bad';
  }
}

// The keys of the broker that served the page (GET /api/keys/alerts):
// every page that shows alerts checks them against these.
export function brokerKeys() {
  return new AlertKeys(async () => {
    const r = await fetch('/api/keys/alerts', { cache: 'no-store' });
    if (!r.ok) throw new Error(`GET /api/keys/alerts: ${r.status}`);
    return r.json();
  });
}

// The words and the class of the mark for a check's result (undefined:
// nothing to check, 'checking', or a word of verify()), the same on every
// page.
export function signatureWords(result) {
  if (!result) return '';
  if (result === 'checking') return 'Checking the signature…';
  if (result === 'valid') return '✓ Verified: signed by the broker';
  return '⚠ UNVERIFIED: this alert\'s signature does not check out (altered in transit, or not from the broker). Confirm by phone before acting on it.';
}

export function signatureMarkClass(result) {
  if (!result || result === 'checking') return 'signature-mark';
  return `signature-mark ${result === 'valid' ? 'signature-valid' : 'signature-bad'}`;
}
