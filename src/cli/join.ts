// `k8ts agent --server URL --token TOKEN`: a node agent on another machine. It checks the
// server's CA against the token's hash (fetched from /cacerts without TLS verification, as k3s
// does), exchanges the token for a node client certificate and a serving certificate (kept under
// DATA/agent/tls and reused on restart), writes DATA/agent/kubeconfig.yaml and runs the NodeAgent
// over HTTPS with that identity. Unless --rotate-certificates=false, the client certificate is
// renewed through CertificateSigningRequests before it expires (agent/certrotation.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { Agent, request } from 'undici';
import { X509Certificate } from 'node:crypto';
import { notAfter, sansOf, storeKeyPair } from '../machinery/pki.js';
import {
  CACERTS_PATH,
  NODE_CERTS_PATH,
  caHash,
  makeNodeCSR,
  parseToken,
  type NodeCertsResponse,
  type ParsedToken,
} from '../apiserver/join.js';
import { Client, R, spec } from '../client/client.js';
import { HttpsTransport } from '../client/https.js';
import { loadKubeconfig } from '../client/kubeconfig.js';
import { ServerPool, followApiServers } from '../client/serverpool.js';
import type { Service } from 'kubernetes-types/core/v1.js';
import { NodeAgent } from '../agent/agent.js';
import type { AgentFlags } from './agentflags.js';
import { agentOptionsFromFlags } from './agentoptions.js';
import { primaryIPv4 } from '../agent/hostinfo.js';
import { writeKubeconfig } from '../server/kubeconfig.js';
import { defaultDataDir } from './datadir.js';
import { fetchClusterConfig } from './clusterconfig.js';
import { parseBool } from './component.js';
import { keyMatches, loadClientCredential, storeClientCredential } from '../agent/certstore.js';
import { ClientCertRotation } from '../agent/certrotation.js';
import { startIngressFromFlags, type IngressFlags } from './ingressflags.js';
import type { IngressController } from '../ingress/controller.js';

export interface JoinFlags extends AgentFlags, IngressFlags {
  server?: string;
  token?: string;
  tokenFile?: string;
  dataDir?: string;
  clusterDomain?: string;
  nodeLabel?: string[];
  logLevel: string;
  /** --rotate-certificates (default true): renew the client certificate through CSRs. */
  rotateCertificates?: string | boolean;
}

/** A refusal the user must act on (wrong token, wrong server): no retry. */
export class JoinError extends Error {}

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

interface NodeIdentity {
  ca: string;
  clientCert: string;
  clientKey: string;
  servingCert: string;
  servingKey: string;
}

/** The files beside the client credential (which certstore.ts keeps). */
function files(dir: string) {
  return {
    ca: join(dir, 'ca.crt'),
    servingCert: join(dir, 'serving-kubelet.crt'),
    servingKey: join(dir, 'serving-kubelet.key'),
  };
}

/**
 * The stored identity, when it is still good for this node, name, IP and cluster CA. With
 * `rotating`, a client certificate that has not expired is good (the rotation renews it);
 * without, it must last another 30 days, else the agent joins again with its token.
 */
export function storedIdentity(
  dir: string,
  caPem: string,
  nodeName: string,
  nodeIP: string,
  rotating = false,
  log?: Logger,
): NodeIdentity | undefined {
  const f = files(dir);
  if (!Object.values(f).every((p) => existsSync(p))) return undefined;
  try {
    const client = loadClientCredential(dir);
    if (!client) return undefined;
    const id: NodeIdentity = {
      ca: readFileSync(f.ca, 'utf8'),
      clientCert: client.certPem,
      clientKey: client.keyPem,
      servingCert: readFileSync(f.servingCert, 'utf8'),
      servingKey: readFileSync(f.servingKey, 'utf8'),
    };
    if (id.ca !== caPem) return undefined;
    const subject = new X509Certificate(id.clientCert).subject.split('\n');
    if (!subject.includes(`CN=system:node:${nodeName}`) || !keyMatches(client)) return undefined;
    const now = Date.now();
    const clientExpiry = notAfter(id.clientCert).getTime();
    if (clientExpiry <= now) {
      log?.error(
        { notAfter: new Date(clientExpiry).toISOString() },
        `the stored client certificate expired at ${new Date(clientExpiry).toISOString()}: joining again with the token`,
      );
      return undefined;
    }
    const soon = now + RENEW_BEFORE_MS;
    if ((!rotating && clientExpiry < soon) || notAfter(id.servingCert).getTime() < soon) return undefined;
    const sans = new Set(sansOf(id.servingCert));
    if (!sans.has(nodeName) || !sans.has(nodeIP)) return undefined;
    return id;
  } catch {
    return undefined;
  }
}

function storeIdentity(dir: string, id: NodeIdentity): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = files(dir);
  writeFileSync(f.ca, id.ca, { mode: 0o644 });
  storeClientCredential(dir, { certPem: id.clientCert, keyPem: id.clientKey });
  writeFileSync(f.servingCert, id.servingCert, { mode: 0o644 });
  writeFileSync(f.servingKey, id.servingKey, { mode: 0o600 });
}

function describe(err: unknown): string {
  const e = err as any;
  const cause = e?.cause;
  const code = cause?.code ?? e?.code;
  const msg = cause?.message ?? e?.message ?? String(err);
  return code && !String(msg).includes(code) ? `${code}: ${msg}` : String(msg);
}

/** GET /cacerts without verifying the server (there is nothing to verify it with yet). */
export async function fetchCACerts(server: string): Promise<string> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(`${server}${CACERTS_PATH}`, {
      method: 'GET',
      dispatcher,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const body = await res.body.text();
    if (res.statusCode !== 200)
      throw new JoinError(`${server}${CACERTS_PATH} answered ${res.statusCode}: is this a k8ts server?`);
    if (!body.includes('-----BEGIN CERTIFICATE-----'))
      throw new JoinError(`${server}${CACERTS_PATH} did not return a PEM certificate: is this a k8ts server?`);
    return body;
  } finally {
    await dispatcher.close();
  }
}

/** Checks the served CA against the token: a secure token pins it, a short one trusts it. */
export function verifyCA(caPem: string, token: ParsedToken, server: string, log?: Logger): void {
  if (!token.caHash) {
    log?.warn('the token has no CA hash (short format): trusting the CA the server presents');
    return;
  }
  const got = caHash(caPem);
  if (got !== token.caHash) {
    throw new JoinError(
      `the CA certificate of ${server} does not match the token (token expects sha256 ${token.caHash}, server has ${got}): ` +
        'refusing to send credentials. Check that --server points at the server that printed this token.',
    );
  }
}

/** Exchanges the token for node certificates, verifying the server against its CA. */
export async function requestNodeCerts(
  server: string,
  caPem: string,
  token: ParsedToken,
  nodeName: string,
  nodeIP: string,
): Promise<NodeIdentity> {
  const dispatcher = new Agent({ connect: { ca: caPem, rejectUnauthorized: true } });
  const { csrPem, keyPem } = await makeNodeCSR(nodeName);
  try {
    let res;
    try {
      res = await request(`${server}${NODE_CERTS_PATH}`, {
        method: 'POST',
        dispatcher,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${token.secret}`,
        },
        body: JSON.stringify({ nodeName, nodeIP, csr: csrPem }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (err) {
      const code = (err as any)?.cause?.code ?? (err as any)?.code;
      if (
        typeof code === 'string' &&
        (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT')
      ) {
        throw new JoinError(
          `the serving certificate of ${server} does not verify against its CA (${describe(err)}); if you reach the server by a name or IP it does not know, start it with --tls-san <that name>`,
        );
      }
      throw err;
    }
    const text = await res.body.text();
    if (res.statusCode === 401)
      throw new JoinError(
        `${server} refused the join token (401 Unauthorized): the token is wrong for this server; use the one in <server data dir>/server/token`,
      );
    if (res.statusCode !== 200) {
      let message = text;
      try {
        message = JSON.parse(text).message ?? text;
      } catch {
        /* plain text */
      }
      throw new JoinError(`${server} refused to issue node certificates (${res.statusCode}): ${message}`);
    }
    const answer = JSON.parse(text) as NodeCertsResponse;
    return {
      ca: answer.ca,
      clientCert: answer.client.cert,
      clientKey: answer.client.key ?? keyPem,
      servingCert: answer.serving.cert,
      servingKey: answer.serving.key,
    };
  } finally {
    await dispatcher.close();
  }
}

/** Finds the server, checks it and gets this node's identity (stored or new); retries while unreachable. */
async function join_(
  server: string,
  token: ParsedToken,
  tlsDir: string,
  nodeName: string,
  nodeIP: string,
  log: Logger,
  stopped: () => boolean,
  rotating: boolean,
): Promise<NodeIdentity> {
  let delay = 1000;
  for (;;) {
    try {
      const caPem = await fetchCACerts(server);
      verifyCA(caPem, token, server, log);
      const stored = storedIdentity(tlsDir, caPem, nodeName, nodeIP, rotating, log);
      if (stored) {
        log.info({ dir: tlsDir }, 'reusing stored node certificates');
        return stored;
      }
      const id = await requestNodeCerts(server, caPem, token, nodeName, nodeIP);
      storeIdentity(tlsDir, id);
      log.info({ dir: tlsDir }, 'node certificates issued by the server');
      return id;
    } catch (err) {
      if (err instanceof JoinError || stopped()) throw err;
      log.warn(`cannot reach ${server} yet (${describe(err)}); retrying in ${Math.round(delay / 1000)}s`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }
}

function parseLabels(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list ?? []) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`--node-label: ${JSON.stringify(l)} is not key=value`);
    out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}

export async function runAgent(flags: JoinFlags): Promise<void> {
  const logger = pino({ level: flags.logLevel, name: 'k8ts-agent', base: {} }, pino.destination(2));
  const server = (flags.server ?? '').replace(/\/+$/, '');
  if (!server)
    throw new Error('--server is required (or K8TS_URL): the URL of the k8ts server, e.g. https://10.0.0.1:6443');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`--server: ${JSON.stringify(server)} is not a URL (want https://HOST:6443)`);
  }
  if (url.protocol !== 'https:') throw new Error(`--server: ${server} must be an https:// URL`);
  let rawToken = flags.token;
  if (!rawToken && flags.tokenFile) rawToken = readFileSync(flags.tokenFile, 'utf8');
  if (!rawToken)
    throw new Error(
      "--token is required (or --token-file, K8TS_TOKEN): the token from the server's <data dir>/server/token",
    );
  let token: ParsedToken;
  try {
    token = parseToken(rawToken);
  } catch (err) {
    throw new Error(`--token: ${(err as Error).message}`, { cause: err });
  }
  const dataDir = resolve(flags.dataDir ?? defaultDataDir());
  const nodeName = (flags.nodeName ?? hostname()).toLowerCase();
  const nodeIP = flags.nodeIp ?? primaryIPv4();
  const agentOptions = agentOptionsFromFlags(flags);
  const labels = parseLabels(flags.nodeLabel);
  const tlsDir = join(dataDir, 'agent', 'tls');
  const rotating = parseBool(flags.rotateCertificates ?? true, '--rotate-certificates');

  let stopping = false;
  // What is running so far: the signal handlers are installed before any of it starts.
  const running: {
    agent?: NodeAgent;
    client?: Client;
    ingress?: IngressController;
    rotation?: ClientCertRotation;
    stopFollowing?: () => void;
  } = {};
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const { agent, client, ingress, rotation, stopFollowing } = running;
    stopFollowing?.();
    await rotation?.stop();
    await ingress?.stop().catch((err) => logger.warn({ err }, 'stopping the ingress controller failed'));
    await agent?.stop().catch((err) => logger.warn({ err }, 'stopping the agent failed'));
    await client?.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  let id: NodeIdentity;
  try {
    id = await join_(server, token, tlsDir, nodeName, nodeIP, logger, () => stopping, rotating);
  } catch (err) {
    if (err instanceof JoinError) throw new Error(`cannot join ${server}: ${err.message}`, { cause: err });
    throw err;
  }
  const kubeconfig = join(dataDir, 'agent', 'kubeconfig.yaml');
  const writeAgentKubeconfig = (certPem: string, keyPem: string) =>
    writeKubeconfig(kubeconfig, { server, caPem: id.ca, certPem, keyPem, name: 'k8ts-agent' }, 0o600);
  writeAgentKubeconfig(id.clientCert, id.clientKey);
  // As k3s's agent load balancer: every API server the `kubernetes` Service lists, failing over
  // between them when the one in use dies (the list is kept in DATA/agent/etc/servers.json).
  const servers = new ServerPool(server, join(dataDir, 'agent', 'etc', 'servers.json'), (from, to) =>
    logger.warn({ from, to }, 'API server unreachable; switching'),
  );
  const transport = new HttpsTransport(loadKubeconfig(kubeconfig), { fieldManager: 'kubelet', servers });
  const client = (running.client = new Client(transport));
  if (rotating) {
    running.rotation = new ClientCertRotation({
      client,
      nodeName,
      current: { certPem: id.clientCert, keyPem: id.clientKey },
      store: (cred) => {
        storeClientCredential(tlsDir, cred);
        writeAgentKubeconfig(cred.certPem, cred.keyPem);
      },
      use: (cred) => transport.setClientCertificate(cred.certPem, cred.keyPem),
      rejoin: async () => {
        const caPem = await fetchCACerts(server);
        verifyCA(caPem, token, server, logger);
        const fresh = await requestNodeCerts(server, caPem, token, nodeName, nodeIP);
        return { certPem: fresh.clientCert, keyPem: fresh.clientKey };
      },
      logger,
    });
    running.rotation.start();
  }
  running.stopFollowing = followApiServers(client, servers, logger);
  // Without --cluster-dns (or --service-cidr to derive it from), pods get the server's cluster DNS,
  // as k3s agents learn it from their server: the default guess is wrong for any other range.
  const clusterDNS =
    flags.clusterDns?.length || flags.serviceCidr
      ? agentOptions.clusterDNS
      : ((await serverClusterDNS(client, logger)) ?? agentOptions.clusterDNS);
  const serverConfig = await fetchClusterConfig(server, id.ca, token.secret, logger);
  const agent = (running.agent = new NodeAgent({
    client,
    nodeName,
    dataDir,
    isDefaultDataDir: dataDir === resolve(defaultDataDir()),
    ...agentOptions,
    clusterDNS,
    nodeIP,
    tls: { cert: id.servingCert, key: id.servingKey, ca: id.ca },
    // Renewed while running with the join token (as it was issued), stored for the next start.
    renewServingCertificate: async () => {
      const caPem = await fetchCACerts(server);
      verifyCA(caPem, token, server, logger);
      const fresh = await requestNodeCerts(server, caPem, token, nodeName, nodeIP);
      const pair = { certPem: fresh.servingCert, keyPem: fresh.servingKey };
      storeKeyPair(tlsDir, 'serving-kubelet', pair);
      return pair;
    },
    clusterDomain: flags.clusterDomain ?? serverConfig?.clusterDomain ?? 'cluster.local',
    // A server that does not say is older than the overlay: its nodes route host-gw style.
    flannelBackend: serverConfig ? (serverConfig.flannelBackend ?? 'host-gw') : 'vxlan',
    labels,
    logger,
  }));
  await agent.start();
  running.ingress = await startIngressFromFlags(flags, 'agent', client, logger, nodeName, dataDir);
  if (stopping) return;
  process.stdout.write(
    `k8ts agent ready: node ${nodeName} (${nodeIP}) joined ${server} (data ${dataDir}, kubeconfig ${kubeconfig})\n`,
  );
}

/** The addresses of the cluster's kube-system/kube-dns Service; undefined when it has none. */
async function serverClusterDNS(client: Client, logger: Logger): Promise<string[] | undefined> {
  try {
    const svc = await client.resource(spec<Service>(R.services)).namespace('kube-system').get('kube-dns');
    const ips = (svc.spec?.clusterIPs ?? [svc.spec?.clusterIP]).filter((ip): ip is string => !!ip && ip !== 'None');
    return ips.length ? ips : undefined;
  } catch (err) {
    logger.warn({ err }, 'no kube-dns Service found: pods get the default cluster DNS address');
    return undefined;
  }
}
