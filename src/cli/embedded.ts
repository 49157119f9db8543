// An API server inside the calling process, put together as `k8ts server` does it: SQLite and
// certificates in a directory of its own, HTTPS on a free loopback port, an admin kubeconfig.
// For tests and benchmarks that drive the API server (in-process or over HTTPS) without starting
// `k8ts server`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { builtinResources } from '../api/builtin.js';
import { bootstrap } from '../apiserver/bootstrap.js';
import { issue, loadOrCreateCA } from '../apiserver/pki.js';
import { ApiServer } from '../apiserver/server.js';
import { openBackend } from '../storage/open.js';
import { writeKubeconfig } from './kubeconfig.js';

export interface EmbeddedApi {
  api: ApiServer;
  /** An admin (system:masters) kubeconfig for the HTTPS endpoint. */
  kubeconfig: string;
  dir: string;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

export async function startEmbeddedApi(prefix = 'k8ts-embedded-'): Promise<EmbeddedApi> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
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
