// Helpers for the offender-image tests (32-images.test.mjs): real PNG and
// JPEG bytes built here, and an HTTP client that keeps bodies binary (the
// harness's httpRequest decodes them as UTF-8).

import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';

export const IMAGE_MAX = 2 * 1024 * 1024;
export const IMAGE_ID = /^[A-Za-z0-9_-]{22}$/;

export const sha256hex = (buf) => createHash('sha256').update(buf).digest('hex');

// ------------------------------------------------------------ PNG

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// A valid 8-bit RGB PNG of width x height. noise: pseudo-random pixels
// (seeded, so incompressible and repeatable), else a gradient.
export function makePng(width, height, { seed = 1, noise = false } = {}) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let s = seed >>> 0 || 1;
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width * 3; x++) {
      if (noise) {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        raw[row + 1 + x] = s & 0xff;
      } else {
        raw[row + 1 + x] = (x * 7 + y * 13) & 0xff;
      }
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

// ------------------------------------------------------------ JPEG

// A valid baseline JPEG: 8x8 pixels of one grey, one component. Every
// block's DC difference is 0 and all its AC coefficients are 0, so the
// scan needs one Huffman code in each table ("0": DC category 0, AC EOB).
export function makeJpeg() {
  const seg = (marker, body) => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(body.length + 2);
    return Buffer.concat([Buffer.from([0xff, marker]), len, body]);
  };
  const app0 = seg(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0]));
  const dqt = seg(0xdb, Buffer.concat([Buffer.from([0x00]), Buffer.alloc(64, 1)]));
  const sof0 = seg(0xc0, Buffer.from([8, 0, 8, 0, 8, 1, 1, 0x11, 0]));
  const huff = (classId) => {
    const counts = Buffer.alloc(16);
    counts[0] = 1; // one code of length 1
    return Buffer.concat([Buffer.from([classId]), counts, Buffer.from([0x00])]);
  };
  const dht = seg(0xc4, Buffer.concat([huff(0x00), huff(0x10)]));
  const sos = seg(0xda, Buffer.from([1, 1, 0x00, 0, 63, 0]));
  const scan = Buffer.from([0x3f]); // bits 0 (DC), 0 (EOB), then padding ones
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, dqt, sof0, dht, sos, scan,
    Buffer.from([0xff, 0xd9])]);
}

// ------------------------------------------------------------ HTTP

// One HTTP request with a binary body both ways. Resolves
// { status, headers, body (Buffer), json, text, socket } once the answer is complete,
// even when the server answered (and closed) before taking the whole
// request body. token: sent as Authorization: Bearer. agent: an
// http.Agent to share a keep-alive connection (default: a connection of
// its own).
export function request(broker, method, urlPath,
  { body, headers = {}, token, contentType, agent = false, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (contentType) h['content-type'] = contentType;
    if (body != null) h['content-length'] = Buffer.byteLength(body);
    const req = http.request({ host: '127.0.0.1', port: broker.port, method, path: urlPath, headers: h, agent });
    let answered = false;
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${urlPath}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        answered = true;
        const buf = Buffer.concat(chunks);
        let json;
        if (/json/.test(res.headers['content-type'] || '')) {
          try { json = JSON.parse(buf.toString('utf8')); } catch { json = undefined; }
        }
        resolve({ status: res.statusCode, headers: res.headers, body: buf, json,
          text: json ? buf.toString('utf8') : `<${buf.length} bytes>`, socket: res.socket });
      });
      res.on('error', (err) => { if (!answered) { clearTimeout(timer); reject(err); } });
    });
    req.on('error', (err) => { if (!answered) { clearTimeout(timer); reject(err); } });
    if (body != null) req.write(body);
    req.end();
  });
}

export function upload(broker, token, bytes, contentType = 'image/png', opts = {}) {
  return request(broker, 'POST', '/api/images', { body: bytes, token, contentType, ...opts });
}

export function fetchImage(broker, token, id, opts = {}) {
  return request(broker, 'GET', `/api/images/${id}`, { token, ...opts });
}

// Raw bytes to the broker's port; resolves what came back when the server
// closed the connection (or after waitMs). For requests an HTTP client
// will not send: a declared body that never comes, a client that hangs up.
export function rawExchange(broker, data, { waitMs = 5000, closeAfterWrite = false } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(broker.port, '127.0.0.1');
    const chunks = [];
    let done = false;
    const finish = (closedByServer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    sock.on('connect', () => {
      sock.write(data, () => { if (closeAfterWrite) finish(false); });
    });
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (err) => { if (!done && chunks.length === 0 && !closeAfterWrite) { done = true; clearTimeout(timer); reject(err); } else finish(true); });
  });
}
