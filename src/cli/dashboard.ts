// `k8ts dashboard token`: a short-lived bearer token to sign in to the web dashboard with as a
// cluster admin (docs/dashboard.md). It is a TokenRequest for a ServiceAccount bound to
// cluster-admin, both created when missing, made with the data dir's admin kubeconfig (or --kubeconfig).
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { ClusterRoleBinding } from 'kubernetes-types/rbac/v1.js';
import type { TokenRequest } from 'kubernetes-types/authentication/v1.js';
import { defaultDataDir } from './datadir.js';
import { parseDurationMs } from './component.js';

interface Opts {
  dataDir?: string;
  kubeconfig?: string;
  context?: string;
  namespace: string;
  serviceAccount: string;
  duration: string;
}

const FIELD_MANAGER = 'k8ts-dashboard-token';

export async function printDashboardToken(opts: Opts): Promise<void> {
  const { Client, spec } = await import('../client/client.js');
  const { isAlreadyExists } = await import('../client/errors.js');
  const kubeconfig =
    opts.kubeconfig ??
    process.env.KUBECONFIG ??
    join(resolve(opts.dataDir ?? process.env.K8TS_DATA_DIR ?? defaultDataDir()), 'kubeconfig.yaml');
  const client = Client.fromKubeconfig(kubeconfig, { fieldManager: FIELD_MANAGER, context: opts.context });
  const seconds = Math.round(parseDurationMs(opts.duration, '--duration') / 1000);
  // (Upstream's TokenRequest refuses anything under 10 minutes.)
  if (seconds < 600) throw new Error('--duration: at least 10m');
  const { namespace, serviceAccount: name } = opts;
  const accounts = client
    .resource(
      spec<ServiceAccount>({
        group: '',
        version: 'v1',
        plural: 'serviceaccounts',
        namespaced: true,
        kind: 'ServiceAccount',
      }),
    )
    .namespace(namespace);
  const bindings = client.resource(
    spec<ClusterRoleBinding>({
      group: 'rbac.authorization.k8s.io',
      version: 'v1',
      plural: 'clusterrolebindings',
      namespaced: false,
      kind: 'ClusterRoleBinding',
    }),
  );
  const ignoreExisting = (err: unknown) => {
    if (!isAlreadyExists(err)) throw err;
  };
  await accounts.create({ metadata: { name, namespace } }).catch(ignoreExisting);
  await bindings
    .create({
      metadata: { name: `${name}-${namespace}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    })
    .catch(ignoreExisting);
  const request: TokenRequest = {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences: [], expirationSeconds: seconds },
  };
  try {
    const answer = (await accounts.createSubresource(name, 'token', request)) as TokenRequest;
    if (!answer.status?.token) throw new Error('the TokenRequest was answered without a token');
    process.stdout.write(`${answer.status.token}\n`);
  } finally {
    await client.close();
  }
}

export function registerDashboardCommands(program: Command): void {
  program
    .command('dashboard')
    .description('The web dashboard at https://SERVER:6443/dashboard/ (docs/dashboard.md)')
    .command('token')
    .description('Print a short-lived cluster-admin bearer token to sign in to the dashboard with')
    .option('--data-dir <dir>', "the server's data dir, whose admin kubeconfig is used (default as `k8ts server`)")
    .option('--kubeconfig <file>', 'use this kubeconfig instead (default $KUBECONFIG, else DATA/kubeconfig.yaml)')
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <ns>', 'namespace of the ServiceAccount', 'kube-system')
    .option('--service-account <name>', 'the ServiceAccount (bound to cluster-admin)', 'k8ts-dashboard-admin')
    .option('--duration <duration>', 'how long the token is valid', '1h')
    .action(async (opts: Opts) => printDashboardToken(opts));
}
