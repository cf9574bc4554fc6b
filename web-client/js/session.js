// session.js: the sign-in state, kept in memory (the refresh cookie brings
// it back after a reload), the pages' encrypted caches, and the WebSocket
// session every console page shares (docs/protocol.md, "WebSocket session").
//
// A Session opens /ws with subprotocol tocsin.v1, sends `hello` as soon as
// the socket is open, waits for `welcome`, asks for the `directory`, then
// hands every frame to the handlers registered with on(type, fn). When the
// connection drops it reconnects on its own with exponential back-off
// (500 ms doubling to 15 s, full jitter) and reports its state through the
// "state" event so the page can keep #conn up to date. A close with 4401,
// or an `error` frame whose code starts with auth_, sends the user back to
// the sign-in page: the token is no good and retrying cannot help.

const KEY_PREFIX = 'tocsin.';
const CACHE_PREFIX = 'tocsin.c.';    // encrypted page caches in sessionStorage

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
const HANDSHAKE_TIMEOUT_MS = 15000;  // socket open + hello + welcome
const PING_INTERVAL_MS = 20000;      // application-level ping while idle
const SILENCE_LIMIT_MS = 45000;      // no frame at all for this long: drop
const STABLE_AFTER_MS = 10000;       // a session this old resets the back-off
const REFRESH_RETRY_MS = 5000;       // a refused (unavailable) refresh retries
const REFRESH_GAP_MS = 10000;        // never refresh again sooner than this

const HOME_BY_ROLE = {
  controller: 'control.html',
  analyst: 'control.html',
  site_console: 'console.html',
  company_operator: 'console.html',
  admin: 'admin.html',
  inspector: 'inspector.html',
};

/* ---- The sign-in, in memory only ---------------------------------------
 *
 * The token and the user live in this module's memory, never in
 * sessionStorage or localStorage (issue 16: any script of the page, or
 * anyone at the device's disk, could read them there). A page that starts
 * without them (every page load, a reload too) asks POST /api/refresh,
 * which the browser sends with the HttpOnly cookie set at sign-in
 * (docs/security.md, "The consoles' token"). */
const current = { token: null, user: null };

export function getToken() {
  return current.token;
}

export function getUser() {
  return current.user;
}

/* ---- Page caches, encrypted ---------------------------------------------
 *
 * What a page caches to survive a reload (the alerts a console showed, the
 * alerts a desk sent: OFFICIAL-SENSITIVE text among them) is kept in
 * memory and written to sessionStorage encrypted (AES-GCM) under the key
 * POST /api/refresh gives with the token: the broker derives it from the
 * cookie's secret, so neither the storage nor the database holds it, and
 * signing out (the credential revoked) leaves only ciphertext behind.
 * Without WebCrypto (a page served over plain http from another host than
 * localhost) the caches live in memory only. */
const cache = new Map();      // name -> value
const cacheSeq = new Map();   // name -> the latest write's number
let cacheKey = null;          // CryptoKey, not extractable

const b64 = {
  enc: (bytes) => btoa(String.fromCharCode(...bytes)),
  dec: (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)),
  url: (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)),
};

async function openCache(rawKey) {
  cache.clear();
  cacheKey = null;
  if (!rawKey || !globalThis.crypto?.subtle) return;
  try {
    cacheKey = await crypto.subtle.importKey('raw', b64.url(rawKey), 'AES-GCM', false, ['encrypt', 'decrypt']);
  } catch {
    return;
  }
  for (const k of storedKeys(CACHE_PREFIX)) {
    try {
      const blob = b64.dec(sessionStorage.getItem(k));
      const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: blob.slice(0, 12) }, cacheKey, blob.slice(12));
      cache.set(k.slice(CACHE_PREFIX.length), JSON.parse(new TextDecoder().decode(plain)));
    } catch {
      sessionStorage.removeItem(k);   // another sign-in's, or damaged
    }
  }
}

function storedKeys(prefix) {
  const keys = [];
  try {
    for (let i = 0; i < sessionStorage.length; i++) {
      const k = sessionStorage.key(i);
      if (k && k.startsWith(prefix)) keys.push(k);
    }
  } catch {
    /* storage unavailable */
  }
  return keys;
}

/* Forget everything this client keeps for the tab (the sign-in, the page
 * caches), so that the next person at the desk starts clean. */
export function clearSession() {
  current.token = null;
  current.user = null;
  cache.clear();
  cacheKey = null;
  try {
    storedKeys(KEY_PREFIX).forEach((k) => sessionStorage.removeItem(k));
  } catch {
    /* storage unavailable: nothing to clear */
  }
}

/* A page-scoped JSON cache (cleared by clearSession). */
export function loadCache(name, fallback) {
  return cache.has(name) ? cache.get(name) : fallback;
}

export function saveCache(name, value) {
  cache.set(name, value);
  if (!cacheKey) return;
  const seq = (cacheSeq.get(name) || 0) + 1;
  cacheSeq.set(name, seq);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  crypto.subtle.encrypt({ name: 'AES-GCM', iv }, cacheKey, new TextEncoder().encode(JSON.stringify(value)))
    .then((ct) => {
      if (cacheSeq.get(name) !== seq || !cacheKey) return;   // a newer write, or signed out
      const blob = new Uint8Array(12 + ct.byteLength);
      blob.set(iv);
      blob.set(new Uint8Array(ct), 12);
      sessionStorage.setItem(CACHE_PREFIX + name, b64.enc(blob));
    })
    .catch(() => { /* quota or storage disabled: the cache is a convenience only */ });
}

/* The console's position in the alert stream (docs/protocol.md §3), kept
 * in localStorage per user so that it survives reloads, new tabs and
 * signing in again: {epoch: string, seq: integer}. */
function cursorKey(userId) {
  return `${KEY_PREFIX}cursor.${userId}`;
}

// A cursor is {epoch, seq, since}: since is where its unbroken run of
// positions began (the head when the page last started afresh), which the
// broker uses to record deliveries it lost (docs/protocol.md). A cursor
// saved before it had since starts its run where it is.
export function loadCursor(userId) {
  try {
    const c = JSON.parse(localStorage.getItem(cursorKey(userId)) || 'null');
    if (c && typeof c.epoch === 'string' && Number.isInteger(c.seq) && c.seq >= 0) {
      if (!Number.isInteger(c.since) || c.since < 0 || c.since > c.seq) c.since = c.seq;
      return c;
    }
  } catch {
    /* unreadable: start afresh */
  }
  return null;
}

export function saveCursor(userId, cursor) {
  try {
    if (cursor) localStorage.setItem(cursorKey(userId), JSON.stringify(cursor));
    else localStorage.removeItem(cursorKey(userId));
  } catch {
    /* storage disabled: resume only within this page's life */
  }
}

/* The claims of a v1 token ({sub, role, iat, exp, …}), or null. The page
 * reads them only to know when to refresh; the broker checks the token. */
export function tokenClaims(token) {
  try {
    const [v, payload] = String(token).split('.');
    if (v !== 'v1' || !payload) return null;
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const c = JSON.parse(json);
    return c && typeof c === 'object' ? c : null;
  } catch {
    return null;
  }
}

export function homeFor(role) {
  return HOME_BY_ROLE[role] || null;
}

/* A token for this page from the refresh cookie: {token, user, cache_key},
 * null when there is no valid sign-in (401), or 'retry' when the broker did
 * not answer. */
async function refreshFromCookie() {
  try {
    const res = await fetch('/api/refresh', { method: 'POST', credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 204 || res.status === 401 || res.status === 403) return null;   // not signed in
    if (!res.ok) return 'retry';
    const body = await res.json();
    return body && typeof body.token === 'string' && body.user ? body : null;
  } catch {
    return 'retry';
  }
}

/* Called first by every page but the sign-in page. Resolves {token, user}
 * when the tab is signed in (the refresh cookie) with a role this page
 * serves; otherwise starts a redirect and resolves null. While the broker
 * does not answer it keeps asking. */
export async function requireSession(roles) {
  let got = await refreshFromCookie();
  for (let wait = 1000; got === 'retry'; wait = Math.min(wait * 2, 15000)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    got = await refreshFromCookie();
  }
  if (!got) {
    clearSession();
    location.replace('index.html');
    return null;
  }
  current.token = got.token;
  current.user = got.user;
  await openCache(got.cache_key);
  if (roles && !roles.includes(got.user.role)) {
    const home = homeFor(got.user.role);
    if (!home) clearSession();
    location.replace(home || 'index.html');
    return null;
  }
  return { token: got.token, user: got.user };
}

/* Sign-out: the session closes, the refresh credential is revoked and its
 * cookie cleared (POST /api/logout), and the tab forgets everything. */
export async function signOut(session) {
  if (session) session.stop();
  try {
    await fetch('/api/logout', { method: 'POST', credentials: 'same-origin', cache: 'no-store' });
  } catch {
    /* unreachable: the credential ends at its expiry; the tab forgets anyway */
  }
  clearSession();
  location.replace('index.html');
}

function backToSignIn(reason) {
  clearSession();
  const q = reason ? `?reason=${encodeURIComponent(reason)}` : '';
  location.replace(`index.html${q}`);
}

export function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/* The counts of a `tally` frame merged into the counts known before. They
 * only grow, but two tallies of one alert may arrive out of order
 * (delivery records and acknowledgements are stored over separate database
 * connections), so the larger of each is kept. */
export const TALLY_COUNTS = ['recipients', 'delivered', 'read', 'acknowledged', 'escalated'];
export function mergeTally(known, t) {
  const merged = { ...(known ?? {}), ...t };
  for (const k of TALLY_COUNTS) {
    if (Number.isInteger(known?.[k]) && Number.isInteger(t[k])) merged[k] = Math.max(known[k], t[k]);
  }
  return merged;
}

/* ---- The WebSocket session -------------------------------------------- */

export class Session {
  constructor(token) {
    this.token = token;
    this.handlers = new Map();   // type -> [fn]
    this.pending = new Map();    // ref -> the request frame, until answered
    this.refCounter = 0;
    this.ws = null;
    this.state = 'connecting';
    this.welcomed = false;
    this.everWelcomed = false;
    this.welcomedAt = 0;
    this.offlineSince = null;    // Date the connection was lost
    this.attempt = 0;
    this.retryTimer = null;
    this.retryAt = 0;
    this.handshakeTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.stopped = false;
    this.helloRef = null;
    this.refreshTimer = null;
    this.serverOffsetMs = 0;     // broker clock minus ours (from welcome)
    // Set by a console page: returns {epoch, seq} to resume from, or null.
    this.resumeFrom = null;
    this.onOnline = () => {
      if (this.retryTimer && !this.stopped) {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.connect();
      }
    };
  }

  /* Register a handler for a frame type ("welcome", "alert", "error", …)
   * or for one of the session events:
   *   "state"  (state, session)   connecting | connected | reconnecting
   *   "lost"   (requests[])       the connection dropped; these requests
   *                               were sent and never answered
   *   "resume_refused" (error)    the broker refused hello.resume; the
   *                               session signs in again without it
   * A frame handler is called as fn(frame, request), where request is the
   * frame this client sent with the same ref, if any. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  emit(type, ...args) {
    for (const fn of this.handlers.get(type) || []) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`tocsin: handler for ${type} failed`, err);
      }
    }
  }

  start() {
    window.addEventListener('online', this.onOnline);
    this.setState('connecting');
    this.connect();
    return this;
  }

  /* Sign-out: close for good, no reconnection. */
  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    this.clearTimers();
    if (this.ws) {
      const ws = this.ws;
      this.detach(ws);
      try { ws.close(1000, 'signed out'); } catch { /* already closed */ }
    }
    this.ws = null;
  }

  get connected() {
    return this.state === 'connected';
  }

  nextRef(type) {
    this.refCounter += 1;
    return `${type}-${this.refCounter}`;
  }

  /* Send a request once the session is welcomed. Returns the ref it
   * carries, or null when the session is not connected (nothing sent). */
  request(type, fields = {}) {
    if (!this.welcomed || !this.ws || this.ws.readyState !== WebSocket.OPEN) return null;
    const ref = this.nextRef(type);
    const frame = { type, ref, ...fields };
    this.pending.set(ref, frame);
    try {
      this.ws.send(JSON.stringify(frame));
    } catch (err) {
      this.pending.delete(ref);
      console.error('tocsin: send failed', err);
      return null;
    }
    return ref;
  }

  setState(state) {
    this.state = state;
    this.emit('state', state, this);
  }

  connect() {
    if (this.stopped) return;
    this.retryTimer = null;
    this.welcomed = false;
    let ws;
    try {
      ws = new WebSocket(wsUrl(), 'tocsin.v1');
    } catch (err) {
      console.error('tocsin: cannot open WebSocket', err);
      this.dropped();
      return;
    }
    this.ws = ws;
    this.lastFrameAt = Date.now();
    this.handshakeTimer = setTimeout(() => {
      console.warn('tocsin: no welcome in time; reconnecting');
      this.abandon(ws);
    }, HANDSHAKE_TIMEOUT_MS);

    ws.onopen = () => {
      if (ws.protocol && ws.protocol !== 'tocsin.v1') {
        console.warn(`tocsin: unexpected subprotocol ${ws.protocol}`);
      }
      this.sendHello(ws, true);
    };
    ws.onmessage = (ev) => this.receive(ws, ev);
    ws.onerror = () => { /* a close event always follows */ };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.detach(ws);
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === 4401) {
        backToSignIn(ev.reason || 'auth');
        return;
      }
      // 1001 (shutting down), 4409 (too slow), 1006 (network) and anything
      // else: a console must come back, so reconnect with back-off. 1000 and
      // 1009 are not expected from the broker at all; reconnecting is still
      // the safe answer for a desk that must not miss an alert.
      this.dropped();
    };
  }

  sendHello(ws, withResume) {
    const hello = { type: 'hello', token: this.token, ref: this.nextRef('hello') };
    const resume = withResume && this.resumeFrom ? this.resumeFrom() : null;
    if (resume) {
      hello.resume = { epoch: resume.epoch, seq: resume.seq };
      if (Number.isInteger(resume.since)) hello.resume.since = resume.since;
    }
    this.helloRef = hello.ref;
    try {
      ws.send(JSON.stringify(hello));
    } catch (err) {
      console.warn('tocsin: cannot send hello', err);
    }
  }

  receive(ws, ev) {
    if (ws !== this.ws) return;
    this.lastFrameAt = Date.now();
    if (typeof ev.data !== 'string') {
      console.warn('tocsin: ignoring a binary frame');
      return;
    }
    let frame;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      console.warn('tocsin: ignoring a frame that is not JSON');
      return;
    }
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;

    let request;
    if (typeof frame.ref === 'string' && this.pending.has(frame.ref)) {
      request = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
    }

    if (frame.type === 'error' && typeof frame.code === 'string' && frame.code.startsWith('auth_')) {
      this.stop();
      backToSignIn(frame.code);
      return;
    }

    // The broker refused our resume position: the connection stays open,
    // not signed in. Forget the position and sign in without it.
    if (frame.type === 'error' && !this.welcomed && frame.ref && frame.ref === this.helloRef &&
        String(frame.field || '').startsWith('resume')) {
      this.emit('resume_refused', frame);
      this.sendHello(ws, false);
      return;
    }

    // Token refresh (docs/protocol.md "Token lifecycle") is the session's
    // own business: pages only hear "token" with the new one.
    if (frame.type === 'refreshed' && typeof frame.token === 'string') {
      this.adoptToken(frame.token);
      return;
    }
    if (frame.type === 'error' && request?.type === 'refresh') {
      console.warn(`tocsin: token refresh refused (${frame.code}); retrying`);
      this.scheduleRefresh(REFRESH_RETRY_MS);
      return;
    }

    if (frame.type === 'welcome') {
      clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
      const reconnect = this.everWelcomed;
      this.welcomed = true;
      this.everWelcomed = true;
      this.welcomedAt = Date.now();
      this.offlineSince = null;
      const serverNow = Date.parse(frame.server_time);
      if (Number.isFinite(serverNow)) this.serverOffsetMs = serverNow - Date.now();
      this.startPings();
      this.scheduleRefresh();
      this.setState('connected');
      this.emit('welcome', frame, { reconnect });
      this.request('directory');
      return;
    }

    this.emit(frame.type, frame, request);
  }

  /* Ask for a new token when less than a third of this one's lifetime is
   * left (or after `delayMs`), so that a console open all day stays signed
   * in without a password. A refresh that cannot be sent waits for the next
   * welcome, which schedules it again. */
  scheduleRefresh(delayMs, minMs = 1000) {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const c = tokenClaims(this.token);
    if (!c || !Number.isFinite(c.exp) || !Number.isFinite(c.iat) || c.exp <= c.iat) return;
    // Token times are the broker's: compare with the broker's clock.
    const now = Date.now() + this.serverOffsetMs;
    const dueMs = (c.exp - (c.exp - c.iat) / 3) * 1000;
    if (now >= c.exp * 1000) return;  // expired: the broker closes with 4401
    const delay = delayMs ?? Math.max(minMs, dueMs - now);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (!this.request('refresh')) console.warn('tocsin: token refresh waits for the connection');
    }, delay);
  }

  adoptToken(token) {
    this.token = token;
    current.token = token;   // memory only
    this.emit('token', token);
    this.scheduleRefresh(undefined, REFRESH_GAP_MS);
  }

  startPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || !this.welcomed) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        console.warn('tocsin: the broker went silent; reconnecting');
        this.abandon(ws);
        return;
      }
      this.request('ping');
    }, PING_INTERVAL_MS);
  }

  clearTimers() {
    clearTimeout(this.handshakeTimer);
    clearInterval(this.pingTimer);
    this.handshakeTimer = null;
    this.pingTimer = null;
  }

  detach(ws) {
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    this.clearTimers();
  }

  /* Give up on a socket that is stuck (no welcome, or silent) without
   * waiting for a close handshake that may never finish. */
  abandon(ws) {
    if (ws !== this.ws) return;
    this.detach(ws);
    this.ws = null;
    try { ws.close(1000, 'unresponsive'); } catch { /* ignore */ }
    this.dropped();
  }

  dropped() {
    if (this.stopped) return;
    const wasWelcomed = this.welcomed;
    this.welcomed = false;
    this.clearTimers();
    if (wasWelcomed && Date.now() - this.welcomedAt >= STABLE_AFTER_MS) this.attempt = 0;
    if (!this.offlineSince) this.offlineSince = new Date();

    const lost = [...this.pending.values()];
    this.pending.clear();
    if (lost.length) this.emit('lost', lost);

    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = Math.floor(Math.random() * ceiling);
    this.attempt = Math.min(this.attempt + 1, 30);
    this.retryAt = Date.now() + delay;
    this.setState('reconnecting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
