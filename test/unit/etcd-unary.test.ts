// The etcd client's unary calls (src/storage/etcd/client.ts: gRPC framed over a node:http2 session
// of its own, not grpc-js's call stack), against a real etcd: etcd's errors come through with their
// gRPC code and message, a response far bigger than node's default HTTP/2 session buffer (10 MB)
// arrives whole, TLS with a client certificate works, and a member that stops answering (SIGSTOP:
// its connection stays open and silent) costs one deadline, after which the dead connection is
// dropped and the next call, once the member runs again, succeeds on a new one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { startEtcd, type TestEtcd } from '../support/etcd.js';
import { EtcdClient, EtcdError } from '../../src/storage/etcd/client.js';
import { CompareResult, CompareTarget } from '../../src/storage/etcd/messages.js';

let etcd: TestEtcd;

before(async () => {
  etcd = await startEtcd();
});

after(async () => {
  await etcd.stop();
});

test("etcd's errors come through with their gRPC code and message", async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  try {
    const first = await client.put({ key: Buffer.from('unary/a'), value: Buffer.from('1') });
    await client.put({ key: Buffer.from('unary/a'), value: Buffer.from('2') });
    await client.compact(first.header.revision + 1);
    const err = await client.range({ key: Buffer.from('unary/a'), revision: first.header.revision }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof EtcdError, String(err));
    assert.equal(err.code, grpc.status.OUT_OF_RANGE);
    assert.ok(err.compacted, err.message);
    // A transaction's outcome (not an error): the compare fails, the failure branch reads.
    const t = await client.txn({
      compare: [
        { key: Buffer.from('unary/a'), result: CompareResult.EQUAL, target: CompareTarget.CREATE, revision: 0 },
      ],
      success: [{ put: { key: Buffer.from('unary/a'), value: Buffer.from('3') } }],
      failure: [{ range: { key: Buffer.from('unary/a') } }],
    });
    assert.equal(t.succeeded, false);
    assert.equal(t.responses[0]?.range?.kvs[0]?.value.toString(), '2');
  } finally {
    client.close();
  }
});

test('a 24 MiB range answer arrives in one piece', { timeout: 120_000 }, async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  try {
    const value = Buffer.alloc(1024 * 1024, 'v');
    for (let i = 0; i < 24; i++) await client.put({ key: Buffer.from(`big/${String(i).padStart(2, '0')}`), value });
    const r = await client.range({ key: Buffer.from('big/'), rangeEnd: Buffer.from('big0') });
    assert.equal(r.kvs.length, 24);
    assert.ok(r.kvs.every((kv) => kv.value.equals(value)));
  } finally {
    client.close();
  }
});

test('TLS with a client certificate', { timeout: 60_000 }, async () => {
  const tlsEtcd = await startEtcd({ tls: true });
  const client = new EtcdClient({ endpoints: [tlsEtcd.endpoint], ...tlsEtcd.clientTls });
  try {
    await client.put({ key: Buffer.from('tls/a'), value: Buffer.from('x') });
    const r = await client.range({ key: Buffer.from('tls/a') });
    assert.equal(r.kvs[0]?.value.toString(), 'x');
    // Without a client certificate etcd refuses the connection: Unavailable, not a hang.
    const bare = new EtcdClient({ endpoints: [tlsEtcd.endpoint], caFile: tlsEtcd.clientTls!.caFile, timeoutMs: 5000 });
    const err = await bare.range({ key: Buffer.from('tls/a') }).then(
      () => undefined,
      (e: unknown) => e,
    );
    bare.close();
    assert.ok(err instanceof EtcdError && err.code === grpc.status.UNAVAILABLE, String(err));
  } finally {
    client.close();
    await tlsEtcd.stop();
  }
});

test(
  'a silent member costs one deadline; its connection is dropped and a new one serves the next call',
  {
    timeout: 120_000,
  },
  async () => {
    const client = new EtcdClient({ endpoints: [etcd.endpoint], timeoutMs: 2000 });
    const pid = etcd.pid()!;
    try {
      await client.put({ key: Buffer.from('stop/a'), value: Buffer.from('1') });
      process.kill(pid, 'SIGSTOP');
      const t0 = Date.now();
      const err = await client.range({ key: Buffer.from('stop/a') }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const ms = Date.now() - t0;
      assert.ok(err instanceof EtcdError && err.code === grpc.status.DEADLINE_EXCEEDED, String(err));
      assert.ok(ms >= 1900 && ms < 10_000, `failed after ${ms} ms`);
      process.kill(pid, 'SIGCONT');
      const r = await client.range({ key: Buffer.from('stop/a') });
      assert.equal(r.kvs[0]?.value.toString(), '1');
    } finally {
      process.kill(pid, 'SIGCONT');
      client.close();
    }
  },
);
