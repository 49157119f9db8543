// Durability acceptance: a k8ts server killed with SIGKILL in the middle of a burst of writes
// loses nothing it acknowledged, keeps resourceVersions, never reuses one, and lets a watcher
// resume from the last resourceVersion it saw with no gap and no duplicate. A SIGTERM during
// writes lets in-flight writes finish, ends watches and exits 0.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { startCluster, type Cluster } from './harness.js';

const NS = 'durable';

interface Creds {
  base: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function credsOf(kubeconfig: string): Creds {
  const cfg = YAML.parse(readFileSync(kubeconfig, 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64');
  return {
    base: cfg.clusters[0].cluster.server,
    ca: b64(cfg.clusters[0].cluster['certificate-authority-data']),
    cert: b64(cfg.users[0].user['client-certificate-data']),
    key: b64(cfg.users[0].user['client-key-data']),
  };
}

/** A keep-alive client limited to `sockets` parallel HTTPS connections. */
function client(c: Creds, sockets: number) {
  const agent = new https.Agent({ ca: c.ca, cert: c.cert, key: c.key, keepAlive: true, maxSockets: sockets });
  const request = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        new URL(path, c.base),
        {
          method,
          agent,
          timeout: 20_000,
          headers: {
            Accept: 'application/json',
            ...(data
              ? { 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d) => chunks.push(d));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
            } catch {
              reject(new Error(`${method} ${path}: ${res.statusCode} non-JSON body ${text.slice(0, 200)}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(data);
    });
  return { agent, request, close: () => agent.destroy() };
}

interface WatchEvent {
  type: string;
  name: string;
  rv: number;
}

/** A raw watch over its own connection; records events, and how the stream ended. */
function openWatch(c: Creds, path: string) {
  const events: WatchEvent[] = [];
  const errors: any[] = [];
  let ended: 'end' | 'error' | undefined;
  let endError: Error | undefined;
  let onChange = () => {};
  let buf = '';
  const req = https.get(
    new URL(path, c.base),
    { ca: c.ca, cert: c.cert, key: c.key, agent: false, headers: { Accept: 'application/json' } },
    (res) => {
      if (res.statusCode !== 200) {
        ended = 'error';
        endError = new Error(`watch ${path}: HTTP ${res.statusCode}`);
        onChange();
      }
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line);
          if (ev.type === 'ERROR') errors.push(ev.object);
          else if (ev.type !== 'BOOKMARK')
            events.push({
              type: ev.type,
              name: ev.object.metadata.name,
              rv: Number(ev.object.metadata.resourceVersion),
            });
        }
        onChange();
      });
      res.on('end', () => {
        ended ??= 'end';
        onChange();
      });
      res.on('error', (e) => {
        ended ??= 'error';
        endError ??= e;
        onChange();
      });
      res.on('aborted', () => {
        ended ??= 'error';
        onChange();
      });
    },
  );
  req.on('error', (e) => {
    ended ??= 'error';
    endError ??= e;
    onChange();
  });
  const waitUntil = (what: string, cond: () => boolean, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      if (cond()) return resolve();
      const timer = setTimeout(
        () => reject(new Error(`watch: timed out waiting for ${what} (${events.length} events, ended=${ended})`)),
        timeoutMs,
      );
      onChange = () => {
        if (cond()) {
          clearTimeout(timer);
          onChange = () => {};
          resolve();
        }
      };
    });
  return {
    events,
    errors,
    get ended() {
      return ended;
    },
    get endError() {
      return endError;
    },
    waitUntil,
    close: () => req.destroy(),
  };
}

type Outcome =
  | { op: string; name: string; status: number; rv: number; at: number }
  | { op: string; name: string; error: string; at: number };

/** Runs ops with `parallel` in flight; records every outcome. Stops issuing new ops once `stop()` is true. */
async function burst(
  ops: { op: string; name: string; run: () => Promise<{ status: number; body: any }> }[],
  parallel: number,
  stop: () => boolean,
  onAck: () => void,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ops.length && !stop()) {
      const o = ops[next++];
      try {
        const r = await o.run();
        out.push({
          op: o.op,
          name: o.name,
          status: r.status,
          rv: Number(r.body?.metadata?.resourceVersion ?? r.body?.details?.resourceVersion ?? 0),
          at: Date.now(),
        });
        if (r.status < 300) onAck();
      } catch (e) {
        out.push({ op: o.op, name: o.name, error: (e as Error).message, at: Date.now() });
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return out;
}

const acked = (outs: Outcome[]) =>
  outs.filter((o): o is Extract<Outcome, { status: number }> => 'status' in o && o.status < 300);

async function listState(cl: ReturnType<typeof client>): Promise<{ rv: number; items: Map<string, number> }> {
  const r = await cl.request('GET', `/api/v1/namespaces/${NS}/configmaps`);
  assert.equal(r.status, 200);
  return {
    rv: Number(r.body.metadata.resourceVersion),
    items: new Map(r.body.items.map((i: any) => [i.metadata.name, Number(i.metadata.resourceVersion)])),
  };
}

/** Apply watch events to a name->rv state. Throws on impossible transitions. */
function applyEvents(state: Map<string, number>, events: WatchEvent[]): void {
  for (const e of events) {
    if (e.type === 'ADDED') {
      assert.ok(!state.has(e.name), `ADDED ${e.name}@${e.rv} for an existing object`);
      state.set(e.name, e.rv);
    } else if (e.type === 'MODIFIED') {
      assert.ok(state.has(e.name), `MODIFIED ${e.name}@${e.rv} for an unknown object`);
      state.set(e.name, e.rv);
    } else if (e.type === 'DELETED') {
      assert.ok(state.has(e.name), `DELETED ${e.name}@${e.rv} for an unknown object`);
      state.delete(e.name);
    }
  }
}

function assertStrictlyIncreasing(events: WatchEvent[], after: number, what: string): void {
  let last = after;
  for (const e of events) {
    assert.ok(e.rv > last, `${what}: event ${e.type} ${e.name}@${e.rv} after ${last} (duplicate or out of order)`);
    last = e.rv;
  }
}

describe('durability', { timeout: 90_000 }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.cleanup();
  });

  it('loses no acknowledged write to kill -9 and lets a watch resume with no gap or duplicate', async (t) => {
    let creds = credsOf(cluster.kubeconfig);
    let cl = client(creds, 8);
    assert.equal((await cl.request('POST', '/api/v1/namespaces', { metadata: { name: NS } })).status, 201);
    // Objects that the burst updates or deletes.
    for (let i = 0; i < 40; i++) {
      const r = await cl.request('POST', `/api/v1/namespaces/${NS}/configmaps`, {
        metadata: { name: `pre-${i}` },
        data: { v: '0' },
      });
      assert.equal(r.status, 201);
    }
    const initial = await listState(cl);
    const watch = openWatch(
      creds,
      `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=${initial.rv}&allowWatchBookmarks=true`,
    );

    // 300 creates, interleaved with one update each of pre-0..19 and one delete each of pre-20..39.
    const N = 300;
    const ops: Parameters<typeof burst>[0] = [];
    for (let i = 0; i < N; i++) {
      const name = `burst-${String(i).padStart(3, '0')}`;
      ops.push({
        op: 'create',
        name,
        run: () =>
          cl.request('POST', `/api/v1/namespaces/${NS}/configmaps`, {
            metadata: { name, labels: { burst: 'yes' } },
            data: { i: String(i) },
          }),
      });
      if (i % 15 === 7) {
        const k = Math.floor(i / 15);
        const upd = `pre-${k}`;
        ops.push({
          op: 'update',
          name: upd,
          run: () => cl.request('PATCH', `/api/v1/namespaces/${NS}/configmaps/${upd}`, { data: { v: '1' } }),
        });
        const del = `pre-${20 + k}`;
        ops.push({
          op: 'delete',
          name: del,
          run: () => cl.request('DELETE', `/api/v1/namespaces/${NS}/configmaps/${del}`),
        });
      }
    }
    let ackCount = 0;
    let killed = false;
    const proc = cluster.proc;
    const exited = new Promise<NodeJS.Signals | null>((r) => proc.once('exit', (_code, sig) => r(sig)));
    const outcomes = await burst(
      ops,
      16,
      () => false,
      () => {
        if (++ackCount === Math.floor(ops.length / 2) && !killed) {
          killed = true;
          proc.kill('SIGKILL');
        }
      },
    );
    assert.equal(await exited, 'SIGKILL');
    const ok = acked(outcomes);
    const failed = outcomes.filter((o) => 'error' in o);
    assert.ok(ok.length >= ops.length / 2, `acknowledged ${ok.length}`);
    assert.ok(failed.length > 0, 'the kill happened mid-burst (some writes failed)');
    for (const o of ok) assert.ok(o.status === 200 || o.status === 201, `${o.op} ${o.name}: ${o.status}`);
    // Whatever the watch saw before the kill: it never outran storage, nor saw anything twice.
    await watch.waitUntil('the watch to end', () => watch.ended !== undefined, 5_000);
    assert.deepEqual(watch.errors, []);
    assertStrictlyIncreasing(watch.events, initial.rv, 'watch before the kill');
    const lastSeen = watch.events.at(-1)?.rv ?? initial.rv;
    t.diagnostic(
      `${ok.length} of ${ops.length} writes acknowledged before SIGKILL, ${failed.length} failed; the watch saw ${watch.events.length} events up to ${lastSeen}`,
    );
    const maxBefore = Math.max(lastSeen, ...ok.map((o) => o.rv));
    cl.close();

    await cluster.restart();
    creds = credsOf(cluster.kubeconfig);
    cl = client(creds, 4);
    const state = await listState(cl);

    // Every acknowledged write is there, exactly as acknowledged.
    const lost: string[] = [];
    for (const o of ok) {
      if (o.op === 'create' || o.op === 'update') {
        if (state.items.get(o.name) !== o.rv)
          lost.push(`${o.op} ${o.name}@${o.rv} -> ${state.items.get(o.name) ?? 'missing'}`);
      } else if (state.items.has(o.name)) {
        lost.push(`delete ${o.name}@${o.rv} -> still there`);
      }
    }
    assert.deepEqual(lost, [], 'acknowledged writes lost or changed');
    // Nothing unacknowledged-but-seen is lost either: the watch's view before the kill is a prefix of the truth.
    assert.ok(state.rv >= maxBefore, `list resourceVersion ${state.rv} >= ${maxBefore}`);

    // New writes get higher resourceVersions than anything handed out before.
    const fresh = await cl.request('POST', `/api/v1/namespaces/${NS}/configmaps`, {
      metadata: { name: 'after-restart' },
    });
    assert.equal(fresh.status, 201);
    const freshRv = Number(fresh.body.metadata.resourceVersion);
    assert.ok(freshRv > state.rv && freshRv > maxBefore, `new rv ${freshRv} > ${Math.max(state.rv, maxBefore)}`);

    // Resume from the last resourceVersion seen before the kill.
    const resumed = openWatch(creds, `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=${lastSeen}`);
    await resumed.waitUntil('the resumed watch to reach the fresh write', () =>
      resumed.events.some((e) => e.rv >= freshRv),
    );
    const upd = await cl.request('PATCH', `/api/v1/namespaces/${NS}/configmaps/after-restart`, { data: { x: 'y' } });
    const updRv = Number(upd.body.metadata.resourceVersion);
    await resumed.waitUntil('the live update', () => resumed.events.some((e) => e.rv >= updRv));
    resumed.close();
    assert.deepEqual(resumed.errors, []);
    assertStrictlyIncreasing(resumed.events, lastSeen, 'resumed watch');

    // No gap: initial list + events before the kill + resumed events == the list now.
    const rebuilt = new Map(initial.items);
    applyEvents(rebuilt, watch.events);
    applyEvents(rebuilt, resumed.events);
    const now = await listState(cl);
    assert.deepEqual(new Map([...rebuilt].sort()), new Map([...now.items].sort()));
    // Every acknowledged write appears in the combined stream exactly once, with its resourceVersion.
    const all = [...watch.events, ...resumed.events];
    for (const o of ok) {
      const type = o.op === 'create' ? 'ADDED' : o.op === 'update' ? 'MODIFIED' : 'DELETED';
      const matching = all.filter((e) => e.name === o.name && e.type === type);
      assert.equal(matching.length, 1, `${type} ${o.name} seen ${matching.length} times`);
      if (o.op !== 'delete') assert.equal(matching[0].rv, o.rv);
    }
    // And a watch from the very start replays exactly the same history.
    const replay = openWatch(creds, `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=${initial.rv}`);
    await replay.waitUntil('the replay', () => replay.events.some((e) => e.rv >= updRv));
    replay.close();
    assert.deepEqual(replay.events, all);
    cl.close();
  });

  it('on SIGTERM finishes in-flight writes, ends watches and exits 0', async (t) => {
    const creds = credsOf(cluster.kubeconfig);
    const cl = client(creds, 8);
    const before = await listState(cl);
    const watch = openWatch(creds, `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=${before.rv}`);
    const ops: Parameters<typeof burst>[0] = [];
    for (let i = 0; i < 300; i++) {
      const name = `term-${String(i).padStart(3, '0')}`;
      ops.push({
        op: 'create',
        name,
        run: () => cl.request('POST', `/api/v1/namespaces/${NS}/configmaps`, { metadata: { name } }),
      });
    }
    let ackCount = 0;
    let termAt = 0;
    const proc = cluster.proc;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      proc.once('exit', (code, signal) => r({ code, signal })),
    );
    const outcomes = await burst(
      ops,
      16,
      () => false,
      () => {
        if (++ackCount === 100) {
          termAt = Date.now();
          proc.kill('SIGTERM');
        }
      },
    );
    const exit = await Promise.race([
      exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref()),
    ]);
    assert.notEqual(exit, 'timeout', 'the server exits after SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    const exitedAt = Date.now();
    assert.ok(exitedAt - termAt < 12_000, `shut down in ${exitedAt - termAt}ms`);
    // The watch was ended by the server (a clean end of the stream), not cut.
    await watch.waitUntil('the watch to end', () => watch.ended !== undefined, 5_000);
    assert.equal(watch.ended, 'end', `watch ended with ${watch.endError}`);
    const ok = acked(outcomes);
    // No write failed with a server error; those acknowledged after the signal were in flight and finished.
    for (const o of outcomes) if ('status' in o) assert.ok(o.status < 500, `${o.name}: ${o.status}`);
    assert.ok(ok.length >= 100);
    // Once told to stop, the server finishes what is in flight but takes no new work.
    assert.ok(ok.length < ops.length, `all ${ops.length} writes were accepted after SIGTERM`);
    const ackedAfterTerm = ok.filter((o) => o.at >= termAt).length;
    cl.close();

    await cluster.restart();
    const cl2 = client(credsOf(cluster.kubeconfig), 2);
    const state = await listState(cl2);
    const lost = ok.filter((o) => state.items.get(o.name) !== o.rv).map((o) => `${o.name}@${o.rv}`);
    assert.deepEqual(lost, []);
    // Every event the watch got is durable, in order.
    assertStrictlyIncreasing(watch.events, before.rv, 'watch during SIGTERM');
    for (const e of watch.events) assert.equal(state.items.get(e.name), e.rv, `${e.name}@${e.rv} seen by the watch`);
    cl2.close();
    t.diagnostic(
      `${ok.length} of ${ops.length} writes acknowledged, ${ackedAfterTerm} of them after SIGTERM; shutdown took ${exitedAt - termAt}ms; watch saw ${watch.events.length} events`,
    );
  });
});
