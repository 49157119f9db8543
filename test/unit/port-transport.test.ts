// The Transport over a MessagePort (client/port.ts) that the scheduler's worker thread uses: calls
// answered by the in-process transport on the other side, watch events streamed as JSON lines,
// errors arriving as the same ApiError (code, reason, details), watches and calls ended cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { startCluster } from '../../src/index.js';
import { Client, R } from '../../src/client/index.js';
import { ApiError } from '../../src/client/errors.js';
import { PortTransport, serveTransport } from '../../src/client/port.js';
import { InProcessTransport } from '../../src/apiserver/inprocess.js';
import type { WatchEvent } from '../../src/client/types.js';
import { KUBE_SCHEDULER } from '../../src/server/identities.js';
import { eventually } from './client-fixture.js';

test('port transport: get, list, watch, create and errors cross the port intact', async () => {
  const cluster = await startCluster({ inMemory: true });
  const { port1, port2 } = new MessageChannel();
  const served = serveTransport(port1, new InProcessTransport(cluster.api, { fieldManager: 'port-test' }));
  const transport = new PortTransport(port2, { fieldManager: 'port-test' });
  const client = new Client(transport);
  try {
    const cms = client.resource(R.configmaps).namespace('default');
    const events: WatchEvent[] = [];
    const w = cms.watch({ resourceVersion: '0', labelSelector: 'x=y' }, (ev) => events.push(ev));

    const created = await cms.create({ metadata: { name: 'a', labels: { x: 'y' } }, data: { k: 'v' } });
    assert.equal(created.metadata.name, 'a');
    assert.ok(created.metadata.uid);
    // The field manager of the serving side's transport wrote it.
    assert.equal(created.metadata.managedFields?.[0]?.manager, 'port-test');
    assert.equal((await cms.get('a')).data?.k, 'v');
    await cms.patch('a', 'merge', { data: { k: 'w' } });
    const listed = await cms.list({ labelSelector: 'x=y' });
    assert.equal(listed.kind, 'ConfigMapList');
    assert.deepEqual(
      listed.items.map((o) => [o.metadata.name, o.data?.k]),
      [['a', 'w']],
    );
    // Listed objects are the thread's own, not frozen cache objects.
    listed.items[0].data!.k = 'changed here';

    await eventually(() => events.length >= 2, 5000, 20);
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.name, e.object.data?.k]),
      [
        ['ADDED', 'a', 'v'],
        ['MODIFIED', 'a', 'w'],
      ],
    );
    w.stop();
    assert.deepEqual(await w.done, {});
    await cms.create({ metadata: { name: 'b', labels: { x: 'y' } } });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(events.length, 2, 'no events after stop()');

    // Errors: the server's ApiError with its code, reason, message and details.
    const notFound = await cms.get('missing').catch((e: unknown) => e);
    assert.ok(notFound instanceof ApiError);
    assert.equal(notFound.code, 404);
    assert.equal(notFound.reason, 'NotFound');
    assert.equal(notFound.details?.name, 'missing');
    assert.match(notFound.message, /configmaps "missing" not found/);
    const exists = await cms.create({ metadata: { name: 'a' } }).catch((e: unknown) => e);
    assert.ok(exists instanceof ApiError);
    assert.equal(exists.code, 409);
    assert.equal(exists.reason, 'AlreadyExists');
    const invalid = await cms.create({ metadata: { name: 'Not_Valid' } }).catch((e: unknown) => e);
    assert.ok(invalid instanceof ApiError);
    assert.equal(invalid.code, 422);
    assert.equal(invalid.reason, 'Invalid');
    assert.equal(invalid.details?.causes?.[0]?.field, 'metadata.name');

    // A watch the server refuses ends with its error.
    const bad = client
      .resource({ group: 'nope.example.com', version: 'v1', plural: 'things', namespaced: true })
      .namespace('default')
      .watch({}, () => undefined);
    const end = await bad.done;
    assert.equal(end.error?.code, 404);

    // The serving side's identity decides: the scheduler may not read Secrets.
    const { port1: p1, port2: p2 } = new MessageChannel();
    const asScheduler = serveTransport(
      p1,
      new InProcessTransport(cluster.api, { fieldManager: 'kube-scheduler', user: KUBE_SCHEDULER }),
    );
    const schedClient = new Client(new PortTransport(p2, { fieldManager: 'kube-scheduler' }));
    const forbidden = await schedClient
      .resource(R.secrets)
      .namespace('default')
      .get('a')
      .catch((e: unknown) => e);
    assert.ok(forbidden instanceof ApiError);
    assert.equal(forbidden.code, 403);
    assert.equal(forbidden.reason, 'Forbidden');
    assert.ok((await schedClient.resource(R.nodes).list()).items);
    asScheduler.close();
    p1.close();

    // The port closing ends every open watch and call with an error.
    const open = cms.watch({}, () => undefined);
    served.close();
    const pending = cms.get('a');
    port1.close();
    const closedEnd = await open.done;
    assert.equal(closedEnd.error?.code, 503);
    await assert.rejects(pending, (e: unknown) => e instanceof ApiError && e.code === 503);
    await assert.rejects(cms.get('a'), (e: unknown) => e instanceof ApiError && e.code === 503);
  } finally {
    served.close();
    port1.close();
    await cluster.stop();
  }
});
