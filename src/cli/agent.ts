// Wiring of the node agent: in `k8ts server` (in-process client, certificates from the server's
// CA) and, later, as `k8ts agent` joining a remote server.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { Client } from '../client/client.js';
import type { ApiServer } from '../apiserver/server.js';
import { loadOrIssue, type CA } from '../apiserver/pki.js';
import { NodeAgent, type RuntimeChoice } from '../agent/agent.js';
import { primaryIPv4 } from '../agent/hostinfo.js';
import { defaultDataDir, type ServerFlags } from './server.js';

export async function startLocalAgent(api: ApiServer, ca: CA, flags: ServerFlags, dataDir: string, logger: Logger): Promise<NodeAgent> {
  const nodeName = (flags.nodeName ?? hostname()).toLowerCase();
  const nodeIP = flags.nodeIp ?? primaryIPv4();
  const port = Number(flags.kubeletPort ?? 10250);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--kubelet-port: invalid port ${flags.kubeletPort}`);
  const tlsDir = join(dataDir, 'agent', 'tls');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const serving = await loadOrIssue(ca, tlsDir, 'serving-kubelet', { commonName: nodeName, sans: [nodeName, nodeIP, '127.0.0.1', 'localhost'], server: true });
  const agent = new NodeAgent({
    client: Client.inProcess(api, { fieldManager: 'kubelet', user: { name: `system:node:${nodeName}`, groups: ['system:nodes', 'system:masters', 'system:authenticated'] } }),
    nodeName,
    dataDir,
    isDefaultDataDir: resolve(dataDir) === resolve(defaultDataDir()),
    runtime: (flags.runtime ?? 'auto') as RuntimeChoice,
    containerRuntimeEndpoint: flags.containerRuntimeEndpoint,
    privateRegistry: flags.privateRegistry,
    nodeIP,
    port,
    tls: { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem },
    clusterDNS: flags.clusterDns ?? [],
    clusterDomain: flags.clusterDomain,
    labels: { 'node-role.kubernetes.io/control-plane': 'true' },
    podMaxPids: Number(flags.podMaxPids ?? -1),
    logger,
  });
  await agent.start();
  return agent;
}
