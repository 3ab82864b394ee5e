// A client that stops reading is cut off with 4500 once its send queue passes
// push.send_queue_max_bytes, and costs the other subscribers nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, closeAll, randomName, withTimeout } from './lib/herald.mjs';

let server;
const open = [];
before(async () => {
  server = await Herald.start({
    'push.send_queue_max_bytes': '65536',
    'push.max_publication_bytes': '32768',
    'push.commands_per_second': '100000',
    'push.command_burst': '100000',
    'namespaces.open.publish': 'authenticated',
  });
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

test('a client that stops reading is closed with 4500; another subscriber gets everything', async (t) => {
  const ch = `open:${randomName('slow')}`;
  const slow = await client('slow');
  const fast = await client('fast');
  const pub = await client('pub');
  await slow.call('subscribe', { channel: ch });
  await fast.call('subscribe', { channel: ch });
  const slowBefore = await server.metric('herald_push_slow_consumers_total');
  const discBefore = await server.metric('herald_push_disconnects_total', { reason: 'slow_consumer' });

  // Stop reading: the kernel buffers fill, then the server's queue for this client grows.
  slow.ws._socket.pause();
  const payload = 'p'.repeat(16000);
  let sent = 0;
  let detected = false;
  // Publish until the server reports the slow consumer (the loopback socket buffers
  // take a few MB first), with a hard bound. The publisher waits until the reading
  // subscriber has each publication, so that one is never behind by more than one
  // (16 KB), plus a write the server has not yet seen complete although its bytes
  // arrived (the queue counts a frame until its write completes): a healthy reader, far
  // under the 64 KiB queue limit even on a loaded machine.
  while (!detected && sent < 3000) {
    const replies = await pub.batch([['publish', { channel: ch, data: { n: ++sent, payload } }]], { timeout: 10000 });
    for (const r of replies) assert.ok(r.publish, JSON.stringify(r).slice(0, 200));
    await fast.waitPubs(ch, sent, 10000);
    if (sent % 60 === 0) detected = (await server.metric('herald_push_slow_consumers_total')) > slowBefore;
  }
  assert.ok(detected, `no slow consumer detected after ${sent} publications of 16 KB`);
  t.diagnostic(`slow consumer detected after ${sent} publications (${((sent * 16000) / 1e6).toFixed(1)} MB)`);
  // A few more publications after the cut.
  for (let i = 0; i < 5; i++) await pub.call('publish', { channel: ch, data: { n: ++sent, payload: 'tail' } });

  // The fast subscriber got every publication, in order.
  const got = await fast.waitPubs(ch, sent, 20000);
  for (let i = 0; i < sent; i++) assert.equal(got[i].offset, i + 1);
  assert.deepEqual(
    got.map((p) => p.data.n),
    Array.from({ length: sent }, (_, i) => i + 1),
  );
  assert.ok(fast.isOpen);

  // Resume the slow one: it reads what the kernel held, then finds the connection closed.
  slow.ws._socket.resume();
  const closed = await slow.waitClose(10000);
  const disc = slow.disconnectPush;
  t.diagnostic(
    `slow client: close ${closed.code} ${closed.reason}; disconnect push ${JSON.stringify(disc)}; ` +
      `${slow.pubs(ch).length} publications received before the cut`,
  );
  // The close frame or disconnect push says 4500 when it could still be written; a
  // client that never read anything is cut at the TCP level instead (1006 here).
  if (closed.code !== 1006) assert.equal(closed.code, 4500);
  if (disc) assert.deepEqual(disc, { code: 4500, reason: 'slow_consumer', reconnect: true });
  // What it did receive is a gap-free prefix.
  const mine = slow.pubs(ch);
  for (let i = 0; i < mine.length; i++) assert.equal(mine[i].offset, i + 1);
  assert.ok(mine.length < sent, 'the slow client did not get everything');

  assert.equal(await server.metric('herald_push_slow_consumers_total'), slowBefore + 1);
  assert.equal(await server.metric('herald_push_disconnects_total', { reason: 'slow_consumer' }), discBefore + 1);
  // The server is fine afterwards.
  assert.deepEqual(await pub.call('ping'), {});
});

test('a big recovery is reported as not recovered instead of overflowing the queue', async () => {
  // 10 publications of 30 KB in history exceed half of the 64 KiB send queue, so
  // recovery must say recovered:false rather than cut the client off.
  const srv = await Herald.start({
    'push.send_queue_max_bytes': '65536',
    'push.max_publication_bytes': '32768',
    'namespaces.hist.publish': 'authenticated',
    'namespaces.hist.history_size': '50',
  });
  try {
    const pub = await srv.client('pub');
    const chan = `hist:${randomName()}`;
    let epoch;
    for (let i = 1; i <= 10; i++) epoch = (await pub.call('publish', { channel: chan, data: 'q'.repeat(30000) })).epoch;
    const c = await srv.client('reader');
    const r = await withTimeout(c.call('subscribe', { channel: chan, since: { offset: 0, epoch } }), 5000, 'subscribe');
    assert.equal(r.recovered, false);
    assert.deepEqual(r.publications, []);
    assert.ok(c.isOpen);
    // a small recovery on the same channel still works
    const small = await c.call('history', { channel: chan, since: { offset: 9, epoch } });
    assert.equal(small.recovered, true);
    assert.equal(small.publications.length, 1);
    // and history is cut to what fits, the newest first kept
    const h = await c.call('history', { channel: chan });
    assert.equal(h.truncated, true);
    assert.ok(h.publications.length >= 1 && h.publications.length < 10);
    assert.equal(h.publications[h.publications.length - 1].offset, 10);
    closeAll(pub, c);
  } finally {
    await srv.stop();
  }
});
