// The node agent's flag values (agentflags.ts) turned into NodeAgent options; bad values fail
// here, naming the flag.
import type { AgentOptions, RuntimeChoice } from '../agent/agent.js';
import { FLANNEL_BACKENDS, type FlannelBackend } from '../agent/network/routes.js';
import { parseEvictionHard } from '../agent/eviction.js';
import ipaddr from 'ipaddr.js';
import { tenthAddress } from '../dns/kubedns.js';
import type { ProxySettings } from '../proxy/index.js';
import { PROXY_MODES, SCHEDULERS, type Scheduler } from '../proxy/model.js';
import type { AgentFlags } from './agentflags.js';
import { resolve } from 'node:path';
import { parseQuantityOrNull } from '../machinery/quantity.js';
import type { NodeLoggingSettings } from '../agent/logging/node.js';
import { parseSink } from '../agent/logging/sinks.js';

/** --flannel-backend: vxlan (k3s's default), host-gw or none. */
export function flannelBackendFromFlag(value: string | undefined): FlannelBackend {
  const v = value ?? 'vxlan';
  if (!(FLANNEL_BACKENDS as readonly string[]).includes(v))
    throw new Error(`--flannel-backend: invalid backend ${JSON.stringify(v)} (want ${FLANNEL_BACKENDS.join(', ')})`);
  return v as FlannelBackend;
}

/** --cluster-dns, or k3s's default: the 10th address of the service CIDR. */
export function clusterDNSFromFlags(flags: AgentFlags): string[] {
  const ips = flags.clusterDns?.length ? flags.clusterDns : [tenthAddress(flags.serviceCidr ?? '10.43.0.0/16')];
  for (const ip of ips) if (!ipaddr.isValid(ip)) throw new Error(`--cluster-dns: not an IP address: ${ip}`);
  return ips.slice(0, 3);
}

/** The NodeAgent options the flags decide; bad values fail here, naming the flag. */
export function agentOptionsFromFlags(
  flags: AgentFlags,
): Pick<
  AgentOptions,
  | 'runtime'
  | 'containerRuntimeEndpoint'
  | 'privateRegistry'
  | 'clusterDNS'
  | 'resolvConf'
  | 'evictionHard'
  | 'podMaxPids'
  | 'port'
  | 'proxy'
  | 'disableNetworkPolicy'
  | 'logging'
> {
  const port = Number(flags.kubeletPort ?? 10250);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--kubelet-port: invalid port ${flags.kubeletPort}`);
  const podMaxPids = Number(flags.podMaxPids ?? -1);
  if (!Number.isInteger(podMaxPids) || podMaxPids < -1)
    throw new Error(`--pod-max-pids: invalid count ${flags.podMaxPids} (want -1 or more)`);
  if (flags.evictionHard !== undefined) parseEvictionHard(flags.evictionHard);
  return {
    runtime: (flags.runtime ?? 'auto') as RuntimeChoice,
    containerRuntimeEndpoint: flags.containerRuntimeEndpoint,
    privateRegistry: flags.privateRegistry,
    clusterDNS: clusterDNSFromFlags(flags),
    resolvConf: resolve(flags.resolvConf ?? '/etc/resolv.conf'),
    evictionHard: flags.evictionHard,
    podMaxPids,
    port,
    proxy: flags.disableKubeProxy ? undefined : proxySettings(flags),
    disableNetworkPolicy: flags.disableNetworkPolicy ?? false,
    logging: loggingFromFlags(flags),
  };
}

function loggingFromFlags(flags: AgentFlags): NodeLoggingSettings {
  const size = parseQuantityOrNull(flags.containerLogMaxSize ?? '10Mi');
  if (!size || size.sign() <= 0) throw new Error(`--container-log-max-size: invalid size ${flags.containerLogMaxSize}`);
  const maxFiles = Number(flags.containerLogMaxFiles ?? 5);
  if (!Number.isInteger(maxFiles) || maxFiles < 2)
    throw new Error(`--container-log-max-files: invalid count ${flags.containerLogMaxFiles} (want 2 or more)`);
  return {
    logDir: flags.podLogDir ? resolve(flags.podLogDir) : undefined,
    maxSizeBytes: size.asNumber(),
    maxFiles,
    sinks: (flags.logSink ?? []).map(parseSink),
  };
}

function proxySettings(flags: AgentFlags): ProxySettings {
  const mode = (flags.proxyMode ?? 'auto') as ProxySettings['mode'];
  if (!(PROXY_MODES as readonly string[]).includes(mode))
    throw new Error(`--proxy-mode: invalid mode ${flags.proxyMode} (want ${PROXY_MODES.join(', ')})`);
  const scheduler = (flags.lbScheduler ?? 'rr') as Scheduler;
  if (!(SCHEDULERS as readonly string[]).includes(scheduler))
    throw new Error(`--lb-scheduler: invalid scheduler ${flags.lbScheduler} (want ${SCHEDULERS.join(', ')})`);
  // A dual-stack cluster's --cluster-cidr lists an IPv6 range too; the service proxy is IPv4-only.
  const clusterCIDR = flags.clusterCidr?.split(',').find((c) => !c.includes(':'));
  return { mode, scheduler, clusterCIDR };
}
