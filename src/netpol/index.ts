// NetworkPolicy enforcement on a node (issue 12): started by the node agent beside the service
// proxy, its table named after the data dir so two clusters on one host never share it.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { hostObjectName } from '../machinery/hostnames.js';
import { NetworkPolicyController, removeNetworkPolicyTable } from './controller.js';

export function networkPolicyTableName(agentDir: string, isDefaultDataDir: boolean): string {
  return `${hostObjectName(agentDir, isDefaultDataDir)}-netpol`;
}

export function startNetworkPolicyController(o: {
  client: Client;
  nodeName: string;
  agentDir: string;
  isDefaultDataDir: boolean;
  logger: Logger;
}): NetworkPolicyController | undefined {
  if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v nft'], { stdio: 'ignore' }).status !== 0) {
    o.logger.warn('NetworkPolicies are not enforced on this node: that needs root and nft (nftables)');
    return undefined;
  }
  // Pods on one bridge reach each other without routing: only with br_netfilter do their packets
  // pass the forward hook the rules sit on.
  try {
    writeFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
    writeFileSync('/proc/sys/net/bridge/bridge-nf-call-ip6tables', '1');
  } catch (err) {
    o.logger.warn(
      { err: (err as Error).message },
      'could not enable netfilter on bridged traffic (br_netfilter); policies will not apply between pods of this node',
    );
  }
  const controller = new NetworkPolicyController({
    client: o.client,
    nodeName: o.nodeName,
    table: networkPolicyTableName(o.agentDir, o.isDefaultDataDir),
    logger: o.logger,
  });
  controller.start();
  return controller;
}

/** Removes this data dir's policy table (`k8ts killall`, an agent started with --disable-network-policy). */
export async function cleanUpNetworkPolicy(agentDir: string, isDefaultDataDir: boolean): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await removeNetworkPolicyTable(networkPolicyTableName(agentDir, isDefaultDataDir)).catch(() => undefined);
}
