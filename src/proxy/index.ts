// The service proxy a node agent runs (kube-proxy's job): picks the mode and its backend, and
// names what it adds to the host after the data dir, so two clusters on one host never share rules.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { hostObjectName } from '../machinery/hostnames.js';
import type { PROXY_MODES, Scheduler } from './model.js';
import { NftablesBackend } from './nftbackend.js';
import { Proxier, type ProxyBackend } from './proxier.js';
import { UserspaceBackend } from './userspace.js';
import { IptablesBackend, chainPrefix, cleanUpIptables } from './iptables.js';

export type ProxyMode = 'nftables' | 'iptables' | 'userspace';
export { PROXY_MODES } from './model.js';

export interface ProxySettings {
  mode: (typeof PROXY_MODES)[number];
  scheduler: Scheduler;
  /** The pod range (--cluster-cidr): traffic to cluster IPs from outside it is masqueraded. */
  clusterCIDR?: string;
}

/** The name of this cluster's nftables table (and prefix of its iptables chains). */
export function proxyTableName(agentDir: string, isDefaultDataDir: boolean): string {
  return hostObjectName(agentDir, isDefaultDataDir);
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** The mode `auto` means on this host: nftables when root with `nft`, else the userspace proxy. */
export function resolveMode(mode: ProxySettings['mode']): ProxyMode {
  if (mode !== 'auto') return mode;
  return process.getuid?.() === 0 && has('nft') ? 'nftables' : 'userspace';
}

export function makeBackend(mode: ProxyMode, table: string, settings: ProxySettings, log: Logger): ProxyBackend {
  switch (mode) {
    case 'nftables':
      return new NftablesBackend({ table, clusterCIDR: settings.clusterCIDR });
    case 'userspace':
      return new UserspaceBackend(
        table,
        log.child({ component: 'userspace-proxy' }),
        process.getuid?.() === 0 && has('nft'),
      );
    case 'iptables':
      return new IptablesBackend({ prefix: chainPrefix(table), clusterCIDR: settings.clusterCIDR });
  }
}

/** Kernel settings the kernel modes need: forwarding, and bridged pod traffic seen by netfilter (replies un-DNATed). */
function enableForwarding(log: Logger): void {
  for (const [file, what] of [
    ['/proc/sys/net/ipv4/ip_forward', 'IP forwarding'],
    ['/proc/sys/net/bridge/bridge-nf-call-iptables', 'netfilter on bridged traffic (br_netfilter)'],
  ]) {
    try {
      writeFileSync(file, '1');
    } catch (err) {
      log.warn(
        { err: (err as Error).message },
        `could not enable ${what}; pods on one bridge may not reach each other through services`,
      );
    }
  }
}

export async function startServiceProxy(o: {
  client: Client;
  nodeName: string;
  agentDir: string;
  isDefaultDataDir: boolean;
  settings: ProxySettings;
  logger: Logger;
}): Promise<Proxier> {
  const mode = resolveMode(o.settings.mode);
  const table = proxyTableName(o.agentDir, o.isDefaultDataDir);
  if (mode !== 'userspace') enableForwarding(o.logger);
  const backend = makeBackend(mode, table, o.settings, o.logger);
  const proxier = new Proxier({
    client: o.client,
    nodeName: o.nodeName,
    backend,
    defaultScheduler: o.settings.scheduler,
    logger: o.logger,
  });
  await proxier.start();
  return proxier;
}

/** Removes every rule and address any proxy mode of this data dir added (for `k8ts killall`). */
export async function cleanUpServiceProxy(agentDir: string, isDefaultDataDir: boolean): Promise<void> {
  const table = proxyTableName(agentDir, isDefaultDataDir);
  // nftables and userspace modes: the table; iptables mode: the chains named after it.
  await new NftablesBackend({ table }).cleanup().catch(() => undefined);
  if (has('iptables')) cleanUpIptables(chainPrefix(table));
}
