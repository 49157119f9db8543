// Deployments, ReplicaSets and ReplicationControllers with the real kubectl: scaling, a rolling
// update within maxSurge/maxUnavailable, rollout status/history/undo/pause/resume/restart, a
// deleted pod replaced, adoption and release of pods, and a rollout that survives a server
// restart. Pods run on `--simulated-nodes` when the server has them; a small fake kubelet
// (test/e2e/fakekubelet.ts) binds and readies pods nobody else does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Client, R, SharedIndexInformer } from '../../src/client/index.js';
import { K8TS_BIN, startCluster, type Cluster, until } from './harness.js';
import { FakeKubelet } from './fakekubelet.js';
import { sleep } from '../support/until.js';

let cluster: Cluster;
let kubelet: FakeKubelet;
let client: Client;
let simulated = false;

const eventually = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> =>
  until(what, fn, timeoutMs, 100);

before(async () => {
  let help = '';
  try {
    help = execFileSync(process.execPath, [K8TS_BIN, 'server', '--help'], { encoding: 'utf8' });
  } catch {
    // older binaries print help on stderr with a non-zero code
  }
  simulated = help.includes('--simulated-nodes');
  cluster = await startCluster({ args: simulated ? ['--simulated-nodes', '3'] : [] });
  kubelet = new FakeKubelet(cluster.kubeconfig);
  await kubelet.start();
  client = Client.fromKubeconfig(cluster.kubeconfig, { fieldManager: 'e2e' });
});

after(async () => {
  await kubelet?.stop();
  await client?.close();
  await cluster?.cleanup();
});

const getJson = async (args: string[]) => JSON.parse(await cluster.k([...args, '-o', 'json']));
const rsOf = async (ns: string) => (await getJson(['-n', ns, 'get', 'rs'])).items as any[];
const activePods = async (ns: string, sel: string) =>
  ((await getJson(['-n', ns, 'get', 'pods', '-l', sel])).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
const ready = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const images = (pods: any[]) => [...new Set(pods.map((p) => p.spec.containers[0].image))].sort();

async function rolloutStatus(ns: string, name: string): Promise<string> {
  const r = await cluster.kubectl(['-n', ns, 'rollout', 'status', `deployment/${name}`, '--timeout=90s'], {
    timeoutMs: 100_000,
  });
  assert.equal(r.code, 0, `rollout status failed: ${r.stderr}${r.stdout}`);
  assert.match(r.stdout, new RegExp(`deployment "${name}" successfully rolled out`));
  return r.stdout;
}

const DEPLOY = (ns: string) => `
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${ns}
  annotations: {kubernetes.io/change-cause: "initial nginx 1.27"}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: "nginx:1.27"}]}
`;

test('Deployment: scale, rolling update within bounds, history, undo, pause/resume, restart, pod replacement', async () => {
  const ns = 'deploy-e2e';
  await cluster.k(['apply', '-f', '-'], DEPLOY(ns));
  await rolloutStatus(ns, 'web');
  let d = await getJson(['-n', ns, 'get', 'deploy', 'web']);
  assert.equal(d.status.readyReplicas, 3);
  assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '1');
  const cond = (dd: any, type: string) => dd.status.conditions.find((c: any) => c.type === type);
  assert.equal(cond(d, 'Available').reason, 'MinimumReplicasAvailable');
  assert.equal(cond(d, 'Progressing').reason, 'NewReplicaSetAvailable');
  let rss = await rsOf(ns);
  assert.equal(rss.length, 1);
  const rs1 = rss[0];
  const hash = rs1.metadata.labels['pod-template-hash'];
  assert.equal(rs1.metadata.name, `web-${hash}`);
  assert.equal(rs1.spec.selector.matchLabels['pod-template-hash'], hash);
  assert.equal(rs1.metadata.annotations['kubernetes.io/change-cause'], 'initial nginx 1.27');
  assert.equal(rs1.metadata.annotations['deployment.kubernetes.io/desired-replicas'], '3');
  assert.equal(rs1.metadata.annotations['deployment.kubernetes.io/max-replicas'], '4');
  let pods = await activePods(ns, 'app=web');
  assert.equal(pods.length, 3);
  for (const p of pods) {
    assert.ok(p.metadata.name.startsWith(`web-${hash}-`));
    const ref = p.metadata.ownerReferences[0];
    assert.deepEqual(
      [ref.kind, ref.name, ref.controller, ref.blockOwnerDeletion],
      ['ReplicaSet', rs1.metadata.name, true, true],
    );
  }

  // Scale 3 → 6.
  await cluster.k(['-n', ns, 'scale', 'deploy/web', '--replicas=6']);
  await rolloutStatus(ns, 'web');
  pods = await activePods(ns, 'app=web');
  assert.equal(pods.filter(ready).length, 6);
  const events = await cluster.k([
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    'involvedObject.kind=Deployment',
    '-o',
    'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}',
  ]);
  assert.match(events, new RegExp(`ScalingReplicaSet: Scaled up replica set ${rs1.metadata.name} to 6 from 3`));

  // Rolling update to nginx:1.28, watched: never more than 6+1 pods wanted, never fewer than 6-1 ready.
  kubelet.readyDelayMs = 300;
  const watcher = new SharedIndexInformer(client, R.pods, { namespace: ns });
  let maxPods = 0;
  let minReady = Infinity;
  let started = false;
  const observe = () => {
    const live = watcher.store.list().filter((p: any) => !p.metadata.deletionTimestamp);
    maxPods = Math.max(maxPods, live.length);
    if (started) minReady = Math.min(minReady, live.filter(ready).length);
  };
  const rsWatcher = new SharedIndexInformer(client, R.replicasets, { namespace: ns });
  let maxWanted = 0;
  const observeRS = () => {
    const total = rsWatcher.store.list().reduce((n: number, r: any) => n + (r.spec.replicas ?? 0), 0);
    maxWanted = Math.max(maxWanted, total);
  };
  watcher.addEventHandler({ add: observe, update: observe, delete: observe });
  rsWatcher.addEventHandler({ add: observeRS, update: observeRS, delete: observeRS });
  watcher.start();
  rsWatcher.start();
  await watcher.waitForSync(5000);
  await rsWatcher.waitForSync(5000);
  started = true;
  try {
    await cluster.k(['-n', ns, 'set', 'image', 'deploy/web', 'nginx=nginx:1.28']);
    await cluster.k(['-n', ns, 'annotate', 'deploy/web', '--overwrite', 'kubernetes.io/change-cause=upgrade to 1.28']);
    await rolloutStatus(ns, 'web');
  } finally {
    // Informers left running would keep the test process alive after a failure.
    await watcher.stop();
    await rsWatcher.stop();
  }
  kubelet.readyDelayMs = 50;
  assert.ok(maxWanted <= 7, `ReplicaSets wanted ${maxWanted} pods (max 7)`);
  assert.ok(minReady >= 5, `only ${minReady} pods were ready during the rollout (min 5)`);
  pods = await activePods(ns, 'app=web');
  assert.deepEqual(images(pods), ['nginx:1.28']);
  rss = await rsOf(ns);
  assert.equal(rss.length, 2);
  const old = rss.find((r) => r.metadata.name === rs1.metadata.name);
  assert.equal(old.spec.replicas, 0);
  d = await getJson(['-n', ns, 'get', 'deploy', 'web']);
  assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '2');
  assert.equal(d.status.updatedReplicas, 6);
  assert.equal(d.status.availableReplicas, 6);
  assert.equal(d.status.observedGeneration, d.metadata.generation);

  // History lists both revisions with their change causes.
  const hist = await cluster.k(['-n', ns, 'rollout', 'history', 'deployment/web']);
  assert.match(hist, /1\s+initial nginx 1\.27/);
  assert.match(hist, /2\s+upgrade to 1\.28/);
  const rev1 = await cluster.k(['-n', ns, 'rollout', 'history', 'deployment/web', '--revision=1']);
  assert.match(rev1, /nginx:1\.27/);

  // Undo returns to 1.27 (revision 3, the old ReplicaSet reused).
  await cluster.k(['-n', ns, 'rollout', 'undo', 'deployment/web']);
  await rolloutStatus(ns, 'web');
  pods = await activePods(ns, 'app=web');
  assert.deepEqual(images(pods), ['nginx:1.27']);
  rss = await rsOf(ns);
  assert.equal(rss.length, 2);
  const back = rss.find((r) => r.metadata.name === rs1.metadata.name);
  assert.equal(back.spec.replicas, 6);
  assert.equal(back.metadata.annotations['deployment.kubernetes.io/revision'], '3');
  assert.equal(back.metadata.annotations['deployment.kubernetes.io/revision-history'], '1');

  // Pause: a template change is not rolled out until resume.
  await cluster.k(['-n', ns, 'rollout', 'pause', 'deployment/web']);
  await cluster.k(['-n', ns, 'set', 'image', 'deploy/web', 'nginx=nginx:1.29']);
  await eventually('paused condition', async () => {
    const x = await getJson(['-n', ns, 'get', 'deploy', 'web']);
    return (
      x.status.observedGeneration === x.metadata.generation &&
      cond(x, 'Progressing')?.reason === 'DeploymentPaused' &&
      x
    );
  });
  await sleep(500);
  assert.equal((await rsOf(ns)).length, 2, 'no new ReplicaSet while paused');
  await cluster.k(['-n', ns, 'rollout', 'resume', 'deployment/web']);
  await rolloutStatus(ns, 'web');
  assert.deepEqual(images(await activePods(ns, 'app=web')), ['nginx:1.29']);

  // Restart: a new ReplicaSet whose template carries restartedAt.
  await cluster.k(['-n', ns, 'rollout', 'restart', 'deployment/web']);
  await rolloutStatus(ns, 'web');
  rss = await rsOf(ns);
  const restarted = rss.find((r) => r.spec.replicas === 6);
  assert.ok(restarted.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);
  assert.equal(rss.length, 4);

  // A deleted pod is replaced.
  pods = await activePods(ns, 'app=web');
  const victim = pods[0].metadata.name;
  await cluster.k(['-n', ns, 'delete', 'pod', victim, '--wait=false']);
  await eventually('replacement pod', async () => {
    const now = await activePods(ns, 'app=web');
    return now.length === 6 && now.every(ready) && !now.some((p) => p.metadata.name === victim);
  });
  const rsEvents = await cluster.k([
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    'involvedObject.kind=ReplicaSet',
    '-o',
    'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
  ]);
  assert.match(rsEvents, /SuccessfulCreate/);
  assert.match(rsEvents, /SuccessfulDelete/);

  // revisionHistoryLimit: old, empty sets beyond the limit are deleted.
  await cluster.k(['-n', ns, 'patch', 'deploy/web', '-p', '{"spec":{"revisionHistoryLimit":1}}']);
  await eventually('history cleanup', async () => (await rsOf(ns)).length === 2);
});

test('Recreate strategy: old pods go before new ones come', async () => {
  const ns = 'recreate-e2e';
  await cluster.k(['create', 'ns', ns]);
  await cluster.k(['-n', ns, 'create', 'deployment', 'db', '--image=postgres:15', '--replicas=2']);
  await cluster.k([
    '-n',
    ns,
    'patch',
    'deploy/db',
    '--type=json',
    '-p',
    '[{"op":"replace","path":"/spec/strategy","value":{"type":"Recreate"}}]',
  ]);
  await rolloutStatus(ns, 'db');
  await cluster.k(['-n', ns, 'set', 'image', 'deploy/db', 'postgres=postgres:16']);
  await rolloutStatus(ns, 'db');
  assert.deepEqual(images(await activePods(ns, 'app=db')), ['postgres:16']);
  const events = await cluster.k([
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    'involvedObject.kind=Deployment',
    '-o',
    'jsonpath={range .items[*]}{.message}{"\\n"}{end}',
  ]);
  assert.match(events, /Scaled down replica set db-\w+ to 0 from 2/);
});

test('ReplicaSet adopts a matching orphan and releases a pod that stops matching; RC creates pods', async () => {
  const ns = 'rs-e2e';
  await cluster.k(['create', 'ns', ns]);
  await cluster.k(['-n', ns, 'run', 'stray', '--image=nginx:1.27', '--labels=app=orphan']);
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: front, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: orphan}}
  template:
    metadata: {labels: {app: orphan}}
    spec: {containers: [{name: nginx, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy, namespace: ${ns}}
spec:
  replicas: 2
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: nginx, image: "nginx:1.27"}]}
`,
  );
  await eventually('RS ready', async () => {
    const rs = await getJson(['-n', ns, 'get', 'rs', 'front']);
    return rs.status.readyReplicas === 2 && rs.status.observedGeneration === rs.metadata.generation;
  });
  const stray = await getJson(['-n', ns, 'get', 'pod', 'stray']);
  assert.equal(stray.metadata.ownerReferences?.[0]?.name, 'front', 'orphan adopted');
  assert.equal((await activePods(ns, 'app=orphan')).length, 2);
  await cluster.k(['-n', ns, 'label', 'pod', 'stray', '--overwrite', 'app=gone']);
  await eventually('release and replacement', async () => {
    const p = await getJson(['-n', ns, 'get', 'pod', 'stray']);
    return !(p.metadata.ownerReferences ?? []).length && (await activePods(ns, 'app=orphan')).length === 2;
  });
  await eventually('RC ready', async () => {
    const rc = await getJson(['-n', ns, 'get', 'rc', 'legacy']);
    return rc.status.readyReplicas === 2 && rc.status.availableReplicas === 2;
  });
  const rcPods = await activePods(ns, 'app=legacy');
  assert.equal(rcPods[0].metadata.ownerReferences[0].kind, 'ReplicationController');
  await cluster.k(['-n', ns, 'scale', 'rc', 'legacy', '--replicas=1']);
  await eventually('RC scaled down', async () => (await activePods(ns, 'app=legacy')).length === 1);
});

test('a rollout interrupted by a server restart resumes', async () => {
  const ns = 'restart-e2e';
  await cluster.k(['create', 'ns', ns]);
  await cluster.k(['-n', ns, 'create', 'deployment', 'api', '--image=busybox:1.36', '--replicas=4']);
  await rolloutStatus(ns, 'api');
  kubelet.readyDelayMs = 1500;
  await cluster.k(['-n', ns, 'set', 'image', 'deploy/api', 'busybox=busybox:1.37']);
  await eventually('rollout under way', async () => (await rsOf(ns)).length === 2);
  await kubelet.stop();
  await cluster.restart();
  kubelet = new FakeKubelet(cluster.kubeconfig);
  kubelet.readyDelayMs = 50;
  await kubelet.start();
  await client.close();
  client = Client.fromKubeconfig(cluster.kubeconfig, { fieldManager: 'e2e' });
  await rolloutStatus(ns, 'api');
  assert.deepEqual(images(await activePods(ns, 'app=api')), ['busybox:1.37']);
});
