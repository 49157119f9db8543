// How the etcd client moves between endpoints (src/storage/etcd/client.ts), against a real etcd
// and a "black hole": a TCP listener that accepts and never answers, as a member behind a
// partition looks to a client (the TLS/HTTP2 handshake never completes). A call must not wait on
// the black hole for its whole deadline once another endpoint has answered or can answer. And a
// real three-member etcd of which two are frozen (SIGSTOP: their connections stay open and
// silent, as behind a partition): a write through the client refuses within seconds once the
// remaining member knows it has no leader, instead of a full timeout per member.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ETCD_BIN, startEtcd, type TestEtcd } from '../support/etcd.js';
import { EtcdClient, EtcdError } from '../../src/storage/etcd/client.js';
import { freePort } from '../support/ports.js';

let etcd: TestEtcd;
let hole: Server;
let holeURL: string;
const sockets = new Set<Socket>();

before(async () => {
  etcd = await startEtcd();
  hole = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
  holeURL = `http://127.0.0.1:${(hole.address() as { port: number }).port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => hole.close(r));
  await etcd.stop();
});

const elapsed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = Date.now();
  const v = await f();
  return [v, Date.now() - t0];
};

test('a call goes to the endpoint that connects when the first never answers', async () => {
  const client = new EtcdClient({ endpoints: [holeURL, etcd.endpoint], timeoutMs: 60_000 });
  try {
    const [put, ms] = await elapsed(() => client.put({ key: Buffer.from('failover/a'), value: Buffer.from('1') }));
    assert.ok(put.header.revision > 0);
    // Well under the deadline: the black hole is skipped, not waited out (generous for a loaded machine).
    assert.ok(ms < 30_000, `took ${ms} ms`);
    assert.equal(client.endpoint, etcd.endpoint.replace('http://', ''));
    const got = await client.range({ key: Buffer.from('failover/a') });
    assert.equal(got.kvs[0].value.toString(), '1');
  } finally {
    client.close();
  }
});

test('with no endpoint reachable a call fails Unavailable by its deadline, not once per endpoint', async () => {
  const client = new EtcdClient({ endpoints: [holeURL, holeURL.replace('127.0.0.1', 'localhost')], timeoutMs: 3000 });
  try {
    const t0 = Date.now();
    const err = await client.range({ key: Buffer.from('x') }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = Date.now() - t0;
    assert.ok(err instanceof EtcdError, String(err));
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.message, /no etcd endpoint could be reached/);
    // One deadline (3 s), not two; the bound leaves room for a loaded machine.
    assert.ok(ms >= 2500 && ms < 5500 + 10_000, `took ${ms} ms`);
  } finally {
    client.close();
  }
});

test('etcd errors are told apart: no leader, no space, compacted', () => {
  assert.ok(new EtcdError(grpc.status.UNAVAILABLE, 'etcdserver: no leader').noLeader);
  assert.ok(!new EtcdError(grpc.status.UNAVAILABLE, 'etcdserver: request timed out').noLeader);
  assert.ok(new EtcdError(grpc.status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded').noSpace);
  assert.ok(
    new EtcdError(grpc.status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted').compacted,
  );
});

test(
  'a member without a leader: writes refused within seconds, not a timeout per member',
  { timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-etcd-noleader-'));
    const ports = await Promise.all(Array.from({ length: 6 }, freePort));
    const client = (i: number) => `http://127.0.0.1:${ports[i]}`;
    const peer = (i: number) => `http://127.0.0.1:${ports[3 + i]}`;
    const initial = [0, 1, 2].map((i) => `m${i}=${peer(i)}`).join(',');
    const members: ChildProcess[] = [0, 1, 2].map((i) =>
      spawn(
        ETCD_BIN,
        [
          ...['--name', `m${i}`, '--data-dir', join(dir, `m${i}`), '--log-level', 'error'],
          ...['--listen-client-urls', client(i), '--advertise-client-urls', client(i)],
          ...['--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i), '--initial-cluster', initial],
          // k3s's timing, as managed etcd runs
          ...['--heartbeat-interval', '500', '--election-timeout', '5000'],
        ],
        { stdio: 'ignore' },
      ),
    );
    const etcdClient = new EtcdClient({ endpoints: [0, 1, 2].map(client) });
    const put = () => etcdClient.put({ key: Buffer.from('k'), value: Buffer.from('v') });
    try {
      // Up: a write goes through (retried while the members find each other).
      let up = false;
      for (let deadline = Date.now() + 120_000; !up && Date.now() < deadline;) {
        up = await put().then(
          () => true,
          () => new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
        );
      }
      assert.ok(up, 'the three members never served a write');
      for (const m of members.slice(1)) m.kill('SIGSTOP');
      // Wait (bounded) until the member left knows it has no leader.
      let noLeader: EtcdError | undefined;
      for (let deadline = Date.now() + 120_000; !noLeader && Date.now() < deadline;) {
        const err = await put().then(
          () => undefined,
          (e: unknown) => e,
        );
        if (err instanceof EtcdError && err.noLeader) noLeader = err;
      }
      assert.ok(noLeader, 'the member left never answered "no leader"');
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const [err, ms] = await elapsed(() =>
          put().then(
            () => undefined,
            (e: unknown) => e,
          ),
        );
        assert.ok(err instanceof EtcdError && err.code === grpc.status.UNAVAILABLE, String(err));
        times.push(ms);
      }
      times.sort((a, b) => a - b);
      // About failoverMs (3 s) each; the median leaves room for a loaded machine, 15 s was the old per-member wait.
      assert.ok(times[2] < 8000, `refusals took ${times.join(', ')} ms`);
    } finally {
      etcdClient.close();
      for (const m of members) {
        m.kill('SIGCONT');
        m.kill('SIGKILL');
      }
      await Promise.all(
        members.map((m) =>
          m.exitCode === null && m.signalCode === null ? new Promise((r) => m.once('exit', r)) : Promise.resolve(),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
