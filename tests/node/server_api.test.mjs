// Server-side publishing and disconnects (the signed server API) as the WebSocket
// clients see them: pushes on server-only channels, personal channels, close 4006.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, closeAll, connectRefused, hs256, nowS, randomName } from './lib/herald.mjs';

let server;
const open = [];
before(async () => {
  server = await Herald.start({ 'namespaces.chat.history_size': '10' }, { apps: [{ name: 'other' }] });
});
after(async () => {
  closeAll(open);
  await server?.stop();
});

async function client(user) {
  const c = await server.client(user);
  open.push(c);
  return c;
}

async function api(path, body) {
  const r = await server.api('POST', path, body);
  assert.equal(r.status, 200, `${path}: ${r.status} ${r.text}`);
  return r.body;
}

test('a server publish reaches the subscribers of a server-only channel', async () => {
  const ch = randomName('news');
  const a = await client('a');
  const b = await client('b');
  const s = await a.call('subscribe', { channel: ch });
  await b.call('subscribe', { channel: ch });
  const r = await api('/api/v1/publish', { channel: ch, data: { title: 'Hello' } });
  assert.equal(r.offset, 1);
  assert.equal(r.epoch, s.epoch);
  for (const c of [a, b]) {
    const [p] = await c.waitPubs(ch, 1);
    assert.deepEqual(
      { offset: p.offset, epoch: p.epoch, id: p.id, data: p.data },
      { offset: 1, epoch: s.epoch, id: r.id, data: { title: 'Hello' } },
    );
  }
  // clients of this namespace may not publish themselves
  assert.equal((await a.callError('publish', { channel: ch, data: 1 })).code, 'permission_denied');
});

test('broadcast and user publish', async () => {
  const chans = [randomName('b1'), `chat:${randomName('b2')}`];
  const c = await client('42');
  const other = await client('7');
  for (const ch of chans) await c.call('subscribe', { channel: ch });
  await c.call('subscribe', { channel: 'user#42' });
  assert.equal((await other.callError('subscribe', { channel: 'user#42' })).code, 'permission_denied');
  const b = await api('/api/v1/broadcast', { channels: chans, data: 'to all' });
  assert.equal(b.results.length, 2);
  const u = await api('/api/v1/user/publish', { user: '42', data: { private: true } });
  assert.equal(u.channel, 'user#42');
  for (const ch of chans) assert.equal((await c.waitPubs(ch, 1))[0].data, 'to all');
  const [p] = await c.waitPubs('user#42', 1);
  assert.deepEqual(p.data, { private: true });
  assert.equal(p.id, u.id);
  // the server-side history is the client-side history
  const h = await c.call('history', { channel: chans[1] });
  assert.equal(h.publications[0].id, b.results[1].id);
});

test('user/disconnect closes every connection of the user with 4006', async () => {
  const user = randomName('bye');
  const c1 = await client(user);
  const c2 = await client(user);
  const stay = await client(`${user}-other`);
  const r = await api('/api/v1/user/disconnect', { user });
  assert.equal(r.connections, 2);
  for (const c of [c1, c2]) {
    const closed = await c.waitClose();
    assert.equal(closed.code, 4006);
    assert.equal(closed.reason, 'disconnected_by_server');
    assert.deepEqual(c.disconnectPush, { code: 4006, reason: 'disconnected_by_server', reconnect: false });
  }
  assert.deepEqual(await stay.call('ping'), {});
  assert.equal((await api('/api/v1/user/disconnect', { user })).connections, 0);
});

test('server-published data with a number beyond the double range never reaches clients as invalid JSON', async () => {
  const ch = randomName('inf');
  const c = await client('inf');
  await c.call('subscribe', { channel: ch });
  const r = await server.api('POST', '/api/v1/publish', `{"channel":"${ch}","data":{"x":1e400}}`);
  await api('/api/v1/publish', { channel: ch, data: 'after' });
  await c.waitUntil(() => c.pubs(ch).some((p) => p.data === 'after') || c.badLines, 3000, 'the last publication');
  assert.equal(c.badLines, undefined, `publish answered ${r.status}; the client got lines that are not JSON: ${c.badLines}`);
});

test('the server API refuses a bad signature and a replayed nonce', async () => {
  const body = { channel: randomName('sig'), data: 1 };
  const bad = await server.api('POST', '/api/v1/publish', body, {
    tamper: (h) => {
      h['X-Herald-Signature'] = h['X-Herald-Signature'].replace(/^./, (x) => (x === '0' ? '1' : '0'));
    },
  });
  assert.equal(bad.status, 401);
  assert.equal(bad.body.error?.code ?? bad.body.code, 'signature_invalid', bad.text);
  const nonce = 'AAECAwQFBgcICQoLDA0ODw';
  const first = await server.api('POST', '/api/v1/publish', body, { nonce });
  assert.equal(first.status, 200, first.text);
  const replay = await server.api('POST', '/api/v1/publish', body, { nonce });
  assert.equal(replay.status, 401);
  assert.equal(replay.body.error?.code ?? replay.body.code, 'nonce_replayed', replay.text);
});

test('suspending an app closes its clients with 4006 (app_disabled); they cannot connect until it resumes', async () => {
  const other = server.apps.other;
  const c = await server.client('s1', { app: other });
  open.push(c);
  const sameUserOtherApp = await client('s1');
  const r = await server.admin('POST', `/admin/v1/apps/${other.name}/suspend`, {});
  assert.equal(r.status, 200, r.text);
  const closed = await c.waitClose();
  assert.deepEqual(closed, { code: 4006, reason: 'app_disabled' });
  assert.deepEqual(c.disconnectPush, { code: 4006, reason: 'app_disabled', reconnect: false });
  const token = await hs256(other.client_secret, { sub: 's1', exp: nowS() + 600 });
  const refused = await connectRefused(server, other.key, token);
  assert.equal(refused.error?.code, 'app_suspended');
  assert.equal(refused.close.code, 4001);
  assert.deepEqual(await sameUserOtherApp.call('ping'), {}, "the demo app's clients are not affected");
  const resumed = await server.admin('POST', `/admin/v1/apps/${other.name}/resume`, {});
  assert.equal(resumed.status, 200, resumed.text);
  const again = await server.client('s1', { app: other });
  open.push(again);
  assert.deepEqual(await again.call('ping'), {});
});
