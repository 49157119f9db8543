// CPU per write of field management (recordUpdateOperation) as the store meets it: the object
// being replaced parsed again from its stored JSON text, the new one parsed from a request body,
// the result serialised for storage. Each case runs with and without the field management call in
// the same process, so the difference is field management alone. Cases: a node's Lease renewal
// (the body without managedFields, as the simulator and the agent send it, and with them, as a
// PUT of a fetched object), a kubelet's pod status write, a ReplicaSet controller's pod create.
//
//   npm run build && node dist/bench/managedfields.js        (BENCH_WRITES per round, default 20000)
import { recordUpdateOperation, type UpdateOptions } from '../src/machinery/ssa/manager.js';
import { BuiltinFieldSchema } from '../src/apiserver/fieldschema.js';

const writes = Number(process.env.BENCH_WRITES ?? 20000);
const rounds = 5;
const schemas = new BuiltinFieldSchema();

const lease = (i: number) => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: {
    name: 'node-1',
    namespace: 'kube-node-lease',
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: 'u-node-1' }],
    annotations: { 'k8ts.io/usage': '{"t":"2026-12-07T10:00:00Z","w":10,"n":[250,268435456],"p":{}}' },
  },
  spec: {
    holderIdentity: 'node-1',
    leaseDurationSeconds: 40,
    renewTime: `2026-12-07T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000000Z`,
  },
});

const container = (name: string, image: string) => ({
  name,
  image,
  ports: [{ containerPort: 80, protocol: 'TCP' }],
  resources: { requests: { cpu: '10m', memory: '16Mi' } },
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
  imagePullPolicy: 'IfNotPresent',
});
const pod = (i: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `web-7d4b9c8f5-${i}`,
    generateName: 'web-7d4b9c8f5-',
    namespace: 'ns-1',
    labels: { app: 'web', 'pod-template-hash': '7d4b9c8f5' },
    ownerReferences: [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'web-7d4b9c8f5',
        uid: 'u-rs',
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  },
  spec: {
    containers: [container('nginx', 'nginx:1.25'), container('sidecar', 'busybox')],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    schedulerName: 'default-scheduler',
    enableServiceLinks: true,
    nodeName: 'node-1',
  },
});
const podStatus = (i: number) => ({
  phase: 'Running',
  conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
    type,
    status: 'True',
    lastProbeTime: null,
    lastTransitionTime: `2026-12-07T10:00:${String(i % 60).padStart(2, '0')}Z`,
  })),
  hostIP: '198.18.0.2',
  podIP: '10.42.0.5',
  podIPs: [{ ip: '10.42.0.5' }],
  startTime: '2026-12-07T10:00:00Z',
  qosClass: 'Burstable',
  containerStatuses: ['nginx', 'sidecar'].map((name) => ({
    name,
    ready: true,
    restartCount: i % 3,
    started: true,
    image: name,
    imageID: 'sha256:0',
    containerID: `containerd://${name}-${i}`,
    state: { running: { startedAt: '2026-12-07T10:00:01Z' } },
  })),
});

interface Case {
  name: string;
  opts: UpdateOptions;
  /** The stored object before the first write. */
  initial: () => any;
  /** The write's object, from the old one's JSON text (undefined: a create). */
  next: (oldJson: string | undefined, i: number) => any;
  create?: boolean;
}

const leaseOpts: UpdateOptions = {
  manager: 'kubelet',
  apiVersion: 'coordination.k8s.io/v1',
  type: schemas.typeFor('coordination.k8s.io', 'v1', 'Lease')!,
};
const podType = schemas.typeFor('', 'v1', 'Pod')!;
const leaseRenewal = (keepManaged: boolean) => (oldJson: string | undefined, i: number) => {
  const body = JSON.parse(oldJson!);
  if (!keepManaged) delete body.metadata.managedFields;
  body.spec.renewTime = lease(i).spec.renewTime;
  return body;
};

const cases: Case[] = [
  {
    name: 'Lease renewal, body without managedFields',
    opts: leaseOpts,
    initial: () => lease(0),
    next: leaseRenewal(false),
  },
  {
    name: 'Lease renewal, body with managedFields',
    opts: leaseOpts,
    initial: () => lease(0),
    next: leaseRenewal(true),
  },
  {
    name: "pod status write (kubelet's)",
    opts: { manager: 'kubelet', apiVersion: 'v1', type: podType, statusSubresource: true, subresource: 'status' },
    initial: () => pod(0),
    next: (oldJson, i) => ({ ...JSON.parse(oldJson!), status: podStatus(i) }),
  },
  {
    name: "pod create (ReplicaSet controller's)",
    opts: { manager: 'kube-controller-manager', apiVersion: 'v1', type: podType, statusSubresource: true },
    initial: () => pod(0),
    next: (_old, i) => JSON.parse(JSON.stringify(pod(i))),
    create: true,
  },
];

/** CPU µs per write over `writes` writes, with or without field management. */
function run(c: Case, manage: boolean): number {
  const first = c.initial();
  recordUpdateOperation(first, undefined, c.opts);
  let json = JSON.stringify(first);
  const t0 = process.cpuUsage();
  for (let i = 1; i <= writes; i++) {
    const old = c.create ? undefined : JSON.parse(json);
    const next = c.next(c.create ? undefined : json, i);
    if (manage) recordUpdateOperation(next, old, c.opts);
    const out = JSON.stringify(next);
    if (!c.create) json = out;
  }
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / writes;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`field management per write, CPU µs (median of ${rounds} alternating rounds of ${writes} writes)\n`);
console.log('| write | parse + serialise only | with field management | field management |');
console.log('| --- | ---: | ---: | ---: |');
for (const c of cases) {
  const base: number[] = [];
  const managed: number[] = [];
  for (let r = 0; r < rounds; r++) {
    base.push(run(c, false));
    managed.push(run(c, true));
  }
  const b = median(base);
  const m = median(managed);
  console.log(`| ${c.name} | ${b.toFixed(1)} | ${m.toFixed(1)} | **${(m - b).toFixed(1)}** |`);
}
