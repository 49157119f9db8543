// Debian's real Prometheus against k8ts: it scrapes the API server, kube-state-metrics, the node
// agent (directly and through the API server's node proxy, as Prometheus' own example config
// does) and an annotated pod; queries return series with upstream's names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import {
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
} from './harness.js';
import { freePort } from '../support/ports.js';

const PROMETHEUS = '/usr/bin/prometheus';
const noPrometheus =
  spawnSync('sh', ['-c', `test -x ${PROMETHEUS}`]).status === 0
    ? undefined
    : 'prometheus is not installed (scripts/setup.sh)';
const skip = realContainersUnavailable() ?? noPrometheus;

let c: Cluster;
let prom: ChildProcess | undefined;
let promDir: string;
let promURL: string;

/** The admin credentials of the kubeconfig as files Prometheus can read. */
function writeCredentials(kubeconfig: string, dir: string): { ca_file: string; cert_file: string; key_file: string } {
  const kc = YAML.parse(readFileSync(kubeconfig, 'utf8'));
  const files = {
    ca_file: join(dir, 'ca.crt'),
    cert_file: join(dir, 'admin.crt'),
    key_file: join(dir, 'admin.key'),
  };
  const b64 = (s: string) => Buffer.from(s, 'base64');
  writeFileSync(files.ca_file, b64(kc.clusters[0].cluster['certificate-authority-data']));
  writeFileSync(files.cert_file, b64(kc.users[0].user['client-certificate-data']));
  writeFileSync(files.key_file, b64(kc.users[0].user['client-key-data']), { mode: 0o600 });
  return files;
}

/**
 * The scrape jobs of a Kubernetes Prometheus setup. Debian's Prometheus is built without the
 * Kubernetes service discovery (its client-go is not packaged), so the targets that
 * kubernetes_sd_configs would find are given as static targets here, with the same scheme,
 * paths and credentials (docs/monitoring.md has the kubernetes_sd_configs version).
 */
function prometheusConfig(t: {
  api: string;
  node: string;
  kubelet: string;
  pod: { ip: string; name: string };
  tls: Record<string, string>;
}) {
  const api = new URL(t.api).host;
  const job = (name: string, target: string, path: string, extra: Record<string, unknown> = {}) => ({
    job_name: name,
    scheme: 'https',
    metrics_path: path,
    tls_config: t.tls,
    static_configs: [{ targets: [target] }],
    ...extra,
  });
  return {
    global: { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '2s' },
    scrape_configs: [
      job('kubernetes-apiservers', api, '/metrics'),
      job('kube-state-metrics', api, '/metrics/kube-state'),
      // Prometheus' example config: kubelets scraped through the API server's node proxy.
      job('kubernetes-nodes', api, `/api/v1/nodes/${t.node}/proxy/metrics`),
      job('kubernetes-cadvisor', api, `/api/v1/nodes/${t.node}/proxy/metrics/cadvisor`),
      // The agent's port directly, as kube-prometheus scrapes kubelets.
      job('kubelet-resource', t.kubelet, '/metrics/resource', { tls_config: { ...t.tls, insecure_skip_verify: true } }),
      {
        job_name: 'kubernetes-pods',
        metrics_path: '/metrics',
        static_configs: [{ targets: [`${t.pod.ip}:8080`], labels: { namespace: 'default', pod: t.pod.name } }],
      },
    ],
  };
}

async function promGet(path: string): Promise<any> {
  const r = await fetch(`${promURL}${path}`);
  const body = (await r.json()) as { status: string; data: unknown };
  assert.equal(body.status, 'success', JSON.stringify(body));
  return body.data;
}

async function query(q: string): Promise<any[]> {
  return (await promGet(`/api/v1/query?query=${encodeURIComponent(q)}`)).result as any[];
}

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
  const manifests = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: {
            labels: { app: 'web' },
            annotations: {
              'prometheus.io/scrape': 'true',
              'prometheus.io/port': '8080',
              'prometheus.io/path': '/metrics',
            },
          },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'httpd',
                image: 'k8ts.local/httpd:1.35',
                command: ['sh', '-c'],
                args: [
                  "printf '# TYPE demo_up gauge\\ndemo_up 1\\n' > /www/metrics; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait",
                ],
                ports: [{ name: 'http', containerPort: 8080 }],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
  ];
  await c.k(['apply', '-f', '-'], manifests.map((d) => YAML.stringify(d)).join('---\n'));
  await c.k(['rollout', 'status', 'deployment/web', '--timeout=120s']);

  promDir = mkdtempSync(join(tmpdir(), 'k8ts-prometheus-'));
  const tls = writeCredentials(c.kubeconfig, promDir);
  const node = JSON.parse(await c.k(['get', 'nodes', '-o', 'json'])).items[0];
  const nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
  const kubelet = `${nodeIP}:${node.status.daemonEndpoints.kubeletEndpoint.Port}`;
  const pod = JSON.parse(await c.k(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items[0];
  const config = join(promDir, 'prometheus.yml');
  writeFileSync(
    config,
    YAML.stringify(
      prometheusConfig({
        api: c.url,
        node: node.metadata.name,
        kubelet,
        pod: { ip: pod.status.podIP, name: pod.metadata.name },
        tls,
      }),
    ),
  );
  const port = await freePort();
  promURL = `http://127.0.0.1:${port}`;
  prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  prom.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  await until(
    'Prometheus ready',
    () => {
      if (prom!.exitCode !== null) throw new Error(`prometheus exited ${prom!.exitCode}:\n${log}`);
      return fetch(`${promURL}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
    },
    60_000,
    500,
  );
});

after(async () => {
  if (prom && prom.exitCode === null && prom.signalCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  }
  if (promDir) rmSync(promDir, { recursive: true, force: true });
  if (c) await c.cleanup();
});

test(
  'Prometheus scrapes the API server, kube-state-metrics, the agent and an annotated pod',
  { skip, timeout: 240_000 },
  async () => {
    const jobs = [
      'kubernetes-apiservers',
      'kube-state-metrics',
      'kubernetes-nodes',
      'kubernetes-cadvisor',
      'kubelet-resource',
      'kubernetes-pods',
    ];
    await until(
      'every scraping job up',
      async () => {
        const r = await query('up');
        const byJob = new Map(r.map((s) => [s.metric.job as string, s.value[1] as string]));
        return jobs.every((j) => byJob.get(j) === '1');
      },
      180_000,
      1000,
    ).catch(async (err: Error) => {
      const targets = await promGet('/api/v1/targets');
      throw new Error(
        `${err.message}\n${JSON.stringify(targets.activeTargets.map((t: any) => [t.labels.job, t.scrapeUrl, t.health, t.lastError]))}`,
      );
    });
  },
);

test('queries return upstream-named series from every component', { skip, timeout: 180_000 }, async () => {
  const wanted = [
    'apiserver_request_total{job="kubernetes-apiservers",verb="LIST",resource="pods"}',
    'apiserver_storage_objects{resource="deployments.apps"}',
    'workqueue_adds_total{name="deployment"}',
    'rest_client_requests_total',
    'scheduler_schedule_attempts_total{result="scheduled"}',
    'kube_deployment_status_replicas_available{deployment="web",namespace="default"} == 1',
    'kube_pod_status_phase{phase="Running",namespace="default"} == 1',
    'kube_node_status_condition{condition="Ready",status="true"} == 1',
    'kubelet_running_pods{job="kubernetes-nodes"}',
    'container_memory_working_set_bytes{job="kubernetes-cadvisor",pod=~"web-.*",container="httpd"}',
    'pod_cpu_usage_seconds_total{job="kubelet-resource",namespace="default"}',
    'node_memory_working_set_bytes{job="kubelet-resource"}',
    'demo_up{job="kubernetes-pods",namespace="default"}',
    'process_resident_memory_bytes{job="kubernetes-apiservers"}',
    'nodejs_heap_size_used_bytes{job="kubernetes-apiservers"}',
  ];
  for (const q of wanted) {
    await until(`series for ${q}`, async () => (await query(q)).length > 0, 120_000, 1000);
  }
});
