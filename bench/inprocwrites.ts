// CPU per in-process write, as the scale run's components make them: a pod created from a
// ReplicaSet's template and its event (built fresh, handed over, answers only read), and a pod
// status write such as the simulator's (an HTTP body: the request's own). CPU time from
// process.cpuUsage deltas, which hold on a loaded machine where throughput does not.
//
//   npx tsc -p tsconfig.json && node dist/bench/inprocwrites.js
//   BENCH_OTHER_DIST=/tmp/base/dist node dist/bench/inprocwrites.js   # alternate rounds with another build
//                                                                    # (its dist/, e.g. main's tree built apart)
//
// Environment: BENCH_ROUNDS (16), BENCH_WRITES per round (200), BENCH_OTHER_DIST.
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pick } from './common.js';
import type * as ClusterModule from '../src/embed/cluster.js';
import type * as InProcessModule from '../src/apiserver/inprocess.js';
import type * as ClientModule from '../src/client/index.js';
import type * as ObjectsModule from '../src/machinery/objects.js';
import type { ResourceClient } from '../src/client/index.js';

const ROUNDS = pick('BENCH_ROUNDS', 16, 16);
const N = pick('BENCH_WRITES', 200, 200);
const own = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const builds: Record<string, string> = { this: own };
if (process.env.BENCH_OTHER_DIST) builds.other = resolve(process.env.BENCH_OTHER_DIST);

interface Setup {
  stop(): Promise<void>;
  pods: ResourceClient;
  events: ResourceClient;
  markUnshared: <T extends object>(o: T) => T;
  next: number;
}

/** An API server of one build, in this process, with an in-process client. */
async function setUp(dist: string): Promise<Setup> {
  // Another build's modules have this build's shapes (its calls are this bench's).
  const { startCluster } = (await import(`${dist}/src/embed/cluster.js`)) as typeof ClusterModule;
  const { inProcessClient } = (await import(`${dist}/src/apiserver/inprocess.js`)) as typeof InProcessModule;
  const { R } = (await import(`${dist}/src/client/index.js`)) as typeof ClientModule;
  const { markUnshared } = (await import(`${dist}/src/machinery/objects.js`)) as typeof ObjectsModule;
  const c = await startCluster({ controllers: false, scheduler: false });
  const client = inProcessClient(c.api, { fieldManager: 'inprocwrites' });
  await client.resource(R.namespaces).create({ metadata: { name: 'bench' } });
  return {
    stop: async () => {
      await client.close();
      await c.stop();
    },
    pods: client.resource(R.pods).namespace('bench'),
    events: client.resource(R.events).namespace('bench'),
    markUnshared,
    next: 0,
  };
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    labels: { app: 'web', 'pod-template-hash': 'abc' },
    ownerReferences: [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'web',
        uid: '1234',
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  },
  spec: {
    containers: [
      {
        name: 'c',
        image: 'busybox:1.35',
        command: ['sleep', '3600'],
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
      },
    ],
  },
});

const event = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name, namespace: 'bench' },
  involvedObject: { kind: 'Pod', name: 'p', namespace: 'bench', uid: 'u', apiVersion: 'v1' },
  reason: 'Scheduled',
  message: 'Successfully assigned bench/p to node-1',
  type: 'Normal',
  source: { component: 'default-scheduler' },
  reportingComponent: 'default-scheduler',
  reportingInstance: '',
  firstTimestamp: now(),
  lastTimestamp: now(),
  eventTime: null,
  count: 1,
});

const podStatus = (name: string, k: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'bench' },
  status: {
    phase: 'Running',
    podIP: `10.0.0.${k % 250}`,
    conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: now() }],
    containerStatuses: [
      {
        name: 'c',
        ready: true,
        restartCount: k,
        image: 'busybox:1.35',
        imageID: '',
        started: true,
        state: { running: { startedAt: '2026-12-07T00:00:00Z' } },
      },
    ],
  },
});

/** CPU µs per iteration of `fn` over N iterations. */
async function cpuPer(fn: (i: number) => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / N;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function main(): Promise<void> {
  const setups: Record<string, Setup> = {};
  for (const [label, root] of Object.entries(builds)) setups[label] = await setUp(root);
  const results: Record<string, { create: number[]; status: number[] }> = {};
  for (const label of Object.keys(setups)) results[label] = { create: [], status: [] };
  const labels = Object.keys(setups);
  for (let r = 0; r < ROUNDS; r++) {
    for (const label of r % 2 ? [...labels].reverse() : labels) {
      const s = setups[label];
      const names: string[] = [];
      results[label].create.push(
        await cpuPer(async () => {
          const name = `p${s.next++}`;
          names.push(name);
          // As the ReplicaSet controller and the event recorder now do (an older build ignores both).
          await s.pods.create(s.markUnshared(pod(name)), { shared: true });
          await s.events.create(s.markUnshared(event(`${name}.e`)), { shared: true });
        }),
      );
      results[label].status.push(await cpuPer((i) => s.pods.updateStatus(s.markUnshared(podStatus(names[i], i)))));
    }
  }
  for (const [label, r] of Object.entries(results))
    console.log(
      `${label === 'this' ? own : builds[label]}: CPU µs per pod create + event create: median ${median(r.create).toFixed(0)} (min ${Math.min(...r.create).toFixed(0)}); per pod status write: median ${median(r.status).toFixed(0)} (min ${Math.min(...r.status).toFixed(0)})`,
    );
  console.log(
    `${ROUNDS} rounds of ${N} writes${labels.length > 1 ? ', builds alternated' : ''}; load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  for (const s of Object.values(setups)) await s.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
