// Fan-out: every subscriber on every connection gets every publication, in offset
// order, whatever way the server and the client batch objects into frames.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, closeAll, randomName } from './lib/herald.mjs';

let server;
const open = [];
before(async () => {
  server = await Herald.start(
    {
      'namespaces.open.publish': 'authenticated',
      'namespaces.open.history_size': '100',
      'push.commands_per_second': '100000',
      'push.command_burst': '100000',
    },
    { apps: [{ name: 'other' }] },
  );
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

function assertContiguous(pubs, from, n, what) {
  assert.equal(pubs.length, n, `${what}: ${pubs.length} publications, expected ${n}`);
  for (let i = 0; i < n; i++) assert.equal(pubs[i].offset, from + i, `${what}: offset at ${i}`);
}

test('every subscriber on every connection receives every publication in offset order', async (t) => {
  const channels = [`open:${randomName('a')}`, `open:${randomName('b')}`, `open:${randomName('c')}`];
  const subs = [];
  for (let i = 0; i < 8; i++) subs.push(await client(`fan${i % 3}`));
  // Each subscriber takes two or three channels; subscriptions are batched in one frame.
  const subscribed = new Map();
  for (const [i, s] of subs.entries()) {
    const mine = channels.filter((_, k) => k !== i % 4);
    subscribed.set(s, mine);
    const replies = await s.batch(mine.map((ch) => ['subscribe', { channel: ch }]));
    for (const r of replies) assert.equal(r.subscribe?.offset, 0, JSON.stringify(r));
  }
  const pub = await client('publisher');
  const N = 150; // per channel
  let sent = 0;
  while (sent < N) {
    // 25 publications per frame, interleaving the channels
    const cmds = [];
    for (let k = 0; k < 25 && sent < N; k++, sent++)
      for (const ch of channels) cmds.push(['publish', { channel: ch, data: { ch, n: sent + 1, text: 'x'.repeat(sent % 50) } }]);
    const replies = await pub.batch(cmds);
    for (const r of replies) assert.ok(r.publish, JSON.stringify(r));
  }
  for (const s of subs) {
    for (const ch of subscribed.get(s)) {
      const got = await s.waitPubs(ch, N, 10000);
      assertContiguous(got, 1, N, `${ch}`);
      assert.deepEqual(
        got.map((p) => p.data.n),
        Array.from({ length: N }, (_, i) => i + 1),
      );
    }
    for (const ch of channels.filter((c) => !subscribed.get(s).includes(c)))
      assert.equal(s.pubs(ch).length, 0, `no publications on ${ch}, not subscribed`);
  }
  // Every subscriber saw the same publication (id, epoch, ts) at each offset.
  for (const ch of channels) {
    const seqs = subs.filter((s) => subscribed.get(s).includes(ch)).map((s) => s.pubs(ch));
    for (const seq of seqs.slice(1)) assert.deepEqual(seq, seqs[0]);
    assert.equal(new Set(seqs[0].map((p) => p.id)).size, N, 'publication ids are unique');
  }
  const maxBatch = Math.max(...subs.map((s) => s.maxObjectsPerFrame));
  t.diagnostic(`largest frame from the server held ${maxBatch} objects; publisher's ${pub.maxObjectsPerFrame}`);
});

test('two publishers on one channel: one total order, the same for every subscriber', async () => {
  const ch = `open:${randomName('race')}`;
  const subs = [await client('r1'), await client('r2'), await client('r3')];
  for (const s of subs) await s.call('subscribe', { channel: ch });
  const p1 = await client('p1');
  const p2 = await client('p2');
  const N = 100;
  const mk = (who) => Array.from({ length: N }, (_, i) => ['publish', { channel: ch, data: { who, i } }]);
  const [r1, r2] = await Promise.all([p1.batch(mk('p1').slice(0, 50)), p2.batch(mk('p2').slice(0, 50))]);
  const [r3, r4] = await Promise.all([p1.batch(mk('p1').slice(50)), p2.batch(mk('p2').slice(50))]);
  const offsets = [...r1, ...r2, ...r3, ...r4].map((r) => r.publish.offset).sort((a, b) => a - b);
  assert.deepEqual(
    offsets,
    Array.from({ length: 2 * N }, (_, i) => i + 1),
    'publish replies hand out each offset once',
  );
  // Each publisher's own publications keep their order.
  for (const rs of [
    [...r1, ...r3],
    [...r2, ...r4],
  ])
    for (let i = 1; i < rs.length; i++) assert.ok(rs[i].publish.offset > rs[i - 1].publish.offset);
  const seqs = [];
  for (const s of subs) {
    const got = await s.waitPubs(ch, 2 * N, 10000);
    assertContiguous(got, 1, 2 * N, ch);
    seqs.push(got);
  }
  for (const seq of seqs.slice(1)) assert.deepEqual(seq, seqs[0]);
  // The pushes agree with the publish replies.
  const byOffset = new Map([...r1, ...r2, ...r3, ...r4].map((r) => [r.publish.offset, r.publish.id]));
  for (const p of seqs[0]) assert.equal(p.id, byOffset.get(p.offset));
});

test('a subscriber with many channels on one connection', async () => {
  const s = await client('many');
  const pub = await client('manyp');
  const channels = Array.from({ length: 40 }, (_, i) => `open:${randomName(`m${i}-`)}`);
  const replies = await s.batch(channels.map((ch) => ['subscribe', { channel: ch }]));
  assert.ok(replies.every((r) => r.subscribe));
  await pub.batch(channels.flatMap((ch) => [1, 2, 3].map((n) => ['publish', { channel: ch, data: n }])));
  for (const ch of channels) {
    const got = await s.waitPubs(ch, 3);
    assert.deepEqual(
      got.map((p) => [p.offset, p.data]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
  }
});

test('a publisher subscribed to its own channel receives its publication as a push too', async () => {
  const c = await client('self');
  const ch = `open:${randomName()}`;
  await c.call('subscribe', { channel: ch });
  const r = await c.call('publish', { channel: ch, data: 'me' });
  const [p] = await c.waitPubs(ch, 1);
  assert.equal(p.id, r.id);
  assert.equal(p.data, 'me');
});

test("two apps' channels of the same name are unrelated", async () => {
  const other = server.apps.other;
  const a = await client('same-user');
  const b = await server.client('same-user', { app: other });
  open.push(b);
  const ch = `open:${randomName()}`;
  await a.call('subscribe', { channel: ch });
  const rb = await b.call('subscribe', { channel: ch });
  assert.equal(rb.offset, 0);
  await a.call('publish', { channel: ch, data: 'for demo' });
  await a.call('publish', { channel: ch, data: 'for demo 2' });
  const pb = await b.call('publish', { channel: ch, data: 'for other' });
  assert.equal(pb.offset, 1, "the other app's channel has its own offsets");
  assert.deepEqual(
    (await a.waitPubs(ch, 2)).map((p) => p.data),
    ['for demo', 'for demo 2'],
  );
  assert.deepEqual(
    (await b.waitPubs(ch, 1)).map((p) => p.data),
    ['for other'],
  );
  await a.call('ping');
  await b.call('ping');
  assert.equal(a.pubs(ch).length, 2);
  assert.equal(b.pubs(ch).length, 1);
  assert.equal((await b.call('history', { channel: ch })).publications.length, 1);
});
