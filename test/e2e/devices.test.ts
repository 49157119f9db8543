// Extended resources from a device plugin, end to end: `k8ts server` with its agent (containerd),
// the sample plugin (`k8ts device-plugin sample`) registering 4 example.com/widget devices, the
// node advertising them, a pod getting 2 of them (WIDGET_IDS and the device directories), a pod
// asking for 3 staying Pending with "Insufficient example.com/widget" until the first is deleted,
// and the plugin registering again after a server restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import YAML from 'yaml';
import {
  K8TS_BIN,
  stopChild,
  NO_READY_NODE,
  hasReadyNode,
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
} from './harness.js';

const W = 'example.com/widget';

const widgetPod = (name: string, n: number) =>
  YAML.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'c',
          image: 'k8ts.local/busybox:1.35',
          imagePullPolicy: 'IfNotPresent',
          command: [
            'sh',
            '-c',
            'echo "ids=$WIDGET_IDS"; for f in /dev/widgets/*/id; do echo "dev=$(cat $f)"; done; sleep 3600',
          ],
          resources: { limits: { [W]: String(n) } },
        },
      ],
    },
  });

test(
  'device plugin: widgets become node capacity and are allocated to pods',
  { skip: realContainersUnavailable(), timeout: 240_000 },
  async (t) => {
    const c = await startCluster({ agent: true });
    let plugin: ReturnType<typeof spawn> | undefined;
    let pluginErr = '';
    try {
      if (!(await hasReadyNode(c))) {
        t.skip(NO_READY_NODE);
        return;
      }
      await importTestImages(c, ['busybox']);

      plugin = spawn(
        process.execPath,
        [K8TS_BIN, 'device-plugin', 'sample', '--resource', W, '--count', '4', '--data-dir', c.dataDir],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      plugin.stderr!.on('data', (d) => (pluginErr += d));
      const node = (await c.k(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
      await until(
        '4 allocatable widgets',
        async () => {
          const out = await c.k(['get', 'node', node, '-o', 'jsonpath={.status.allocatable.example\\.com/widget}']);
          return out.trim() === '4';
        },
        30_000,
        500,
      );
      assert.equal(
        (await c.k(['get', 'node', node, '-o', 'jsonpath={.status.capacity.example\\.com/widget}'])).trim(),
        '4',
      );

      // Two widgets for the first pod: the env var names them and their directories are mounted.
      await c.k(['apply', '-f', '-'], widgetPod('two', 2));
      await c.k(['wait', '--for=condition=Ready', 'pod/two', '--timeout=90s']);
      const logs = await until(
        'the pod logs',
        async () => {
          const out = await c.k(['logs', 'two']);
          return /dev=/.test(out) ? out : undefined;
        },
        20_000,
        500,
      );
      const ids = /ids=(\S+)/.exec(logs)?.[1]?.split(',') ?? [];
      assert.equal(ids.length, 2, logs);
      assert.ok(
        ids.every((id) => /^widget-[0-3]$/.test(id)),
        logs,
      );
      assert.deepEqual([...logs.matchAll(/dev=(\S+)/g)].map((m) => m[1]).sort(), [...ids].sort());

      // Three more do not fit: Pending, FailedScheduling, Insufficient example.com/widget.
      await c.k(['apply', '-f', '-'], widgetPod('three', 3));
      await until(
        'FailedScheduling for pod three',
        async () => {
          const ev = await c.k([
            'get',
            'events',
            '--field-selector',
            'involvedObject.name=three,reason=FailedScheduling',
            '-o',
            'jsonpath={.items[*].message}',
          ]);
          return ev.includes(`Insufficient ${W}`) ? ev : undefined;
        },
        30_000,
        500,
      );
      assert.equal((await c.k(['get', 'pod', 'three', '-o', 'jsonpath={.status.phase}'])).trim(), 'Pending');

      // Once the first pod is gone its widgets are free again and the second pod gets three.
      await c.k(['delete', 'pod', 'two', '--wait=true', '--timeout=60s']);
      await c.k(['wait', '--for=condition=Ready', 'pod/three', '--timeout=90s']);
      const logs3 = await until(
        'pod three logs',
        async () => {
          const out = await c.k(['logs', 'three']);
          return /dev=/.test(out) ? out : undefined;
        },
        20_000,
        500,
      );
      assert.equal(/ids=(\S+)/.exec(logs3)?.[1]?.split(',').length, 3, logs3);

      // A restarted server (and agent) gets the plugin's registration again, and the pod keeps running.
      await c.restart();
      const registrations = () => pluginErr.split('\n').filter((l) => l.includes(`registered ${W}`)).length;
      await until('the plugin to register again', () => registrations() >= 2, 60_000, 500);
      await until(
        '4 allocatable widgets after the restart',
        async () => {
          const out = await c.k(['get', 'node', node, '-o', 'jsonpath={.status.allocatable.example\\.com/widget}']);
          return out.trim() === '4';
        },
        30_000,
        500,
      );
      assert.equal((await c.k(['get', 'pod', 'three', '-o', 'jsonpath={.status.phase}'])).trim(), 'Running');
    } catch (err) {
      if (pluginErr) process.stderr.write(`device plugin stderr:\n${pluginErr}\n`);
      throw err;
    } finally {
      await stopChild(plugin, 'SIGTERM', 5_000);
      await c.cleanup();
    }
  },
);
