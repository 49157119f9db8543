// The shared server files on an etcd datastore (k3s's bootstrap data): before the server is
// assembled, take the cluster's from the datastore (decrypted with the token), make what is still
// missing, and store the set back, so every server started with the same --datastore-endpoint
// and --token has the same CA, service-account key and encryption configuration.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pino from 'pino';
import { loadAgentToken, loadOrCreateServerToken, parseToken } from '../apiserver/join.js';
import { loadOrCreateServiceAccountKeys } from '../apiserver/serviceaccount/index.js';
import { BootstrapData } from '../etcd/bootstrapdata.js';
import { loadOrCreateCA } from '../machinery/pki.js';
import { EtcdClient } from '../storage/etcd/client.js';
import { isEtcdEndpoint } from '../storage/open.js';
import { sharedServerFiles } from './serverjoin.js';

/** The server flags this step reads (--token, --agent-token, --etcd-prefix). */
interface TokenFlags {
  token?: string;
  agentToken?: string;
  etcdPrefix?: string;
}

/** Where the datastore is (a ServerDatastore of managedetcd.ts). */
interface Datastore {
  endpoint?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Makes the shared files this data dir lacks; answers the server token's secret. */
async function createSharedFiles(flags: TokenFlags, dataDir: string): Promise<string> {
  const tlsDir = join(dataDir, 'server', 'tls');
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const ca = await loadOrCreateCA(tlsDir);
  loadOrCreateServiceAccountKeys(join(tlsDir, 'service-account.key'));
  loadAgentToken(dataDir, ca.certPem, flags.agentToken);
  return loadOrCreateServerToken(dataDir, ca.certPem, flags.token).secret;
}

function storedSecret(dataDir: string): string | undefined {
  const path = join(dataDir, 'server', 'token');
  try {
    return existsSync(path) ? parseToken(readFileSync(path, 'utf8')).secret : undefined;
  } catch {
    return undefined;
  }
}

/**
 * On an etcd datastore: pulls the shared files, calls `createOthers` (files made from flags, e.g.
 * the default encryption configuration) and makes the rest, then publishes them. Elsewhere only
 * `createOthers`. Answers what `createOthers` answered.
 */
export async function syncSharedServerFiles<T>(
  flags: TokenFlags,
  store: Datastore,
  dataDir: string,
  logger: pino.Logger,
  createOthers: () => T,
): Promise<T> {
  if (!store.endpoint || !isEtcdEndpoint(store.endpoint)) return createOthers();
  const given = flags.token ? parseToken(flags.token) : undefined;
  let secret = given?.secret ?? storedSecret(dataDir);
  const client = new EtcdClient({
    endpoints: store.endpoint.split(',').filter(Boolean),
    caFile: store.caFile,
    certFile: store.certFile,
    keyFile: store.keyFile,
  });
  const files = sharedServerFiles(dataDir);
  const data = new BootstrapData({ client, etcdPrefix: flags.etcdPrefix, dataDir, files, logger });
  try {
    for (let attempt = 0; ; attempt++) {
      const before = files.filter((rel) => existsSync(join(dataDir, rel)));
      await data.pull(secret, given?.user);
      const result = createOthers();
      secret = await createSharedFiles(flags, dataDir);
      if ((await data.publish(secret)) !== 'lost') return result;
      // Another server stored its files first (both started on an empty datastore): ours were
      // made a moment ago and used by nothing yet, so take the cluster's instead.
      if (attempt > 0) throw new Error('could not agree with the datastore on the shared server files');
      logger.warn('another server stored the shared files first: taking them');
      data.discard(files.filter((rel) => !before.includes(rel)));
    }
  } finally {
    client.close();
  }
}
