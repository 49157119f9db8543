// The node agent with real containers (containerd + runc + CNI), driven as a user would with the
// real kubectl: a Deployment of a busybox HTTP server, pod networking, probes of every kind,
// ConfigMaps/Secrets/env, PVCs, OOM kills, Jobs, StatefulSets, metrics and the HPA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import {
  importTestImages,
  realContainersUnavailable,
  run,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
} from './harness.js';

const skip = realContainersUnavailable();
let c: Cluster;

const apply = (docs: any[]) => c.k(['apply', '-f', '-'], docs.map((d) => YAML.stringify(d)).join('---\n'));
const jsonpath = async (args: string[], path: string) =>
  (await c.kubectl(['get', ...args, '-o', `jsonpath=${path}`])).stdout;
const podIP = (name: string) => jsonpath(['pod', name], '{.status.podIP}');

function pod(name: string, spec: any, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { terminationGracePeriodSeconds: 1, ...spec },
  };
}

const BUSYBOX = 'k8ts.local/busybox:1.35';
const HTTPD = 'k8ts.local/httpd:1.35';

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true, args: ['--pod-max-pids', '64'] });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox', 'httpd', 'node']);
});

after(async () => {
  if (c) await c.cleanup();
});

test('the node registers with host facts and runs containerd', { skip }, async () => {
  const node = JSON.parse(await c.k(['get', 'nodes', '-o', 'json'])).items[0];
  assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
  assert.equal(node.metadata.labels['kubernetes.io/os'], 'linux');
  assert.ok(node.metadata.labels['kubernetes.io/hostname']);
  assert.ok(Number(node.status.capacity.cpu) >= 1);
  assert.ok(node.spec.podCIDR, 'podCIDR allocated');
  assert.ok(node.status.addresses.some((a: any) => a.type === 'InternalIP'));
  const lease = JSON.parse(await c.k(['get', 'lease', '-n', 'kube-node-lease', node.metadata.name, '-o', 'json']));
  assert.equal(lease.spec.holderIdentity, node.metadata.name);
  const describe = await c.k(['describe', 'node', node.metadata.name]);
  assert.match(describe, /KubeletReady/);
});

test(
  'a Deployment of the busybox HTTP server becomes Ready and answers on its pod IP from the host and from another pod',
  { skip, timeout: 120_000 },
  async () => {
    await apply([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              containers: [
                {
                  name: 'httpd',
                  image: HTTPD,
                  ports: [{ name: 'http', containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
      pod('client', { containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '3600'] }] }),
    ]);
    await c.k(['rollout', 'status', 'deployment/web', '--timeout=90s']);
    await c.k(['wait', '--for=condition=Ready', 'pod/client', '--timeout=60s']);
    const ips = (await jsonpath(['pods', '-l', 'app=web'], '{.items[*].status.podIP}')).split(' ');
    assert.equal(ips.length, 2);
    for (const ip of ips) {
      const page = await fetch(`http://${ip}:8080/`).then((r) => r.text());
      assert.match(page, /It works!/);
      assert.match(await c.k(['exec', 'client', '--', 'wget', '-qO-', `http://${ip}:8080/`]), /It works!/);
    }
    const wide = await c.k(['get', 'pods', '-l', 'app=web', '-o', 'wide']);
    assert.match(wide, /1\/1\s+Running\s+0/);
  },
);

test('exec -it gets a terminal; logs -f streams', { skip, timeout: 60_000 }, async () => {
  // `script` gives kubectl a pseudo-terminal, as a user's shell would.
  const r = await run(
    'script',
    ['-qec', `kubectl --kubeconfig ${c.kubeconfig} exec -it client -- sh -c 'tty; echo done'`, '/dev/null'],
    { timeoutMs: 30_000 },
  );
  assert.match(r.stdout, /\/dev\/pts\/\d+/);
  assert.match(r.stdout, /done/);
  await apply([
    pod('ticker', {
      containers: [
        {
          name: 'c',
          image: BUSYBOX,
          command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done'],
        },
      ],
    }),
  ]);
  await c.k(['wait', '--for=condition=Ready', 'pod/ticker', '--timeout=60s']);
  const child = spawn('kubectl', ['--kubeconfig', c.kubeconfig, 'logs', '-f', 'ticker']);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    await until('streamed lines', () => /tick-5\n/.test(out), 15_000, 100);
  } finally {
    child.kill();
  }
});

test('a failing liveness probe restarts the container with upstream events', { skip, timeout: 90_000 }, async () => {
  await apply([
    pod('live', {
      containers: [
        {
          name: 'c',
          image: BUSYBOX,
          command: ['sh', '-c', 'trap "exit 0" TERM; touch /tmp/ok; sleep 3; rm /tmp/ok; while true; do sleep 1; done'],
          livenessProbe: { exec: { command: ['cat', '/tmp/ok'] }, periodSeconds: 1, failureThreshold: 2 },
        },
      ],
    }),
  ]);
  await until(
    'a restart',
    async () => Number(await jsonpath(['pod', 'live'], '{.status.containerStatuses[0].restartCount}')) >= 1,
    60_000,
    500,
  );
  const events = await c.k([
    'get',
    'events',
    '--field-selector',
    'involvedObject.name=live',
    '-o',
    'custom-columns=REASON:.reason,MSG:.message',
    '--no-headers',
  ]);
  assert.match(events, /Unhealthy\s+Liveness probe failed: cat: can't open '\/tmp\/ok'/);
  assert.match(events, /Killing\s+Container c failed liveness probe, will be restarted/);
  assert.match(await c.k(['get', 'pod', 'live']), /live\s+\S+\s+\S+\s+[1-9]/);
});

test('a failing readiness probe keeps the pod out of the endpoints', { skip, timeout: 90_000 }, async () => {
  await apply([
    pod(
      'ready-yes',
      {
        containers: [
          { name: 'c', image: HTTPD, readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 } },
        ],
      },
      { svc: 'r' },
    ),
    pod(
      'ready-no',
      {
        containers: [
          { name: 'c', image: HTTPD, readinessProbe: { httpGet: { path: '/missing', port: 8080 }, periodSeconds: 1 } },
        ],
      },
      { svc: 'r' },
    ),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'r' },
      spec: { selector: { svc: 'r' }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  ]);
  await c.k(['wait', '--for=condition=Ready', 'pod/ready-yes', '--timeout=60s']);
  const yes = await podIP('ready-yes');
  const no = await until('ready-no has an IP', () => podIP('ready-no'), 30_000);
  await until(
    'endpoints list ready-yes',
    async () => (await jsonpath(['endpoints', 'r'], '{.subsets[*].addresses[*].ip}')).includes(yes),
    30_000,
  );
  const eps = JSON.parse(await c.k(['get', 'endpoints', 'r', '-o', 'json']));
  const ready = (eps.subsets ?? []).flatMap((s: any) => (s.addresses ?? []).map((a: any) => a.ip));
  const notReady = (eps.subsets ?? []).flatMap((s: any) => (s.notReadyAddresses ?? []).map((a: any) => a.ip));
  assert.deepEqual(ready, [yes]);
  assert.deepEqual(notReady, [no]);
  // The first probes may run before httpd listens ("connection refused"); the 404 comes after.
  await until(
    'the 404 probe event',
    async () =>
      /Readiness probe failed: HTTP probe failed with statuscode: 404/.test(await c.k(['describe', 'pod', 'ready-no'])),
    30_000,
    500,
  );
});

test('a gRPC probe checks a grpc.health.v1 server', { skip, timeout: 90_000 }, async () => {
  const server = readFileSync(
    fileURLToPath(new URL('../../../test/fixtures/grpc-health-server.mjs', import.meta.url)),
    'utf8',
  );
  await apply([
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'grpc-server' }, data: { 'server.mjs': server } },
    pod('grpc', {
      containers: [
        {
          name: 'c',
          image: 'k8ts.local/node:20',
          command: ['node', '/app/server.mjs', '9090', '0.0.0.0', 'sick=NOT_SERVING'],
          ports: [{ containerPort: 9090 }],
          readinessProbe: { grpc: { port: 9090 }, periodSeconds: 1 },
          livenessProbe: { grpc: { port: 9090, service: 'sick' }, periodSeconds: 2, failureThreshold: 100 },
          volumeMounts: [{ name: 'app', mountPath: '/app' }],
        },
      ],
      volumes: [{ name: 'app', configMap: { name: 'grpc-server' } }],
    }),
  ]);
  await c.k(['wait', '--for=condition=Ready', 'pod/grpc', '--timeout=60s']);
  await until(
    'the unhealthy service reported',
    async () =>
      /Liveness probe failed: service unhealthy \(responded with "NOT_SERVING"\)/.test(
        await c.k(['describe', 'pod', 'grpc']),
      ),
    30_000,
    1000,
  );
});

test(
  'ConfigMaps and Secrets as files and env; a changed ConfigMap reaches the running pod',
  { skip, timeout: 120_000 },
  async () => {
    await apply([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { greeting: 'hello', mode: 'one' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, stringData: { password: 's3cret' } },
      pod('cfg', {
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            command: ['sh', '-c', 'echo "G=$GREETING P=$PW M=$mode N=$MY_NODE"; sleep 3600'],
            env: [
              { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'greeting' } } },
              { name: 'PW', valueFrom: { secretKeyRef: { name: 'sec', key: 'password' } } },
              { name: 'MY_NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            ],
            envFrom: [{ configMapRef: { name: 'cfg' } }],
            volumeMounts: [
              { name: 'cfg', mountPath: '/etc/cfg' },
              { name: 'sec', mountPath: '/etc/sec', readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: 'cfg', configMap: { name: 'cfg' } },
          { name: 'sec', secret: { secretName: 'sec', defaultMode: 0o400 } },
        ],
      }),
    ]);
    await c.k(['wait', '--for=condition=Ready', 'pod/cfg', '--timeout=60s']);
    const node = await jsonpath(['pod', 'cfg'], '{.spec.nodeName}');
    assert.equal((await c.k(['logs', 'cfg'])).trim(), `G=hello P=s3cret M=one N=${node}`);
    assert.equal(await c.k(['exec', 'cfg', '--', 'cat', '/etc/cfg/mode']), 'one');
    assert.equal(await c.k(['exec', 'cfg', '--', 'cat', '/etc/sec/password']), 's3cret');
    assert.match(await c.k(['exec', 'cfg', '--', 'ls', '-lL', '/etc/sec/password']), /^-r--------/);
    await c.k(['patch', 'configmap', 'cfg', '-p', '{"data":{"mode":"two"}}']);
    await until(
      'the file in the pod changed',
      async () => (await c.k(['exec', 'cfg', '--', 'cat', '/etc/cfg/mode'])) === 'two',
      60_000,
      1000,
    );
  },
);

test('a PVC on the default StorageClass keeps its data across pod deletion', { skip, timeout: 120_000 }, async () => {
  const claim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } },
  };
  const user = (name: string, cmd: string) =>
    pod(name, {
      restartPolicy: 'Never',
      containers: [
        { name: 'c', image: BUSYBOX, command: ['sh', '-c', cmd], volumeMounts: [{ name: 'd', mountPath: '/data' }] },
      ],
      volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }],
    });
  await apply([claim, user('writer', 'echo persisted > /data/file')]);
  await until(
    'writer done',
    async () => (await jsonpath(['pod', 'writer'], '{.status.phase}')) === 'Succeeded',
    60_000,
    500,
  );
  assert.equal(await jsonpath(['pvc', 'data'], '{.status.phase}'), 'Bound');
  await c.k(['delete', 'pod', 'writer']);
  await apply([user('reader', 'cat /data/file')]);
  await until(
    'reader done',
    async () => (await jsonpath(['pod', 'reader'], '{.status.phase}')) === 'Succeeded',
    60_000,
    500,
  );
  assert.equal(await c.k(['logs', 'reader']), 'persisted\n');
});

test('a container over its memory limit is OOMKilled', { skip, timeout: 60_000 }, async () => {
  await apply([
    pod('oom', {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'c',
          image: BUSYBOX,
          command: ['sh', '-c', 'x=a; while true; do x=$x$x; done'],
          resources: { limits: { memory: '16Mi' } },
        },
      ],
    }),
  ]);
  await until(
    'OOMKilled',
    async () =>
      (await jsonpath(['pod', 'oom'], '{.status.containerStatuses[0].state.terminated.reason}')) === 'OOMKilled',
    45_000,
    500,
  );
  assert.equal(await jsonpath(['pod', 'oom'], '{.status.containerStatuses[0].state.terminated.exitCode}'), '137');
  assert.match(await c.k(['get', 'pod', 'oom']), /OOMKilled/);
});

test('--pod-max-pids caps the processes of a pod', { skip, timeout: 60_000 }, async () => {
  await apply([
    pod('forks', {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'c',
          image: BUSYBOX,
          command: ['sh', '-c', 'i=0; while [ $i -lt 100 ]; do sleep 60 & i=$((i+1)); done; echo all-started'],
        },
      ],
    }),
  ]);
  await until(
    'forks finished',
    async () => ['Succeeded', 'Failed'].includes(await jsonpath(['pod', 'forks'], '{.status.phase}')),
    45_000,
    500,
  );
  const logs = await c.k(['logs', 'forks']);
  assert.match(logs, /can't fork/);
  assert.doesNotMatch(logs, /all-started/);
});

test(
  'Jobs: a failing one backs off and ends Failed after backoffLimit; a succeeding one completes',
  { skip, timeout: 150_000 },
  async () => {
    const job = (name: string, cmd: string, backoffLimit: number) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name },
      spec: {
        backoffLimit,
        template: {
          spec: {
            restartPolicy: 'Never',
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', cmd] }],
          },
        },
      },
    });
    await apply([job('ok', 'echo done', 0), job('bad', 'exit 1', 1)]);
    await c.k(['wait', '--for=condition=Complete', 'job/ok', '--timeout=60s']);
    assert.match(await c.k(['logs', 'job/ok']), /done/);
    await c.k(['wait', '--for=condition=Failed', 'job/bad', '--timeout=120s']);
    assert.equal(
      await jsonpath(['job', 'bad'], '{.status.conditions[?(@.type=="Failed")].reason}'),
      'BackoffLimitExceeded',
    );
    assert.equal(await jsonpath(['job', 'bad'], '{.status.failed}'), '2');
  },
);

test('a StatefulSet with volumeClaimTemplates gets one bound PVC per ordinal', { skip, timeout: 120_000 }, async () => {
  await apply([
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: {
        serviceName: 'db',
        replicas: 2,
        selector: { matchLabels: { app: 'db' } },
        template: {
          metadata: { labels: { app: 'db' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'c',
                image: BUSYBOX,
                command: ['sh', '-c', 'hostname > /data/who; sleep 3600'],
                volumeMounts: [{ name: 'data', mountPath: '/data' }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } },
          },
        ],
      },
    },
  ]);
  await c.k(['rollout', 'status', 'statefulset/db', '--timeout=100s']);
  for (const i of [0, 1]) {
    assert.equal(await jsonpath(['pvc', `data-db-${i}`], '{.status.phase}'), 'Bound');
    assert.equal(await c.k(['exec', `db-${i}`, '--', 'cat', '/data/who']), `db-${i}\n`);
  }
});

test(
  'kubectl top shows real usage and an HPA scales a CPU-burning Deployment up and back down',
  { skip, timeout: 300_000 },
  async () => {
    await apply([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'burn' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'burn' } },
          template: {
            metadata: { labels: { app: 'burn' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              // Burns a CPU for 45 s after it starts, then idles: the HPA goes up, then down.
              containers: [
                {
                  name: 'c',
                  image: BUSYBOX,
                  command: [
                    'sh',
                    '-c',
                    'end=$(( $(date +%s) + 45 )); while [ $(date +%s) -lt $end ]; do :; done; sleep 3600',
                  ],
                  resources: { requests: { cpu: '100m' } },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'burn' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'burn' },
          minReplicas: 1,
          maxReplicas: 3,
          metrics: [
            { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
          ],
          behavior: {
            scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 5 }] },
          },
        },
      },
    ]);
    await until(
      'top shows the burner',
      async () => {
        const r = await c.kubectl(['top', 'pods', '-l', 'app=burn', '--no-headers']);
        const m = /burn-\S+\s+(\d+)m/.exec(r.stdout);
        return m && Number(m[1]) > 200;
      },
      90_000,
      2000,
    );
    assert.match(await c.k(['top', 'nodes', '--no-headers']), /\d+m\s+\d+%\s+\d+Mi\s+\d+%/);
    await until(
      'scaled up',
      async () => Number(await jsonpath(['deployment', 'burn'], '{.spec.replicas}')) > 1,
      90_000,
      2000,
    );
    await until(
      'scaled back down',
      async () => Number(await jsonpath(['deployment', 'burn'], '{.spec.replicas}')) === 1,
      180_000,
      3000,
    );
  },
);

test('a restarted server keeps the running containers and their readiness', { skip, timeout: 120_000 }, async () => {
  const before = await jsonpath(['pod', 'client'], '{.status.containerStatuses[0].containerID}');
  await c.restart();
  await until(
    'a Ready node again',
    async () =>
      (await jsonpath(['nodes'], '{.items[*].status.conditions[?(@.type=="Ready")].status}')).includes('True'),
    60_000,
    500,
  );
  await c.k(['wait', '--for=condition=Ready', 'pod/client', 'pod/ready-yes', '--timeout=60s']);
  assert.equal(await jsonpath(['pod', 'client'], '{.status.containerStatuses[0].containerID}'), before);
  assert.equal(await jsonpath(['pod', 'client'], '{.status.containerStatuses[0].restartCount}'), '0');
  assert.match(await c.k(['exec', 'client', '--', 'echo', 'still here']), /still here/);
});
