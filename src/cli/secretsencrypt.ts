// `k8ts secrets-encrypt status|prepare|rotate|reencrypt`, after k3s's command of that name.
// It works offline on the data dir's datastore: stop the server first (its watch cache would not
// see rows rewritten by another process), start it again afterwards to load the new keys.
import type { Command } from 'commander';
import { defaultDataDir } from './datadir.js';
import { join, resolve } from 'node:path';
import {
  EncryptionConfig,
  defaultEncryptionConfigPath,
  newKey,
  writeEncryptionConfig,
  type EncryptionConfiguration,
  type ProviderConfig,
} from '../apiserver/encryption/config.js';
import type { Backend } from '../storage/interface.js';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { parse as parseYaml } from 'yaml';

const SECRETS_PREFIX = '/core/secrets/';

interface Opts {
  dataDir?: string;
  datastoreEndpoint?: string;
  encryptionProviderConfig?: string;
}

function configFile(opts: Opts, dataDir: string): string {
  return resolve(opts.encryptionProviderConfig ?? defaultEncryptionConfigPath(dataDir));
}

/** The first aescbc, aesgcm or secretbox provider of the Secrets entry: the one whose keys rotate. */
function keyedProvider(config: EncryptionConfiguration): { keys: { name: string; secret: string }[] } {
  const entry = config.resources.find((r) => r.resources.includes('secrets'));
  const p: ProviderConfig | undefined = entry?.providers.find((x) => x.aescbc ?? x.aesgcm ?? x.secretbox);
  // New keys are 32 bytes (newKey), a size all three accept.
  const keyed = p?.aescbc ?? p?.aesgcm ?? p?.secretbox;
  if (!keyed) throw new Error('the encryption configuration has no aescbc, aesgcm or secretbox provider for secrets');
  return keyed;
}

function nextKeyName(keys: { name: string }[]): string {
  const taken = new Set(keys.map((k) => k.name));
  for (let i = 1; ; i++) {
    const name = `aescbckey-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}${i > 1 ? `-${i}` : ''}`;
    if (!taken.has(name)) return name;
  }
}

/**
 * The URL of a server still answering on the data dir's kubeconfig address: another process
 * rewriting rows under it would go unseen by its watch cache (and race its writes).
 */
async function runningServer(dataDir: string): Promise<string | undefined> {
  const file = join(dataDir, 'kubeconfig.yaml');
  if (!existsSync(file)) return undefined;
  const cfg = parseYaml(readFileSync(file, 'utf8')) as { clusters?: { cluster?: { server?: string } }[] };
  const server = cfg.clusters?.[0]?.cluster?.server;
  if (!server) return undefined;
  const url = new URL(server);
  return new Promise((done) => {
    const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443) });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), done(server)));
    socket.once('timeout', () => (socket.destroy(), done(undefined)));
    socket.once('error', () => done(undefined));
  });
}

/** Rewrite every Secret not written with the first key; returns how many were rewritten. */
async function reencrypt(backend: Backend, enc: EncryptionConfig): Promise<number> {
  const t = enc.transformerFor('', 'secrets');
  if (!t) return 0;
  let done = 0;
  for (const kv of (await backend.list(SECRETS_PREFIX)).items) {
    const read = t.read(kv.key, kv.value);
    if (!read.stale) continue;
    await backend.update(kv.key, t.toStorage(kv.key, read.value), kv.modRevision);
    done++;
  }
  return done;
}

async function status(backend: Backend, enc: EncryptionConfig, file: string): Promise<string> {
  const t = enc.transformerFor('', 'secrets');
  const lines = [`Encryption Configuration: ${file}`];
  if (!t) return [...lines, 'Encryption Status: Disabled (no provider for secrets)'].join('\n');
  const w = t.writer;
  lines.push(`Encryption Status: ${w.kind === 'identity' ? 'Disabled' : 'Enabled'}`);
  lines.push(`Active Key: ${w.kind === 'identity' ? 'identity' : `${w.kind} ${w.keyName}`}`);
  const counts = new Map<string, number>();
  for (const kv of (await backend.list(SECRETS_PREFIX)).items) {
    const c = t.read(kv.key, kv.value).cipher;
    const label = c.kind === 'identity' ? 'identity (not encrypted)' : `${c.kind} ${c.keyName}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  lines.push('Secrets per key:');
  for (const c of t.ciphers) {
    const label = c.kind === 'identity' ? 'identity (not encrypted)' : `${c.kind} ${c.keyName}`;
    lines.push(`  ${label}: ${counts.get(label) ?? 0}`);
  }
  return lines.join('\n');
}

export function registerSecretsEncryptCommand(program: Command): void {
  const cmd = program
    .command('secrets-encrypt')
    .description('Inspect and rotate the keys that encrypt Secrets at rest (offline: stop the server first)');
  const sub = (name: string, description: string, run: (o: Opts, dataDir: string, file: string) => Promise<string>) =>
    cmd
      .command(name)
      .description(description)
      .option('--data-dir <dir>', 'data dir of the server (default /var/lib/k8ts as root, ~/.k8ts otherwise)')
      .option('--datastore-endpoint <url>', "the server's datastore, if not the data dir's SQLite")
      .option(
        '--encryption-provider-config <file>',
        'the EncryptionConfiguration (default DATA/server/cred/encryption-config.json)',
      )
      .action(async (o: Opts) => {
        const dataDir = resolve(o.dataDir ?? process.env.K8TS_DATA_DIR ?? defaultDataDir());
        process.stdout.write((await run(o, dataDir, configFile(o, dataDir))) + '\n');
      });

  const withBackend = async <T>(o: Opts, dataDir: string, f: (b: Backend) => Promise<T>, writes = true): Promise<T> => {
    // Reading beside a running server is safe (SQLite WAL readers); writing is not.
    const server = !writes || o.datastoreEndpoint ? undefined : await runningServer(dataDir);
    if (server) throw new Error(`the k8ts server of ${dataDir} is running (${server}): stop it first`);
    const { openBackend } = await import('../storage/open.js'); // SQLite and etcd clients: only here
    const backend = await openBackend(o.datastoreEndpoint, join(dataDir, 'server', 'db'));
    await backend.start();
    try {
      return await f(backend);
    } finally {
      await backend.close();
    }
  };

  sub('status', 'Which key encrypts new Secrets, and how many Secrets each key holds', (o, dataDir, file) =>
    withBackend(o, dataDir, (b) => status(b, EncryptionConfig.load(file), file), false),
  );

  sub('prepare', 'Add a new key, last: readable everywhere before it starts encrypting', (_o, _d, file) => {
    const config = EncryptionConfig.load(file).config;
    const keyed = keyedProvider(config);
    const name = nextKeyName(keyed.keys);
    keyed.keys.push({ name, secret: newKey() });
    writeEncryptionConfig(file, config);
    return Promise.resolve(`prepared key ${name}; run "k8ts secrets-encrypt rotate" to make it the active key`);
  });

  sub(
    'rotate',
    'Make the newest key active (adding one if none is prepared), then re-encrypt every Secret',
    (o, dataDir, file) => {
      const config = EncryptionConfig.load(file).config;
      const keyed = keyedProvider(config);
      if (keyed.keys.length < 2) keyed.keys.push({ name: nextKeyName(keyed.keys), secret: newKey() });
      const newest = keyed.keys.pop()!;
      keyed.keys.unshift(newest);
      const enc = new EncryptionConfig(config);
      return withBackend(o, dataDir, async (b) => {
        // The file first: should re-encryption stop half-way, every Secret is readable with it.
        writeEncryptionConfig(file, config);
        const n = await reencrypt(b, enc);
        return `active key ${newest.name}; ${n} Secrets re-encrypted`;
      });
    },
  );

  sub('reencrypt', 'Rewrite every Secret not encrypted with the active key', (o, dataDir, file) =>
    withBackend(o, dataDir, async (b) => `${await reencrypt(b, EncryptionConfig.load(file))} Secrets re-encrypted`),
  );
}
