// `kubectl get pods -A` (and -o wide) as kubectl 1.33 prints the server's Table of a list of pods
// of many kinds (pending, running, completed, crash-looping, initialising, with a sidecar, with
// readiness gates, nominated, terminating), written from the stored objects' text: each row is
// what the same pod's Table prints when got alone (the Table of parsed objects), and what
// upstream's pod printer prints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startCluster, type Cluster } from './harness.js';

const KUBECTL_133 = '/usr/lib/google-cloud-sdk/bin/kubectl.1.33';
const bin = existsSync(KUBECTL_133) ? KUBECTL_133 : undefined;

let cluster: Cluster;
before(async () => {
  // Nothing but the tests writes the pods: no scheduler, controllers or node agent.
  cluster = await startCluster({ args: ['--disable-scheduler', '--disable-controller-manager'] });
});
after(async () => {
  await cluster?.cleanup();
});

const k = async (...args: string[]) => {
  const r = await cluster.kubectl(args, { bin, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
};

const LONG_AGO = '2020-01-01T00:00:00Z';
const running = (name: string, ready = true, restarts = 0) => ({
  name,
  image: 'busybox',
  imageID: '',
  ready,
  started: true,
  restartCount: restarts,
  state: { running: { startedAt: LONG_AGO } },
  ...(restarts ? { lastState: { terminated: { exitCode: 1, finishedAt: LONG_AGO } } } : {}),
});
const notReady = (restarts: number, state: Record<string, unknown>, lastState = {}) => ({
  name: 'c',
  image: 'busybox',
  imageID: '',
  ready: false,
  restartCount: restarts,
  state,
  lastState,
});
const cond = (type: string, status: string) => ({ type, status });

interface Case {
  ns: string;
  name: string;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  finalizer?: boolean;
  /** READY, STATUS, RESTARTS, IP, NODE, NOMINATED NODE, READINESS GATES, as upstream prints them. */
  want: string[];
}

const CASES: Case[] = [
  { ns: 'tbl-a', name: 'pending', want: ['0/1', 'Pending', '0', '<none>', '<none>', '<none>', '<none>'] },
  {
    ns: 'tbl-a',
    name: 'running',
    spec: { nodeName: 'node-a' },
    status: {
      phase: 'Running',
      conditions: [cond('Ready', 'True')],
      podIP: '10.1.0.5',
      podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }],
      containerStatuses: [running('c')],
    },
    want: ['1/1', 'Running', '0', '10.1.0.5', 'node-a', '<none>', '<none>'],
  },
  {
    ns: 'tbl-a',
    name: 'completed',
    spec: { nodeName: 'node-a' },
    status: {
      phase: 'Succeeded',
      containerStatuses: [notReady(0, { terminated: { exitCode: 0, reason: 'Completed', finishedAt: LONG_AGO } })],
    },
    want: ['0/1', 'Completed', '0', '<none>', 'node-a', '<none>', '<none>'],
  },
  {
    ns: 'tbl-b',
    name: 'crashing',
    spec: { nodeName: 'node-b' },
    status: {
      phase: 'Running',
      podIP: '10.1.0.6',
      containerStatuses: [
        notReady(4, { waiting: { reason: 'CrashLoopBackOff' } }, { terminated: { exitCode: 1, finishedAt: LONG_AGO } }),
      ],
    },
    want: ['0/1', 'CrashLoopBackOff', /^4 \(\d+y\d*d? ago\)$/.source, '10.1.0.6', 'node-b', '<none>', '<none>'],
  },
  {
    ns: 'tbl-b',
    name: 'initialising',
    spec: {
      nodeName: 'node-b',
      initContainers: [
        { name: 'i0', image: 'busybox' },
        { name: 'i1', image: 'busybox' },
      ],
    },
    status: {
      phase: 'Pending',
      initContainerStatuses: ['i0', 'i1'].map((name) => ({
        name,
        image: 'busybox',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'PodInitializing' } },
      })),
    },
    want: ['0/1', 'Init:0/2', '0', '<none>', 'node-b', '<none>', '<none>'],
  },
  {
    ns: 'tbl-b',
    name: 'init-failed',
    spec: { nodeName: 'node-b', initContainers: [{ name: 'i0', image: 'busybox' }] },
    status: {
      phase: 'Pending',
      initContainerStatuses: [
        {
          name: 'i0',
          image: 'busybox',
          imageID: '',
          ready: false,
          restartCount: 2,
          state: { terminated: { exitCode: 3, reason: 'Error' } },
        },
      ],
    },
    want: ['0/1', 'Init:Error', '2', '<none>', 'node-b', '<none>', '<none>'],
  },
  {
    ns: 'tbl-b',
    name: 'sidecar',
    spec: { nodeName: 'node-b', initContainers: [{ name: 'proxy', image: 'busybox', restartPolicy: 'Always' }] },
    status: {
      phase: 'Running',
      conditions: [cond('Initialized', 'True'), cond('Ready', 'True')],
      initContainerStatuses: [running('proxy', true, 1)],
      containerStatuses: [running('c')],
    },
    want: ['2/2', 'Running', /^1 \(\d+y\d*d? ago\)$/.source, '<none>', 'node-b', '<none>', '<none>'],
  },
  {
    ns: 'tbl-a',
    name: 'gated',
    spec: {
      nodeName: 'node-a',
      readinessGates: [{ conditionType: 'example.com/a' }, { conditionType: 'example.com/b' }],
    },
    status: {
      phase: 'Running',
      conditions: [cond('example.com/a', 'True'), cond('example.com/b', 'False')],
      containerStatuses: [running('c')],
    },
    want: ['1/1', 'Running', '0', '<none>', 'node-a', '<none>', '1/2'],
  },
  {
    ns: 'tbl-a',
    name: 'nominated',
    status: { phase: 'Pending', nominatedNodeName: 'node-c' },
    want: ['0/1', 'Pending', '0', '<none>', '<none>', 'node-c', '<none>'],
  },
  {
    ns: 'tbl-b',
    name: 'terminating',
    spec: { nodeName: 'node-b' },
    finalizer: true,
    status: { phase: 'Running', containerStatuses: [running('c')] },
    want: ['1/1', 'Terminating', '0', '<none>', 'node-b', '<none>', '<none>'],
  },
];

/** The cells of kubectl's table lines (columns are 3 or more spaces apart; AGE set aside). */
function rows(out: string, ageAt: number): Map<string, string[]> {
  const lines = out.trim().split('\n');
  const found = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const cells = line.split(/\s{3,}/);
    assert.match(cells[ageAt], /^\d+s$|^\d+m\d*s?$/, `AGE of ${line}`);
    cells.splice(ageAt, 1);
    found.set(ageAt === 5 ? `${cells[0]}/${cells[1]}` : cells[0], ageAt === 5 ? cells.slice(2) : cells.slice(1));
  }
  return found;
}

test(
  'kubectl 1.33 get pods -A and -o wide: the list prints each pod as upstream and as its own Table',
  { skip: !bin && 'kubectl.1.33 not installed', timeout: 180_000 },
  async () => {
    for (const ns of ['tbl-a', 'tbl-b']) {
      await k('create', 'namespace', ns);
      await k('-n', ns, 'create', 'serviceaccount', 'default');
    }
    const docs = CASES.map((c) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: c.name, namespace: c.ns, ...(c.finalizer ? { finalizers: ['example.com/keep'] } : {}) },
        spec: { containers: [{ name: 'c', image: 'busybox' }], ...c.spec },
      }),
    );
    const input = `{"apiVersion":"v1","kind":"List","items":[${docs.join(',')}]}`;
    await cluster.kubectl(['create', '-f', '-'], { bin, input, timeoutMs: 60_000 }).then((r) => {
      if (r.code !== 0) throw new Error(`create: ${r.stderr}`);
    });
    for (const c of CASES) {
      if (c.status)
        await k(
          '-n',
          c.ns,
          'patch',
          'pod',
          c.name,
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify({ status: c.status }),
        );
    }
    await k('-n', 'tbl-b', 'delete', 'pod', 'terminating', '--wait=false');

    const list = await k('get', 'pods', '-A');
    assert.match(list.split('\n')[0], /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    const wide = await k('get', 'pods', '-A', '-o', 'wide');
    assert.match(
      wide.split('\n')[0],
      /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/,
    );
    const listed = rows(list, 5);
    const listedWide = rows(wide, 5);
    assert.equal(listedWide.size, CASES.length);
    for (const c of CASES) {
      const id = `${c.ns}/${c.name}`;
      const got = listedWide.get(id);
      assert.ok(got, `${id} listed`);
      assert.equal(got.length, c.want.length, `${id}: ${got.join(' | ')}`);
      c.want.forEach((w, i) =>
        w.startsWith('^') ? assert.match(got[i], new RegExp(w), id) : assert.equal(got[i], w, `${id} column ${i}`),
      );
      assert.deepEqual(listed.get(id), got.slice(0, 3), id);
    }
    // Each pod got alone (a Table of one parsed object) prints the same cells.
    for (const ns of ['tbl-a', 'tbl-b']) {
      const names = CASES.filter((c) => c.ns === ns).map((c) => c.name);
      const alone = rows(await k('-n', ns, 'get', 'pods', ...names, '-o', 'wide'), 4);
      for (const name of names) assert.deepEqual(alone.get(name), listedWide.get(`${ns}/${name}`), `${ns}/${name}`);
    }
    // kubectl reads the rows' PartialObjectMetadata for -L (label columns): they carry the metadata.
    await k('-n', 'tbl-a', 'label', 'pod', 'running', 'tier=web');
    assert.match(await k('get', 'pods', '-A', '-L', 'tier'), /^tbl-a\s+running\s+1\/1\s+Running\s+0\s+\S+\s+web$/m);
  },
);
