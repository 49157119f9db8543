// Container logs in the kubelet's layout, rotated by size, and shipped with metadata to a
// JSON-lines sink (--log-sink) at least once across a rotation and a restart of the agent (the
// server with its node agent); the cluster's events reach the same sink.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
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
const LINES = 100_000;
let c: Cluster;
let sinkFile: string;
let dataDir: string;

interface Shipped {
  log: string;
  stream?: string;
  kubernetes: Record<string, any>;
  event?: Record<string, any>;
}

function shipped(): Shipped[] {
  if (!existsSync(sinkFile)) return [];
  return readFileSync(sinkFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Shipped);
}

before(async () => {
  if (skip) return;
  dataDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-logship-'));
  sinkFile = join(dataDir, 'sink', 'logs.jsonl');
  c = await startCluster({
    agent: true,
    dataDir,
    args: ['--log-sink', `jsonl:${sinkFile}`, '--container-log-max-size', '1Mi', '--container-log-max-files', '6'],
  });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox']);
});

after(async () => {
  if (c) await c.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test(
  `a pod's ${LINES} lines all reach the JSON-lines sink with metadata across a rotation and an agent restart`,
  { skip, timeout: 420_000 },
  async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'writer', labels: { app: 'writer' } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'w',
            image: 'k8ts.local/busybox:1.35',
            command: [
              'sh',
              '-c',
              // Bursts of 5,000 lines a second apart; after 50,000 and 75,000 lines it waits for the
              // test (files /tmp/go, /tmp/go2), so rotations and the restart fall where they must.
              `awk 'BEGIN { for (i = 1; i <= ${LINES}; i++) { print "line " i; if (i % 5000 == 0) { fflush(); system("sleep 1") } ` +
                `if (i == 50000) system("until [ -e /tmp/go ]; do sleep 1; done"); ` +
                `if (i == 75000) system("until [ -e /tmp/go2 ]; do sleep 1; done") } }'; exec sleep 3600`,
            ],
          },
        ],
      },
    };
    await c.k(['apply', '-f', '-'], YAML.stringify(pod));
    await c.k(['wait', '--for=condition=Ready', 'pod/writer', '--timeout=120s']);
    const uid = (await c.k(['get', 'pod', 'writer', '-o', 'jsonpath={.metadata.uid}'])).trim();
    const logDir = join(c.dataDir, 'agent', 'logs');
    const containerDir = join(logDir, 'pods', `default_writer_${uid}`, 'w');

    // The kubelet layout: the live file, and a /var/log/containers-style link to it.
    assert.ok(existsSync(join(containerDir, '0.log')));
    const link = await until(
      'the containers/ link',
      () => readdirSync(join(logDir, 'containers')).find((n) => n.startsWith('writer_default_w-')),
      60_000,
      500,
    );
    assert.equal(readlinkSync(join(logDir, 'containers', link)), join(containerDir, '0.log'));

    // A rotation (file over 1Mi), then the agent restarts while the pod waits to write more.
    const rotated = () => readdirSync(containerDir).filter((n) => n.startsWith('0.log.')).length;
    await until('a rotated log file', () => rotated() > 0, 120_000, 500);
    await c.restart();
    await waitForReadyNode(c);

    // `kubectl logs -f` follows the container across the next rotation.
    const follower = spawn('kubectl', ['--kubeconfig', c.kubeconfig, 'logs', '-f', 'writer', '--tail=1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let followed = '';
    follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    try {
      // Lines written straight to the container's stdout show once the follower streams.
      await until(
        'the follower streaming',
        async () => {
          await c.k(['exec', 'writer', '--', 'sh', '-c', 'echo marker > /proc/1/fd/1']);
          return followed.includes('marker\n');
        },
        60_000,
        1000,
      );
      const before = rotated();
      await c.k(['exec', 'writer', '--', 'touch', '/tmp/go']);
      await until('a rotation after the restart', () => rotated() > before, 120_000, 500);
      await c.k(['exec', 'writer', '--', 'touch', '/tmp/go2']);
      await until(`the follower saw line ${LINES}`, () => followed.includes(`line ${LINES}\n`), 120_000, 500);
      // Lines from before and after that rotation: the follower went on with the new file.
      assert.ok(followed.includes('line 50001\n'));
    } finally {
      follower.kill();
    }

    const lines = await until(
      `all ${LINES} lines at the sink`,
      () => {
        const mine = shipped().filter((e) => !e.event && e.kubernetes.pod_name === 'writer');
        const distinct = new Set(mine.map((e) => e.log));
        return distinct.size >= LINES && mine;
      },
      300_000,
      2000,
    );
    const distinct = new Set(lines.map((e) => e.log));
    for (let i = 1; i <= LINES; i++) assert.ok(distinct.has(`line ${i}`), `line ${i} shipped`);
    // At least once: a restart re-sends at most the batches in flight.
    assert.ok(lines.length - distinct.size <= 10_000, `${lines.length - distinct.size} duplicates`);
    const sample = lines[lines.length - 1];
    assert.equal(sample.stream, 'stdout');
    assert.equal(sample.kubernetes.namespace_name, 'default');
    assert.equal(sample.kubernetes.container_name, 'w');
    assert.equal(sample.kubernetes.pod_id, uid);
    assert.equal(sample.kubernetes.labels?.app, 'writer');
    const node = (await c.k(['get', 'pod', 'writer', '-o', 'jsonpath={.spec.nodeName}'])).trim();
    assert.equal(sample.kubernetes.host, node);

    // The event exporter: the pod's events are at the sink too.
    await until(
      "the pod's Scheduled event at the sink",
      () => shipped().some((e) => e.event?.reason === 'Scheduled' && e.event?.involvedObject?.name === 'writer'),
      60_000,
      1000,
    );
  },
);
