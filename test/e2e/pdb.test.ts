// PodDisruptionBudgets with the real kubectl against `k8ts server --simulated-nodes`: the
// disruption controller computes status from the selected pods (integers and percentages of the
// Deployment's scale), evictions are allowed while disruptionsAllowed > 0 and refused with 429
// and upstream's message when it is 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';
import { until } from '../support/until.js';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ args: ['--simulated-nodes', '2', '--sim-heartbeat-seconds', '0.5'] });
});
after(async () => {
  await cluster?.cleanup();
});

const getJSON = async (args: string[]) => JSON.parse(await cluster.k([...args, '-o', 'json']));

const deployment = (name: string, replicas: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: c, image: nginx}]
`;

const evict = (pod: string) =>
  cluster.kubectl(['create', '--raw', `/api/v1/namespaces/default/pods/${pod}/eviction`, '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: 'default' } }),
  });

test('PDB status and evictions', { timeout: 90_000 }, async () => {
  await cluster.k(['apply', '-f', '-'], deployment('web', 3));
  await cluster.k(['create', 'pdb', 'web', '--selector=app=web', '--min-available=2']);
  const pdb = await until('pdb status', async () => {
    const p = await getJSON(['get', 'pdb', 'web']);
    return p.status?.currentHealthy === 3 ? p : undefined;
  });
  assert.equal(pdb.status.expectedPods, 3);
  assert.equal(pdb.status.desiredHealthy, 2);
  assert.equal(pdb.status.disruptionsAllowed, 1);
  assert.equal(pdb.status.observedGeneration, pdb.metadata.generation);
  const cond = pdb.status.conditions.find((c: any) => c.type === 'DisruptionAllowed');
  assert.equal(cond.status, 'True');
  assert.equal(cond.reason, 'SufficientPods');
  assert.match(await cluster.k(['get', 'pdb', 'web']), /web\s+2\s+N\/A\s+1\s+/);

  const pods = (await getJSON(['get', 'pods', '-l', 'app=web'])).items.map((p: any) => p.metadata.name);
  const first = await evict(pods[0]);
  assert.equal(first.code, 0, first.stderr);
  // Once the replacement pod is ready, the budget allows one disruption again.
  await until('budget restored', async () => {
    const p = await getJSON(['get', 'pdb', 'web']);
    return p.status?.disruptionsAllowed === 1 && p.status.currentHealthy === 3 && !p.status.disruptedPods?.[pods[0]]
      ? p
      : undefined;
  });

  // A budget that allows nothing refuses the eviction with 429 and upstream's message.
  await cluster.k(['patch', 'pdb', 'web', '--type=merge', '-p', '{"spec":{"minAvailable":3}}']);
  const strict = await until('strict budget', async () => {
    const p = await getJSON(['get', 'pdb', 'web']);
    return p.status?.observedGeneration === p.metadata.generation && p.status.disruptionsAllowed === 0 ? p : undefined;
  });
  assert.equal(strict.status.conditions.find((c: any) => c.type === 'DisruptionAllowed').reason, 'InsufficientPods');
  const live = (await getJSON(['get', 'pods', '-l', 'app=web'])).items.filter(
    (p: any) => !p.metadata.deletionTimestamp,
  );
  const refused = await evict(live[0].metadata.name);
  assert.notEqual(refused.code, 0);
  assert.match(
    refused.stderr,
    /Error from server \(TooManyRequests\): Cannot evict pod as it would violate the pod's disruption budget\./,
  );
  assert.equal((await getJSON(['get', 'pod', live[0].metadata.name])).metadata.deletionTimestamp, undefined);
});

test('percentages are taken of the controller scale', { timeout: 60_000 }, async () => {
  await cluster.k(['apply', '-f', '-'], deployment('api', 4));
  await cluster.k(['create', 'pdb', 'api', '--selector=app=api', '--max-unavailable=30%']);
  const p = await until('pdb status', async () => {
    const x = await getJSON(['get', 'pdb', 'api']);
    return x.status?.currentHealthy === 4 ? x : undefined;
  });
  // ceil(30% of 4) = 2 may be unavailable: 2 must stay healthy.
  assert.equal(p.status.expectedPods, 4);
  assert.equal(p.status.desiredHealthy, 2);
  assert.equal(p.status.disruptionsAllowed, 2);

  await cluster.k(['create', 'pdb', 'none', '--selector=app=nothing', '--min-available=1']);
  const none = await until('empty pdb status', async () => {
    const x = await getJSON(['get', 'pdb', 'none']);
    return x.status?.conditions?.length ? x : undefined;
  });
  assert.equal(none.status.disruptionsAllowed, 0);
  assert.equal(none.status.conditions[0].reason, 'InsufficientPods');
  const ev = await cluster.k([
    'get',
    'events',
    '--field-selector',
    'involvedObject.name=none,reason=NoPods',
    '-o',
    'jsonpath={.items[*].message}',
  ]);
  assert.match(ev, /No matching pods found/);
});
