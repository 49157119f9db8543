// Baseline checks on what a pod shares with its node: host namespaces, hostPath volumes, host
// ports, Windows HostProcess, and sysctls outside the safe (namespaced, isolated) set.
import {
  ALLOWED,
  allContainers,
  containersPhrase,
  forbid,
  joinQuote,
  pluralize,
  sortedSet,
  type Check,
} from './check.js';

export const hostNamespaces: Check = {
  id: 'hostNamespaces',
  level: 'baseline',
  check(_meta, spec) {
    const set: string[] = [];
    if (spec.hostNetwork) set.push('hostNetwork=true');
    if (spec.hostPID) set.push('hostPID=true');
    if (spec.hostIPC) set.push('hostIPC=true');
    return set.length ? forbid('host namespaces', set.join(', ')) : ALLOWED;
  },
};

export const hostPathVolumes: Check = {
  id: 'hostPathVolumes',
  level: 'baseline',
  check(_meta, spec) {
    const names = (spec.volumes ?? []).filter((v) => v.hostPath).map((v) => v.name);
    return names.length
      ? forbid('hostPath volumes', `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)}`)
      : ALLOWED;
  },
};

export const hostPorts: Check = {
  id: 'hostPorts',
  level: 'baseline',
  check(_meta, spec) {
    const bad: string[] = [];
    const ports: string[] = [];
    for (const c of allContainers(spec)) {
      const used = (c.ports ?? []).filter((p) => p.hostPort).map((p) => String(p.hostPort));
      if (used.length) bad.push(c.name);
      ports.push(...used);
    }
    if (!bad.length) return ALLOWED;
    const list = sortedSet(ports);
    return forbid(
      'hostPort',
      `${containersPhrase(bad)} ${pluralize('uses', 'use', bad.length)} ${pluralize('hostPort', 'hostPorts', list.length)} ${list.join(', ')}`,
    );
  },
};

export const windowsHostProcess: Check = {
  id: 'windowsHostProcess',
  level: 'baseline',
  check(_meta, spec) {
    const podSet = spec.securityContext?.windowsOptions?.hostProcess === true;
    const bad = allContainers(spec)
      .filter((c) => c.securityContext?.windowsOptions?.hostProcess === true)
      .map((c) => c.name);
    if (!podSet && !bad.length) return ALLOWED;
    const setters: string[] = [];
    if (podSet) setters.push('pod');
    if (bad.length) setters.push(containersPhrase(bad));
    return forbid(
      'hostProcess',
      `${setters.join(' and ')} must not set securityContext.windowsOptions.hostProcess=true`,
    );
  },
};

/** Namespaced and isolated from other pods: the sysctls baseline allows. */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);

export const sysctls: Check = {
  id: 'sysctls',
  level: 'baseline',
  check(_meta, spec) {
    const bad = (spec.securityContext?.sysctls ?? []).map((s) => s.name).filter((n) => !SAFE_SYSCTLS.has(n));
    return bad.length ? forbid('forbidden sysctls', bad.join(', ')) : ALLOWED;
  },
};
