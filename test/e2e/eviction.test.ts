// Node-pressure eviction with real containers: a threshold the node always crosses
// (memory.available<1000Gi) puts it under MemoryPressure, and the agent evicts its pods.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import {
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
} from './harness.js';

const skip = realContainersUnavailable();
let c: Cluster | undefined;

after(async () => {
  if (c) await c.cleanup();
});

test(
  'under memory pressure the node reports MemoryPressure and evicts pods (Failed, reason Evicted)',
  { skip, timeout: 150_000 },
  async () => {
    c = await startCluster({ agent: true, args: ['--eviction-hard', 'memory.available<1000Gi'] });
    const cl = c;
    await waitForReadyNode(cl);
    await importTestImages(cl, ['busybox']);
    await until(
      'MemoryPressure',
      async () =>
        (
          await cl.kubectl([
            'get',
            'nodes',
            '-o',
            'jsonpath={.items[0].status.conditions[?(@.type=="MemoryPressure")].status}',
          ])
        ).stdout === 'True',
      60_000,
      1000,
    );
    assert.match(await cl.k(['describe', 'nodes']), /MemoryPressure\s+True .*KubeletHasInsufficientMemory/);
    // The pressure taint keeps ordinary pods away; this one tolerates it, as DaemonSet pods do.
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'victim' },
      spec: {
        terminationGracePeriodSeconds: 1,
        tolerations: [{ key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' }],
        containers: [{ name: 'c', image: 'k8ts.local/busybox:1.35', command: ['sleep', '3600'] }],
      },
    };
    await cl.k(['apply', '-f', '-'], YAML.stringify(pod));
    await until(
      'evicted',
      async () => (await cl.kubectl(['get', 'pod', 'victim', '-o', 'jsonpath={.status.reason}'])).stdout === 'Evicted',
      60_000,
      1000,
    );
    const p = JSON.parse(await cl.k(['get', 'pod', 'victim', '-o', 'json']));
    assert.equal(p.status.phase, 'Failed');
    assert.match(
      p.status.message,
      /^The node was low on resource: memory\. Threshold quantity: \d+Ki, available: \d+Ki\. $/,
    );
    assert.equal(p.status.conditions.find((x: any) => x.type === 'DisruptionTarget')?.reason, 'TerminationByKubelet');
    assert.match(
      await cl.k(['describe', 'pod', 'victim']),
      /Status:\s+Failed\nReason:\s+Evicted\nMessage:\s+The node was low on resource: memory/,
    );
    assert.match(
      await cl.k([
        'get',
        'events',
        '--field-selector',
        'involvedObject.name=victim,reason=Evicted',
        '-o',
        'jsonpath={.items[*].message}',
      ]),
      /low on resource: memory/,
    );
  },
);
