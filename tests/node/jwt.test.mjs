// Client authentication: the JWTs `connect` accepts (HS256, ES256, EdDSA made with jose)
// and the hostile ones it must refuse, each with an error reply and a close.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sign as cryptoSign, createHmac } from 'node:crypto';
import {
  Herald,
  PushClient,
  hs256,
  signAsym,
  makeKeyPair,
  craftToken,
  b64urlJson,
  connectRefused,
  nowS,
} from './lib/herald.mjs';

const AUD = 'herald-tests';
const ISS = 'https://issuer.example';

let server;
let es; // ES256 key pair configured on app "es"
let ed; // EdDSA key pair configured on app "ed"
let esOther; // an ES256 key pair nobody configured
let apps;

before(async () => {
  [es, ed, esOther] = await Promise.all([makeKeyPair('ES256'), makeKeyPair('EdDSA'), makeKeyPair('ES256')]);
  server = await Herald.create();
  apps = {
    // Public keys need an audience (an identity provider's key signs for many services).
    es: await server.createApp({ name: 'es', publicKeyPems: [es.pem], audience: AUD }),
    ed: await server.createApp({ name: 'ed', publicKeyPems: [ed.pem], audience: AUD }),
    both: await server.createApp({ name: 'both', publicKeyPems: [es.pem, ed.pem], audience: AUD }),
    idp: await server.createApp({ name: 'idp', publicKeyPems: [es.pem] }), // no audience
    audiss: await server.createApp({ name: 'audiss', audience: AUD, issuer: ISS }),
    strict: await server.createApp({ name: 'strict', requireExp: true }),
    lax: await server.createApp({ name: 'lax', requireExp: false }),
  };
  await server.start();
  apps.demo = { key: server.devApp.app_key, client_secret: server.devApp.client_secret };
});
after(async () => {
  await server?.stop();
});

// aud is ignored by apps without an audience (HS256 only) and required by the others.
const claims = (extra = {}) => ({ sub: 'u1', aud: AUD, exp: nowS() + 600, ...extra });

async function connectOk(appKey, token) {
  const c = await PushClient.open(server);
  try {
    const r = await c.request('connect', { app: appKey, token });
    assert.ok(r.connect, `expected connect to succeed, got ${JSON.stringify(r)}`);
    assert.deepEqual(await c.call('ping'), {});
    return r.connect;
  } finally {
    c.terminate();
  }
}

// A refused connect: error reply with `code`, a disconnect push and a close with the
// matching close code; the token is never accepted.
async function expectRefused(appKey, token, code = 'token_invalid') {
  const r = await connectRefused(server, appKey, token);
  assert.ok(!r.reply.connect, `token was ACCEPTED: ${JSON.stringify(r.reply)}`);
  assert.ok(r.error, `expected an error reply, got ${JSON.stringify(r.reply)}`);
  assert.equal(r.error.code, code, `error ${JSON.stringify(r.error)}`);
  const closeCode = code === 'token_expired' ? 4003 : 4001;
  assert.equal(r.close.code, closeCode, `close ${JSON.stringify(r.close)}`);
  assert.equal(r.close.reason, code === 'token_expired' ? 'token_expired' : 'unauthorized');
  assert.deepEqual(r.disconnect, {
    code: closeCode,
    reason: code === 'token_expired' ? 'token_expired' : 'unauthorized',
    reconnect: code === 'token_expired',
  });
  return r.error;
}

describe('accepted tokens', () => {
  test('HS256 made with jose, with the client secret', async () => {
    const r = await connectOk(apps.demo.key, await hs256(apps.demo.client_secret, claims({ sub: 'hs' })));
    assert.equal(r.user, 'hs');
  });

  test('HS256 on an app that also has public keys', async () => {
    const r = await connectOk(apps.es.key, await hs256(apps.es.client_secret, claims({ sub: 'hs-es' })));
    assert.equal(r.user, 'hs-es');
  });

  test('ES256 made with jose, with and without kid', async () => {
    assert.equal((await connectOk(apps.es.key, await signAsym('ES256', es.privateKey, claims({ sub: 'e1' })))).user, 'e1');
    const withKid = await signAsym('ES256', es.privateKey, claims({ sub: 'e2' }), { kid: 'k1' });
    assert.equal((await connectOk(apps.es.key, withKid)).user, 'e2');
  });

  test('EdDSA made with jose', async () => {
    assert.equal((await connectOk(apps.ed.key, await signAsym('EdDSA', ed.privateKey, claims({ sub: 'd1' })))).user, 'd1');
  });

  test('an app with an ES256 and an EdDSA key takes both', async () => {
    assert.equal((await connectOk(apps.both.key, await signAsym('ES256', es.privateKey, claims()))).user, 'u1');
    assert.equal((await connectOk(apps.both.key, await signAsym('EdDSA', ed.privateKey, claims()))).user, 'u1');
    const kid2 = await signAsym('EdDSA', ed.privateKey, claims(), { kid: 'k2' });
    assert.equal((await connectOk(apps.both.key, kid2)).user, 'u1');
  });

  test('audience (string or array) and issuer when the app requires them', async () => {
    const s = apps.audiss.client_secret;
    assert.ok(await connectOk(apps.audiss.key, await hs256(s, claims({ aud: AUD, iss: ISS }))));
    assert.ok(await connectOk(apps.audiss.key, await hs256(s, claims({ aud: ['other', AUD], iss: ISS }))));
  });

  test('exp within the default 30 s skew is still accepted; no exp only where the app opted out', async () => {
    assert.ok(await connectOk(apps.demo.key, await hs256(apps.demo.client_secret, claims({ exp: nowS() - 5 }))));
    assert.ok(await connectOk(apps.lax.key, await hs256(apps.lax.client_secret, { sub: 'noexp' })));
    assert.ok(await connectOk(apps.strict.key, await hs256(apps.strict.client_secret, claims())));
  });

  test('nbf and iat in the past are fine', async () => {
    const t = await hs256(apps.demo.client_secret, claims({ nbf: nowS() - 60, iat: nowS() - 60 }));
    assert.ok(await connectOk(apps.demo.key, t));
  });
});

describe('hostile tokens (none may be accepted)', () => {
  let failuresBefore = 0;
  let refused = 0;
  const refuse = async (appKey, token, code) => {
    await expectRefused(appKey, token, code);
    refused++;
  };
  before(async () => {
    failuresBefore = await server.metric('herald_push_auth_failures_total');
  });
  after(async () => {
    // Every refusal was counted as an authentication failure.
    assert.equal(await server.metric('herald_push_auth_failures_total'), failuresBefore + refused);
  });

  test('alg none (unsigned), in any spelling', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      await refuse(apps.demo.key, craftToken({ alg, typ: 'JWT' }, claims()));
      await refuse(apps.es.key, craftToken({ alg, typ: 'JWT' }, claims()));
    }
    // none with a (valid HS256) signature attached
    const hs = craftToken({ alg: 'HS256', typ: 'JWT' }, claims(), { key: apps.demo.client_secret });
    const sig = hs.split('.')[2];
    await refuse(apps.demo.key, craftToken({ alg: 'none' }, claims(), { signature: sig }));
    // no alg at all, alg of the wrong type
    await refuse(apps.demo.key, craftToken({ typ: 'JWT' }, claims(), { key: apps.demo.client_secret }));
    await refuse(apps.demo.key, craftToken({ alg: null }, claims(), { key: apps.demo.client_secret }));
    await refuse(apps.demo.key, craftToken({ alg: ['HS256'] }, claims(), { key: apps.demo.client_secret }));
    // duplicate alg keys, the last being none
    const dupHeader = '{"alg":"HS256","alg":"none"}';
    await refuse(apps.demo.key, craftToken(dupHeader, claims()));
  });

  test('algorithms outside the allowlist, even with a correct HMAC', async () => {
    const s = apps.demo.client_secret;
    for (const [alg, hash] of [
      ['HS384', 'sha384'],
      ['HS512', 'sha512'],
    ]) {
      const input = `${b64urlJson({ alg, typ: 'JWT' })}.${b64urlJson(claims())}`;
      await refuse(apps.demo.key, `${input}.${createHmac(hash, s).update(input).digest('base64url')}`);
    }
    for (const alg of ['RS256', 'PS256', 'ES384', 'ES256K', 'Ed25519', 'hs256', 'HS256 ', 'dir'])
      await refuse(apps.demo.key, craftToken({ alg }, claims(), { key: s }));
    // crit header: must be refused (no extension is understood)
    await refuse(apps.demo.key, craftToken({ alg: 'HS256', crit: ['exp'] }, claims(), { key: s }));
  });

  test('key confusion: HS256 signed with the ES256 public key as the HMAC secret', async () => {
    const ecRaw = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(es.jwk.x, 'base64url'),
      Buffer.from(es.jwk.y, 'base64url'),
    ]);
    const keys = [
      ['PEM', es.pem],
      ['PEM without final newline', es.pem.trimEnd()],
      ['PEM with CRLF', es.pem.replace(/\n/g, '\r\n')],
      ['DER', es.der],
      ['raw point', ecRaw],
      ['JWK text', JSON.stringify(es.jwk)],
    ];
    for (const app of [apps.es, apps.both]) {
      for (const [what, key] of keys) {
        for (const header of [{ alg: 'HS256', typ: 'JWT' }, { alg: 'HS256', kid: 'k1' }]) {
          const t = craftToken(header, claims(), { key });
          await assert.doesNotReject(refuse(app.key, t), `${app.name}: ${what} ${JSON.stringify(header)}`);
        }
      }
    }
  });

  test('key confusion: HS256 signed with the EdDSA public key as the HMAC secret', async () => {
    const keys = [
      ['PEM', ed.pem],
      ['PEM without final newline', ed.pem.trimEnd()],
      ['DER', ed.der],
      ['raw key', Buffer.from(ed.jwk.x, 'base64url')],
      ['JWK text', JSON.stringify(ed.jwk)],
    ];
    for (const app of [apps.ed, apps.both]) {
      const kid = app === apps.both ? 'k2' : 'k1';
      for (const [what, key] of keys) {
        for (const header of [{ alg: 'HS256', typ: 'JWT' }, { alg: 'HS256', kid }]) {
          const t = craftToken(header, claims(), { key });
          await assert.doesNotReject(refuse(app.key, t), `${app.name}: ${what} ${JSON.stringify(header)}`);
        }
      }
    }
  });

  test('asymmetric tokens with the wrong key or algorithm', async () => {
    // signed by a key nobody configured
    await refuse(apps.es.key, await signAsym('ES256', esOther.privateKey, claims()));
    await refuse(apps.es.key, await signAsym('ES256', esOther.privateKey, claims(), { kid: 'k1' }));
    // EdDSA token on an app with only an ES256 public key, and the reverse
    await refuse(apps.es.key, await signAsym('EdDSA', ed.privateKey, claims()));
    await refuse(apps.ed.key, await signAsym('ES256', es.privateKey, claims()));
    // a kid that names no key, or a key of another kind
    await refuse(apps.es.key, await signAsym('ES256', es.privateKey, claims(), { kid: 'k9' }));
    await refuse(apps.both.key, await signAsym('ES256', es.privateKey, claims(), { kid: 'k2' }));
    // the ES256 app's own public keys cannot sign: an ES256 token on the demo app (no keys)
    await refuse(apps.demo.key, await signAsym('ES256', es.privateKey, claims()));
    // ES256 signature in ASN.1 DER form instead of JOSE's fixed R||S
    const input = `${b64urlJson({ alg: 'ES256' })}.${b64urlJson(claims())}`;
    const der = cryptoSign('sha256', Buffer.from(input), { key: es.privateKey, dsaEncoding: 'der' });
    await refuse(apps.es.key, `${input}.${der.toString('base64url')}`);
    // a valid ES256 signature with one bit flipped
    const good = await signAsym('ES256', es.privateKey, claims());
    const [h, p, sig] = good.split('.');
    const bytes = Buffer.from(sig, 'base64url');
    bytes[10] ^= 1;
    await refuse(apps.es.key, `${h}.${p}.${bytes.toString('base64url')}`);
    // the payload changed after signing
    await refuse(apps.es.key, `${h}.${b64urlJson(claims({ sub: 'admin' }))}.${sig}`);
    // an empty signature
    await refuse(apps.es.key, `${h}.${p}.`);
  });

  test('HS256 with the wrong secret, or another app\'s secret', async () => {
    await refuse(apps.demo.key, await hs256('not-the-secret', claims()));
    await refuse(apps.demo.key, await hs256(apps.es.client_secret, claims()));
    await refuse(apps.demo.key, await hs256('', claims()).catch(() => craftToken({ alg: 'HS256' }, claims(), { key: '' })));
  });

  test('expired, not yet valid, issued in the future', async () => {
    const s = apps.demo.client_secret;
    await refuse(apps.demo.key, await hs256(s, claims({ exp: nowS() - 3600 })), 'token_expired');
    await refuse(apps.demo.key, await hs256(s, claims({ exp: nowS() - 120 })), 'token_expired');
    await refuse(apps.demo.key, await hs256(s, claims({ nbf: nowS() + 3600 })));
    await refuse(apps.demo.key, await hs256(s, claims({ nbf: nowS() + 120 })));
    await refuse(apps.demo.key, await hs256(s, claims({ iat: nowS() + 3600 })));
    await refuse(apps.demo.key, await hs256(s, claims({ iat: nowS() + 120 })));
    // a required exp that is missing (required by default)
    await refuse(apps.strict.key, await hs256(apps.strict.client_secret, { sub: 'u1' }));
    await refuse(apps.demo.key, await hs256(s, { sub: 'u1' }));
    // longer-lived than push.max_token_lifetime (24 h by default)
    await refuse(apps.demo.key, await hs256(s, claims({ exp: nowS() + 30 * 86400 })));
    await refuse(apps.demo.key, await hs256(s, claims({ iat: nowS() - 2 * 86400 })));
  });

  test('an identity provider\'s token is no login without our audience', async () => {
    // The IdP's key is configured, the signature is good: without an audience on the app,
    // or with the token meant for another service, it is still refused.
    await refuse(apps.idp.key, await signAsym('ES256', es.privateKey, claims()));
    await refuse(apps.idp.key, await signAsym('ES256', es.privateKey, claims({ aud: 'another-service' })));
    await refuse(apps.es.key, await signAsym('ES256', es.privateKey, claims({ aud: 'another-service' })));
  });

  test('wrong or missing audience and issuer', async () => {
    const s = apps.audiss.client_secret;
    await refuse(apps.audiss.key, await hs256(s, claims({ aud: 'someone-else', iss: ISS })));
    await refuse(apps.audiss.key, await hs256(s, claims({ aud: ['a', 'b'], iss: ISS })));
    await refuse(apps.audiss.key, await hs256(s, claims({ aud: [], iss: ISS })));
    await refuse(apps.audiss.key, await hs256(s, { sub: 'u1', exp: nowS() + 600, iss: ISS }));
    await refuse(apps.audiss.key, await hs256(s, claims({ aud: `${AUD}x`, iss: ISS })));
    await refuse(apps.audiss.key, await hs256(s, claims({ aud: AUD, iss: 'https://evil.example' })));
    await refuse(apps.audiss.key, await hs256(s, claims({ aud: AUD })));
    await refuse(apps.audiss.key, await hs256(s, claims({ aud: AUD, iss: `${ISS}/` })));
  });

  test('bad base64url: padding, + and /, and stray characters', async () => {
    const s = apps.demo.client_secret;
    // Find a token whose signature's base64url holds '-' or '_', so that its standard
    // base64 form differs by '+' or '/' (and always by '=' padding).
    let tok;
    for (let i = 0; i < 200; i++) {
      tok = craftToken({ alg: 'HS256', typ: 'JWT' }, claims({ n: i }), { key: s });
      if (/[-_]/.test(tok.split('.')[2])) break;
    }
    const [h, p, sig] = tok.split('.');
    const std = Buffer.from(sig, 'base64url').toString('base64');
    assert.ok(/[+/]/.test(std) && std.endsWith('='));
    await connectOk(apps.demo.key, tok); // the canonical form is valid
    await refuse(apps.demo.key, `${h}.${p}.${std}`); // standard base64 with '+' '/' and '='
    await refuse(apps.demo.key, `${h}.${p}.${sig}=`); // padding only
    await refuse(apps.demo.key, `${h}.${p}.${std.replace(/=+$/, '')}`); // '+' '/' without padding
    await refuse(apps.demo.key, `${h}=.${p}.${sig}`);
    await refuse(apps.demo.key, `${h}.${p}==.${sig}`);
    await refuse(apps.demo.key, `${h}.${p}.${sig} `);
    await refuse(apps.demo.key, ` ${h}.${p}.${sig}`);
    await refuse(apps.demo.key, `${h}.${p}.${sig.slice(0, 20)}*${sig.slice(21)}`);
    await refuse(apps.demo.key, `${h}.${p}.${sig.slice(0, -1)}`); // truncated signature
    await refuse(apps.demo.key, `${h}.${p}.${sig}AA`); // extra bytes
    // header or payload whose base64url form is valid but uses '+' '/' variants
    const hStd = Buffer.from(h, 'base64url').toString('base64');
    if (hStd !== h) await refuse(apps.demo.key, `${hStd}.${p}.${sig}`);
    const payloadText = JSON.stringify({ ...claims(), pad: '\u00fb\u00ff\u00fe?>>' });
    const pUrl = Buffer.from(payloadText).toString('base64url');
    const pStd = Buffer.from(payloadText).toString('base64');
    assert.notEqual(pUrl, pStd.replace(/=+$/, ''));
    const input = `${h}.${pStd}`;
    await refuse(apps.demo.key, `${input}.${createHmac('sha256', s).update(input).digest('base64url')}`);
  });

  test('wrong number of parts, empty and junk tokens', async () => {
    const s = apps.demo.client_secret;
    const tok = await hs256(s, claims());
    const [h, p, sig] = tok.split('.');
    for (const t of [
      `${h}.${p}`,
      `${h}.${p}.${sig}.${sig}`,
      `${h}.${p}.${sig}.`,
      `${h}${p}${sig}`,
      '',
      '.',
      '..',
      '...',
      'a.b.c',
      'not a token',
      `${h}..${sig}`,
      `.${p}.${sig}`,
    ])
      await refuse(apps.demo.key, t);
  });

  test('malformed header or claims (correctly signed)', async () => {
    const s = apps.demo.client_secret;
    const cases = [
      [{ alg: 'HS256' }, '["not","an","object"]'],
      ['["HS256"]', claims()],
      [{ alg: 'HS256' }, 'not json'],
      ['not json', claims()],
      [{ alg: 'HS256' }, ''],
      [{ alg: 'HS256' }, { exp: nowS() + 600 }], // no sub
      [{ alg: 'HS256' }, claims({ sub: '' })],
      [{ alg: 'HS256' }, claims({ sub: 42 })],
      [{ alg: 'HS256' }, claims({ sub: 'x'.repeat(129) })],
      [{ alg: 'HS256' }, claims({ exp: String(nowS() + 600) })],
      [{ alg: 'HS256' }, claims({ nbf: 'yesterday' })],
      [{ alg: 'HS256' }, claims({ channels: 'vip:gold' })],
      [{ alg: 'HS256' }, claims({ channels: [1, 2] })],
      [{ alg: 'HS256' }, claims({ info: { blob: 'x'.repeat(2000) } })],
      [{ alg: 'HS256' }, `{"sub":"u1","x":${'['.repeat(200)}${']'.repeat(200)}}`],
    ];
    for (const [header, payload] of cases) await refuse(apps.demo.key, craftToken(header, payload, { key: s }));
  });

  test('a huge token is refused unread', async () => {
    const s = apps.demo.client_secret;
    const big = await hs256(s, claims({ padding: 'x'.repeat(20 * 1024) }));
    assert.ok(big.length > 20000);
    await refuse(apps.demo.key, big);
    // just over the default push.max_token_bytes (8 KiB), validly signed
    let t = '';
    for (let n = 6000; t.length <= 8192; n += 64) t = await hs256(s, claims({ padding: 'y'.repeat(n) }));
    await refuse(apps.demo.key, t);
  });

  test('a subscription token cannot connect', async () => {
    const t = await hs256(apps.demo.client_secret, claims({ channel: 'news' }));
    await refuse(apps.demo.key, t);
    await refuse(apps.es.key, await signAsym('ES256', es.privateKey, claims({ channel: 'user#u1' })));
  });

  test('unknown app key, or the token of another app', async () => {
    const t = await hs256(apps.demo.client_secret, claims());
    const r = await connectRefused(server, 'hk_000000000000000000000000', t);
    assert.equal(r.error?.code, 'unknown_app');
    assert.equal(r.close.code, 4001);
    refused++;
    const r2 = await connectRefused(server, '', t);
    assert.equal(r2.error?.code, 'unknown_app');
    assert.equal(r2.close.code, 4001);
    refused++;
    // the demo app's token presented to the "es" app
    await refuse(apps.es.key, t);
  });
});
