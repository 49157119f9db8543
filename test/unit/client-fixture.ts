// An API server started inside the test process (SQLite in a temporary directory, HTTPS on a
// free port, an admin kubeconfig), for client, informer and leader election tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { builtinResources } from '../../src/api/builtin.js';
import { bootstrap } from '../../src/apiserver/bootstrap.js';
import { issue, loadOrCreateCA } from '../../src/apiserver/pki.js';
import { ApiServer } from '../../src/apiserver/server.js';
import { writeKubeconfig } from '../../src/cli/kubeconfig.js';
import { openBackend } from '../../src/storage/open.js';

export interface TestApi {
  api: ApiServer;
  kubeconfig: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startTestApi(): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-client-'));
  const backend = openBackend(undefined, join(dir, 'db'));
  await backend.start();
  const ca = await loadOrCreateCA(join(dir, 'tls'));
  const serving = await issue(ca, { commonName: 'kube-apiserver', sans: ['127.0.0.1', 'localhost'], server: true });
  const admin = await issue(ca, { commonName: 'system:admin', organizations: ['system:masters'], client: true });
  const api = new ApiServer({
    bindAddress: '127.0.0.1',
    port: 0,
    tls: { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem },
    backend,
    cluster: { serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767], clusterDomain: 'cluster.local' },
    resources: builtinResources(),
    logger: pino({ level: 'silent' }),
  });
  await api.start();
  await bootstrap(api, { port: api.port });
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  writeKubeconfig(kubeconfig, { server: `https://127.0.0.1:${api.port}`, caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem });
  return {
    api,
    kubeconfig,
    dir,
    async stop() {
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns truthy or the time is up. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
