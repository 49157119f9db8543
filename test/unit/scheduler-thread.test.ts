// `k8ts server`'s scheduler on its worker thread (server/schedulerthread.ts): it binds pods through
// the port, its scheduler_* metrics reach this thread's /metrics, a thread that dies is logged and
// started again while the API server goes on, and stop() ends it for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startCluster } from '../../src/index.js';
import { R } from '../../src/client/index.js';
import { InProcessTransport } from '../../src/apiserver/inprocess.js';
import { SchedulerThread } from '../../src/server/schedulerthread.js';
import { KUBE_SCHEDULER } from '../../src/server/identities.js';
import { renderWith } from '../../src/machinery/componentmetrics.js';
import { eventually } from './client-fixture.js';

test('scheduler thread: binds pods, reports metrics, restarts after a crash, stops', async () => {
  const cluster = await startCluster({ inMemory: true });
  const lines: string[] = [];
  const logger = pino({ level: 'info', base: {} }, { write: (l: string) => void lines.push(l) });
  const thread = new SchedulerThread({
    transport: () => new InProcessTransport(cluster.api, { fieldManager: 'kube-scheduler', user: KUBE_SCHEDULER }),
    logger,
    options: { leaderElection: false },
    restartDelayMs: 100,
  });
  const client = cluster.client();
  try {
    const alloc = { cpu: '4', memory: '8Gi', pods: '110' };
    await client.resource(R.nodes).create({
      metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } },
      status: { capacity: alloc, allocatable: alloc, conditions: [{ type: 'Ready', status: 'True' }] },
    });
    thread.start();
    const pods = client.resource(R.pods).namespace('default');
    const pod = (name: string) => ({
      metadata: { name },
      spec: { containers: [{ name: 'c', image: 'pause' }], tolerations: [{ operator: 'Exists' as const }] },
    });
    await pods.create(pod('p1'));
    await eventually(async () => (await pods.get('p1')).spec?.nodeName === 'n1', 20_000, 50);
    // The Scheduled event, written by the thread as the scheduler.
    await eventually(
      async () =>
        (await client.resource(R.events).namespace('default').list()).items.some(
          (e) => e.reason === 'Scheduled' && e.involvedObject?.name === 'p1',
        ),
      10_000,
      50,
    );
    const metrics = await renderWith('');
    assert.match(metrics, /scheduler_schedule_attempts_total\{result="scheduled",profile="default-scheduler"\} 1/);
    assert.match(metrics, /scheduler_pending_pods\{queue="active"\} 0/);

    // A crash: logged, started again, and scheduling goes on.
    const first = thread.worker!;
    await first.terminate();
    await eventually(() => thread.starts === 2 && thread.worker !== undefined && thread.worker !== first, 10_000, 20);
    assert.ok(lines.some((l) => l.includes('scheduler thread exited; starting it again')));
    await pods.create(pod('p2'));
    await eventually(async () => (await pods.get('p2')).spec?.nodeName === 'n1', 20_000, 50);

    await thread.stop();
    assert.equal(thread.worker, undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(thread.starts, 2, 'not started again after stop()');
    await pods.create(pod('p3'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await pods.get('p3')).spec?.nodeName, undefined);
  } finally {
    await thread.stop();
    await cluster.stop();
  }
});
