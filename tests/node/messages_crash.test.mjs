// The crash test of messages to users: many publishers send while the server is killed
// with SIGKILL at random moments and restarted on the same data dir. Every message whose
// publish was answered (202, or 200 for a repeat of its idempotency key) must be there
// afterwards, exactly once: after each restart, by id, every message acknowledged since
// the previous restart, and the last ones acknowledged before the kill republished (the
// same id, nothing new); at the end, all of them by id over the server API and in their
// users' inboxes over the client protocol. Unanswered publishes are retried with the
// same idempotency key.
//
// MESSAGES_CRASH_N and MESSAGES_CRASH_KILLS override the size (for a quick local run).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Herald, sleep } from './lib/herald.mjs';

const N = Number(process.env.MESSAGES_CRASH_N ?? 20000);
const KILLS = Number(process.env.MESSAGES_CRASH_KILLS ?? 20);
const PUBLISHERS = 64;
const USERS = 8;
// TEST_TIMEOUT_SCALE (make tsan-test sets it) stretches the deadlines, not the work: an
// instrumented server restarts several times slower, and every kill waits for a restart.
const TIME_SCALE = Number(process.env.TEST_TIMEOUT_SCALE ?? 1);
const PUBLISH_DEADLINE_MS = 120_000 * TIME_SCALE; // publishing and kills; the checks come after
const FLAGS = {};

let server;
after(async () => {
  await server?.stop();
});

// Runs `work(item)` over `items` with `n` concurrent workers.
async function pool(items, n, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

test('every acknowledged message survives kill -9, exactly once', { timeout: 175_000 * TIME_SCALE }, async () => {
  const t0 = Date.now();
  server = await Herald.start(FLAGS);
  // An app without a request-rate cap, so that the publishers measure the server.
  const made = await server.admin('POST', '/admin/v1/apps', { name: 'crash', scopes: ['publish'], rate_limit: 0 });
  assert.equal(made.status, 201, made.text);
  const app = JSON.parse(made.text);

  const run = randomBytes(4).toString('hex');
  const keyOf = (i) => `crash-${run}-${i}`;
  const userOf = (i) => `crash-user-${i % USERS}`;
  const ids = new Array(N).fill(null); // the id of each message whose publish was answered
  const ackOrder = []; // message indices in the order they were first acknowledged
  let answered = 0;
  const idChanges = []; // a repeat of a key answered with another id: a duplicate
  let attempts = 0;
  let unanswered = 0;
  let fatal = null;
  let serving = Promise.resolve(); // replaced by a pending promise while restarting
  const deadline = t0 + PUBLISH_DEADLINE_MS;

  const publish = (i) =>
    server.api(
      'POST',
      '/api/v1/messages',
      { to_user: userOf(i), data: { i, run }, idempotency_key: keyOf(i) },
      { app, timeout: 10_000 },
    );

  // Records an answer; true if the publish is acknowledged.
  function record(i, r) {
    if (r.status !== 202 && r.status !== 200) return false;
    if (ids[i] === null) {
      ids[i] = r.body.id;
      ackOrder.push(i);
      answered++;
    } else if (ids[i] !== r.body.id) {
      idChanges.push({ i, first: ids[i], then: r.body.id });
    }
    return true;
  }

  const queue = Array.from({ length: N }, (_, i) => i);
  // Publishers run at most SLACK messages past the next kill point, so that when restarts
  // are slow (a loaded machine) the publishing cannot end before every kill has come:
  // each kill falls under load, with up to SLACK publishes on their way.
  const SLACK = Math.max(50, Math.floor(N * 0.02));
  async function take() {
    while (kills < KILLS && N - queue.length >= points[kills] + SLACK && Date.now() < deadline && !fatal)
      await sleep(5);
    return queue.shift();
  }
  async function publisher() {
    for (let i = await take(); i !== undefined && !fatal; i = await take()) {
      for (;;) {
        if (Date.now() > deadline) return;
        await serving;
        attempts++;
        let r = null;
        try {
          r = await publish(i);
        } catch {
          /* the server died under the request: retried below */
        }
        if (r && record(i, r)) break;
        if (r && r.status >= 400 && r.status < 500 && r.status !== 429) {
          fatal = `message ${i}: ${r.status} ${r.text}`;
          return;
        }
        unanswered++;
        await sleep(20);
      }
    }
  }

  // The kills come at random points of the progress (the publishers' gate above keeps
  // all of them under load), at least a random 200-700 ms after the previous restart.
  const points = Array.from({ length: KILLS }, () => Math.floor(N * (0.03 + 0.9 * Math.random()))).sort(
    (a, b) => a - b,
  );
  let kills = 0;
  let repeatsChecked = 0;
  let verified = 0; // ackOrder[0, verified) were looked up by id after a restart
  let killsUnderLoad = 0; // kills while messages were still being published
  let killedAt = 0; // ackOrder[0, killedAt) were acknowledged before the latest kill
  let killing = true;
  const lostAfterRestart = []; // [kills so far, message] not found by id
  const wrongAfterRestart = [];

  // Beside the publishers and the killer, so that neither waits for it: every message
  // acknowledged before a kill is looked up by id once the server is back (a kill can
  // lose only what was acknowledged before it; the final check finds all of them again).
  async function verifier() {
    while (killing || verified < killedAt) {
      if (verified === killedAt) {
        await sleep(50);
        continue;
      }
      const batch = ackOrder.slice(verified, Math.min(killedAt, verified + 64));
      await pool(batch, 4, async (i) => {
        for (let attempt = 0; attempt < 20; attempt++) {
          await serving;
          const r = await server
            .api('GET', `/api/v1/messages/${ids[i]}`, undefined, { app, timeout: 10_000 })
            .catch(() => null);
          if (!r) continue; // killed under the request: again once it is back
          if (r.status === 404) lostAfterRestart.push([kills, i]);
          else if (r.status !== 200 || r.body.data?.i !== i) wrongAfterRestart.push([kills, i, r.status]);
          return;
        }
        wrongAfterRestart.push([kills, i, 'unanswered']);
      });
      verified += batch.length;
    }
  }

  // Republishes message i: it must be answered as a duplicate with the first id.
  async function repeat(i) {
    const r = await publish(i).catch(() => null);
    if (r && record(i, r)) {
      repeatsChecked++;
      assert.equal(r.status, 200, `a repeat of message ${i}: ${r.text}`);
      assert.equal(r.body.duplicate, true);
    }
  }

  async function killer() {
    for (const point of points) {
      await sleep(200 + Math.random() * 500);
      while (answered < point && Date.now() < deadline && !fatal) await sleep(5);
      if (Date.now() >= deadline || fatal) return;
      await sleep(Math.random() * 50);
      let resume;
      serving = new Promise((r) => (resume = r));
      if (answered < N) killsUnderLoad++;
      await server.crash();
      const before = ackOrder.length; // every answer counted so far came before the kill
      kills++;
      await server.start(FLAGS);
      killedAt = before;
      resume();
      // The last 20 acknowledged before the kill (whose idempotency records were the
      // newest) and 10 earlier ones at random, published again: the same id, nothing new.
      const again = ackOrder.slice(Math.max(0, before - 20), before);
      for (let k = 0; k < 10 && before > 0; k++) again.push(ackOrder[Math.floor(Math.random() * before)]);
      await Promise.all(again.map(repeat));
    }
  }

  const verifying = verifier();
  await Promise.all([killer(), ...Array.from({ length: PUBLISHERS }, publisher)]);
  killing = false;
  await verifying;
  const publishMs = Date.now() - t0;
  assert.equal(fatal, null);
  assert.equal(kills, KILLS, `only ${kills} kills before the deadline`);
  assert.equal(answered, N, `only ${answered}/${N} messages answered within ${PUBLISH_DEADLINE_MS} ms`);

  // Every acknowledged message by id.
  const lost = [];
  const wrong = [];
  await pool(
    ids.map((id, i) => [id, i]),
    PUBLISHERS,
    async ([id, i]) => {
      const r = await server.api('GET', `/api/v1/messages/${id}`, undefined, { app, timeout: 10_000 });
      if (r.status === 404) lost.push(i);
      else if (r.status !== 200 || r.body.user !== userOf(i) || r.body.data?.i !== i) wrong.push([i, r.status, r.text]);
    },
  );

  // Every user's inbox over the client protocol: exactly the user's acknowledged messages.
  let missingFromInbox = 0;
  let duplicates = idChanges.length;
  let strangers = 0;
  for (let u = 0; u < USERS; u++) {
    const user = userOf(u);
    const expected = new Set(ids.filter((_, i) => i % USERS === u));
    const c = await server.client(user, { app });
    const seen = new Map(); // id -> count
    const seenI = new Map(); // data.i -> count
    let after;
    for (let page = 0; page < 1000; page++) {
      const p = await c.call('inbox', after === undefined ? { limit: 500 } : { limit: 500, after }, { timeout: 15_000 });
      for (const m of p.messages) {
        seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
        seenI.set(m.data?.i, (seenI.get(m.data?.i) ?? 0) + 1);
      }
      if (p.next === null || p.messages.length === 0) break;
      after = p.next;
    }
    c.terminate();
    for (const id of expected) if (!seen.has(id)) missingFromInbox++;
    for (const id of seen.keys()) if (!expected.has(id)) strangers++;
    // One message per index: a second one (same id twice, or another id) is a duplicate.
    for (const n of seenI.values()) if (n > 1) duplicates += n - 1;
  }

  const totalMs = Date.now() - t0;
  const losses = lost.length + missingFromInbox;
  console.log(
    `messages crash test: N=${N} publishers=${PUBLISHERS} users=${USERS} kills=${kills} attempts=${attempts} ` +
      `kills_under_load=${killsUnderLoad} unanswered=${unanswered} repeats_checked=${repeatsChecked} ` +
      `checked_after_restarts=${verified} ` +
      `lost_after_restart=${lostAfterRestart.length} lost_by_id=${lost.length} ` +
      `missing_from_inbox=${missingFromInbox} losses=${losses} duplicates=${duplicates} unexpected=${strangers} ` +
      `wrong=${wrong.length} publish_s=${(publishMs / 1000).toFixed(1)} total_s=${(totalMs / 1000).toFixed(1)}`,
  );
  assert.deepEqual(lostAfterRestart.slice(0, 10), [], 'lost after a restart: [kill, message]');
  assert.deepEqual(wrongAfterRestart.slice(0, 5), []);
  assert.ok(verified >= points.at(-1), `only ${verified} messages checked after restarts`);
  assert.equal(killsUnderLoad, KILLS, 'kills after the publishing had ended');
  assert.deepEqual(wrong.slice(0, 5), []);
  assert.equal(lost.length, 0, `lost by id: messages ${lost.slice(0, 10).join(', ')}`);
  assert.equal(missingFromInbox, 0);
  assert.equal(duplicates, 0, JSON.stringify(idChanges.slice(0, 5)));
  assert.equal(strangers, 0, 'the inbox holds messages nobody acknowledged');
});
