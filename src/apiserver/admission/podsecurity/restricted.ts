// Restricted checks: volume types limited to pod-local and API-backed ones, no root, no privilege
// escalation, all capabilities dropped, and a seccomp profile set.
import type { PodSpec } from 'kubernetes-types/core/v1.js';
import { procMountViolation } from './baseline-container.js';
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

/** Volume sources whose content comes from the pod or the API, never from the node. */
const ALLOWED_VOLUME_SOURCES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
  'image',
]);

export const restrictedVolumes: Check = {
  id: 'restrictedVolumes',
  level: 'restricted',
  overrides: ['hostPathVolumes'],
  check(_meta, spec) {
    const names: string[] = [];
    const types: string[] = [];
    for (const v of spec.volumes ?? []) {
      const sources = Object.keys(v).filter(
        (k) => k !== 'name' && (v as unknown as Record<string, unknown>)[k] != null,
      );
      if (sources.length && sources.every((k) => ALLOWED_VOLUME_SOURCES.has(k))) continue;
      names.push(v.name);
      types.push(sources.find((k) => !ALLOWED_VOLUME_SOURCES.has(k)) ?? 'unknown');
    }
    if (!names.length) return ALLOWED;
    const typeList = sortedSet(types);
    return forbid(
      'restricted volume types',
      `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)} ${pluralize('uses', 'use', names.length)} ${pluralize('restricted volume type', 'restricted volume types', typeList.length)} ${joinQuote(typeList)}`,
    );
  },
};

/** A pod in its own user namespace: root inside is no root on the node (KEP-127). */
function userNamespaced(spec: PodSpec): boolean {
  return spec.hostUsers === false;
}

function windows(spec: PodSpec): boolean {
  return spec.os?.name === 'windows';
}

export const runAsNonRoot: Check = {
  id: 'runAsNonRoot',
  level: 'restricted',
  check(_meta, spec) {
    if (userNamespaced(spec)) return ALLOWED;
    const setters: string[] = [];
    const podValue = spec.securityContext?.runAsNonRoot;
    if (podValue === false) setters.push('pod');
    const explicit: string[] = [];
    const implicit: string[] = [];
    for (const c of allContainers(spec)) {
      const v = c.securityContext?.runAsNonRoot;
      if (v === false) explicit.push(c.name);
      else if (v == null && podValue !== true) implicit.push(c.name);
    }
    if (explicit.length) setters.push(containersPhrase(explicit));
    if (setters.length)
      return forbid('runAsNonRoot != true', `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false`);
    if (implicit.length)
      return forbid(
        'runAsNonRoot != true',
        `pod or ${containersPhrase(implicit)} must set securityContext.runAsNonRoot=true`,
      );
    return ALLOWED;
  },
};

export const runAsUser: Check = {
  id: 'runAsUser',
  level: 'restricted',
  check(_meta, spec) {
    if (userNamespaced(spec)) return ALLOWED;
    const setters: string[] = [];
    if (spec.securityContext?.runAsUser === 0) setters.push('pod');
    const bad = allContainers(spec)
      .filter((c) => c.securityContext?.runAsUser === 0)
      .map((c) => c.name);
    if (bad.length) setters.push(containersPhrase(bad));
    return setters.length ? forbid('runAsUser=0', `${setters.join(' and ')} must not set runAsUser=0`) : ALLOWED;
  },
};

export const allowPrivilegeEscalation: Check = {
  id: 'allowPrivilegeEscalation',
  level: 'restricted',
  check(_meta, spec) {
    if (windows(spec)) return ALLOWED;
    const bad = allContainers(spec)
      .filter((c) => c.securityContext?.allowPrivilegeEscalation !== false)
      .map((c) => c.name);
    return bad.length
      ? forbid(
          'allowPrivilegeEscalation != false',
          `${containersPhrase(bad)} must set securityContext.allowPrivilegeEscalation=false`,
        )
      : ALLOWED;
  },
};

export const capabilitiesRestricted: Check = {
  id: 'capabilities_restricted',
  level: 'restricted',
  overrides: ['capabilities_baseline'],
  check(_meta, spec) {
    if (windows(spec)) return ALLOWED;
    const missingDropAll: string[] = [];
    const adding: string[] = [];
    const added: string[] = [];
    for (const c of allContainers(spec)) {
      const caps = c.securityContext?.capabilities;
      if (!caps?.drop?.includes('ALL')) missingDropAll.push(c.name);
      const extra = (caps?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
      if (extra.length) adding.push(c.name);
      added.push(...extra);
    }
    const details: string[] = [];
    if (missingDropAll.length)
      details.push(`${containersPhrase(missingDropAll)} must set securityContext.capabilities.drop=["ALL"]`);
    if (adding.length)
      details.push(
        `${containersPhrase(adding)} must not include ${joinQuote(sortedSet(added))} in securityContext.capabilities.add`,
      );
    return details.length ? forbid('unrestricted capabilities', details.join('; ')) : ALLOWED;
  },
};

function validSeccomp(type: string | undefined): boolean {
  return type === 'RuntimeDefault' || type === 'Localhost';
}

export const seccompProfileRestricted: Check = {
  id: 'seccompProfile_restricted',
  level: 'restricted',
  overrides: ['seccompProfile_baseline'],
  check(_meta, spec) {
    if (windows(spec)) return ALLOWED;
    const setters: string[] = [];
    const badValues: string[] = [];
    const podProfile = spec.securityContext?.seccompProfile;
    if (podProfile && !validSeccomp(podProfile.type)) {
      setters.push('pod');
      badValues.push(podProfile.type);
    }
    const podSet = podProfile != null && validSeccomp(podProfile.type);
    const explicit: string[] = [];
    const implicit: string[] = [];
    for (const c of allContainers(spec)) {
      const profile = c.securityContext?.seccompProfile;
      if (profile) {
        if (!validSeccomp(profile.type)) {
          explicit.push(c.name);
          badValues.push(profile.type);
        }
      } else if (!podSet) implicit.push(c.name);
    }
    if (explicit.length) setters.push(containersPhrase(explicit));
    if (setters.length)
      return forbid(
        'seccompProfile',
        `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(badValues))}`,
      );
    if (implicit.length)
      return forbid(
        'seccompProfile',
        `pod or ${containersPhrase(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
      );
    return ALLOWED;
  },
};

/** procMount without baseline's user-namespace relaxation: restricted pods may never unmask /proc. */
export const procMountRestricted: Check = {
  id: 'procMount_restricted',
  level: 'restricted',
  overrides: ['procMount'],
  check: (_meta, spec) => procMountViolation(spec),
};
