// Joining nodes to a server, in the manner of k3s: the server keeps a join token
// `K10<sha256 of the CA PEM>::server:<secret>` under its data dir. A joining agent first fetches
// the CA from /cacerts without verifying TLS, checks it against the hash in its token (so it
// knows it talks to the right cluster before sending the secret), then POSTs to
// /k8ts/v1/node-certs with the secret as a bearer token and gets back its node client
// certificate (CN=system:node:<name>, O=system:nodes) and a serving certificate for its HTTPS
// server. Both paths are served without client-certificate authentication.
//
// Servers join the same way (`k8ts server --server URL --token T`): with the token they GET
// /k8ts/v1/server-bootstrap (the files every server shares: cluster CA, service-account key,
// encryption configuration, etcd CA) and, with managed etcd, POST /k8ts/v1/etcd-members to be
// added as an etcd member. As in k3s, whoever holds the server token can become a server.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import * as errors from '../machinery/errors.js';
import { readBody, send, sendObject } from './http.js';
import { generateKeys, issue, type CA, type KeyPair } from '../machinery/pki.js';
import {
  ExtKeyUsage,
  KeyUsage,
  certificateRequest,
  distinguishedName,
  issueCertificate,
} from '../machinery/certificate.js';
import { parseCertificateRequest } from '../api/certificates/v1/request.js';

export const TOKEN_PREFIX = 'K10';
export const CACERTS_PATH = '/cacerts';
export const NODE_CERTS_PATH = '/k8ts/v1/node-certs';
export const SERVER_BOOTSTRAP_PATH = '/k8ts/v1/server-bootstrap';
export const ETCD_MEMBERS_PATH = '/k8ts/v1/etcd-members';
export const CLUSTER_CONFIG_PATH = '/k8ts/v1/cluster-config';

/** What GET /k8ts/v1/cluster-config answers: the cluster settings an agent must share with its server. */
export interface ClusterConfig {
  clusterDomain: string;
  /** How pod traffic crosses between nodes (k3s's --flannel-backend): every agent follows its server. */
  flannelBackend?: 'vxlan' | 'host-gw' | 'none';
}

/** What GET /k8ts/v1/server-bootstrap answers: file contents by path relative to the data dir. */
export interface ServerBootstrap {
  files: Record<string, string>;
}

/** An etcd member as POST /k8ts/v1/etcd-members lists them (etcd's IDs left out). */
export interface EtcdMemberInfo {
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

/** What a server offers joining servers (absent: it refuses server joins). */
export interface ServerJoinSource {
  bootstrap(): ServerBootstrap;
  /** Adds an etcd member; absent when this server's datastore is not managed etcd. */
  addEtcdMember?: (name: string, peerURL: string) => Promise<EtcdMemberInfo[]>;
}

/** The CA hash of a secure token: sha256 of the CA certificate's PEM text, as stored on disk. */
export function caHash(caPem: string): string {
  return createHash('sha256').update(caPem).digest('hex');
}

export interface ParsedToken {
  /** Hash of the cluster CA (secure tokens only). */
  caHash?: string;
  /** User part of the credentials ("server", "node"), when the token has one. */
  user?: string;
  /** What authenticates the node to the server. */
  secret: string;
}

/**
 * Reads a token in the secure form (`K10<hash>::<user>:<secret>` or `K10<hash>::<secret>`) or the
 * short form (the secret alone). Throws with a message naming what is wrong.
 */
export function parseToken(token: string): ParsedToken {
  const t = token.trim();
  if (!t) throw new Error('the token is empty');
  if (t.startsWith(TOKEN_PREFIX) && t.includes('::')) {
    const sep = t.indexOf('::');
    const hash = t.slice(TOKEN_PREFIX.length, sep).toLowerCase();
    const creds = t.slice(sep + 2);
    if (!/^[0-9a-f]{64}$/.test(hash))
      throw new Error("the token's CA hash is not 64 hex digits (expected K10<sha256>::server:<secret>)");
    const colon = creds.indexOf(':');
    const user = colon >= 0 ? creds.slice(0, colon) : undefined;
    const secret = colon >= 0 ? creds.slice(colon + 1) : creds;
    if (!secret) throw new Error('the token has no secret after its CA hash');
    return { caHash: hash, user, secret };
  }
  return { secret: t };
}

export function formatToken(caPem: string, secret: string, user: 'server' | 'node' = 'server'): string {
  return `${TOKEN_PREFIX}${caHash(caPem)}::${user}:${secret}`;
}

/**
 * The agent-only token (k3s's `--agent-token`, K10<hash>::node:<secret>): from the flag, else the
 * one stored at <dataDir>/server/agent-token (written there, or handed over by the server this one
 * joined); undefined when there is none (agents then join with the server token).
 */
export function loadAgentToken(dataDir: string, caPem: string, flagToken?: string): ServerToken | undefined {
  const path = join(dataDir, 'server', 'agent-token');
  let secret: string | undefined;
  if (flagToken) {
    const parsed = parseToken(flagToken);
    if (parsed.caHash && parsed.caHash !== caHash(caPem))
      throw new Error("--agent-token: the token's CA hash does not match this server's CA");
    secret = parsed.secret;
  } else if (existsSync(path)) {
    secret = parseToken(readFileSync(path, 'utf8')).secret;
  }
  if (!secret) return undefined;
  const full = `${formatToken(caPem, secret, 'node')}\n`;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path) || readFileSync(path, 'utf8') !== full) writeFileSync(path, full, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { secret, path };
}

export interface ServerToken {
  secret: string;
  /** The file holding the full token. */
  path: string;
}

/**
 * The server's join token: from `--token` when given (a secret, or a full token whose CA hash must
 * be this server's), else the one stored under the data dir, else a new random secret. The full
 * token is (re)written to <dataDir>/server/token, mode 0600.
 */
export function loadOrCreateServerToken(dataDir: string, caPem: string, flagToken?: string): ServerToken {
  const path = join(dataDir, 'server', 'token');
  let secret: string | undefined;
  if (flagToken !== undefined && flagToken !== '') {
    const parsed = parseToken(flagToken);
    if (parsed.caHash && parsed.caHash !== caHash(caPem)) {
      throw new Error(
        `--token: the token's CA hash does not match this server's CA (${join(dataDir, 'server', 'tls', 'ca.crt')})`,
      );
    }
    secret = parsed.secret;
  } else if (existsSync(path)) {
    try {
      secret = parseToken(readFileSync(path, 'utf8')).secret;
    } catch {
      secret = undefined;
    }
  }
  secret ??= randomBytes(16).toString('hex');
  const full = `${formatToken(caPem, secret)}\n`;
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (current !== full) writeFileSync(path, full, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { secret, path };
}

/** What POST /k8ts/v1/node-certs answers. */
export interface NodeCertsResponse {
  ca: string;
  /** Node client certificate; key only when the server made the key pair (no csr sent). */
  client: { cert: string; key?: string };
  /** Serving certificate of the node agent's HTTPS server (SANs: node name and IP). */
  serving: { cert: string; key: string };
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const YEAR_MS = 365 * 24 * 3600 * 1000;

function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/** Signs a PKCS#10 request's public key as a node client certificate (its subject is ignored). */
function signNodeCSR(ca: CA, csrPem: string, nodeName: string): string {
  let publicKey: Buffer;
  try {
    publicKey = Buffer.from(parseCertificateRequest(csrPem).csr.publicKey.rawData);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw errors.badRequest(`csr: ${message}`, [{ reason: 'FieldValueInvalid', message, field: 'csr' }]);
  }
  const now = Date.now();
  return issueCertificate(
    {
      subject: distinguishedName(`system:node:${nodeName}`, ['system:nodes']),
      publicKey,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + YEAR_MS),
      keyUsage: [KeyUsage.digitalSignature, KeyUsage.keyEncipherment],
      extKeyUsage: [ExtKeyUsage.clientAuth],
    },
    ca,
  );
}

function fieldError(field: string, message: string): errors.ApiError {
  return errors.badRequest(`${field}: ${message}`, [{ reason: 'FieldValueInvalid', message, field }]);
}

/** Validated body of a node-certs request. */
export function parseNodeCertsRequest(body: unknown): { nodeName: string; nodeIP: string; csr?: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw errors.badRequest('the body must be a JSON object {"nodeName": ..., "nodeIP": ...}');
  const b = body as Record<string, unknown>;
  if (typeof b.nodeName !== 'string' || !b.nodeName) throw fieldError('nodeName', 'Required value: a node name');
  if (b.nodeName.length > 253 || !DNS1123_SUBDOMAIN.test(b.nodeName)) {
    throw fieldError(
      'nodeName',
      `Invalid value: ${JSON.stringify(b.nodeName)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    );
  }
  if (typeof b.nodeIP !== 'string' || !b.nodeIP) throw fieldError('nodeIP', "Required value: the node's IP address");
  if (!isIP(b.nodeIP))
    throw fieldError('nodeIP', `Invalid value: ${JSON.stringify(b.nodeIP)}: must be a valid IP address`);
  if (b.csr !== undefined && typeof b.csr !== 'string') throw fieldError('csr', 'Invalid value: must be a PEM string');
  return { nodeName: b.nodeName, nodeIP: b.nodeIP, csr: b.csr };
}

export interface JoinServiceOptions {
  ca: CA;
  secret: string;
  /**
   * The file of the server token (DATA/server/token): when it changes (`k8ts token rotate` on this
   * server), its secret replaces `secret`, so servers joining later need the new token.
   */
  tokenFile?: string;
  /** The agent-only token's secret: it joins nodes, never servers. */
  agentSecret?: string;
  logger: Logger;
  servers?: ServerJoinSource;
  cluster: ClusterConfig;
}

/** The two unauthenticated join endpoints, registered on the API server's HTTPS port. */
export class JoinService {
  private readonly log: Logger;
  private secret: string;
  private tokenFileStamp?: number;

  constructor(private readonly o: JoinServiceOptions) {
    this.log = o.logger.child({ component: 'join' });
    this.secret = o.secret;
    this.tokenFileStamp = o.tokenFile ? this.stamp(o.tokenFile) : undefined;
  }

  private stamp(path: string): number | undefined {
    try {
      return statSync(path).mtimeMs;
    } catch {
      return undefined;
    }
  }

  /** The server token's secret, read again when its file changed (a rotation). */
  private serverSecret(): string {
    const file = this.o.tokenFile;
    if (!file) return this.secret;
    const stamp = this.stamp(file);
    if (stamp !== undefined && stamp !== this.tokenFileStamp) {
      try {
        this.secret = parseToken(readFileSync(file, 'utf8')).secret;
        this.tokenFileStamp = stamp;
        this.log.info('the server token changed: joins now take the new one');
      } catch {
        // half written: keep the secret we have and look again next time
      }
    }
    return this.secret;
  }

  /** Registers /cacerts and /k8ts/v1/node-certs on a server's public handlers. */
  register(handlers: Map<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>): void {
    handlers.set(CACERTS_PATH, (req, res) => this.cacerts(req, res));
    handlers.set(NODE_CERTS_PATH, (req, res) => this.nodeCerts(req, res));
    handlers.set(SERVER_BOOTSTRAP_PATH, (req, res) => this.serverBootstrap(req, res));
    handlers.set(ETCD_MEMBERS_PATH, (req, res) => this.etcdMembers(req, res));
    handlers.set(CLUSTER_CONFIG_PATH, (req, res) => this.clusterConfig(req, res));
  }

  /** Agents read the cluster's settings here at every start (as k3s agents read their server's config). */
  private clusterConfig(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET')
      return send(res, 405, 'only GET is supported here\n', 'text/plain; charset=utf-8', { Allow: 'GET' });
    this.requireAnyToken(req, 'cluster config');
    sendObject(res, 200, this.o.cluster);
  }

  /** What agents may ask for: either token (an agent may join with the agent-only one). */
  private requireAnyToken(req: IncomingMessage, what: string): void {
    if (this.authorized(req.headers.authorization)) return;
    this.unauthorized(req, what);
  }

  private unauthorized(req: IncomingMessage, what: string): never {
    this.log.warn({ remote: req.socket.remoteAddress }, `${what} refused: wrong or missing token`);
    throw errors.unauthorized('Unauthorized: the join token is not valid for this server');
  }

  /** Server joins want the server token; the agent token is refused with a message saying so. */
  private requireToken(req: IncomingMessage, what: string): void {
    const role = this.authorized(req.headers.authorization);
    if (role === 'server') return;
    if (role === 'agent') {
      this.log.warn({ remote: req.socket.remoteAddress }, `${what} refused: an agent token`);
      throw new errors.ApiError(
        403,
        'Forbidden',
        'the agent token joins agents only: a server joins with the server token (DATA/server/token of a server)',
      );
    }
    this.unauthorized(req, what);
  }

  private serverBootstrap(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET')
      return send(res, 405, 'only GET is supported here\n', 'text/plain; charset=utf-8', { Allow: 'GET' });
    this.requireToken(req, 'server bootstrap');
    if (!this.o.servers) throw errors.badRequest('this server does not accept joining servers');
    this.log.info({ remote: req.socket.remoteAddress }, 'sent server bootstrap data');
    sendObject(res, 200, this.o.servers.bootstrap());
  }

  private async etcdMembers(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST')
      return send(res, 405, 'only POST is supported here\n', 'text/plain; charset=utf-8', { Allow: 'POST' });
    this.requireToken(req, 'etcd member add');
    const add = this.o.servers?.addEtcdMember;
    if (!add)
      throw errors.badRequest(
        'this server does not run managed etcd (start the first server with --cluster-init to join servers as etcd members)',
      );
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
    } catch (err) {
      throw errors.badRequest(`the body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b.name !== 'string' || !b.name) throw fieldError('name', 'Required value: the member name');
    if (typeof b.peerURL !== 'string' || !/^https:\/\/\S+:\d+$/.test(b.peerURL))
      throw fieldError('peerURL', 'Required value: the peer URL, https://address:port');
    let members: EtcdMemberInfo[];
    try {
      members = await add(b.name, b.peerURL);
    } catch (err) {
      // etcd refuses while a member added earlier has not started or the cluster is unhealthy: retry.
      throw errors.serviceUnavailable(`etcd member add: ${err instanceof Error ? err.message : String(err)}`);
    }
    sendObject(res, 200, { members });
  }

  private cacerts(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'only GET is supported here\n', 'text/plain; charset=utf-8', { Allow: 'GET, HEAD' });
    send(res, 200, req.method === 'HEAD' ? '' : this.o.ca.certPem, 'application/x-pem-file');
  }

  /**
   * Whose secret an Authorization header carries (as a bearer token or basic password): the
   * server token's, the agent token's, or neither.
   */
  authorized(header: string | undefined): 'server' | 'agent' | undefined {
    if (!header) return undefined;
    let presented: string | undefined;
    if (/^bearer /i.test(header)) {
      const raw = header.slice(7).trim();
      try {
        const parsed = parseToken(raw);
        if (parsed.caHash && parsed.caHash !== caHash(this.o.ca.certPem)) return undefined;
        presented = parsed.secret;
      } catch {
        return undefined;
      }
    } else if (/^basic /i.test(header)) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      presented = colon >= 0 ? decoded.slice(colon + 1) : undefined;
    }
    if (presented === undefined) return undefined;
    if (sameSecret(presented, this.serverSecret())) return 'server';
    return this.o.agentSecret && sameSecret(presented, this.o.agentSecret) ? 'agent' : undefined;
  }

  private async nodeCerts(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST')
      return send(res, 405, 'only POST is supported here\n', 'text/plain; charset=utf-8', { Allow: 'POST' });
    this.requireAnyToken(req, 'node join');
    const raw = await readBody(req, 64 * 1024);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw errors.badRequest(`the body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const { nodeName, nodeIP, csr } = parseNodeCertsRequest(body);
    const { ca } = this.o;
    const client = csr
      ? { cert: signNodeCSR(ca, csr, nodeName) }
      : keyPairAnswer(
          await issue(ca, { commonName: `system:node:${nodeName}`, organizations: ['system:nodes'], client: true }),
        );
    const serving = await issue(ca, { commonName: nodeName, sans: [...new Set([nodeName, nodeIP])], server: true });
    this.log.info({ node: nodeName, nodeIP, remote: req.socket.remoteAddress }, 'issued node certificates');
    const answer: NodeCertsResponse = {
      ca: ca.certPem,
      client,
      serving: { cert: serving.certPem, key: serving.keyPem },
    };
    sendObject(res, 200, answer);
  }
}

const keyPairAnswer = (p: KeyPair) => ({ cert: p.certPem, key: p.keyPem });

// Key material for a CSR made by the agent itself (kept here so both sides agree on the algorithm).
export function makeNodeCSR(nodeName: string): Promise<{ csrPem: string; keyPem: string }> {
  const keys = generateKeys();
  const csrPem = certificateRequest(distinguishedName(`system:node:${nodeName}`, ['system:nodes']), keys);
  return Promise.resolve({ csrPem, keyPem: keys.keyPem });
}
