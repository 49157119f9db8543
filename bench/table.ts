// CPU per row of a pods Table page (what `kubectl get pods -A` reads), in this process: the Table
// of the parsed objects serialised (toTable, the path before rows were written from the stored
// text) against storedTableText, with the cache holding no parsed object (cells from the parts of
// the text the columns read) and holding one. Not a test: it prints a table.
//
//   npx tsc -p tsconfig.json && node dist/bench/table.js
//
// Environment: BENCH_ROUNDS (60) pages of BENCH_PAGE (500) pods; BENCH_RUNNING=0 for pods without
// a status beyond Pending (the bench:list pods), else each pod is Running with a container status.
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { podColumns } from '../src/api/core/v1/tables.js';
import { storedTableText, toTable } from '../src/apiserver/table.js';
import { CachedObject } from '../src/storage/cacher.js';
import { pick } from './common.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const ROUNDS = pick('BENCH_ROUNDS', 60, 20);
const PAGE = pick('BENCH_PAGE', 500, 500);
const RUNNING = process.env.BENCH_RUNNING !== '0';
const T = '2026-12-07T20:00:00Z';

/** A pod as a Deployment's ReplicaSet creates it and the API stores it (defaults, managedFields). */
function pod(i: number): object {
  const probe = (path: string) => ({ httpGet: { path, port: 8080, scheme: 'HTTP' }, periodSeconds: 10 });
  const fields = { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:containers': {} } };
  const condition = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: T });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      resourceVersion: String(1000 + i),
      name: `app-1-5d8f7c9b4f-${i.toString(36).padStart(5, '0')}`,
      generateName: 'app-1-5d8f7c9b4f-',
      namespace: `ns-${i % 50}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      creationTimestamp: T,
      labels: { app: 'app-1', 'pod-template-hash': '5d8f7c9b4f', tier: 'backend' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'app-1', uid: 'u', controller: true }],
      managedFields: [
        { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: T, fieldsV1: fields },
      ],
    },
    spec: {
      nodeName: `node-${i % 5000}`,
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/team/app:1.27.3',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } }],
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
          readinessProbe: probe('/ready'),
          livenessProbe: probe('/healthz'),
          terminationMessagePath: '/dev/termination-log',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
    status: RUNNING
      ? {
          phase: 'Running',
          conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(condition),
          hostIP: '10.198.0.1',
          podIP: `10.42.${i % 250}.5`,
          podIPs: [{ ip: `10.42.${i % 250}.5` }],
          startTime: T,
          containerStatuses: [
            {
              name: 'app',
              state: { running: { startedAt: T } },
              lastState: {},
              ready: true,
              restartCount: 0,
              image: 'registry.example.com/team/app:1.27.3',
              imageID: 'sha256:0123',
              started: true,
            },
          ],
          qosClass: 'Burstable',
        }
      : { phase: 'Pending', qosClass: 'Burstable' },
  };
}

const texts = Array.from({ length: PAGE }, (_, i) => JSON.stringify(pod(i)));
const decode = (_key: string, value: string): unknown => JSON.parse(value);
const meta = { resourceVersion: '1', continue: 'token', remainingItemCount: 1 };

/** The page's cache entries; `kept`: the cache holds their parsed objects. */
async function entries(kept: boolean): Promise<CachedObject[]> {
  const items = texts.map((t, i) => new CachedObject(`/pods/${i}`, t, 1000 + i, 1000 + i, decode, JSON.parse(t), kept));
  // A WeakRef's target lives to the end of the job that made it: let the collector take them.
  await new Promise((done) => setImmediate(done));
  gc();
  return items;
}

function cpuPerPod(page: () => string): number {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    page();
    const c = process.cpuUsage(c0);
    samples.push((c.user + c.system) / PAGE);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

async function main() {
  const unkept = await entries(false);
  const held = await entries(true);
  const rows: [string, number][] = [
    ['JSON list: the stored texts joined', cpuPerPod(() => `[${unkept.map((s) => s.json).join(',')}]`)],
    [
      'before: each object parsed, toTable, JSON.stringify',
      cpuPerPod(() =>
        JSON.stringify(
          toTable(
            podColumns,
            unkept.map((s) => JSON.parse(s.json) as unknown),
            meta,
            { includeObject: 'Metadata' },
          ),
        ),
      ),
    ],
    [
      'after: storedTableText, nothing kept parsed',
      cpuPerPod(() => storedTableText(podColumns, unkept, meta, { includeObject: 'Metadata' })),
    ],
    [
      'after: storedTableText, the cache holds the objects',
      cpuPerPod(() => storedTableText(podColumns, held, meta, { includeObject: 'Metadata' })),
    ],
  ];
  console.log(
    `\npods Table, pages of ${PAGE} (${texts[0].length} bytes a pod, ${RUNNING ? 'Running' : 'Pending'}); ` +
      `median of ${ROUNDS} pages; load ${os.loadavg()[0].toFixed(1)}`,
  );
  console.log('| path | CPU µs per pod |\n| --- | ---: |');
  for (const [what, us] of rows) console.log(`| ${what} | ${us.toFixed(1)} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
