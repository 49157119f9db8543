// `k8ts compose up|down` end to end with real containers: the words/web/db example (busybox
// httpd, test/fixtures/compose/words) brought up with server-side apply, answering on its
// published port through a LoadBalancer Service with its NetworkPolicies enforced, the data
// having gone db → words → web; then taken down by its label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { TEST_IMAGES } from '../../src/agent/images/testimages.js';
import {
  K8TS_BIN,
  importTestImages,
  run,
  startCluster,
  until,
  waitForReadyNode,
  serviceNetworkingUnavailable,
} from './harness.js';

const FIXTURE = join(process.cwd(), 'test', 'fixtures', 'compose', 'words', 'compose.yaml');
const skip = serviceNetworkingUnavailable();

function get(url: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

test(
  'the words/web/db compose example answers on its published port, and goes with down',
  { skip, timeout: 600_000 },
  async () => {
    const cluster = await startCluster({ agent: true });
    try {
      await waitForReadyNode(cluster);
      await importTestImages(cluster, ['busybox']);
      await cluster.k(['create', 'namespace', 'words']);
      // A port of its own: the node address is the host's, shared with other clusters' tests.
      const port = 18100 + Math.floor(Math.random() * 800);
      const compose = (args: string[]) =>
        run(
          process.execPath,
          [
            K8TS_BIN,
            'compose',
            ...args,
            '-f',
            FIXTURE,
            '-n',
            'words',
            '--kubeconfig',
            cluster.kubeconfig,
            '--service-type',
            'LoadBalancer',
            '--wait-image',
            TEST_IMAGES.busybox,
          ],
          { env: { ...process.env, WEB_PORT: String(port), TITLE: 'Hello compose' }, timeoutMs: 120_000 },
        );
      const up = await compose(['up']);
      assert.equal(up.code, 0, up.stderr + up.stdout);
      assert.match(up.stdout, /deployment\/web applied/);
      assert.match(up.stdout, /networkpolicy\/words-network-back applied/);

      const ip = await until(
        'the web Service load-balancer address',
        async () => {
          const svc = JSON.parse(await cluster.k(['get', 'svc', '-n', 'words', 'web', '-o', 'json'])) as {
            status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
          };
          return svc.status?.loadBalancer?.ingress?.[0]?.ip;
        },
        60_000,
        500,
      );
      const page = await until(
        'the page with words from db',
        async () => {
          const body = await get(`http://${ip}:${port}/`);
          return /<h1>Hello compose<\/h1>/.test(body) && /robot/.test(body) ? body : undefined;
        },
        {
          timeoutMs: 300_000,
          stepMs: 1000,
          diag: async () => (await cluster.kubectl(['get', 'pods,svc,pvc', '-n', 'words', '-o', 'wide'])).stdout,
        },
      );
      assert.match(page, /dog\ncat\nrobot\nwhale/);
      const words = JSON.parse(await cluster.k(['get', 'deploy', '-n', 'words', 'words', '-o', 'json'])) as {
        status?: { readyReplicas?: number };
      };
      assert.equal(words.status?.readyReplicas, 2, 'deploy.replicas');

      const down = await compose(['down', '-v']);
      assert.equal(down.code, 0, down.stderr + down.stdout);
      assert.match(down.stdout, /persistentvolumeclaim\/db-data deleted/);
      await until(
        'the project gone',
        async () => {
          const left = await cluster.k([
            'get',
            'deploy,svc,pvc,configmap,secret,networkpolicy',
            '-n',
            'words',
            '-l',
            'k8ts.io/compose-project=words',
            '-o',
            'name',
          ]);
          return left.trim() === '';
        },
        120_000,
        500,
      );
    } finally {
      await cluster.cleanup();
    }
  },
);
