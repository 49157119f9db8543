// The node agent inside `k8ts server`: an in-process client acting as the node, and a serving
// certificate from the server's own CA (`k8ts agent` in join.ts gets both from a server instead).
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ApiServer } from '../apiserver/server.js';
import { issue, loadOrIssue, storeKeyPair, type CA } from '../machinery/pki.js';
import { NodeAgent } from '../agent/agent.js';
import type { FlannelBackend } from '../agent/network/routes.js';
import type { AgentFlags } from './agentflags.js';
import { agentOptionsFromFlags } from './agentoptions.js';
import { primaryIPv4 } from '../agent/hostinfo.js';
import { defaultDataDir } from './datadir.js';
import { inProcessClient } from '../apiserver/inprocess.js';
import { R } from '../client/client.js';
import { KUBE_PROXY, componentServiceAccount, nodeUser } from '../server/identities.js';

export async function startLocalAgent(
  api: ApiServer,
  ca: CA,
  flags: AgentFlags & { clusterDomain: string; flannelBackend: FlannelBackend },
  dataDir: string,
  logger: Logger,
): Promise<NodeAgent> {
  const nodeName = (flags.nodeName ?? hostname()).toLowerCase();
  const nodeIP = flags.nodeIp ?? primaryIPv4();
  const tlsDir = join(dataDir, 'agent', 'tls');
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const servingOptions = {
    commonName: nodeName,
    sans: [nodeName, nodeIP, '127.0.0.1', 'localhost'],
    server: true,
  };
  const serving = await loadOrIssue(ca, tlsDir, 'serving-kubelet', servingOptions);
  const options = agentOptionsFromFlags(flags);
  const agent = new NodeAgent({
    client: inProcessClient(api, {
      fieldManager: 'kubelet',
      // Held by the Node authorizer and NodeRestriction to this node, as a joined agent is.
      user: nodeUser(nodeName),
    }),
    // kube-proxy's own user, bound to system:node-proxier.
    proxyClient: inProcessClient(api, { fieldManager: 'kube-proxy', user: KUBE_PROXY }),
    // The event exporter reads every namespace's Events: an identity of its own, not the node's.
    eventsClient: inProcessClient(api, {
      fieldManager: 'event-exporter',
      user: componentServiceAccount('event-exporter'),
    }),
    nodeName,
    dataDir,
    isDefaultDataDir: resolve(dataDir) === resolve(defaultDataDir()),
    ...options,
    // The server's own node exports the cluster's events too (once per cluster, not per node).
    logging: { ...options.logging, exportEvents: true },
    nodeIP,
    tls: { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem },
    // Renewed from the server's CA while running, as loadOrIssue would at the next start.
    renewServingCertificate: async () => {
      const pair = await issue(ca, servingOptions);
      storeKeyPair(tlsDir, 'serving-kubelet', pair);
      return pair;
    },
    clusterDomain: flags.clusterDomain,
    flannelBackend: flags.flannelBackend,
    logger,
  });
  await agent.start();
  // A node may not give itself node-role labels (NodeRestriction): the server marks its own node,
  // as kubeadm and k3s do after the kubelet registered.
  await inProcessClient(api, {
    fieldManager: 'k8ts',
    user: { name: 'system:admin', groups: ['system:masters', 'system:authenticated'] },
  })
    .resource(R.nodes)
    .patch(nodeName, 'merge', { metadata: { labels: { 'node-role.kubernetes.io/control-plane': 'true' } } });
  return agent;
}
