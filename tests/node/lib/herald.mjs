// Test harness: runs the real `herald` binary on a temporary data dir and speaks the
// client protocol (docs/protocol.md) to it with an independent client built on `ws`.
// Every wait is bounded, so a misbehaving server fails a test instead of hanging it.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import * as jose from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
export const NODE_TESTS_DIR = path.resolve(here, '..');
export const HERALD_BINARY = process.env.HERALD_BINARY
  ? path.resolve(process.env.HERALD_BINARY)
  : path.resolve(NODE_TESTS_DIR, '../../build/herald');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowS = () => Math.floor(Date.now() / 1000);

// Resolves with `promise`, or rejects with a clear message after `ms`.
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The environment for herald: without any HERALD_* variable (HERALD_BINARY included),
// because herald refuses unknown ones and the tests configure it by flags only.
const serverEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_')));

function run(file, args, { timeout = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout, maxBuffer: 1 << 20, env: serverEnv() }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\nstdout: ${stdout}\nstderr: ${stderr}`;
        reject(err);
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

// ---------------------------------------------------------------------------------
// Tokens

const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const b64urlJson = (obj) => b64url(Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)));

// An HS256 token made with jose, the way an app's back end would make it.
export async function hs256(secret, claims, header = {}) {
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header })
    .sign(new TextEncoder().encode(secret));
}

// An ES256 or EdDSA token made with jose from a private key of generateKeyPair.
export async function signAsym(alg, privateKey, claims, header = {}) {
  return new jose.SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(privateKey);
}

// A key pair for client tokens, with its public key as PEM (for --client-public-key)
// and as DER (SPKI), for the key-confusion tests.
export async function makeKeyPair(alg) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  const pem = await jose.exportSPKI(publicKey);
  const der = Buffer.from(
    pem
      .replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '')
      .replace(/\s+/g, ''),
    'base64',
  );
  const jwk = await jose.exportJWK(publicKey);
  return { alg, publicKey, privateKey, pem, der, jwk };
}

// A hand-made token: header and payload objects (or raw strings, taken as the JSON
// text), signed with HMAC-SHA256 over `key` (bytes or string) when `key` is given,
// else with the given raw `signature` (default empty).
export function craftToken(header, payload, { key, signature = '' } = {}) {
  const input = `${b64urlJson(header)}.${b64urlJson(payload)}`;
  if (key !== undefined) return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
  return `${input}.${signature}`;
}

// ---------------------------------------------------------------------------------
// Signing

// RFC 3986 unreserved characters stay, every other byte is %XX (docs/signing.md).
const pctEncode = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

// The canonical query of docs/signing.md: parameters decoded and re-encoded, sorted.
export function canonicalQuery(query) {
  return query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const [name, value] = eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
      return `${pctEncode(decodeURIComponent(name))}=${pctEncode(decodeURIComponent(value))}`;
    })
    .sort((a, b) => {
      const [an, av] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
      const [bn, bv] = [b.slice(0, b.indexOf('=')), b.slice(b.indexOf('=') + 1)];
      return Buffer.compare(Buffer.from(an), Buffer.from(bn)) || Buffer.compare(Buffer.from(av), Buffer.from(bv));
    })
    .join('&');
}

// ---------------------------------------------------------------------------------
// The server

const DEFAULT_FLAGS = {
  'server.port': '0',
  'log.format': 'json',
  'log.access': 'false',
  'limits.shutdown_grace': '1s',
};

export class Herald {
  constructor(dataDir, ownsDir) {
    this.dataDir = dataDir;
    this.ownsDir = ownsDir;
    this.proc = null;
    this.logs = [];
    this.port = 0;
    this.apps = {};
  }

  // A server on a new temporary data dir (or `dataDir`, e.g. to restart on the same
  // state); call createApp() before start().
  static async create({ dataDir } = {}) {
    if (dataDir) return new Herald(dataDir, false);
    return new Herald(await mkdtemp(path.join(os.tmpdir(), 'herald-node-')), true);
  }

  // Starts a server with flags { 'push.connect_timeout': '1s', ... } on top of the
  // defaults; resolves once it logs `listening`.
  static async start(flags = {}, opts = {}) {
    const h = await Herald.create(opts);
    try {
      if (opts.apps) for (const a of opts.apps) await h.createApp(a);
      await h.start(flags);
    } catch (e) {
      await h.stop();
      throw e;
    }
    return h;
  }

  // `herald app create` on the data dir (the server loads apps when it starts).
  // publicKeyPems: PEM texts for --client-public-key.
  async createApp({ name, publicKeyPems = [], audience, issuer, requireExp = true }) {
    if (this.proc) throw new Error('createApp must run before start()');
    const args = ['app', 'create', '--data-dir', this.dataDir, '--name', name, '--json'];
    for (const [i, pem] of publicKeyPems.entries()) {
      const file = path.join(this.dataDir, `${name}-key${i}.pem`);
      await writeFile(file, pem);
      args.push('--client-public-key', file);
    }
    if (audience !== undefined) args.push('--jwt-audience', audience);
    if (issuer !== undefined) args.push('--jwt-issuer', issuer);
    args.push(requireExp ? '--require-exp' : '--no-require-exp');
    const { stdout } = await run(HERALD_BINARY, args);
    const app = JSON.parse(stdout.trim().split('\n').pop());
    this.apps[name] = app;
    return app;
  }

  async start(flags = {}) {
    const all = { ...DEFAULT_FLAGS, ...flags };
    const args = ['serve', '--dev', `--store.data_dir=${this.dataDir}`];
    for (const [k, v] of Object.entries(all)) args.push(`--${k}=${v}`);
    this.args = args;
    const proc = spawn(HERALD_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'], env: serverEnv() });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    let rest = '';
    let onListening;
    const listening = new Promise((resolve, reject) => {
      onListening = resolve;
      proc.on('error', reject);
      this.exited.then(({ code, signal }) =>
        reject(new Error(`herald exited (code ${code}, signal ${signal}) before listening:\n${this.logText()}`)),
      );
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        let obj = null;
        try {
          obj = JSON.parse(line);
        } catch {
          obj = { text: line };
        }
        if (this.logs.length < 10000) this.logs.push(obj);
        if (obj.event === 'listening') onListening(obj);
      }
    });
    const ev = await withTimeout(listening, 15000, `herald ${args.join(' ')} to log "listening"`);
    this.port = ev.port;
    this.devApp = JSON.parse(await readFile(path.join(this.dataDir, 'dev-app.json'), 'utf8'));
    this.devCert = await readFile(path.join(this.dataDir, 'dev-cert.pem'));
    return this;
  }

  logText() {
    return this.logs.map((l) => (l.text !== undefined ? l.text : JSON.stringify(l))).join('\n');
  }

  get url() {
    return `https://127.0.0.1:${this.port}`;
  }
  get wsUrl() {
    return `wss://127.0.0.1:${this.port}/ws`;
  }

  // Stops the server (SIGTERM, then SIGKILL after a bound); keeps the data dir.
  async halt() {
    const proc = this.proc;
    if (!proc) return null;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return this.exited;
    proc.kill('SIGTERM');
    try {
      return await withTimeout(this.exited, 8000, 'herald to exit after SIGTERM');
    } catch {
      proc.kill('SIGKILL');
      await withTimeout(this.exited, 5000, 'herald to exit after SIGKILL');
      return { code: null, signal: 'SIGKILL' };
    }
  }

  // Kills the server with SIGKILL, as a power cut would (nothing is flushed or closed);
  // keeps the data dir, so that start() resumes from what was durable.
  async crash() {
    const proc = this.proc;
    if (!proc) return null;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    return withTimeout(this.exited, 5000, 'herald to exit after SIGKILL');
  }

  // Stops the server and removes the temporary data dir.
  async stop() {
    const r = await this.halt();
    if (this.ownsDir) await rm(this.dataDir, { recursive: true, force: true });
    return r;
  }

  // GET a path over HTTPS, trusting the development certificate.
  get(p, { timeout = 5000 } = {}) {
    return withTimeout(
      new Promise((resolve, reject) => {
        const req = https.get(`${this.url}${p}`, { ca: this.devCert, timeout }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        req.on('timeout', () => req.destroy(new Error(`GET ${p} timed out`)));
        req.on('error', reject);
      }),
      timeout + 1000,
      `GET ${p}`,
    );
  }

  // The value of one metric sample from /metrics, e.g. metric('herald_push_acks_total')
  // or metric('herald_push_disconnects_total', {reason: 'slow_consumer'}); 0 if absent.
  async metric(name, labels = {}) {
    const { status, body } = await this.get('/metrics');
    if (status !== 200) throw new Error(`/metrics answered ${status}`);
    let total = 0;
    for (const line of body.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
      if (!m || m[1] !== name) continue;
      const have = {};
      for (const kv of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[kv[1]] = kv[2];
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[4]);
    }
    return total;
  }

  // A signed server API request (docs/signing.md, HERALD-HMAC-SHA256-v2 for `deployment`,
  // the server's server.deployment_id, "" by default) as the demo app (or `app`, with
  // app_key|key and app_secret); resolves with {status, body (parsed when JSON), headers}.
  // `tamper` may rewrite the headers after signing (to test refusals).
  api(method, p, body, { app = this.devApp, timeout = 5000, nonce, timestamp, tamper, deployment = '' } = {}) {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const key = app.app_key ?? app.key;
    const ts = String(timestamp ?? nowS());
    const n = nonce ?? randomBytes(16).toString('base64url');
    const q = p.indexOf('?');
    const canonical = [
      'HERALD-HMAC-SHA256-v2',
      deployment,
      method,
      q < 0 ? p : p.slice(0, q), // the tests use plain paths
      q < 0 ? '' : canonicalQuery(p.slice(q + 1)),
      createHash('sha256').update(text).digest('hex'),
      ts,
      n,
      key,
    ].join('\n');
    const headers = {
      'Content-Type': 'application/json',
      'X-Herald-Key': key,
      'X-Herald-Timestamp': ts,
      'X-Herald-Nonce': n,
      'X-Herald-Signature': createHmac('sha256', app.app_secret).update(canonical).digest('hex'),
      'X-Herald-Signature-Version': '2',
    };
    if (tamper) tamper(headers);
    return withTimeout(
      new Promise((resolve, reject) => {
        const req = https.request(`${this.url}${p}`, { method, headers, ca: this.devCert, timeout }, (res) => {
          let out = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (out += c));
          res.on('end', () => {
            let parsed = out;
            try {
              parsed = JSON.parse(out);
            } catch {
              /* left as text */
            }
            resolve({ status: res.statusCode, body: parsed, text: out, headers: res.headers });
          });
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${p} timed out`)));
        req.on('error', reject);
        req.end(text);
      }),
      timeout + 1000,
      `${method} ${p}`,
    );
  }

  // An admin API request with the admin token from <data_dir>/admin.token.
  async admin(method, p, body, { timeout = 5000 } = {}) {
    const token = (await readFile(path.join(this.dataDir, 'admin.token'), 'utf8')).trim();
    const text = body === undefined ? '' : JSON.stringify(body);
    return withTimeout(
      new Promise((resolve, reject) => {
        const req = https.request(
          `${this.url}${p}`,
          {
            method,
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            ca: this.devCert,
            timeout,
          },
          (res) => {
            let out = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (out += c));
            res.on('end', () => resolve({ status: res.statusCode, text: out }));
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${method} ${p} timed out`)));
        req.on('error', reject);
        req.end(text);
      }),
      timeout + 1000,
      `${method} ${p}`,
    );
  }

  // A connection token for the demo app (HS256 with its client secret).
  token(claims = {}, app = this.devApp) {
    return hs256(app.client_secret, { sub: 'u1', exp: nowS() + 3600, ...claims });
  }

  // A connected client of the demo app (or `app`, {key|app_key, client_secret}).
  async client(user = 'u1', { claims = {}, app = this.devApp, ...opts } = {}) {
    const c = await PushClient.open(this, opts);
    const token = await hs256(app.client_secret, { sub: user, exp: nowS() + 3600, ...claims });
    const r = await c.request('connect', { app: app.app_key ?? app.key, token });
    if (r.error) {
      c.terminate();
      throw new Error(`connect failed: ${JSON.stringify(r.error)}`);
    }
    c.connectResult = r.connect;
    return c;
  }
}

// ---------------------------------------------------------------------------------
// The protocol client

export class ProtocolError extends Error {
  constructor(method, error) {
    super(`${method}: ${error.code}: ${error.message}`);
    this.code = error.code;
    this.error = error;
  }
}

export class PushClient {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, method}
    this.replyOrder = []; // ids of replies in arrival order
    this.unmatched = []; // replies whose id names no pending command (e.g. id 0)
    this.pushes = []; // pub, disconnect, unsubscribed, in arrival order
    this.allPushes = [];
    this.frames = 0;
    this.objects = 0;
    this.maxObjectsPerFrame = 0;
    this.waiters = new Set();
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const p of this.pending.values()) p.resolve({ closed: this.closeInfo });
        this.pending.clear();
        this.notify();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', (e) => {
      this.lastError = e;
    });
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
  }

  // Opens a WebSocket to the server's /ws (TLS, trusting the dev certificate).
  static async open(server, { timeout = 5000, url = server.wsUrl, wsOptions = {} } = {}) {
    const ws = new WebSocket(url, { ca: server.devCert, handshakeTimeout: timeout, ...wsOptions });
    const c = new PushClient(ws);
    await withTimeout(
      new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
        ws.once('unexpected-response', (_, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      }),
      timeout,
      `WebSocket open ${url}`,
    );
    return c;
  }

  onFrame(data, isBinary) {
    this.frames++;
    if (isBinary) {
      this.binaryFrames = (this.binaryFrames ?? 0) + 1;
      return;
    }
    const lines = data.toString('utf8').split('\n');
    this.maxObjectsPerFrame = Math.max(this.maxObjectsPerFrame, lines.length);
    for (const line of lines) {
      if (line.trim() === '') continue;
      this.objects++;
      let msg;
      try {
        msg = JSON.parse(line);
      } catch (e) {
        this.badLines = (this.badLines ?? []).concat([line]);
        continue;
      }
      if (msg.id !== undefined) this.replyOrder.push(msg.id);
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        p.resolve(msg);
      } else if (msg.id !== undefined) {
        this.unmatched.push(msg);
      } else {
        this.pushes.push(msg);
        this.allPushes.push(msg);
      }
    }
    this.notify();
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  // Waits until check() returns a truthy value (re-checked after every frame and on
  // close); rejects after `timeout` ms with `what` in the message.
  waitUntil(check, timeout, what) {
    const v = check();
    if (v) return Promise.resolve(v);
    let waiter;
    return withTimeout(
      new Promise((resolve, reject) => {
        waiter = () => {
          let r;
          try {
            r = check();
          } catch (e) {
            reject(e);
            return;
          }
          if (r) resolve(r);
        };
        this.waiters.add(waiter);
      }),
      timeout,
      what,
    ).finally(() => this.waiters.delete(waiter));
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  // Sends raw text (one frame).
  sendRaw(text) {
    this.ws.send(text);
  }

  // Queues one command and returns [id, promise of its reply object]. The reply is the
  // whole object ({id, <method>: result} or {id, error}), or {closed} if the connection
  // closed first.
  command(method, params = {}, { id } = {}) {
    const cid = id ?? this.nextId++;
    const reply = new Promise((resolve) => this.pending.set(cid, { resolve, method }));
    return { id: cid, line: JSON.stringify({ id: cid, [method]: params }), reply };
  }

  // Sends one command in its own frame and waits for its reply (whole object).
  request(method, params = {}, { timeout = 5000 } = {}) {
    const cmd = this.command(method, params);
    if (!this.isOpen) return Promise.resolve({ closed: this.closeInfo ?? { code: null } });
    this.ws.send(cmd.line);
    return withTimeout(cmd.reply, timeout, `reply to ${method} #${cmd.id}`);
  }

  // Sends several commands [[method, params], ...] in ONE frame; resolves with their
  // replies in order.
  batch(commands, { timeout = 5000 } = {}) {
    const cmds = commands.map(([m, p]) => this.command(m, p));
    this.ws.send(cmds.map((c) => c.line).join('\n'));
    return withTimeout(Promise.all(cmds.map((c) => c.reply)), timeout, `replies to a batch of ${cmds.length}`);
  }

  // Sends a command and returns its result; throws ProtocolError on an error reply.
  async call(method, params = {}, opts = {}) {
    const r = await this.request(method, params, opts);
    if (r.closed) throw new Error(`${method}: connection closed (${JSON.stringify(r.closed)})`);
    if (r.error) throw new ProtocolError(method, r.error);
    const key = method === 'ping' ? 'pong' : method;
    if (!(key in r)) throw new Error(`${method}: reply without "${key}": ${JSON.stringify(r)}`);
    return r[key];
  }

  // Sends a command that must fail; returns the error object.
  async callError(method, params = {}, opts = {}) {
    const r = await this.request(method, params, opts);
    if (r.closed) throw new Error(`${method}: connection closed (${JSON.stringify(r.closed)})`);
    if (!r.error) throw new Error(`${method}: expected an error, got ${JSON.stringify(r)}`);
    return r.error;
  }

  // The `pub` pushes received so far on `channel` (all channels when omitted).
  pubs(channel) {
    return this.allPushes.filter((m) => m.pub && (channel === undefined || m.pub.channel === channel)).map((m) => m.pub);
  }

  // Waits until `n` publications on `channel` have arrived; returns them.
  async waitPubs(channel, n, timeout = 5000) {
    await this.waitUntil(
      () => this.pubs(channel).length >= n || (this.closeInfo && this.pubs(channel).length < n && 'closed'),
      timeout,
      `${n} publications on ${channel} (have ${this.pubs(channel).length})`,
    );
    const got = this.pubs(channel);
    if (got.length < n) throw new Error(`connection closed with ${got.length}/${n} publications on ${channel}`);
    return got.slice(0, n);
  }

  // Waits for the first push (not yet taken) matching `pred`, removes and returns it.
  async nextPush(pred = () => true, timeout = 5000, what = 'a push') {
    const i = await this.waitUntil(
      () => {
        const k = this.pushes.findIndex(pred);
        return k >= 0 ? k + 1 : 0;
      },
      timeout,
      what,
    );
    return this.pushes.splice(i - 1, 1)[0];
  }

  // Waits for the connection to close; resolves with {code, reason}.
  waitClose(timeout = 5000) {
    return withTimeout(this.closed, timeout, 'the connection to close');
  }

  // The disconnect push received, if any.
  get disconnectPush() {
    return this.allPushes.find((m) => m.disconnect)?.disconnect;
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }

  terminate() {
    this.ws.terminate();
  }
}

// Connects with a token and expects the connect to be refused: returns the error reply
// and the close {code, reason}.
export async function connectRefused(server, appKey, token, { timeout = 5000 } = {}) {
  const c = await PushClient.open(server);
  try {
    const r = await c.request('connect', { app: appKey, token }, { timeout });
    const closed = await c.waitClose(timeout);
    return { reply: r, error: r.error, close: closed, disconnect: c.disconnectPush };
  } finally {
    c.terminate();
  }
}

// Closes clients, ignoring those already gone.
export function closeAll(...clients) {
  for (const c of clients.flat()) if (c) c.terminate();
}

export function randomName(prefix = 'c') {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}
