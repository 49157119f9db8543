// Baseline checks on containers' security contexts: privileged mode, added capabilities, AppArmor,
// SELinux, /proc mounts and seccomp.
import type { PodSpec, SELinuxOptions } from 'kubernetes-types/core/v1.js';
import {
  ALLOWED,
  allContainers,
  containersPhrase,
  forbid,
  joinQuote,
  pluralize,
  sortedSet,
  type Check,
  type CheckResult,
} from './check.js';

export const privileged: Check = {
  id: 'privileged',
  level: 'baseline',
  check(_meta, spec) {
    const bad = allContainers(spec)
      .filter((c) => c.securityContext?.privileged === true)
      .map((c) => c.name);
    return bad.length
      ? forbid('privileged', `${containersPhrase(bad)} must not set securityContext.privileged=true`)
      : ALLOWED;
  },
};

/** The container runtimes' default capabilities: adding these is no escalation. */
const DEFAULT_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

export const capabilitiesBaseline: Check = {
  id: 'capabilities_baseline',
  level: 'baseline',
  check(_meta, spec) {
    const bad: string[] = [];
    const caps: string[] = [];
    for (const c of allContainers(spec)) {
      const extra = (c.securityContext?.capabilities?.add ?? []).filter((cap) => !DEFAULT_CAPABILITIES.has(cap));
      if (extra.length) bad.push(c.name);
      caps.push(...extra);
    }
    return bad.length
      ? forbid(
          'non-default capabilities',
          `${containersPhrase(bad)} must not include ${joinQuote(sortedSet(caps))} in securityContext.capabilities.add`,
        )
      : ALLOWED;
  },
};

const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

function allowedAppArmorAnnotation(profile: string): boolean {
  return profile === '' || profile === 'runtime/default' || profile.startsWith('localhost/');
}

export const appArmorProfile: Check = {
  id: 'appArmorProfile',
  level: 'baseline',
  check(meta, spec) {
    const setters: string[] = [];
    const values: string[] = [];
    if (spec.securityContext?.appArmorProfile?.type === 'Unconfined') {
      setters.push('pod');
      values.push('Unconfined');
    }
    const containers = allContainers(spec)
      .filter((c) => c.securityContext?.appArmorProfile?.type === 'Unconfined')
      .map((c) => c.name);
    if (containers.length) {
      setters.push(containersPhrase(containers));
      values.push('Unconfined');
    }
    const annotations = Object.entries(meta.annotations ?? {})
      .filter(([k, v]) => k.startsWith(APPARMOR_ANNOTATION_PREFIX) && !allowedAppArmorAnnotation(v))
      .map(([k, v]) => `${k}="${v}"`);
    if (annotations.length) {
      setters.push('annotations');
      values.push(...annotations);
    }
    if (!setters.length) return ALLOWED;
    const list = sortedSet(values);
    return forbid(
      pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', list.length),
      `${setters.join(' and ')} must not set AppArmor profile type to ${joinQuote(list)}`,
    );
  },
};

const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

export const seLinuxOptions: Check = {
  id: 'seLinuxOptions',
  level: 'baseline',
  check(_meta, spec) {
    const badTypes = new Set<string>();
    let setUser = false;
    let setRole = false;
    const valid = (o: SELinuxOptions): boolean => {
      let ok = true;
      if (!SELINUX_TYPES.has(o.type ?? '')) {
        badTypes.add(o.type ?? '');
        ok = false;
      }
      if (o.user) {
        setUser = true;
        ok = false;
      }
      if (o.role) {
        setRole = true;
        ok = false;
      }
      return ok;
    };
    const setters: string[] = [];
    const podOptions = spec.securityContext?.seLinuxOptions;
    if (podOptions && !valid(podOptions)) setters.push('pod');
    const bad = allContainers(spec)
      .filter((c) => c.securityContext?.seLinuxOptions && !valid(c.securityContext.seLinuxOptions))
      .map((c) => c.name);
    if (bad.length) setters.push(containersPhrase(bad));
    if (!setters.length) return ALLOWED;
    const data: string[] = [];
    if (badTypes.size) data.push(`${pluralize('type', 'types', badTypes.size)} ${joinQuote(sortedSet(badTypes))}`);
    if (setUser) data.push('user may not be set');
    if (setRole) data.push('role may not be set');
    return forbid(
      'seLinuxOptions',
      `${setters.join(' and ')} set forbidden securityContext.seLinuxOptions: ${data.join('; ')}`,
    );
  },
};

/** Containers that unmask /proc (any procMount but Default). */
export function procMountViolation(spec: PodSpec): CheckResult {
  const bad: string[] = [];
  const values: string[] = [];
  for (const c of allContainers(spec)) {
    const mount = c.securityContext?.procMount;
    if (mount && mount !== 'Default') {
      bad.push(c.name);
      values.push(mount);
    }
  }
  return bad.length
    ? forbid(
        'procMount',
        `${containersPhrase(bad)} must not set securityContext.procMount to ${joinQuote(sortedSet(values))}`,
      )
    : ALLOWED;
}

export const procMount: Check = {
  id: 'procMount',
  level: 'baseline',
  // A user-namespaced pod's /proc is its own: Unmasked is no escalation there (KEP-127).
  check: (_meta, spec) => (spec.hostUsers === false ? ALLOWED : procMountViolation(spec)),
};

export const seccompProfileBaseline: Check = {
  id: 'seccompProfile_baseline',
  level: 'baseline',
  check(_meta, spec) {
    const setters: string[] = [];
    if (spec.securityContext?.seccompProfile?.type === 'Unconfined') setters.push('pod');
    const bad = allContainers(spec)
      .filter((c) => c.securityContext?.seccompProfile?.type === 'Unconfined')
      .map((c) => c.name);
    if (bad.length) setters.push(containersPhrase(bad));
    return setters.length
      ? forbid(
          'seccompProfile',
          `${setters.join(' and ')} must not set securityContext.seccompProfile.type to "Unconfined"`,
        )
      : ALLOWED;
  },
};
