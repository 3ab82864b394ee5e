// Verification codes from an independent client (Node's https and crypto signing the
// requests as docs/signing.md says): the whole send/verify/redeem flow, an attacker's
// edits of the success token, and what survives a restart of the server on its data dir.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, sleep } from './lib/herald.mjs';

const FLAGS = { 'otp.max_attempts': '3' };
const servers = [];
after(async () => {
  for (const s of servers.reverse()) await s.stop();  // a restarted server before the one owning its dir
});

async function start(opts = {}) {
  const s = await Herald.start(FLAGS, opts);
  servers.push(s);
  return s;
}

// In --dev the log provider writes the message in clear: the code is read from there.
async function codeFor(server, verificationId) {
  for (let i = 0; i < 100; i++) {
    const line = server.logs.find((l) => l.event === 'delivery_logged' && l.reference === verificationId);
    const m = line && /code is (\d{4,8})/.exec(line.text);
    if (m) return m[1];
    await sleep(20);
  }
  throw new Error(`no code logged for ${verificationId}`);
}

const send = (server, to, extra = {}) =>
  server.api('POST', '/api/v1/otp/send', { to, channel: 'sms', device_id: 'node-device', purpose: 'login', client_ip: '203.0.113.50', ...extra });

test('send, verify and redeem once; the code is six digits and verify takes only id and code', async () => {
  const s = await start();
  const sent = await send(s, '+4915111111111');
  assert.equal(sent.status, 200, sent.text);
  assert.match(sent.body.verification_id, /^otp_[0-9a-f]{32}$/);
  assert.equal(sent.body.expires_in, 300);
  const code = await codeFor(s, sent.body.verification_id);
  assert.match(code, /^\d{6}$/);

  // Extra fields (a client-supplied recipient or purpose) are refused, not trusted.
  const sneaky = await s.api('POST', '/api/v1/otp/verify', { verification_id: sent.body.verification_id, code, purpose: 'payment' });
  assert.equal(sneaky.status, 400);
  assert.equal(sneaky.body.error.code, 'invalid_argument');

  const v = await s.api('POST', '/api/v1/otp/verify', { verification_id: sent.body.verification_id, code });
  assert.equal(v.status, 200, v.text);
  assert.match(v.body.success_token, /^hst1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  const r = await s.api('POST', '/api/v1/otp/redeem', { success_token: v.body.success_token, purpose: 'login' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, { to: '+4915111111111', device_id: 'node-device', purpose: 'login' });
  const again = await s.api('POST', '/api/v1/otp/redeem', { success_token: v.body.success_token, purpose: 'login' });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'otp_token_used');
});

test('an edited success token is refused: purpose swapped in the payload, signature moved, truncated', async () => {
  const s = await start();
  const sent = await send(s, '+4915122222222');
  const code = await codeFor(s, sent.body.verification_id);
  const v = await s.api('POST', '/api/v1/otp/verify', { verification_id: sent.body.verification_id, code });
  const [prefix, payload, mac] = v.body.success_token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  assert.equal(claims.p, 'login');
  assert.equal(claims.d, 'node-device');
  assert.equal(JSON.stringify(claims).includes('+4915122222222'), false, 'the recipient is only a keyed hash');
  const swapped = `${prefix}.${Buffer.from(JSON.stringify({ ...claims, p: 'payment' })).toString('base64url')}.${mac}`;
  const extended = `${prefix}.${Buffer.from(JSON.stringify({ ...claims, e: claims.e + 86_400_000 })).toString('base64url')}.${mac}`;
  for (const forged of [swapped, extended, `${prefix}.${payload}.${mac.slice(0, -2)}AA`, `${prefix}.${payload}`]) {
    const r = await s.api('POST', '/api/v1/otp/redeem', { success_token: forged, purpose: 'payment' });
    assert.equal(r.status, 400, forged);
    assert.equal(r.body.error.code, 'otp_token_invalid');
  }
  const wrongPurpose = await s.api('POST', '/api/v1/otp/redeem', { success_token: v.body.success_token, purpose: 'payment' });
  assert.equal(wrongPurpose.status, 403);
  assert.equal(wrongPurpose.body.error.code, 'otp_purpose_mismatch');
  const ok = await s.api('POST', '/api/v1/otp/redeem', { success_token: v.body.success_token, purpose: 'login' });
  assert.equal(ok.status, 200);
});

test('a restart keeps redeemed tokens used, wrong attempts counted and limits running', async () => {
  const first = await start();
  const a = await send(first, '+4915133333333');
  const codeA = await codeFor(first, a.body.verification_id);
  const va = await first.api('POST', '/api/v1/otp/verify', { verification_id: a.body.verification_id, code: codeA });
  assert.equal((await first.api('POST', '/api/v1/otp/redeem', { success_token: va.body.success_token, purpose: 'login' })).status, 200);

  const b = await send(first, '+4915144444444', { device_id: 'other-device' });
  const codeB = await codeFor(first, b.body.verification_id);
  const wrong = codeB.replace(/^./, (d) => String((Number(d) + 1) % 10));
  const w1 = await first.api('POST', '/api/v1/otp/verify', { verification_id: b.body.verification_id, code: wrong });
  assert.equal(w1.body.error.code, 'otp_code_invalid');
  assert.equal(w1.body.error.attempts_left, 2);
  await first.halt();

  const second = await start({ dataDir: first.dataDir });
  const used = await second.api('POST', '/api/v1/otp/redeem', { success_token: va.body.success_token, purpose: 'login' });
  assert.equal(used.status, 409);
  assert.equal(used.body.error.code, 'otp_token_used');
  const w2 = await second.api('POST', '/api/v1/otp/verify', { verification_id: b.body.verification_id, code: wrong });
  assert.equal(w2.body.error.attempts_left, 1);
  const soon = await send(second, '+4915144444444', { device_id: 'third-device' });
  assert.equal(soon.status, 429);
  assert.equal(soon.body.error.code, 'otp_resend_too_soon');
  assert.ok(soon.body.error.retry_after >= 1 && soon.body.error.retry_after <= 60);
  assert.equal(soon.headers['retry-after'], String(soon.body.error.retry_after));
  // The right code still works after the restart.
  const ok = await second.api('POST', '/api/v1/otp/verify', { verification_id: b.body.verification_id, code: codeB });
  assert.equal(ok.status, 200, ok.text);
});
