// node.k8s.io/v1 RuntimeClass end to end, real containers: classes created by the newest and the
// oldest kubectl (protobuf and JSON bodies), listed with upstream's columns; a pod of a class whose
// handler is containerd's `runc` runs with the class's overhead, node selector and tolerations;
// a class whose handler the node does not have leaves the pod in ContainerCreating with the
// kubelet's FailedCreatePodSandBox event; an unknown class is refused at admission.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import {
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  waitForReadyNode,
  type Cluster,
} from './harness.js';

const skip = realContainersUnavailable();
let c: Cluster;

/** A versioned kubectl beside the one on PATH, when installed. */
function kubectlBin(version: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const k = join(dir, 'kubectl');
    if (!existsSync(k)) continue;
    const bin = join(dirname(realpathSync(k)), `kubectl.${version}`);
    return existsSync(bin) ? bin : undefined;
  }
  return undefined;
}

const runtimeClass = (name: string, handler: string, extra = '') => `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: ${name}
handler: ${handler}
${extra}`;

const pod = (name: string, runtimeClassName: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: {
    runtimeClassName,
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'main', image: 'k8ts.local/busybox:1.35', command: ['sleep', '3600'] }],
  },
});

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox']);
  const node = (await c.k(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  await c.k(['label', 'node', node, 'runtime=runc']);
});

after(async () => {
  await c?.cleanup();
});

test('kubectl 1.33 and 1.27 create RuntimeClasses and list them', { skip, timeout: 60_000 }, async () => {
  const withScheduling = `overhead:
  podFixed: {cpu: 10m, memory: 16Mi}
scheduling:
  nodeSelector: {runtime: runc}
  tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]
`;
  for (const [version, yaml] of [
    ['1.33', runtimeClass('standard', 'runc', withScheduling)],
    ['1.27', runtimeClass('kata', 'kata')],
  ] as const) {
    const bin = kubectlBin(version);
    const r = await c.kubectl(['create', '-f', '-'], { bin, input: yaml });
    assert.equal(r.code, 0, `kubectl ${version}: ${r.stderr}`);
  }
  const table = await c.k(['get', 'runtimeclasses']);
  assert.match(table, /^NAME\s+HANDLER\s+AGE\n/);
  assert.match(table, /\nkata\s+kata\s+\d+s\n/);
  assert.match(table, /\nstandard\s+runc\s+\d+s\n/);
  const bad = await c.kubectl(['create', '-f', '-'], { input: runtimeClass('bad', 'Not_A_Label') });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /handler: Invalid value: "Not_A_Label": a lowercase RFC 1123 label/);
});

test('a pod of a runc class runs with the class applied', { skip, timeout: 120_000 }, async () => {
  await c.k(['apply', '-f', '-'], JSON.stringify(pod('standard', 'standard')));
  const got = JSON.parse(await c.k(['get', 'pod', 'standard', '-o', 'json'])) as Pod;
  assert.deepEqual(got.spec!.overhead, { cpu: '10m', memory: '16Mi' });
  assert.deepEqual(got.spec!.nodeSelector, { runtime: 'runc' });
  assert.ok(got.spec!.tolerations!.some((t) => t.key === 'dedicated' && t.effect === 'NoSchedule'));
  await c.k(['wait', '--for=condition=Ready', 'pod/standard', '--timeout=90s']);
});

test('a handler the node lacks fails the sandbox as the kubelet reports it', { skip, timeout: 120_000 }, async () => {
  await c.k(['apply', '-f', '-'], JSON.stringify(pod('kata', 'kata')));
  const event = await until(
    'FailedCreatePodSandBox',
    async () => {
      const r = await c.kubectl([
        'get',
        'events',
        '--field-selector',
        'involvedObject.name=kata,reason=FailedCreatePodSandBox',
        '-o',
        'jsonpath={.items[0].message}',
      ]);
      return r.stdout.trim() || false;
    },
    90_000,
    500,
  );
  assert.match(event, /^Failed to create pod sandbox: .*no runtime for "kata" is configured/);
  const phase = await c.k(['get', 'pod', 'kata', '-o', 'jsonpath={.status.phase}']);
  assert.equal(phase, 'Pending');
});

test('an unknown class is refused at admission', { skip, timeout: 30_000 }, async () => {
  const r = await c.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod('nope', 'gvisor')) });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /pods "nope" is forbidden: pod rejected: RuntimeClass "gvisor" not found/);
});
