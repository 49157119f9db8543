// The files every server of a cluster shares (cluster CA and key, service-account key, etcd CA,
// encryption configuration, agent token) kept in etcd itself, encrypted with a key derived from
// the server token's secret, as k3s keeps its bootstrap data: a server started with the same
// --datastore-endpoint and --token takes them from there and needs no running server to join.
//
// Key: `/bootstrap/<first 12 hex digits of sha256(secret)>` (k3s's layout; another --etcd-prefix
// than /registry gets `/bootstrap<prefix>/…`, so two clusters in one etcd do not meet). Value:
// JSON {v, kdf, iterations, salt, iv, data}: AES-256-GCM over the JSON of the files, the key from
// PBKDF2-SHA256 of the secret and a random salt, the etcd key as additional data (a value moved
// under another key does not decrypt).
import { createCipheriv, createDecipheriv, createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { EtcdClient } from '../storage/etcd/client.js';
import { prefixRangeEnd } from '../storage/etcd/keys.js';
import { CompareResult, CompareTarget } from '../storage/etcd/messages.js';

const ITERATIONS = 100_000;

/** Thrown for what the person starting the server must fix (wrong token, another cluster's data dir). */
export class BootstrapDataError extends Error {}

/**
 * Certificates and keys make a server part of one cluster: a data dir with others belongs to
 * another cluster. The other files (encryption configuration, agent token) may be changed on a
 * server (a key rotation, a new --agent-token): its copy then replaces the datastore's.
 */
function isIdentity(rel: string): boolean {
  return rel.endsWith('.crt') || rel.endsWith('.key');
}

/** File contents by path relative to the data dir. */
export type SharedFiles = Record<string, string>;

interface Sealed {
  v: 1;
  kdf: 'pbkdf2-sha256';
  iterations: number;
  salt: string;
  iv: string;
  data: string;
}

export function bootstrapKeyPrefix(etcdPrefix = '/registry'): string {
  const p = etcdPrefix.replace(/\/+$/, '');
  return p === '/registry' ? '/bootstrap/' : `/bootstrap${p}/`;
}

export function bootstrapKey(secret: string, etcdPrefix?: string): string {
  return bootstrapKeyPrefix(etcdPrefix) + createHash('sha256').update(secret).digest('hex').slice(0, 12);
}

function deriveKey(secret: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(secret, salt, iterations, 32, 'sha256');
}

export function seal(files: SharedFiles, secret: string, key: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(secret, salt, ITERATIONS), iv);
  cipher.setAAD(Buffer.from(key));
  const data = Buffer.concat([cipher.update(JSON.stringify({ files }), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  const sealed: Sealed = {
    v: 1,
    kdf: 'pbkdf2-sha256',
    iterations: ITERATIONS,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    data: data.toString('base64'),
  };
  return JSON.stringify(sealed);
}

/** The files, or a BootstrapDataError when the secret is not the one they were sealed with. */
export function unseal(text: string, secret: string, key: string): SharedFiles {
  let sealed: Sealed;
  try {
    sealed = JSON.parse(text) as Sealed;
  } catch {
    throw new BootstrapDataError(`the bootstrap data at ${key} is not k8ts's (not JSON)`);
  }
  if (sealed.v !== 1 || sealed.kdf !== 'pbkdf2-sha256')
    throw new BootstrapDataError(`the bootstrap data at ${key} has an unknown format (v ${String(sealed.v)})`);
  const data = Buffer.from(sealed.data, 'base64');
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      deriveKey(secret, Buffer.from(sealed.salt, 'base64'), sealed.iterations),
      Buffer.from(sealed.iv, 'base64'),
    );
    decipher.setAAD(Buffer.from(key));
    decipher.setAuthTag(data.subarray(data.length - 16));
    const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
    return (JSON.parse(plain.toString('utf8')) as { files: SharedFiles }).files;
  } catch {
    throw new BootstrapDataError(
      `the bootstrap data at ${key} does not decrypt with the server token given: start this server with the cluster's server token`,
    );
  }
}

export interface BootstrapDataOptions {
  client: EtcdClient;
  etcdPrefix?: string;
  dataDir: string;
  /** Which files are shared, relative to the data dir. */
  files: string[];
  logger: Logger;
}

/** What the datastore held for a secret: its files and the revision to update them at. */
interface Stored {
  files: SharedFiles;
  modRevision: number;
}

/**
 * Keeps a server's shared files and the datastore's copy one set. `pull` before anything on this
 * server creates them (a joining server takes the cluster's), `publish` once they exist (the first
 * server stores its own; a later one adds what it brought, e.g. an agent token).
 */
export class BootstrapData {
  constructor(private readonly o: BootstrapDataOptions) {}

  private read(rel: string): string | undefined {
    const abs = join(this.o.dataDir, rel);
    return existsSync(abs) ? readFileSync(abs, 'utf8') : undefined;
  }

  private local(): SharedFiles {
    const files: SharedFiles = {};
    for (const rel of this.o.files) {
      const content = this.read(rel);
      if (content !== undefined) files[rel] = content;
    }
    return files;
  }

  private async stored(secret: string): Promise<Stored | undefined> {
    const key = bootstrapKey(secret, this.o.etcdPrefix);
    const r = await this.o.client.range({ key: Buffer.from(key) });
    const kv = r.kvs[0];
    if (!kv) return undefined;
    return { files: unseal(kv.value.toString('utf8'), secret, key), modRevision: kv.modRevision };
  }

  /** Whether any cluster's bootstrap data is in the datastore (under this prefix). */
  private async anyStored(): Promise<boolean> {
    const prefix = Buffer.from(bootstrapKeyPrefix(this.o.etcdPrefix));
    const r = await this.o.client.range({ key: prefix, rangeEnd: prefixRangeEnd(prefix), limit: 1 });
    return r.kvs.length > 0;
  }

  /**
   * Writes the datastore's files into the data dir. A file the data dir already has with other
   * content is an error (this data dir belongs to another cluster). Answers false when the
   * datastore holds nothing for this secret; throws a BootstrapDataError when it holds another
   * cluster's data (or the secret is unknown and it holds any).
   */
  async pull(secret: string | undefined, tokenUser?: string): Promise<boolean> {
    const stored = secret === undefined ? undefined : await this.stored(secret);
    if (!stored) {
      if (!(await this.anyStored())) return false;
      if (secret === undefined)
        throw new BootstrapDataError(
          'the datastore already holds the bootstrap data of a cluster: start this server with --token ' +
            "(the cluster's server token, DATA/server/token of one of its servers)",
        );
      if (tokenUser === 'node')
        throw new BootstrapDataError(
          'the agent token joins agents only: a server joins with the server token (DATA/server/token of a server)',
        );
      throw new BootstrapDataError(
        "the datastore holds the bootstrap data of a cluster whose server token is not the one given (--token): start this server with the cluster's server token (DATA/server/token of one of its servers)",
      );
    }
    for (const [rel, content] of Object.entries(stored.files)) {
      if (!this.o.files.includes(rel)) continue;
      const mine = this.read(rel);
      if (mine !== undefined && mine !== content && isIdentity(rel))
        throw new BootstrapDataError(
          `${join(this.o.dataDir, rel)} differs from the cluster's copy in the datastore: this data dir belongs to another cluster (use a fresh --data-dir)`,
        );
      if (mine === undefined) this.write(rel, content);
    }
    this.o.logger.info({ files: Object.keys(stored.files) }, 'took the shared server files from the datastore');
    return true;
  }

  private write(rel: string, content: string): void {
    const abs = join(this.o.dataDir, rel);
    mkdirSync(dirname(abs), { recursive: true, mode: 0o700 });
    const mode = rel.endsWith('.crt') ? 0o644 : 0o600;
    writeFileSync(abs, content, { mode });
    chmodSync(abs, mode);
  }

  /** Removes local shared files (made by this server and not yet used) so a pull can take the cluster's. */
  discard(rels: string[]): void {
    for (const rel of rels) rmSync(join(this.o.dataDir, rel), { force: true });
  }

  /**
   * Stores this server's shared files for `secret`: created when absent, updated (with the files
   * this server adds) when present. Answers 'lost' when another server stored a different set
   * first (two first servers at once): the caller discards its own and pulls.
   */
  async publish(secret: string): Promise<'stored' | 'unchanged' | 'lost'> {
    const key = Buffer.from(bootstrapKey(secret, this.o.etcdPrefix));
    for (;;) {
      const mine = this.local();
      const stored = await this.stored(secret);
      if (stored) {
        for (const [rel, content] of Object.entries(stored.files))
          if (rel in mine && mine[rel] !== content && isIdentity(rel)) return 'lost';
        const merged = { ...stored.files, ...mine };
        if (JSON.stringify(merged) === JSON.stringify(stored.files)) return 'unchanged';
        const r = await this.o.client.txn({
          compare: [{ key, result: CompareResult.EQUAL, target: CompareTarget.MOD, revision: stored.modRevision }],
          success: [{ put: { key, value: Buffer.from(seal(merged, secret, key.toString())) } }],
          failure: [],
        });
        if (r.succeeded) return 'stored';
        continue; // changed meanwhile: look again
      }
      const r = await this.o.client.txn({
        compare: [{ key, result: CompareResult.EQUAL, target: CompareTarget.CREATE, revision: 0 }],
        success: [{ put: { key, value: Buffer.from(seal(mine, secret, key.toString())) } }],
        failure: [],
      });
      if (r.succeeded) {
        this.o.logger.info({ key: key.toString(), files: Object.keys(mine) }, 'stored the shared server files');
        return 'stored';
      }
    }
  }
}

/**
 * k3s's `token rotate`: the bootstrap data sealed under `oldSecret` is sealed again under
 * `newSecret` and moved to the new secret's key, in one transaction (the old key deleted), so from
 * then on only the new token opens it: a server started later needs the new token, running
 * servers go on with what they have. Throws a BootstrapDataError when the old secret is not the
 * cluster's (nothing stored for it, or it does not open what is) or the new one is already in use.
 */
export async function rotateBootstrapSecret(
  client: EtcdClient,
  oldSecret: string,
  newSecret: string,
  etcdPrefix?: string,
): Promise<{ oldKey: string; newKey: string }> {
  const oldKey = bootstrapKey(oldSecret, etcdPrefix);
  const newKey = bootstrapKey(newSecret, etcdPrefix);
  if (oldSecret === newSecret) throw new BootstrapDataError('--new-token: the new token is the current one');
  const r = await client.range({ key: Buffer.from(oldKey) });
  const kv = r.kvs[0];
  if (!kv)
    throw new BootstrapDataError(
      "the datastore holds no bootstrap data for --token: give the cluster's current server token (DATA/server/token of a server)",
    );
  const files = unseal(kv.value.toString('utf8'), oldSecret, oldKey);
  const moved = await client.txn({
    compare: [
      { key: Buffer.from(oldKey), result: CompareResult.EQUAL, target: CompareTarget.MOD, revision: kv.modRevision },
      { key: Buffer.from(newKey), result: CompareResult.EQUAL, target: CompareTarget.CREATE, revision: 0 },
    ],
    success: [
      { put: { key: Buffer.from(newKey), value: Buffer.from(seal(files, newSecret, newKey)) } },
      { deleteRange: { key: Buffer.from(oldKey) } },
    ],
    failure: [],
  });
  if (!moved.succeeded)
    throw new BootstrapDataError(
      'the bootstrap data changed meanwhile, or the new token is in use already: nothing was rotated (try again)',
    );
  return { oldKey, newKey };
}
