// A huge but valid count (spec.replicas or parallelism of 2^31-1) makes bounded progress per sync,
// as upstream's controllers do: one sync creates at most burstReplicas (ReplicaSet 500, DaemonSet
// 250), MaxPodCreateDeletePerSync (Job 500), or the StatefulSet burst (500, Parallel), and never
// allocates anything the size of the count. Each controller's sync is called once, directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Client, R } from '../../src/client/client.js';
import { SharedInformerFactory } from '../../src/client/informer.js';
import type { ResourceSpec } from '../../src/client/types.js';
import { DaemonSetController } from '../../src/controllers/daemonset/controller.js';
import { JobController } from '../../src/controllers/job/controller.js';
import { ReplicaSetController } from '../../src/controllers/replicaset/controller.js';
import { StatefulSetController } from '../../src/controllers/statefulset/controller.js';
import { eventually, startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

const MAX_INT32 = 2 ** 31 - 1;
const QUOTAS = { group: '', version: 'v1', plural: 'resourcequotas', namespaced: true, kind: 'ResourceQuota' } as const;
const logger = pino({ level: 'silent' });
let t: TestApi;
let client: Client;
let factory: SharedInformerFactory;
let ctx: { client: Client; informers: SharedInformerFactory; logger: typeof logger };

before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'test' });
  factory = new SharedInformerFactory(client, { logger });
  ctx = { client, informers: factory, logger };
});
after(async () => {
  await factory?.shutdown();
  await t?.stop();
});

const template = (labels: Record<string, string>, extra: any = {}) => ({
  metadata: { labels },
  spec: { containers: [{ name: 'c', image: 'x' }], ...extra },
});

async function namespace(name: string): Promise<void> {
  await client.resource(R.namespaces).create({ metadata: { name } });
}

async function podCount(ns: string): Promise<number> {
  return (await client.resource(R.pods).namespace(ns).list()).items.length;
}

/** Start the informers a controller registered, and wait until they hold `obj`. */
async function synced(resource: ResourceSpec, ns: string, name: string): Promise<void> {
  factory.start();
  await factory.waitForCacheSync();
  await eventually(() => factory.forResource(resource).store.getByName(ns, name));
}

test('ReplicaSet: replicas 2^31-1 creates burstReplicas (500) pods in one sync', async () => {
  const rsc = new ReplicaSetController(ctx);
  await namespace('rs');
  await client
    .resource(R.replicasets)
    .namespace('rs')
    .create({
      metadata: { name: 'huge' },
      spec: { replicas: MAX_INT32, selector: { matchLabels: { a: 'rs' } }, template: template({ a: 'rs' }) },
    });
  await synced(R.replicasets, 'rs', 'huge');
  await rsc.sync('rs/huge');
  assert.equal(await podCount('rs'), 500);
});

test('Job: parallelism 2^31-1 creates MaxPodCreateDeletePerSync (500) pods in one sync', async () => {
  const jobs = new JobController(ctx);
  await namespace('job');
  await client
    .resource(R.jobs)
    .namespace('job')
    .create({
      metadata: { name: 'huge' },
      spec: { parallelism: MAX_INT32, template: template({ a: 'job' }, { restartPolicy: 'Never' }) },
    });
  await synced(R.jobs, 'job', 'huge');
  await jobs.sync('job/huge');
  assert.equal(await podCount('job'), 500);
});

test('Job: creates go in slow-start batches, so a refused template fails a few times, not parallelism times', async () => {
  const jobs = new JobController(ctx);
  await namespace('jobq');
  // A quota of 3 pods (its status written here, as the quota controller would).
  const quotas = client.resource(QUOTAS).namespace('jobq');
  const q = await quotas.create({ metadata: { name: 'q' }, spec: { hard: { pods: '3' } } });
  await quotas.updateStatus({ ...q, status: { hard: { pods: '3' }, used: { pods: '0' } } });
  await client
    .resource(R.jobs)
    .namespace('jobq')
    .create({
      metadata: { name: 'q' },
      spec: { parallelism: 100, template: template({ a: 'jobq' }, { restartPolicy: 'Never' }) },
    });
  await synced(R.jobs, 'jobq', 'q');
  await assert.rejects(jobs.sync('jobq/q'));
  // Batches 1 and 2 succeed, the batch of 4 fails (quota 3): 7 attempts, 3 pods.
  assert.equal(await podCount('jobq'), 3);
  const failures = async () =>
    (await client.resource(R.events).namespace('jobq').list()).items
      .filter((e: any) => e.reason === 'FailedCreate')
      .reduce((n: number, e: any) => n + (e.count ?? 1), 0);
  await eventually(async () => (await failures()) > 0);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok((await failures()) <= 4, `${await failures()} failed creates`);
});

test('StatefulSet: Parallel with replicas 2^31-1 creates 500 pods in one sync, no array of 2^31', async () => {
  const ssc = new StatefulSetController(ctx);
  await namespace('sts');
  await client
    .resource(R.statefulsets)
    .namespace('sts')
    .create({
      metadata: { name: 'huge' },
      spec: {
        replicas: MAX_INT32,
        podManagementPolicy: 'Parallel',
        serviceName: 'huge',
        selector: { matchLabels: { a: 'sts' } },
        template: template({ a: 'sts' }),
      },
    });
  await synced(R.statefulsets, 'sts', 'huge');
  await ssc.sync('sts/huge');
  assert.equal(await podCount('sts'), 500);
  // OrderedReady: one at a time, as before.
  await client
    .resource(R.statefulsets)
    .namespace('sts')
    .create({
      metadata: { name: 'ordered' },
      spec: {
        replicas: MAX_INT32,
        serviceName: 'o',
        selector: { matchLabels: { a: 'ord' } },
        template: template({ a: 'ord' }),
      },
    });
  await synced(R.statefulsets, 'sts', 'ordered');
  await ssc.sync('sts/ordered');
  assert.equal(await podCount('sts'), 501);
});

test('DaemonSet: 300 eligible nodes get burstReplicas (250) pods in one sync', async () => {
  const dsc = new DaemonSetController(ctx);
  await namespace('ds');
  for (let i = 0; i < 300; i++) await client.resource(R.nodes).create({ metadata: { name: `n${i}` } });
  await client
    .resource(R.daemonsets)
    .namespace('ds')
    .create({
      metadata: { name: 'd' },
      spec: { selector: { matchLabels: { a: 'ds' } }, template: template({ a: 'ds' }) },
    });
  await synced(R.daemonsets, 'ds', 'd');
  await eventually(() => factory.forResource(R.nodes).store.list().length === 300);
  await dsc.sync('ds/d');
  assert.equal(await podCount('ds'), 250);
});
