// `k8ts token rotate`, k3s's command of that name: the server token changes. The bootstrap data
// in the datastore (src/etcd/bootstrapdata.ts) is sealed again under the new token and this
// server's DATA/server/token is rewritten, so its join endpoints take the new token at once.
// Running servers keep running; a server started later (joining, or restarting with --token)
// needs the new token, and agents that joined with the old one keep their node certificates.
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultDataDir } from './datadir.js';

interface RotateOpts {
  dataDir?: string;
  token?: string;
  newToken: string;
  datastoreEndpoint?: string;
  datastoreCafile?: string;
  datastoreCertfile?: string;
  datastoreKeyfile?: string;
  etcdPrefix?: string;
}

async function rotate(opts: RotateOpts): Promise<void> {
  const { parseToken, formatToken, caHash } = await import('../apiserver/join.js');
  const { rotateBootstrapSecret } = await import('../etcd/bootstrapdata.js');
  const dataDir = resolve(opts.dataDir ?? defaultDataDir());
  const tokenFile = join(dataDir, 'server', 'token');
  const caFile = join(dataDir, 'server', 'tls', 'ca.crt');
  if (!existsSync(caFile)) throw new Error(`${dataDir} is not a server's data dir (no ${caFile})`);
  const caPem = readFileSync(caFile, 'utf8');
  const current = opts.token ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8') : undefined);
  if (!current) throw new Error('--token: the current server token is needed');
  const old = parseToken(current);
  const fresh = parseToken(opts.newToken);
  for (const [flag, t] of [
    ['--token', old],
    ['--new-token', fresh],
  ] as const) {
    if (t.caHash && t.caHash !== caHash(caPem))
      throw new Error(`${flag}: the token's CA hash does not match this server's CA`);
    if (t.user && t.user !== 'server')
      throw new Error(`${flag}: a server token is needed (K10…::server:…), not a ${t.user} token`);
  }
  const client = opts.datastoreEndpoint
    ? new (await import('../storage/etcd/client.js')).EtcdClient({
        endpoints: opts.datastoreEndpoint.split(',').filter(Boolean),
        caFile: opts.datastoreCafile,
        certFile: opts.datastoreCertfile,
        keyFile: opts.datastoreKeyfile,
        timeoutMs: 60_000,
      })
    : await (await import('./etcdsnapshot.js')).dataDirMemberClient(dataDir);
  try {
    await rotateBootstrapSecret(client, old.secret, fresh.secret, opts.etcdPrefix);
  } finally {
    client.close();
  }
  const full = formatToken(caPem, fresh.secret);
  writeFileSync(tokenFile, `${full}\n`, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  process.stdout.write(
    `Token rotated. The new server token is in ${tokenFile}:\n${full}\n` +
      'Restart the other servers with --token set to it; servers and agents joining from now on need it.\n',
  );
}

export function registerTokenCommand(program: Command): void {
  const top = program.command('token').description('Manage the server token');
  top
    .command('rotate')
    .description('Rotate the server token: the bootstrap data in the datastore is sealed under the new one')
    .option('--data-dir <dir>', 'data dir of the server (default /var/lib/k8ts as root, ~/.k8ts otherwise)')
    .option('--token <token>', 'the current server token (default: DATA/server/token)')
    .requiredOption('--new-token <token>', 'the new server token (a secret, or K10<CA hash>::server:<secret>)')
    .option('--datastore-endpoint <urls>', 'etcd client URLs (default: the managed etcd member of the data dir)')
    .option('--datastore-cafile <file>', 'CA bundle that verifies the etcd servers')
    .option('--datastore-certfile <file>', 'client certificate presented to etcd')
    .option('--datastore-keyfile <file>', 'client key presented to etcd')
    .option('--etcd-prefix <prefix>', "the servers' --etcd-prefix", '/registry')
    .action(async (opts: RotateOpts) => {
      await rotate(opts);
    });
}
