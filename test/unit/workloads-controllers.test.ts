// The CronJob and Job controllers against an in-process API server with an injected clock:
// reconcile is called directly after moving the clock, so schedules, deadlines and policies are
// tested without waiting for real minutes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Client, R } from '../../src/client/client.js';
import { SharedInformerFactory } from '../../src/client/informer.js';
import type { Stored } from '../../src/client/types.js';
import { CronJobController } from '../../src/controllers/cronjob/controller.js';
import { JobController } from '../../src/controllers/job/controller.js';
import { defined, eventually, startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

let t: TestApi;
let client: Client;
let factory: SharedInformerFactory;
let clock = Date.now();
let cron: CronJobController;
let jobs: JobController;
const logger = pino({ level: 'silent' });

before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'test' });
  factory = new SharedInformerFactory(client, { logger });
  const ctx = { client, informers: factory, logger };
  cron = new CronJobController(ctx, { now: () => clock });
  jobs = new JobController(ctx, { now: () => clock, backoffBaseMs: 50 });
  factory.start();
  await factory.waitForCacheSync();
});
after(async () => {
  await factory?.shutdown();
  await t?.stop();
});

const MIN = 60_000;
const jobInformer = () => factory.forResource(R.jobs);
const cjInformer = () => factory.forResource(R.cronjobs);
const podInformer = () => factory.forResource(R.pods);

async function ns(name: string) {
  await client.resource(R.namespaces).create({ metadata: { name } });
}

async function createCronJob(namespace: string, name: string, spec: any): Promise<any> {
  const cj = await client
    .resource(R.cronjobs)
    .namespace(namespace)
    .create({
      metadata: { name },
      spec: {
        schedule: '*/1 * * * *',
        jobTemplate: {
          spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } },
        },
        ...spec,
      },
    });
  await eventually(() => cjInformer().store.getByName(namespace, name));
  return cj;
}

/** Reconcile once the cache has caught up with the API. */
async function syncCron(namespace: string, name: string) {
  const fresh = await client.resource(R.cronjobs).namespace(namespace).get(name);
  await eventually(
    () => cjInformer().store.getByName(namespace, name)?.metadata.resourceVersion === fresh.metadata.resourceVersion,
  );
  const js = await client.resource(R.jobs).namespace(namespace).list();
  await eventually(
    () =>
      jobInformer().store.listByNamespace(namespace).length === js.items.length &&
      js.items.every(
        (j: any) =>
          jobInformer().store.getByName(namespace, j.metadata.name)?.metadata.resourceVersion ===
          j.metadata.resourceVersion,
      ),
  );
  return cron.sync(`${namespace}/${name}`);
}

const listJobs = async (namespace: string) => (await client.resource(R.jobs).namespace(namespace).list()).items;
const events = async (namespace: string) =>
  (await client.resource(R.events).namespace(namespace).list()).items.map((e: any) => `${e.reason}: ${e.message}`);

async function finishJob(namespace: string, name: string, type: 'Complete' | 'Failed') {
  const j = await client.resource(R.jobs).namespace(namespace).get(name);
  const now = new Date(clock).toISOString().replace(/\.\d+Z$/, 'Z');
  const conds =
    type === 'Complete'
      ? [
          { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now, reason: 'CompletionsReached' },
          { type: 'Complete', status: 'True', lastTransitionTime: now, reason: 'CompletionsReached' },
        ]
      : [
          { type: 'FailureTarget', status: 'True', lastTransitionTime: now, reason: 'BackoffLimitExceeded' },
          { type: 'Failed', status: 'True', lastTransitionTime: now, reason: 'BackoffLimitExceeded' },
        ];
  j.status = {
    ...(j.status ?? {}),
    startTime: j.status?.startTime ?? now,
    conditions: conds,
    ...(type === 'Complete' ? { completionTime: now, succeeded: 1 } : { failed: 1 }),
  };
  await client.resource(R.jobs).namespace(namespace).updateStatus(j);
}

test('cronjob: creates the job of the most recent minute, once; requeues for the next', async () => {
  await ns('cj-allow');
  const cj = await createCronJob('cj-allow', 'tick', {});
  const created = Date.parse(cj.metadata.creationTimestamp);
  clock = Math.floor(created / MIN) * MIN + 2 * MIN + 5_000; // two boundaries later
  const r = await syncCron('cj-allow', 'tick');
  const js = await listJobs('cj-allow');
  assert.equal(js.length, 1);
  const expected = Math.floor(clock / MIN) * MIN;
  assert.equal(js[0].metadata.name, `tick-${expected / MIN}`);
  assert.equal(
    js[0].metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'],
    new Date(expected).toISOString().replace('.000Z', 'Z'),
  );
  assert.ok(r && r.requeueAfterMs! > 54_000 && r.requeueAfterMs! <= 55_200, String(r?.requeueAfterMs));
  const st = defined((await client.resource(R.cronjobs).namespace('cj-allow').get('tick')).status, 'status');
  assert.equal(Date.parse(st.lastScheduleTime ?? ''), expected);
  assert.equal(st.active?.length, 1);
  assert.equal(st.active?.[0].name, js[0].metadata.name);
  // Same minute again: nothing new.
  await syncCron('cj-allow', 'tick');
  assert.equal((await listJobs('cj-allow')).length, 1);
  // Next minute, Allow: a second one runs beside the first.
  clock += MIN;
  await syncCron('cj-allow', 'tick');
  assert.equal((await listJobs('cj-allow')).length, 2);
  // The first finishes: SawCompletedJob, lastSuccessfulTime, history limit 3 keeps it.
  await finishJob('cj-allow', js[0].metadata.name, 'Complete');
  await syncCron('cj-allow', 'tick');
  const st2 = (await client.resource(R.cronjobs).namespace('cj-allow').get('tick')).status;
  assert.equal(st2?.active?.length, 1);
  assert.ok(st2?.lastSuccessfulTime);
  await eventually(async () =>
    (await events('cj-allow')).some(
      (e) => e === `SawCompletedJob: Saw completed job: ${js[0].metadata.name}, status: Complete`,
    ),
  );
  assert.ok((await events('cj-allow')).some((e) => e.startsWith('SuccessfulCreate: Created job tick-')));
});

test('cronjob: Forbid skips while a job runs; Replace replaces it', async () => {
  await ns('cj-policy');
  const forbid = await createCronJob('cj-policy', 'forbid', { concurrencyPolicy: 'Forbid' });
  const replace = await createCronJob('cj-policy', 'replace', { concurrencyPolicy: 'Replace' });
  const base =
    Math.floor(
      Math.max(Date.parse(forbid.metadata.creationTimestamp), Date.parse(replace.metadata.creationTimestamp)) / MIN,
    ) * MIN;
  clock = base + MIN + 1000;
  await syncCron('cj-policy', 'forbid');
  await syncCron('cj-policy', 'replace');
  const first = await listJobs('cj-policy');
  assert.equal(first.length, 2);
  clock += MIN;
  await syncCron('cj-policy', 'forbid');
  await syncCron('cj-policy', 'replace');
  const after = await listJobs('cj-policy');
  const live = after.filter((j: any) => !j.metadata.deletionTimestamp);
  const forbidJobs = live.filter((j: any) => j.metadata.name.startsWith('forbid-'));
  assert.equal(forbidJobs.length, 1, 'Forbid: no second job');
  const replaceNames = live.filter((j: any) => j.metadata.name.startsWith('replace-')).map((j: any) => j.metadata.name);
  assert.ok(replaceNames.includes(`replace-${Math.floor(clock / MIN)}`));
  assert.ok(!replaceNames.includes(`replace-${Math.floor(clock / MIN) - 1}`), 'Replace: the old job was deleted');
  await eventually(async () =>
    (await events('cj-policy')).some((e) =>
      e.startsWith(
        'JobAlreadyActive: Not starting job because prior execution is running and concurrency policy is Forbid',
      ),
    ),
  );
  const fst = (await client.resource(R.cronjobs).namespace('cj-policy').get('forbid')).status;
  assert.equal(
    Date.parse(fst?.lastScheduleTime ?? ''),
    Math.floor(clock / MIN) * MIN - MIN,
    'Forbid does not record the skipped time',
  );
});

test('cronjob: startingDeadlineSeconds, too many missed, suspend, time zone, history limits', async () => {
  await ns('cj-misc');
  const late = await createCronJob('cj-misc', 'late', { startingDeadlineSeconds: 10 });
  clock = Math.floor(Date.parse(late.metadata.creationTimestamp) / MIN) * MIN + 2 * MIN + 30_000; // 30 s after the boundary
  await syncCron('cj-misc', 'late');
  assert.equal((await listJobs('cj-misc')).length, 0);
  // (deadline 10 s: nothing in (now-10s, now]; no job, no MissSchedule needed)
  const many = await createCronJob('cj-misc', 'many', {});
  clock = Date.parse(many.metadata.creationTimestamp) + 3 * 60 * MIN; // 180 missed minutes
  await syncCron('cj-misc', 'many');
  const mj = (await listJobs('cj-misc')).filter((j: any) => j.metadata.name.startsWith('many-'));
  assert.deepEqual(
    mj.map((j: any) => j.metadata.name),
    [`many-${Math.floor(clock / MIN)}`],
  );
  await eventually(async () =>
    (await events('cj-misc')).some((e) =>
      /^TooManyMissedTimes: too many missed start times: \d+\. Set or decrease \.spec\.startingDeadlineSeconds or check clock skew$/.test(
        e,
      ),
    ),
  );
  const sus = await createCronJob('cj-misc', 'sus', { suspend: true });
  clock = Date.parse(sus.metadata.creationTimestamp) + 5 * MIN;
  await syncCron('cj-misc', 'sus');
  assert.equal((await listJobs('cj-misc')).filter((j: any) => j.metadata.name.startsWith('sus-')).length, 0);
  const tz = await createCronJob('cj-misc', 'tokyo', { schedule: '0 9 * * *', timeZone: 'Asia/Tokyo' });
  // 09:00 in Tokyo is 00:00 UTC: the day after creation, plus a minute.
  const created = Date.parse(tz.metadata.creationTimestamp);
  clock = Math.floor(created / 86_400_000) * 86_400_000 + 86_400_000 + 60_000;
  await syncCron('cj-misc', 'tokyo');
  const tj = (await listJobs('cj-misc')).filter((j: any) => j.metadata.name.startsWith('tokyo-'));
  assert.equal(tj.length, 1);
  assert.match(
    tj[0].metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'] ?? '',
    /T09:00:00\+09:00$/,
  );
  // History: successfulJobsHistoryLimit 1 keeps the newest finished one.
  const hist = await createCronJob('cj-misc', 'hist', { successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 0 });
  clock = Math.floor(Date.parse(hist.metadata.creationTimestamp) / MIN) * MIN + MIN + 1000;
  for (let i = 0; i < 3; i++) {
    await syncCron('cj-misc', 'hist');
    const current = (await listJobs('cj-misc')).find((j: any) => j.metadata.name === `hist-${Math.floor(clock / MIN)}`);
    assert.ok(current, `job ${i}`);
    await finishJob('cj-misc', current.metadata.name, i === 2 ? 'Failed' : 'Complete');
    clock += MIN;
  }
  await syncCron('cj-misc', 'hist');
  await syncCron('cj-misc', 'hist');
  const left = (await listJobs('cj-misc')).filter(
    (j: any) => j.metadata.name.startsWith('hist-') && !j.metadata.deletionTimestamp,
  );
  // Newest complete kept (1), failed ones removed (limit 0), the one just created is running.
  const finished = left.filter((j: any) =>
    (j.status?.conditions ?? []).some(
      (c: any) => c.status === 'True' && (c.type === 'Complete' || c.type === 'Failed'),
    ),
  );
  assert.equal(finished.length, 1);
  assert.equal(finished[0].status?.conditions?.find((c) => c.type === 'Complete')?.status, 'True');
});

// ---- Job ----

async function syncJob(namespace: string, name: string) {
  const fresh = await client.resource(R.jobs).namespace(namespace).get(name);
  await eventually(
    () => jobInformer().store.getByName(namespace, name)?.metadata.resourceVersion === fresh.metadata.resourceVersion,
  );
  const ps = await client.resource(R.pods).namespace(namespace).list();
  await eventually(() => {
    const cached = podInformer().store.listByNamespace(namespace);
    return (
      cached.length === ps.items.length &&
      ps.items.every(
        (p) =>
          podInformer().store.getByName(namespace, p.metadata.name)?.metadata.resourceVersion ===
          p.metadata.resourceVersion,
      )
    );
  });
  return jobs.sync(`${namespace}/${name}`);
}

async function setPhase(namespace: string, pod: Stored<Pod>, phase: string) {
  const p = await client.resource(R.pods).namespace(namespace).get(pod.metadata.name);
  await client
    .resource(R.pods)
    .namespace(namespace)
    .updateStatus({ ...p, status: { ...p.status, phase } });
}

const activePods = async (namespace: string) =>
  (await client.resource(R.pods).namespace(namespace).list()).items.filter(
    (p) => !p.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''),
  );

test('job: back-off, activeDeadlineSeconds, suspend and resume', async () => {
  await ns('jobs');
  clock = Date.now();
  await client
    .resource(R.jobs)
    .namespace('jobs')
    .create({
      metadata: { name: 'dl' },
      spec: {
        parallelism: 2,
        completions: 5,
        activeDeadlineSeconds: 30,
        backoffLimit: 10,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } },
      },
    });
  await syncJob('jobs', 'dl');
  let pods = await activePods('jobs');
  assert.equal(pods.length, 2);
  assert.ok(pods.every((p: any) => p.metadata.finalizers.includes('batch.kubernetes.io/job-tracking')));
  // One fails: counted after its finalizer is removed; the replacement waits for the back-off.
  await setPhase('jobs', pods[0], 'Failed');
  const r = await syncJob('jobs', 'dl');
  let job = await client.resource(R.jobs).namespace('jobs').get('dl');
  assert.equal(job.status?.failed, 1);
  assert.equal((await activePods('jobs')).length, 1);
  assert.ok(r && r.requeueAfterMs! > 0 && r.requeueAfterMs! <= 60, `back-off requeue ${r?.requeueAfterMs}`);
  clock += 100;
  await syncJob('jobs', 'dl');
  assert.equal((await activePods('jobs')).length, 2);
  // Suspend: pods removed (not counted as failures), Suspended condition.
  await client
    .resource(R.jobs)
    .namespace('jobs')
    .patch('dl', 'merge', { spec: { suspend: true } });
  await syncJob('jobs', 'dl');
  job = await client.resource(R.jobs).namespace('jobs').get('dl');
  assert.equal((await activePods('jobs')).length, 0);
  assert.equal(job.status?.conditions?.find((c) => c.type === 'Suspended')?.reason, 'JobSuspended');
  await syncJob('jobs', 'dl');
  job = await client.resource(R.jobs).namespace('jobs').get('dl');
  assert.equal(job.status?.failed, 1);
  // Resume: startTime reset, pods again.
  clock += 1000;
  await client
    .resource(R.jobs)
    .namespace('jobs')
    .patch('dl', 'merge', { spec: { suspend: false } });
  await syncJob('jobs', 'dl');
  job = await client.resource(R.jobs).namespace('jobs').get('dl');
  assert.equal(
    job.status?.conditions?.find((c) => c.type === 'Suspended')?.status,
    'False',
    JSON.stringify(job.status),
  );
  assert.equal(Date.parse(job.status?.startTime ?? ''), Math.floor(clock / 1000) * 1000);
  assert.equal((await activePods('jobs')).length, 2);
  // Past the deadline: DeadlineExceeded, pods removed, Failed once they are accounted for.
  clock += 31_000;
  await syncJob('jobs', 'dl');
  await syncJob('jobs', 'dl');
  job = await client.resource(R.jobs).namespace('jobs').get('dl');
  const failed = job.status?.conditions?.find((c) => c.type === 'Failed');
  assert.equal(failed?.status, 'True');
  assert.equal(failed?.reason, 'DeadlineExceeded');
  assert.equal(failed?.message, 'Job was active longer than specified deadline');
  assert.equal(job.status?.failed, 3);
  assert.ok(!job.status?.active);
  pods = (await client.resource(R.pods).namespace('jobs').list()).items;
  assert.ok(pods.every((p: any) => !(p.metadata.finalizers ?? []).includes('batch.kubernetes.io/job-tracking')));
});
