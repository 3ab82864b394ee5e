// Every per-connection limit of the push protocol, each with its error reply or close
// code (docs/protocol.md), on servers configured with small limits.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, PushClient, hs256, nowS, sleep, closeAll, randomName, withTimeout } from './lib/herald.mjs';

const open = [];
after(() => closeAll(open));

async function client(server, user = randomName('u'), opts) {
  const c = await server.client(user, opts);
  open.push(c);
  return c;
}
async function raw(server) {
  const c = await PushClient.open(server);
  open.push(c);
  return c;
}
async function expectClose(c, code, reason, timeout = 5000) {
  const closed = await c.waitClose(timeout);
  assert.equal(closed.code, code, `close ${JSON.stringify(closed)}`);
  if (reason !== undefined) assert.equal(closed.reason, reason);
  return closed;
}

describe('limits (one server with small limits)', () => {
  let server;
  before(async () => {
    server = await Herald.start({
      'limits.max_ws_message_bytes': '4096',
      'push.max_subscriptions_per_connection': '3',
      'push.max_connections_per_user': '2',
      'push.max_publication_bytes': '1024',
      'push.connect_timeout': '700ms',
      'push.jwt_max_skew': '0s',
      'namespaces.open.publish': 'authenticated',
      'namespaces.small.max_subscribers': '2',
    }, { apps: [{ name: 'other' }] });
  });
  after(() => server?.stop());

  test('limits.max_ws_message_bytes: a frame at the limit is read, one byte more closes with 1009', async () => {
    const c = await client(server);
    const cmd = c.command('ping');
    const exact = cmd.line + ' '.repeat(4096 - cmd.line.length);
    assert.equal(Buffer.byteLength(exact), 4096);
    c.sendRaw(exact);
    assert.deepEqual((await withTimeout(cmd.reply, 5000, 'reply to a 4096-byte frame')).pong, {});
    const big = c.command('ping');
    c.sendRaw(big.line + ' '.repeat(4097 - big.line.length));
    await expectClose(c, 1009);
  });

  test('limits.max_ws_message_bytes before connect, with a large publish', async () => {
    const c = await raw(server);
    c.sendRaw(JSON.stringify({ id: 1, connect: { app: 'x', token: 'y'.repeat(5000) } }));
    await expectClose(c, 1009);
    const d = await client(server);
    d.sendRaw(JSON.stringify({ id: 1, publish: { channel: 'open:x', data: 'z'.repeat(64 * 1024) } }));
    await expectClose(d, 1009);
  });

  test('push.max_subscriptions_per_connection → too_many_subscriptions', async () => {
    const c = await client(server);
    for (let i = 0; i < 3; i++) await c.call('subscribe', { channel: `lim${i}` });
    const e = await c.callError('subscribe', { channel: 'lim3' });
    assert.equal(e.code, 'too_many_subscriptions');
    await c.call('unsubscribe', { channel: 'lim0' });
    assert.ok(await c.call('subscribe', { channel: 'lim3' }));
    assert.equal((await c.callError('subscribe', { channel: 'lim4' })).code, 'too_many_subscriptions');
    // another connection has its own allowance
    const d = await client(server, 'other');
    for (let i = 0; i < 3; i++) await d.call('subscribe', { channel: `lim${i}` });
  });

  test('push.max_connections_per_user → too_many_connections and close 4004', async () => {
    const user = randomName('user');
    const a = await client(server, user);
    const b = await client(server, user);
    const c = await raw(server);
    const token = await hs256(server.devApp.client_secret, { sub: user, exp: nowS() + 600 });
    const r = await c.request('connect', { app: server.devApp.app_key, token });
    assert.equal(r.error?.code, 'too_many_connections');
    await expectClose(c, 4004, 'too_many_connections');
    assert.deepEqual(c.disconnectPush, { code: 4004, reason: 'too_many_connections', reconnect: false });
    // other users are not affected
    await client(server, `${user}-2`);
    // after one of the two leaves, a new connection is accepted
    a.close();
    await a.waitClose();
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      const d = await raw(server);
      const rr = await d.request('connect', {
        app: server.devApp.app_key,
        token: await hs256(server.devApp.client_secret, { sub: user, exp: nowS() + 600 }),
      });
      ok = !!rr.connect;
      if (!ok) await sleep(50);
    }
    assert.ok(ok, 'a connection slot frees up when a connection closes');
    assert.deepEqual(await b.call('ping'), {});
  });

  test('push.max_connections_per_user counts per app', async () => {
    const user = randomName('per-app');
    await client(server, user);
    await client(server, user);
    const elsewhere = await client(server, user, { app: server.apps.other });
    assert.deepEqual(await elsewhere.call('ping'), {}, 'the same user id in another app is another user');
  });

  test('push.max_publication_bytes → publication_too_large (the limit is on serialised data)', async () => {
    const c = await client(server);
    const ch = `open:${randomName()}`;
    await c.call('subscribe', { channel: ch });
    // "x"*1022 serialises to 1024 bytes with its quotes: at the limit
    const r = await c.call('publish', { channel: ch, data: 'x'.repeat(1022) });
    assert.equal(r.offset, 1);
    assert.equal((await c.callError('publish', { channel: ch, data: 'x'.repeat(1023) })).code, 'publication_too_large');
    assert.equal(
      (await c.callError('publish', { channel: ch, data: { list: Array(300).fill(1234) } })).code,
      'publication_too_large',
    );
    const got = await c.waitPubs(ch, 1);
    assert.equal(got[0].data.length, 1022);
    await c.call('ping');
    assert.equal(c.pubs(ch).length, 1, 'refused publications are not delivered');
  });

  test('namespace max_subscribers → channel_full', async () => {
    const ch = `small:${randomName()}`;
    const a = await client(server);
    const b = await client(server);
    const c = await client(server);
    await a.call('subscribe', { channel: ch });
    await b.call('subscribe', { channel: ch });
    assert.equal((await c.callError('subscribe', { channel: ch })).code, 'channel_full');
    // another channel of the namespace is not full
    assert.ok(await c.call('subscribe', { channel: `${ch}-other` }));
    await b.call('unsubscribe', { channel: ch });
    assert.ok(await c.call('subscribe', { channel: ch }));
    // a dropped connection frees its place too
    a.terminate();
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      const r = await b.request('subscribe', { channel: ch });
      ok = !!r.subscribe;
      if (!ok) {
        assert.equal(r.error?.code, 'channel_full');
        await sleep(50);
      }
    }
    assert.ok(ok, 'the place of a dropped subscriber is freed');
  });

  test('push.connect_timeout → close 4501', async () => {
    const c = await raw(server);
    const t0 = Date.now();
    await expectClose(c, 4501, 'connect_timeout', 4000);
    const took = Date.now() - t0;
    assert.ok(took >= 600, `closed after ${took} ms, before the 700 ms timeout`);
    assert.deepEqual(c.disconnectPush, { code: 4501, reason: 'connect_timeout', reconnect: true });
    // Activity other than connect does not extend the deadline.
    const d = await raw(server);
    const pinger = setInterval(() => d.isOpen && d.sendRaw('{"id":1,"ping":{}}'), 100);
    try {
      await expectClose(d, 4501, 'connect_timeout', 4000);
    } finally {
      clearInterval(pinger);
    }
    // a connected client is not affected
    const e = await client(server);
    await sleep(900);
    assert.deepEqual(await e.call('ping'), {});
  });

  test('token expiry without refresh → close 4003; a refresh keeps the connection', async () => {
    const secret = server.devApp.client_secret;
    const expiring = await raw(server);
    const refreshed = await raw(server);
    const r1 = await expiring.call('connect', {
      app: server.devApp.app_key,
      token: await hs256(secret, { sub: 'exp1', exp: nowS() + 2 }),
    });
    assert.ok(r1.expires_in <= 2);
    await refreshed.call('connect', {
      app: server.devApp.app_key,
      token: await hs256(secret, { sub: 'exp2', exp: nowS() + 2 }),
    });
    await expiring.call('subscribe', { channel: 'news' });
    await sleep(500);
    const rr = await refreshed.call('refresh', { token: await hs256(secret, { sub: 'exp2', exp: nowS() + 600 }) });
    assert.ok(rr.expires_in > 500);
    const t0 = Date.now();
    await expectClose(expiring, 4003, 'token_expired', 5000);
    assert.ok(Date.now() - t0 < 3500);
    assert.deepEqual(expiring.disconnectPush, { code: 4003, reason: 'token_expired', reconnect: true });
    await sleep(600);
    assert.deepEqual(await refreshed.call('ping'), {}, 'the refreshed connection is still open');
  });

  test('a binary frame closes with 4000, before and after connect', async () => {
    const a = await client(server);
    a.ws.send(Buffer.from('{"id":1,"ping":{}}'), { binary: true });
    await expectClose(a, 4000, 'bad_frame');
    assert.deepEqual(a.disconnectPush, { code: 4000, reason: 'bad_frame', reconnect: false });
    const b = await raw(server);
    b.ws.send(Buffer.from([0, 1, 2, 3]), { binary: true });
    await expectClose(b, 4000, 'bad_frame');
  });

  test('text that is not a JSON object closes with 4000', async () => {
    for (const text of ['hello', '{"id":1,', '[1,2]', '42', '"str"', 'null', '{"id":1,"ping":{}} trailing', '{}}']) {
      const c = await client(server);
      c.sendRaw(text);
      await expectClose(c, 4000, 'bad_frame');
    }
    const c = await raw(server);
    c.sendRaw('not json at all');
    await expectClose(c, 4000, 'bad_frame');
  });

  test('a bad line after a good one: the good one is answered, then 4000', async () => {
    const c = await client(server);
    const good = c.command('ping');
    c.sendRaw(`${good.line}\n{broken`);
    const r = await withTimeout(good.reply, 5000, 'reply to the good line');
    assert.deepEqual(r.pong, {});
    await expectClose(c, 4000, 'bad_frame');
  });

  test('deeply nested JSON is refused without harm', async () => {
    const c = await client(server);
    c.sendRaw(`{"id":1,"ping":{"a":${'['.repeat(1000)}${']'.repeat(1000)}}}`);
    await expectClose(c, 4000, 'bad_frame');
    const d = await client(server);
    assert.deepEqual(await d.call('ping'), {}, 'the server is fine');
  });

  test('a text frame that is not valid UTF-8 closes the connection', async (t) => {
    const c = await client(server);
    // ws refuses to send invalid UTF-8 as text unless told it is binary-safe; send the
    // bytes as a text frame by hand through the sender.
    c.ws._sender.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false, fin: true, mask: true, compress: false });
    const closed = await c.waitClose();
    t.diagnostic(`invalid UTF-8 text frame: close ${closed.code} ${closed.reason}`);
    assert.ok([1007, 4000].includes(closed.code), `close ${JSON.stringify(closed)}`);
  });
});

describe('command rate limit (5/s, burst 5)', () => {
  let server;
  before(async () => {
    server = await Herald.start({ 'push.commands_per_second': '5', 'push.command_burst': '5' });
  });
  after(() => server?.stop());

  test('beyond the burst, commands get rate_limited and are not run', async () => {
    const c = await client(server); // connect took one token
    const replies = await c.batch(Array.from({ length: 8 }, (_, i) => ['subscribe', { channel: `rl${i}` }]));
    const ok = replies.filter((r) => r.subscribe);
    const limited = replies.filter((r) => r.error?.code === 'rate_limited');
    assert.equal(ok.length + limited.length, 8, JSON.stringify(replies));
    assert.ok(ok.length >= 3 && ok.length <= 5, `${ok.length} commands ran`);
    // the ones that ran are the first ones
    for (let i = 0; i < replies.length; i++) assert.equal(!!replies[i].subscribe, i < ok.length);
    // a refused subscribe did not subscribe: after a refill it can be made
    await sleep(1100);
    assert.ok(await c.call('subscribe', { channel: `rl${ok.length}` }));
    assert.ok(c.isOpen);
  });

  test('a client sending at a little over the rate is throttled, not closed', async () => {
    const c = await client(server);
    await c.batch(Array.from({ length: 4 }, () => ['ping', {}])); // drain the burst
    const results = [];
    for (let i = 0; i < 16; i++) {
      results.push(c.request('ping'));
      await sleep(140); // about 7 per second
    }
    const replies = await Promise.all(results);
    assert.ok(replies.some((r) => r.pong), 'some get through');
    assert.ok(
      replies.every((r) => r.pong || r.error?.code === 'rate_limited'),
      JSON.stringify(replies.filter((r) => !r.pong)),
    );
    assert.ok(c.isOpen, 'not closed for flooding');
  });

  test('flooding at over twice the rate closes with 4005', async () => {
    const c = await client(server);
    const cmds = Array.from({ length: 40 }, () => c.command('ping'));
    c.sendRaw(cmds.map((x) => x.line).join('\n'));
    await expectClose(c, 4005, 'flood');
    assert.deepEqual(c.disconnectPush, { code: 4005, reason: 'flood', reconnect: false });
    const replies = await withTimeout(Promise.all(cmds.map((x) => x.reply)), 5000, 'replies or close');
    const pongs = replies.filter((r) => r.pong).length;
    const limited = replies.filter((r) => r.error?.code === 'rate_limited').length;
    assert.ok(pongs <= 5, `${pongs} commands ran`);
    assert.ok(pongs + limited < 40, 'the flood was cut off before every command was answered');
  });

  test('flooding over several frames closes with 4005', async () => {
    const c = await client(server);
    const timer = setInterval(() => {
      if (c.isOpen) c.sendRaw('{"id":7,"ping":{}}');
    }, 20); // 50 per second
    try {
      await expectClose(c, 4005, 'flood', 4000);
    } finally {
      clearInterval(timer);
    }
  });

  test('rate_limited also applies before connect', async () => {
    const c = await raw(server);
    const replies = await c.batch(Array.from({ length: 7 }, () => ['ping', {}]));
    const codes = replies.map((r) => r.error?.code);
    assert.ok(codes.includes('not_connected'));
    assert.ok(codes.includes('rate_limited'), JSON.stringify(codes));
  });
});

describe('keep-alive (limits.idle_timeout 1s)', () => {
  let server;
  before(async () => {
    server = await Herald.start({ 'limits.idle_timeout': '1s' });
  });
  after(() => server?.stop());

  test('a quiet client that answers pings stays; one that answers nothing is closed', async () => {
    const quiet = await client(server);
    const deaf = await client(server);
    let pings = 0;
    quiet.ws.on('ping', () => pings++);
    deaf.ws._socket.pause(); // reads nothing, so answers no ping
    await sleep(2600);
    assert.ok(pings >= 2, `${pings} pings in 2.6 s at half of a 1 s idle timeout`);
    assert.equal(quiet.closeInfo, null);
    assert.deepEqual(await quiet.call('ping'), {});
    deaf.ws._socket.resume();
    const closed = await deaf.waitClose(5000);
    assert.notEqual(closed.code, 1000, `closed ${JSON.stringify(closed)}`);
  });
});
