// Every command of the client protocol and its error replies, against the real server.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, PushClient, hs256, craftToken, connectRefused, nowS, sleep, closeAll, randomName, withTimeout } from './lib/herald.mjs';

const NAMESPACES = {
  'namespaces.open.publish': 'authenticated',
  'namespaces.open.history_size': '100',
  'namespaces.room.presence': 'true',
  'namespaces.room.publish': 'subscribers',
  'namespaces.vip.subscribe': 'claims',
  'namespaces.priv.subscribe': 'token',
  'namespaces.priv.history_size': '10',
};

let server;
const open = [];
async function client(user = 'u1', opts) {
  const c = await server.client(user, opts);
  open.push(c);
  return c;
}
async function raw() {
  const c = await PushClient.open(server);
  open.push(c);
  return c;
}

before(async () => {
  server = await Herald.start(NAMESPACES);
});
after(async () => {
  closeAll(open);
  await server?.stop();
});

describe('connect', () => {
  test('reply carries client, user, expires_in and version', async () => {
    const c = await raw();
    const token = await hs256(server.devApp.client_secret, { sub: 'alice', exp: nowS() + 600 });
    const r = await c.call('connect', { app: server.devApp.app_key, token });
    assert.equal(typeof r.client, 'string');
    assert.ok(r.client.length > 0);
    assert.equal(r.user, 'alice');
    assert.ok(Number.isInteger(r.expires_in), 'expires_in is an integer');
    assert.ok(r.expires_in >= 595 && r.expires_in <= 600, `expires_in ${r.expires_in}`);
    assert.equal(typeof r.version, 'string');
    assert.ok(r.version.length > 0);
  });

  test('a token without exp is refused (apps require exp by default)', async () => {
    const token = await hs256(server.devApp.client_secret, { sub: 'bob' });
    const r = await connectRefused(server, server.devApp.app_key, token);
    assert.equal(r.error.code, 'token_invalid');
    assert.equal(r.close.code, 4001);
  });

  test('a far-future exp is refused under the default lifetime cap', async () => {
    const token = craftToken({ alg: 'HS256' }, '{"sub":"far","exp":253402300799}', { key: server.devApp.client_secret });
    const r = await connectRefused(server, server.devApp.app_key, token);
    assert.equal(r.error.code, 'token_invalid');
  });

  test('without a lifetime cap, a far-future exp (year 9999, or the largest int64) is not taken as expired', async () => {
    // Tokens often say "never" with exp 253402300799 (9999-12-31T23:59:59Z); that must
    // not overflow the server's clock arithmetic where push.max_token_lifetime = 0 lets it in.
    const lax = await Herald.start({ ...NAMESPACES, 'push.max_token_lifetime': '0s' });
    const clients = [];
    try {
      for (const exp of ['253402300799', '9223372036854775807', '100000000000']) {
        const c = await PushClient.open(lax);
        clients.push([exp, c]);
        const token = craftToken({ alg: 'HS256' }, `{"sub":"far","exp":${exp}}`, { key: lax.devApp.client_secret });
        const r = await c.request('connect', { app: lax.devApp.app_key, token });
        assert.ok(r.connect, `exp ${exp}: ${JSON.stringify(r)}`);
        assert.ok(r.connect.expires_in > 1e9, `exp ${exp}: expires_in ${r.connect.expires_in}`);
      }
      // the same through refresh
      const d = await lax.client('far');
      clients.push(['refresh 253402300799', d]);
      const t = craftToken({ alg: 'HS256' }, '{"sub":"far","exp":253402300799}', { key: lax.devApp.client_secret });
      assert.ok((await d.call('refresh', { token: t })).expires_in > 1e9);
      await sleep(300);
      for (const [exp, c] of clients) {
        assert.equal(c.closeInfo, null, `exp ${exp}: closed ${JSON.stringify(c.closeInfo)} ${JSON.stringify(c.disconnectPush)}`);
        assert.deepEqual(await c.call('ping'), {}, `exp ${exp}`);
      }
    } finally {
      closeAll(...clients.map(([, c]) => c));
      await lax.stop();
    }
  });

  test('client ids are unique per connection', async () => {
    const a = await client('same');
    const b = await client('same');
    assert.notEqual(a.connectResult.client, b.connectResult.client);
  });

  test('a second connect is already_connected and the connection stays usable', async () => {
    const c = await client();
    const token = await server.token();
    const e = await c.callError('connect', { app: server.devApp.app_key, token });
    assert.equal(e.code, 'already_connected');
    assert.deepEqual(await c.call('ping'), {});
  });

  test('commands before connect are not_connected', async () => {
    const c = await raw();
    for (const [m, p] of [
      ['subscribe', { channel: 'news' }],
      ['ping', {}],
      ['publish', { channel: 'open:x', data: 1 }],
      ['refresh', { token: 'x' }],
    ]) {
      const e = await c.callError(m, p);
      assert.equal(e.code, 'not_connected', m);
    }
    // and connect still works afterwards
    const r = await c.call('connect', { app: server.devApp.app_key, token: await server.token() });
    assert.equal(r.user, 'u1');
  });

  test('connect without app or token is bad_request', async () => {
    const c = await raw();
    assert.equal((await c.callError('connect', { token: await server.token() })).code, 'bad_request');
    assert.equal((await c.callError('connect', { app: server.devApp.app_key })).code, 'bad_request');
    assert.equal((await c.callError('connect', { app: 5, token: 'x' })).code, 'bad_request');
  });
});

describe('refresh', () => {
  test('a new token for the same user gives the new expiry', async () => {
    const c = await raw();
    const t1 = await hs256(server.devApp.client_secret, { sub: 'r1', exp: nowS() + 60 });
    const r1 = await c.call('connect', { app: server.devApp.app_key, token: t1 });
    assert.ok(r1.expires_in <= 60);
    const t2 = await hs256(server.devApp.client_secret, { sub: 'r1', exp: nowS() + 7200 });
    const r2 = await c.call('refresh', { token: t2 });
    assert.ok(r2.expires_in > 7100 && r2.expires_in <= 7200, `expires_in ${r2.expires_in}`);
    const t3 = await hs256(server.devApp.client_secret, { sub: 'r1' });
    assert.equal((await c.callError('refresh', { token: t3 })).code, 'token_invalid');
  });

  test("another user's token is refused and the connection stays", async () => {
    const c = await client('r2');
    const other = await hs256(server.devApp.client_secret, { sub: 'someone-else', exp: nowS() + 600 });
    const e = await c.callError('refresh', { token: other });
    assert.equal(e.code, 'token_invalid');
    assert.deepEqual(await c.call('ping'), {});
  });

  test('a bad, expired or subscription token is refused', async () => {
    const c = await client('r3');
    const bad = await hs256('not-the-secret', { sub: 'r3', exp: nowS() + 600 });
    assert.equal((await c.callError('refresh', { token: bad })).code, 'token_invalid');
    const expired = await hs256(server.devApp.client_secret, { sub: 'r3', exp: nowS() - 3600 });
    assert.equal((await c.callError('refresh', { token: expired })).code, 'token_expired');
    const sub = await hs256(server.devApp.client_secret, { sub: 'r3', channel: 'news', exp: nowS() + 600 });
    assert.equal((await c.callError('refresh', { token: sub })).code, 'token_invalid');
    assert.equal((await c.callError('refresh', {})).code, 'bad_request');
    assert.deepEqual(await c.call('ping'), {});
  });
});

describe('subscribe and unsubscribe', () => {
  test('subscribe reply, already_subscribed, unsubscribe, not_subscribed', async () => {
    const c = await client();
    const ch = randomName('news');
    const r = await c.call('subscribe', { channel: ch });
    assert.equal(typeof r.epoch, 'string');
    assert.ok(r.epoch.length > 0);
    assert.equal(r.offset, 0);
    assert.equal(r.recoverable, true, 'the default namespace keeps history');
    assert.equal('recovered' in r, false, 'no recovered without since');
    assert.equal('publications' in r, false, 'no publications without since');
    assert.equal((await c.callError('subscribe', { channel: ch })).code, 'already_subscribed');
    assert.deepEqual(await c.call('unsubscribe', { channel: ch }), {});
    assert.equal((await c.callError('unsubscribe', { channel: ch })).code, 'not_subscribed');
    assert.equal((await c.callError('unsubscribe', { channel: 'never' })).code, 'not_subscribed');
    // subscribing again works
    const again = await c.call('subscribe', { channel: ch });
    assert.equal(again.epoch, r.epoch);
  });

  test('no publications arrive after unsubscribe', async () => {
    const sub = await client('s1');
    const pub = await client('p1');
    const ch = `open:${randomName()}`;
    await sub.call('subscribe', { channel: ch });
    await pub.call('publish', { channel: ch, data: { n: 1 } });
    await sub.waitPubs(ch, 1);
    await sub.call('unsubscribe', { channel: ch });
    await pub.call('publish', { channel: ch, data: { n: 2 } });
    // A ping after the publish: its reply comes after anything the server queued before.
    await sub.call('ping');
    await pub.call('ping');
    await sub.call('ping');
    assert.equal(sub.pubs(ch).length, 1);
  });

  test('channel_invalid for bad names', async () => {
    const c = await client();
    for (const ch of ['', 'has space', 'bad!char', 'x'.repeat(256), 'tab\tname', 'ünï']) {
      const e = await c.callError('subscribe', { channel: ch });
      assert.equal(e.code, 'channel_invalid', JSON.stringify(ch));
    }
    const ok = await c.call('subscribe', { channel: 'x'.repeat(255) });
    assert.equal(ok.offset, 0);
  });

  test('namespace_not_found', async () => {
    const c = await client();
    assert.equal((await c.callError('subscribe', { channel: 'nope:room' })).code, 'namespace_not_found');
    assert.equal((await c.callError('history', { channel: 'nope:room' })).code, 'namespace_not_found');
    assert.equal((await c.callError('publish', { channel: 'nope:room', data: 1 })).code, 'namespace_not_found');
  });

  test('subscribe with a malformed since is bad_request', async () => {
    const c = await client();
    for (const since of [5, { offset: 'x', epoch: 'e' }, { offset: 1 }, { epoch: 'e' }, { offset: -1, epoch: 'e' }]) {
      const e = await c.callError('subscribe', { channel: randomName(), since });
      assert.equal(e.code, 'bad_request', JSON.stringify(since));
    }
  });
});

describe('permissions', () => {
  test('publish to a server-only namespace is permission_denied', async () => {
    const c = await client();
    await c.call('subscribe', { channel: 'news' });
    const e = await c.callError('publish', { channel: 'news', data: { x: 1 } });
    assert.equal(e.code, 'permission_denied');
  });

  test("personal channel user#42: only user 42", async () => {
    const u7 = await client('7');
    const u42 = await client('42');
    assert.equal((await u7.callError('subscribe', { channel: 'user#42' })).code, 'permission_denied');
    assert.equal((await u7.callError('history', { channel: 'user#42' })).code, 'permission_denied');
    const r = await u42.call('subscribe', { channel: 'user#42' });
    assert.equal(r.offset, 0);
    // a user whose id merely starts with 42 is someone else
    const u420 = await client('420');
    assert.equal((await u420.callError('subscribe', { channel: 'user#42' })).code, 'permission_denied');
    // shared dialog channel
    assert.ok(await u7.call('subscribe', { channel: 'dialog#7,42' }));
    assert.ok(await u42.call('subscribe', { channel: 'dialog#7,42' }));
    assert.equal((await u420.callError('subscribe', { channel: 'dialog#7,42' })).code, 'permission_denied');
  });

  test('personal channel in an open namespace: publish only by the named user', async () => {
    const u7 = await client('7');
    const u42 = await client('42');
    assert.equal((await u7.callError('publish', { channel: 'open:user#42', data: 1 })).code, 'permission_denied');
    const r = await u42.call('publish', { channel: 'open:user#42', data: 1 });
    assert.equal(r.offset, 1);
  });

  test('claims namespace: only channels in the token', async () => {
    const yes = await client('c1', { claims: { channels: ['vip:gold', 'vip:silver'] } });
    const no = await client('c2');
    assert.ok(await yes.call('subscribe', { channel: 'vip:gold' }));
    assert.equal((await yes.callError('subscribe', { channel: 'vip:bronze' })).code, 'permission_denied');
    assert.equal((await no.callError('subscribe', { channel: 'vip:gold' })).code, 'permission_denied');
  });

  test('token namespace: only with a valid subscription token', async () => {
    const c = await client('t1');
    const secret = server.devApp.client_secret;
    const ch = 'priv:room-1';
    assert.equal((await c.callError('subscribe', { channel: ch })).code, 'permission_denied');
    assert.equal((await c.callError('history', { channel: ch })).code, 'permission_denied');
    const other = await hs256(secret, { sub: 't1', channel: 'priv:room-2', exp: nowS() + 600 });
    assert.equal((await c.callError('subscribe', { channel: ch, token: other })).code, 'permission_denied');
    const otherUser = await hs256(secret, { sub: 'not-t1', channel: ch, exp: nowS() + 600 });
    assert.equal((await c.callError('subscribe', { channel: ch, token: otherUser })).code, 'permission_denied');
    const forged = await hs256('wrong-secret', { sub: 't1', channel: ch, exp: nowS() + 600 });
    assert.equal((await c.callError('subscribe', { channel: ch, token: forged })).code, 'token_invalid');
    const expired = await hs256(secret, { sub: 't1', channel: ch, exp: nowS() - 3600 });
    assert.equal((await c.callError('subscribe', { channel: ch, token: expired })).code, 'token_expired');
    const noChannel = await hs256(secret, { sub: 't1', exp: nowS() + 600 });
    assert.equal((await c.callError('subscribe', { channel: ch, token: noChannel })).code, 'permission_denied');
    assert.equal((await c.callError('subscribe', { channel: ch, token: 42 })).code, 'bad_request');
    const good = await hs256(secret, { sub: 't1', channel: ch, exp: nowS() + 600 });
    const r = await c.call('subscribe', { channel: ch, token: good });
    assert.equal(r.recoverable, true);
    // once subscribed, history is allowed
    const h = await c.call('history', { channel: ch });
    assert.deepEqual(h.publications, []);
  });

  test('a subscription token does not open a personal channel of another user', async () => {
    const c = await client('7');
    const tok = await hs256(server.devApp.client_secret, { sub: '7', channel: 'user#42', exp: nowS() + 600 });
    assert.equal((await c.callError('subscribe', { channel: 'user#42', token: tok })).code, 'permission_denied');
  });
});

describe('publish', () => {
  test('publish reply and the pub push', async () => {
    const sub = await client('s');
    const pub = await client('p');
    const ch = `open:${randomName()}`;
    const s = await sub.call('subscribe', { channel: ch });
    const data = { title: 'Hello', nested: { a: [1, 2, 3], s: 'line1\nline2' }, n: 1.5, t: true, z: null };
    const t0 = Date.now();
    const r = await pub.call('publish', { channel: ch, data });
    assert.equal(r.offset, 1);
    assert.equal(r.epoch, s.epoch);
    assert.equal(typeof r.id, 'string');
    assert.ok(r.id.length > 0);
    const [p] = await sub.waitPubs(ch, 1);
    assert.equal(p.channel, ch);
    assert.equal(p.offset, 1);
    assert.equal(p.epoch, s.epoch);
    assert.equal(p.id, r.id);
    assert.ok(Number.isInteger(p.ts) && Math.abs(p.ts - t0) < 10000, `ts ${p.ts}`);
    assert.deepEqual(p.data, data);
    // scalar payloads are any JSON
    for (const d of ['text', 7, null, [1, 'a'], false]) await pub.call('publish', { channel: ch, data: d });
    const all = await sub.waitPubs(ch, 6);
    assert.deepEqual(
      all.slice(1).map((x) => x.data),
      ['text', 7, null, [1, 'a'], false],
    );
    assert.deepEqual(
      all.map((x) => x.offset),
      [1, 2, 3, 4, 5, 6],
    );
  });

  test('publish without data is bad_request; without channel is bad_request', async () => {
    const c = await client();
    assert.equal((await c.callError('publish', { channel: 'open:x' })).code, 'bad_request');
    assert.equal((await c.callError('publish', { data: 1 })).code, 'bad_request');
  });

  test('numbers beyond the double range never reach subscribers as invalid JSON', async () => {
    // JSON allows 1e400; a server that parses it as a double gets infinity and must not
    // write it back as `Infinity` (not JSON), which would break every subscriber of the
    // channel and every later history or recovery reply that includes it.
    const sub = await client('inf-sub');
    const pub = await client('inf-pub');
    const ch = `open:${randomName()}`;
    await sub.call('subscribe', { channel: ch });
    for (const [i, text] of ['1e400', '-1e400', '[1,{"a":1e999}]'].entries()) {
      const id = 700 + i;
      pub.sendRaw(`{"id":${id},"publish":{"channel":"${ch}","data":${text}}}`);
      await pub.waitUntil(() => pub.unmatched.find((r) => r.id === id), 3000, `reply to publish of ${text}`);
    }
    await pub.call('publish', { channel: ch, data: 'after' });
    await sub.waitUntil(() => sub.pubs(ch).some((p) => p.data === 'after') || sub.badLines, 3000, 'the last publication');
    assert.equal(sub.badLines, undefined, `the subscriber received lines that are not JSON: ${sub.badLines}`);
    const h = await sub.request('history', { channel: ch }, { timeout: 3000 }).catch((e) => e);
    assert.ok(!(h instanceof Error), `history reply unreadable: ${sub.badLines}`);
    assert.ok(pub.isOpen && sub.isOpen);
  });

  test('subscribers namespace: publish only while subscribed', async () => {
    const c = await client();
    const ch = `room:${randomName()}`;
    assert.equal((await c.callError('publish', { channel: ch, data: 1 })).code, 'permission_denied');
    await c.call('subscribe', { channel: ch });
    const r = await c.call('publish', { channel: ch, data: 1 });
    assert.equal(r.offset, 1);
    await c.waitPubs(ch, 1);
  });
});

describe('history', () => {
  test('history with limit and since', async () => {
    const c = await client();
    const ch = `open:${randomName()}`;
    let epoch;
    for (let i = 1; i <= 10; i++) epoch = (await c.call('publish', { channel: ch, data: { i } })).epoch;
    const all = await c.call('history', { channel: ch });
    assert.equal(all.epoch, epoch);
    assert.equal(all.offset, 10);
    assert.deepEqual(
      all.publications.map((p) => p.offset),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(
      all.publications.map((p) => p.data.i),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for (const p of all.publications) assert.equal(p.channel, ch);
    const last3 = await c.call('history', { channel: ch, limit: 3 });
    assert.deepEqual(
      last3.publications.map((p) => p.offset),
      [8, 9, 10],
      'limit keeps the newest, oldest first',
    );
    const since = await c.call('history', { channel: ch, since: { offset: 6, epoch } });
    assert.equal(since.recovered, true);
    assert.deepEqual(
      since.publications.map((p) => p.offset),
      [7, 8, 9, 10],
    );
    const sinceTop = await c.call('history', { channel: ch, since: { offset: 10, epoch } });
    assert.equal(sinceTop.recovered, true);
    assert.deepEqual(sinceTop.publications, []);
    const wrongEpoch = await c.call('history', { channel: ch, since: { offset: 6, epoch: 'not-it' } });
    assert.equal(wrongEpoch.recovered, false);
    assert.deepEqual(wrongEpoch.publications, []);
    const sinceLimit = await c.call('history', { channel: ch, since: { offset: 2, epoch }, limit: 2 });
    // With both, the spec does not say which side is kept; whatever is returned must be
    // consecutive, after `since`, in order.
    assert.ok(sinceLimit.publications.length <= 2);
    const offs = sinceLimit.publications.map((p) => p.offset);
    for (let i = 1; i < offs.length; i++) assert.equal(offs[i], offs[i - 1] + 1);
    for (const o of offs) assert.ok(o > 2);
  });

  test('history of an empty channel, and history_disabled', async () => {
    const c = await client();
    const h = await c.call('history', { channel: randomName() });
    assert.equal(h.offset, 0);
    assert.deepEqual(h.publications, []);
    assert.equal((await c.callError('history', { channel: `room:${randomName()}` })).code, 'history_disabled');
    assert.equal((await c.callError('history', { channel: 'x', limit: -1 })).code, 'bad_request');
    assert.equal((await c.callError('history', { channel: 'x', limit: 'all' })).code, 'bad_request');
  });
});

describe('presence', () => {
  test('presence and presence_stats', async () => {
    const ch = `room:${randomName()}`;
    const a1 = await client('alice', { claims: { info: { name: 'Alice' } } });
    const a2 = await client('alice');
    const b = await client('bob');
    await a1.call('subscribe', { channel: ch });
    await a2.call('subscribe', { channel: ch });
    await b.call('subscribe', { channel: ch });
    const p = await b.call('presence', { channel: ch });
    const clients = p.clients;
    assert.equal(Object.keys(clients).length, 3);
    assert.deepEqual(clients[a1.connectResult.client], { user: 'alice', info: { name: 'Alice' } });
    assert.deepEqual(clients[a2.connectResult.client], { user: 'alice' });
    assert.deepEqual(clients[b.connectResult.client], { user: 'bob' });
    assert.deepEqual(await b.call('presence_stats', { channel: ch }), { num_clients: 3, num_users: 2 });
    await a2.call('unsubscribe', { channel: ch });
    assert.deepEqual(await b.call('presence_stats', { channel: ch }), { num_clients: 2, num_users: 2 });
    a1.terminate();
    // the server notices the dropped connection soon
    let stats;
    for (let i = 0; i < 50; i++) {
      stats = await b.call('presence_stats', { channel: ch });
      if (stats.num_clients === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(stats, { num_clients: 1, num_users: 1 });
    // a connected user who is not subscribed may read presence in an authenticated namespace
    const d = await client('dave');
    assert.equal(Object.keys((await d.call('presence', { channel: ch })).clients).length, 1);
  });

  test('an info claim with a number beyond the double range does not break presence', async () => {
    const ch = `room:${randomName()}`;
    const c = await raw();
    const tok = craftToken(
      { alg: 'HS256' },
      `{"sub":"inf","exp":${nowS() + 600},"info":{"score":1e400}}`,
      { key: server.devApp.client_secret },
    );
    const r = await c.request('connect', { app: server.devApp.app_key, token: tok });
    // Either the token is refused, or its info is shown as valid JSON.
    if (r.connect) await c.call('subscribe', { channel: ch });
    const d = await client('viewer');
    await d.call('subscribe', { channel: ch });
    const p = await d.request('presence', { channel: ch }, { timeout: 1000 }).catch((e) => e);
    assert.equal(d.badLines, undefined, `presence reply is not JSON: ${d.badLines}`);
    assert.ok(p.presence, String(p));
  });

  test('presence_disabled, and permission on personal channels', async () => {
    const c = await client('7');
    assert.equal((await c.callError('presence', { channel: 'news' })).code, 'presence_disabled');
    assert.equal((await c.callError('presence_stats', { channel: 'news' })).code, 'presence_disabled');
    assert.equal((await c.callError('presence', { channel: 'room:user#42' })).code, 'permission_denied');
    assert.equal((await c.callError('presence_stats', { channel: 'room:user#42' })).code, 'permission_denied');
  });
});

describe('ack, ping and malformed commands', () => {
  test('ack replies {} and is counted', async () => {
    const before = await server.metric('herald_push_acks_total');
    const sub = await client('ack');
    const pub = await client('ackp');
    const ch = `open:${randomName()}`;
    await sub.call('subscribe', { channel: ch });
    await pub.call('publish', { channel: ch, data: 'x' });
    const [p] = await sub.waitPubs(ch, 1);
    assert.deepEqual(await sub.call('ack', { id: p.id, channel: ch }), {});
    // Without a channel, ack names a message to the user (docs/protocol.md#ack): a
    // publication id is none.
    assert.equal((await sub.callError('ack', { id: p.id })).code, 'message_not_found');
    assert.equal((await sub.callError('ack', {})).code, 'bad_request');
    assert.equal((await sub.callError('ack', { id: 5 })).code, 'bad_request');
    assert.equal(await server.metric('herald_push_acks_total'), before + 2);
  });

  test('ping answers pong', async () => {
    const c = await client();
    const r = await c.request('ping', {});
    assert.deepEqual(r, { id: r.id, pong: {} });
  });

  test('unknown_method', async () => {
    const c = await client();
    assert.equal((await c.callError('teleport', {})).code, 'unknown_method');
    assert.equal((await c.callError('Subscribe', { channel: 'news' })).code, 'unknown_method');
  });

  test('bad_request shapes', async () => {
    const c = await client();
    const send = async (text) => {
      const n = c.unmatched.length;
      c.sendRaw(text);
      await c.waitUntil(() => c.unmatched.length > n, 3000, `reply to ${text}`);
      return c.unmatched[c.unmatched.length - 1];
    };
    // unusable ids: answered with id 0
    for (const text of [
      '{"ping":{}}',
      '{"id":0,"ping":{}}',
      '{"id":-1,"ping":{}}',
      '{"id":"7","ping":{}}',
      '{"id":1.5,"ping":{}}',
      '{"id":4294967296,"ping":{}}',
      '{"id":null,"ping":{}}',
    ]) {
      const r = await send(text);
      assert.equal(r.id, 0, text);
      assert.equal(r.error?.code, 'bad_request', text);
    }
    // usable id, bad shape
    for (const [id, text] of [
      [900001, '{"id":900001}'],
      [900002, '{"id":900002,"ping":{},"subscribe":{"channel":"x"}}'],
      [900003, '{"id":900003,"ping":[]}'],
      [900004, '{"id":900004,"ping":"x"}'],
      [900005, '{"id":900005,"subscribe":{"channel":5}}'],
      [4294967295, '{"id":4294967295,"subscribe":{}}'],
    ]) {
      const r = await send(text);
      assert.equal(r.id, id, text);
      assert.equal(r.error?.code, 'bad_request', text);
    }
    assert.deepEqual(await c.call('ping'), {}, 'still connected');
  });

  test('replies come in command order within a batch', async () => {
    const c = await client();
    const ch = `open:${randomName()}`;
    const replies = await c.batch([
      ['ping', {}],
      ['subscribe', { channel: ch }],
      ['publish', { channel: ch, data: 1 }],
      ['teleport', {}],
      ['history', { channel: ch }],
      ['unsubscribe', { channel: ch }],
      ['unsubscribe', { channel: ch }],
      ['ping', {}],
    ]);
    assert.deepEqual(replies[0].pong, {});
    assert.equal(replies[1].subscribe.offset, 0);
    assert.equal(replies[2].publish.offset, 1);
    assert.equal(replies[3].error.code, 'unknown_method');
    assert.equal(replies[4].history.publications.length, 1);
    assert.deepEqual(replies[5].unsubscribe, {});
    assert.equal(replies[6].error.code, 'not_subscribed');
    assert.deepEqual(replies[7].pong, {});
    // on the wire, the replies arrived in the order of the commands
    const ids = replies.map((r) => r.id);
    assert.deepEqual(
      c.replyOrder.filter((id) => ids.includes(id)),
      ids,
    );
  });

  test('blank lines and \\r\\n between commands are tolerated', async () => {
    const c = await client();
    const a = c.command('ping');
    const b = c.command('ping');
    c.sendRaw(`\n${a.line}\r\n\n  \n${b.line}\n`);
    const [ra, rb] = await withTimeout(Promise.all([a.reply, b.reply]), 5000, 'two replies');
    assert.deepEqual(ra.pong, {});
    assert.deepEqual(rb.pong, {});
  });
});
