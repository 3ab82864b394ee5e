// Messages to users from independent clients (ws, jose, Node's https signing the
// requests): the `msg` push, acks refused for what is not the user's, and the inbox
// paged with limit and after over the server API and over the client protocol.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, closeAll, sleep } from './lib/herald.mjs';

const FLAGS = { 'messages.poll_interval': '50ms' };
let server;
const open = [];
before(async () => {
  server = await Herald.start(FLAGS);
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

async function send(user, data, extra = {}) {
  const r = await server.api('POST', '/api/v1/messages', { to_user: user, data, ...extra });
  assert.equal(r.status, 202, r.text);
  return r.body;
}

const isMsg = (m) => m.msg !== undefined;

// The message's status once it is acked (polled for up to 2 s).
async function acked(id) {
  let r;
  for (let i = 0; i < 40; i++) {
    r = await server.api('GET', `/api/v1/messages/${id}`);
    assert.equal(r.status, 200, r.text);
    if (r.body.state === 'acked') break;
    await sleep(50);
  }
  assert.equal(r.body.state, 'acked', r.text);
  return r;
}

test('a connected user gets the msg push with the published data', async () => {
  const c = await client('node-live');
  const sent = await send('node-live', { text: 'hi', list: [1, 2, 3] });
  assert.match(sent.id, /^msg_/);
  assert.equal(sent.state, 'pending');
  assert.equal(sent.duplicate, false);
  assert.equal(sent.connections, 1);
  const push = await c.nextPush(isMsg, 3000, 'a msg push');
  assert.equal(push.msg.id, sent.id);
  assert.deepEqual(push.msg.data, { text: 'hi', list: [1, 2, 3] });
  assert.equal(push.msg.priority, 'normal');
  assert.equal(push.msg.template, undefined);
  assert.ok(Number.isInteger(push.msg.ts) && push.msg.ts > 0);
  assert.deepEqual(await c.call('ack', { id: sent.id }), {});
  // The ack is written with the next group commit after its reply (docs/messages.md).
  const status = await acked(sent.id);
  assert.deepEqual(
    status.body.trail.map((e) => e.event).filter((e) => ['accepted', 'stored', 'delivered', 'acked'].includes(e)),
    ['accepted', 'stored', 'delivered', 'acked'],
  );
});

test('acking an unknown id or another user\'s message is message_not_found', async () => {
  const mine = await send('node-owner', { n: 1 });
  const other = await client('node-intruder');
  const unknown = await other.callError('ack', { id: 'msg_00000000000000000000000000' });
  assert.equal(unknown.code, 'message_not_found');
  const foreign = await other.callError('ack', { id: mine.id });
  assert.equal(foreign.code, 'message_not_found');
  // The owner's message is untouched.
  const status = await server.api('GET', `/api/v1/messages/${mine.id}`);
  assert.equal(status.body.state, 'pending');
  const owner = await client('node-owner');
  const push = await owner.nextPush(isMsg, 3000, 'the pending msg on connect');
  assert.equal(push.msg.id, mine.id);
  assert.deepEqual(await owner.call('ack', { id: mine.id }), {});
});

test('the inbox pages with limit and after, oldest first, over the API and the protocol', async () => {
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await send('node-pager', { i })).id);

  // Server API.
  const seen = [];
  let after = null;
  const pages = [];
  for (let k = 0; k < 5; k++) {
    const q = after === null ? '?limit=2' : `?limit=2&after=${encodeURIComponent(after)}`;
    const r = await server.api('GET', `/api/v1/users/node-pager/inbox${q}`);
    assert.equal(r.status, 200, r.text);
    pages.push(r.body.messages.length);
    for (const m of r.body.messages) {
      seen.push(m.id);
      assert.deepEqual(m.data, { i: ids.indexOf(m.id) });
      assert.equal(typeof m.cursor, 'string');
    }
    after = r.body.next;
    if (after === null) break;
  }
  assert.deepEqual(pages, [2, 2, 1]);
  assert.deepEqual(seen, ids);

  const tooMany = await server.api('GET', '/api/v1/users/node-pager/inbox?limit=501');
  assert.equal(tooMany.status, 400, tooMany.text);
  assert.equal(tooMany.body.error.code, 'invalid_argument');

  // Client protocol: the same pages; the pending messages were pushed on connect.
  const c = await client('node-pager');
  await c.waitUntil(() => c.pushes.filter(isMsg).length >= 5, 3000, 'five msg pushes on connect');
  assert.deepEqual(c.pushes.filter(isMsg).map((m) => m.msg.id), ids);
  const viaWs = [];
  let cursor;
  for (let k = 0; k < 5; k++) {
    const page = await c.call('inbox', cursor === undefined ? { limit: 2 } : { limit: 2, after: cursor });
    viaWs.push(...page.messages.map((m) => m.id));
    if (page.next === null) break;
    cursor = page.next;
  }
  assert.deepEqual(viaWs, ids);

  // Acked messages leave the inbox; the rest stay in order.
  await c.call('ack', { id: ids[1] });
  await c.call('ack', { id: ids[3] });
  await acked(ids[1]);
  await acked(ids[3]);
  const rest = await c.call('inbox', { limit: 50 });
  assert.deepEqual(rest.messages.map((m) => m.id), [ids[0], ids[2], ids[4]]);
  assert.equal(rest.next, null);
});
