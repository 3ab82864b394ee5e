// Recovery after a lost connection: subscribe with `since` gets exactly the missed
// publications, or recovered:false when they are gone (wrong epoch, too old, restart).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, closeAll, randomName } from './lib/herald.mjs';

const FLAGS = {
  'namespaces.open.publish': 'authenticated',
  'namespaces.open.history_size': '100',
  'namespaces.tiny.publish': 'authenticated',
  'namespaces.tiny.history_size': '3',
  'namespaces.nohist.publish': 'authenticated',
  'push.commands_per_second': '10000',
  'push.command_burst': '10000',
};

let server;
const open = [];
before(async () => {
  server = await Herald.start(FLAGS);
});
after(async () => {
  closeAll(open);
  await server?.stop();
});

async function client(user, srv = server) {
  const c = await srv.client(user);
  open.push(c);
  return c;
}

async function publishN(pub, ch, from, n) {
  const replies = await pub.batch(Array.from({ length: n }, (_, i) => ['publish', { channel: ch, data: { n: from + i } }]));
  return replies.map((r) => {
    assert.ok(r.publish, JSON.stringify(r));
    return r.publish;
  });
}

test('after a forced disconnect, subscribe with since recovers exactly the missed publications', async () => {
  const ch = `open:${randomName()}`;
  const pub = await client('pub');
  const a = await client('reader');
  const s = await a.call('subscribe', { channel: ch });
  assert.equal(s.recoverable, true);
  await publishN(pub, ch, 1, 5);
  const seen = await a.waitPubs(ch, 5);
  const last = seen[seen.length - 1];
  assert.equal(last.offset, 5);
  assert.equal(last.epoch, s.epoch);
  a.terminate(); // no close frame: the connection is simply lost
  await a.waitClose();

  const missed = await publishN(pub, ch, 6, 7);
  const b = await client('reader');
  const r = await b.call('subscribe', { channel: ch, since: { offset: last.offset, epoch: last.epoch } });
  assert.equal(r.recovered, true);
  assert.equal(r.epoch, s.epoch);
  assert.equal(r.offset, 12);
  assert.deepEqual(
    r.publications.map((p) => p.offset),
    [6, 7, 8, 9, 10, 11, 12],
  );
  assert.deepEqual(
    r.publications.map((p) => p.data.n),
    [6, 7, 8, 9, 10, 11, 12],
  );
  assert.deepEqual(
    r.publications.map((p) => p.id),
    missed.map((m) => m.id),
  );
  for (const p of r.publications) {
    assert.equal(p.channel, ch);
    assert.equal(p.epoch, s.epoch);
    assert.ok(Number.isInteger(p.ts));
  }
  // Live publications continue right after the recovered ones, with no duplicate.
  await publishN(pub, ch, 13, 2);
  const live = await b.waitPubs(ch, 2);
  assert.deepEqual(
    live.map((p) => p.offset),
    [13, 14],
  );
  await b.call('ping');
  assert.equal(b.pubs(ch).length, 2);
});

test('since at the newest offset recovers nothing, successfully', async () => {
  const ch = `open:${randomName()}`;
  const pub = await client('pub');
  const sent = await publishN(pub, ch, 1, 3);
  const c = await client('reader');
  const r = await c.call('subscribe', { channel: ch, since: { offset: 3, epoch: sent[0].epoch } });
  assert.equal(r.recovered, true);
  assert.deepEqual(r.publications, []);
  assert.equal(r.offset, 3);
});

test('since 0 with the right epoch recovers the whole history', async () => {
  const ch = `open:${randomName()}`;
  const pub = await client('pub');
  const sent = await publishN(pub, ch, 1, 4);
  const c = await client('reader');
  const r = await c.call('subscribe', { channel: ch, since: { offset: 0, epoch: sent[0].epoch } });
  assert.equal(r.recovered, true);
  assert.deepEqual(
    r.publications.map((p) => p.offset),
    [1, 2, 3, 4],
  );
});

test('a wrong epoch is not recovered', async () => {
  const ch = `open:${randomName()}`;
  const pub = await client('pub');
  const sent = await publishN(pub, ch, 1, 4);
  const c = await client('reader');
  const wrong = sent[0].epoch === 'deadbeef' ? 'feedface' : 'deadbeef';
  const r = await c.call('subscribe', { channel: ch, since: { offset: 2, epoch: wrong } });
  assert.equal(r.recovered, false);
  assert.deepEqual(r.publications, []);
  assert.equal(r.epoch, sent[0].epoch, 'the reply names the current epoch');
  assert.equal(r.offset, 4);
  // The subscription itself stands: new publications arrive.
  await publishN(pub, ch, 5, 1);
  assert.equal((await c.waitPubs(ch, 1))[0].offset, 5);
});

test('an offset beyond the newest one is not recovered', async () => {
  const ch = `open:${randomName()}`;
  const pub = await client('pub');
  const sent = await publishN(pub, ch, 1, 2);
  const c = await client('reader');
  const r = await c.call('subscribe', { channel: ch, since: { offset: 50, epoch: sent[0].epoch } });
  assert.equal(r.recovered, false);
  assert.deepEqual(r.publications, []);
});

test('an offset older than the history keeps (history_size 3) is not recovered', async () => {
  const ch = `tiny:${randomName()}`;
  const pub = await client('pub');
  const a = await client('reader');
  const s = await a.call('subscribe', { channel: ch });
  await publishN(pub, ch, 1, 2);
  await a.waitPubs(ch, 2);
  a.terminate();
  await publishN(pub, ch, 3, 8); // offsets 3..10; history holds 8..10
  const b = await client('reader');
  const r = await b.call('subscribe', { channel: ch, since: { offset: 2, epoch: s.epoch } });
  assert.equal(r.recovered, false);
  assert.deepEqual(r.publications, []);
  assert.equal(r.offset, 10);
  // ... while the last three are still recoverable
  const c = await client('reader');
  const ok = await c.call('subscribe', { channel: ch, since: { offset: 7, epoch: s.epoch } });
  assert.equal(ok.recovered, true);
  assert.deepEqual(
    ok.publications.map((p) => p.offset),
    [8, 9, 10],
  );
  const h = await c.call('history', { channel: ch });
  assert.deepEqual(
    h.publications.map((p) => p.offset),
    [8, 9, 10],
  );
});

test('a namespace without history: recoverable false, since gives recovered false', async () => {
  const ch = `nohist:${randomName()}`;
  const pub = await client('pub');
  const a = await client('reader');
  const s = await a.call('subscribe', { channel: ch });
  assert.equal(s.recoverable, false);
  await publishN(pub, ch, 1, 3);
  const got = await a.waitPubs(ch, 3);
  assert.deepEqual(
    got.map((p) => p.offset),
    [1, 2, 3],
    'offsets count even without history',
  );
  const b = await client('reader');
  const r = await b.call('subscribe', { channel: ch, since: { offset: 1, epoch: s.epoch } });
  assert.equal(r.recovered, false);
  assert.deepEqual(r.publications, []);
});

test('after a server restart the epoch changes and nothing is recovered', async () => {
  const first = await Herald.start(FLAGS);
  let second;
  try {
    const ch = `open:${randomName()}`;
    const pub = await client('pub', first);
    const a = await client('reader', first);
    const s = await a.call('subscribe', { channel: ch });
    await publishN(pub, ch, 1, 3);
    const seen = await a.waitPubs(ch, 3);
    await first.halt();
    await a.waitClose();

    second = await Herald.start(FLAGS, { dataDir: first.dataDir });
    assert.equal(second.devApp.app_key, first.devApp.app_key, 'same data dir, same demo app');
    const b = await client('reader', second);
    const r = await b.call('subscribe', { channel: ch, since: { offset: 3, epoch: seen[2].epoch } });
    assert.equal(r.recovered, false);
    assert.deepEqual(r.publications, []);
    assert.notEqual(r.epoch, s.epoch, 'a new epoch after the restart');
    // The new epoch starts over and works for later recovery.
    const pub2 = await client('pub', second);
    const sent = await publishN(pub2, ch, 1, 2);
    assert.equal(sent[0].epoch, r.epoch);
    const c = await client('reader', second);
    const ok = await c.call('subscribe', { channel: ch, since: { offset: r.offset, epoch: r.epoch } });
    assert.equal(ok.recovered, true);
    assert.equal(ok.publications.length, 2);
  } finally {
    await second?.halt();
    await first.stop();
  }
});

test('server shutdown sends disconnect 1001 (reconnect) to connected clients', async () => {
  const srv = await Herald.start(FLAGS);
  try {
    const c = await client('bye', srv);
    await c.call('subscribe', { channel: 'news' });
    await srv.halt();
    const closed = await c.waitClose();
    assert.equal(closed.code, 1001);
    assert.deepEqual(c.disconnectPush, { code: 1001, reason: 'shutdown', reconnect: true });
  } finally {
    await srv.stop();
  }
});

test('history since (the recovery path without subscribing)', async () => {
  const ch = `open:${randomName()}`;
  const pub = await client('pub');
  const sent = await publishN(pub, ch, 1, 6);
  const c = await client('reader');
  const h = await c.call('history', { channel: ch, since: { offset: 4, epoch: sent[0].epoch } });
  assert.equal(h.recovered, true);
  assert.deepEqual(
    h.publications.map((p) => p.data.n),
    [5, 6],
  );
  const tiny = `tiny:${randomName()}`;
  const sentTiny = await publishN(pub, tiny, 1, 6);
  const lost = await c.call('history', { channel: tiny, since: { offset: 1, epoch: sentTiny[0].epoch } });
  assert.equal(lost.recovered, false);
  assert.deepEqual(lost.publications, []);
});

// While another connection publishes without pause, a subscribe (with or without
// since) must line up exactly with the live stream: the first push is the reply's
// offset + 1 (or the recovered ones lead up to it), with no gap and no duplicate.
test('subscribing while publications stream in: no gap, no duplicate', async () => {
  const ch = `open:${randomName('stream')}`;
  const pub = await client('streamer');
  let stop = false;
  let published = 0;
  const pump = (async () => {
    while (!stop) {
      const replies = await pub.batch(
        Array.from({ length: 5 }, () => ['publish', { channel: ch, data: { n: ++published } }]),
      );
      for (const r of replies) assert.ok(r.publish, JSON.stringify(r));
    }
  })();
  try {
    let last = null; // {offset, epoch} seen by the previous reader
    for (let round = 0; round < 12; round++) {
      const c = await client('racer');
      const params = { channel: ch };
      if (last && round % 2 === 1) params.since = last;
      const r = await c.call('subscribe', params);
      const seq = [];
      if (params.since) {
        assert.equal(r.recovered, true, `round ${round}: recovery within a 100-publication history`);
        const rec = r.publications.map((p) => p.offset);
        assert.deepEqual(
          rec,
          Array.from({ length: r.offset - params.since.offset }, (_, i) => params.since.offset + 1 + i),
          `round ${round}: recovered offsets`,
        );
        seq.push(...rec);
      }
      const target = r.offset + 15;
      await c.waitUntil(() => c.pubs(ch).some((p) => p.offset >= target), 5000, `round ${round}: live pubs`);
      const live = c.pubs(ch).map((p) => p.offset);
      assert.equal(live[0], r.offset + 1, `round ${round}: the first push follows the reply's offset ${r.offset}`);
      seq.push(...live);
      for (let i = 1; i < seq.length; i++) assert.equal(seq[i], seq[i - 1] + 1, `round ${round}: gap or duplicate at ${i}`);
      const lastPub = c.pubs(ch).at(-1);
      last = { offset: lastPub.offset, epoch: lastPub.epoch };
      c.terminate();
    }
  } finally {
    stop = true;
    await pump;
  }
});
