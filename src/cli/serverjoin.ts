// A server joining another (`k8ts server --server https://FIRST:6443 --token T`): the files all
// servers share come from the first server's /k8ts/v1/server-bootstrap, and with managed etcd the
// first server adds the newcomer as an etcd member (/k8ts/v1/etcd-members). Both requests carry
// the token and verify the server against the CA pinned by the token, as agents' joins do.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Logger } from 'pino';
import {
  ETCD_MEMBERS_PATH,
  SERVER_BOOTSTRAP_PATH,
  parseToken,
  type EtcdMemberInfo,
  type ServerBootstrap,
} from '../apiserver/join.js';
import { defaultEncryptionConfigPath } from '../apiserver/encryption/config.js';
import { etcdTlsDir } from '../etcd/managed.js';
import { fetchCACerts, JoinError, verifyCA } from './join.js';
import { tokenRequest } from './tokenrequest.js';

/** The files every server of a cluster shares, relative to the data dir. */
export function sharedServerFiles(dataDir: string): string[] {
  const tls = join(dataDir, 'server', 'tls');
  return [
    join(tls, 'ca.crt'),
    join(tls, 'ca.key'),
    join(tls, 'service-account.key'),
    join(dataDir, 'server', 'agent-token'),
    join(etcdTlsDir(dataDir), 'ca.crt'),
    join(etcdTlsDir(dataDir), 'ca.key'),
    defaultEncryptionConfigPath(dataDir),
  ].map((f) => relative(dataDir, f));
}

/** What this server hands a joining one: the shared files it has. */
export function serverBootstrap(dataDir: string): ServerBootstrap {
  const files: Record<string, string> = {};
  for (const rel of sharedServerFiles(dataDir)) {
    const abs = join(dataDir, rel);
    if (existsSync(abs)) files[rel] = readFileSync(abs, 'utf8');
  }
  return { files };
}

function statusMessage(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text;
  }
}

export interface JoinedServer {
  caPem: string;
  secret: string;
}

/**
 * Fetches the shared files from `server` into `dataDir` (overwriting what a fresh data dir made
 * of its own). The token's CA hash, when it has one, pins the server before the secret is sent.
 */
export async function fetchServerBootstrap(
  server: string,
  token: string,
  dataDir: string,
  log: Logger,
): Promise<JoinedServer> {
  const parsed = parseToken(token);
  const caPem = await fetchCACerts(server);
  verifyCA(caPem, parsed, server, log);
  const res = await tokenRequest(server, caPem, parsed.secret, 'GET', SERVER_BOOTSTRAP_PATH);
  if (res.status === 401) throw new JoinError(`${server} refused the token (401 Unauthorized)`);
  if (res.status !== 200)
    throw new JoinError(
      `${server} refused to hand out server bootstrap data (${res.status}): ${statusMessage(res.text)}`,
    );
  const { files } = JSON.parse(res.text) as ServerBootstrap;
  const allowed = new Set(sharedServerFiles(dataDir));
  for (const [rel, content] of Object.entries(files)) {
    if (!allowed.has(rel)) continue; // only the files a server shares, never a path of the server's choosing
    const abs = join(dataDir, rel);
    mkdirSync(dirname(abs), { recursive: true, mode: 0o700 });
    const secretFile = !rel.endsWith('.crt');
    writeFileSync(abs, content, { mode: secretFile ? 0o600 : 0o644 });
    chmodSync(abs, secretFile ? 0o600 : 0o644);
  }
  log.info({ server, files: Object.keys(files) }, 'fetched server bootstrap data');
  return { caPem, secret: parsed.secret };
}

/**
 * Asks `server` to add this server's etcd member; retried (for up to `timeoutMs`) while etcd
 * refuses, e.g. because a member added just before has not started yet. Answers the members.
 */
export async function requestEtcdMember(
  server: string,
  joined: JoinedServer,
  name: string,
  peerURL: string,
  log: Logger,
  timeoutMs = 120_000,
): Promise<EtcdMemberInfo[]> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1000;
  for (;;) {
    let failure: string;
    try {
      const res = await tokenRequest(server, joined.caPem, joined.secret, 'POST', ETCD_MEMBERS_PATH, {
        name,
        peerURL,
      });
      if (res.status === 200) return (JSON.parse(res.text) as { members: EtcdMemberInfo[] }).members;
      failure = `${res.status}: ${statusMessage(res.text)}`;
      if (res.status !== 503) throw new JoinError(`${server} refused to add etcd member ${name} (${failure})`);
    } catch (err) {
      if (err instanceof JoinError) throw err;
      failure = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() + delay > deadline)
      throw new JoinError(`${server} did not add etcd member ${name} within ${timeoutMs / 1000}s: ${failure}`);
    log.info({ server, failure, retryInMs: delay }, 'etcd member add not possible yet; retrying');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}
