// The PodSecurity plugin's configuration (upstream PodSecurityConfiguration,
// pod-security.admission.config.k8s.io/v1): the levels of namespaces without labels, and who or
// what is exempt. It comes from the --admission-control-config-file AdmissionConfiguration.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYAML } from 'yaml';
import { parseLevel, parseVersion, type LevelVersion } from './policy.js';

export type Mode = 'enforce' | 'audit' | 'warn';
export const MODES: readonly Mode[] = ['enforce', 'audit', 'warn'];

export type NamespacePolicy = Record<Mode, LevelVersion>;

export interface PodSecurityConfiguration {
  defaults: NamespacePolicy;
  exemptions: { usernames: string[]; runtimeClasses: string[]; namespaces: string[] };
}

const PRIVILEGED_LATEST: LevelVersion = { level: 'privileged', version: 'latest' };

export function defaultPodSecurityConfiguration(): PodSecurityConfiguration {
  return {
    defaults: { enforce: PRIVILEGED_LATEST, audit: PRIVILEGED_LATEST, warn: PRIVILEGED_LATEST },
    exemptions: { usernames: [], runtimeClasses: [], namespaces: [] },
  };
}

const CONFIG_GROUP = 'pod-security.admission.config.k8s.io';

function stringList(v: unknown, where: string): string[] {
  if (v == null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === ''))
    throw new Error(`${where}: must be a list of non-empty strings`);
  return v as string[];
}

/** A PodSecurityConfiguration object (any served version: v1, v1beta1, v1alpha1), validated. */
export function parsePodSecurityConfiguration(obj: unknown): PodSecurityConfiguration {
  const cfg = defaultPodSecurityConfiguration();
  if (obj == null) return cfg;
  if (typeof obj !== 'object') throw new Error('PodSecurityConfiguration: not an object');
  const o = obj as Record<string, unknown>;
  const apiVersion = typeof o.apiVersion === 'string' ? o.apiVersion : '';
  if (!apiVersion.startsWith(`${CONFIG_GROUP}/`) || o.kind !== 'PodSecurityConfiguration')
    throw new Error(
      `PodSecurity configuration: expected kind PodSecurityConfiguration of ${CONFIG_GROUP}/v1, got ${String(o.kind)} ${apiVersion}`,
    );
  const defaults = (o.defaults ?? {}) as Record<string, unknown>;
  for (const mode of MODES) {
    const level = defaults[mode] ?? 'privileged';
    const version = defaults[`${mode}-version`] ?? 'latest';
    const parsedLevel = typeof level === 'string' ? parseLevel(level) : undefined;
    if (!parsedLevel)
      throw new Error(
        `defaults.${mode}: Invalid value: ${JSON.stringify(level)}: must be one of privileged, baseline, restricted`,
      );
    const parsedVersion = typeof version === 'string' ? parseVersion(version) : undefined;
    if (!parsedVersion)
      throw new Error(
        `defaults.${mode}-version: Invalid value: ${JSON.stringify(version)}: must be "latest" or "v1.x"`,
      );
    cfg.defaults[mode] = { level: parsedLevel, version: parsedVersion };
  }
  const ex = (o.exemptions ?? {}) as Record<string, unknown>;
  cfg.exemptions = {
    usernames: stringList(ex.usernames, 'exemptions.usernames'),
    runtimeClasses: stringList(ex.runtimeClasses, 'exemptions.runtimeClasses'),
    namespaces: stringList(ex.namespaces, 'exemptions.namespaces'),
  };
  return cfg;
}

/**
 * The PodSecurity entry of an AdmissionConfiguration file (apiserver.config.k8s.io, YAML or JSON):
 * inline `configuration` or a `path` (relative to the file); the defaults when there is none.
 */
export function loadPodSecurityConfiguration(file: string): PodSecurityConfiguration {
  try {
    return readPodSecurityConfiguration(file);
  } catch (err) {
    throw new Error(`--admission-control-config-file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function readPodSecurityConfiguration(file: string): PodSecurityConfiguration {
  const doc = parseYAML(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  if (!doc || doc.kind !== 'AdmissionConfiguration')
    throw new Error('expected an AdmissionConfiguration (apiserver.config.k8s.io/v1)');
  const plugins = Array.isArray(doc.plugins) ? (doc.plugins as Record<string, unknown>[]) : [];
  const entry = plugins.find((p) => p?.name === 'PodSecurity');
  if (!entry) return defaultPodSecurityConfiguration();
  if (entry.configuration != null) return parsePodSecurityConfiguration(entry.configuration);
  if (typeof entry.path === 'string' && entry.path !== '')
    return parsePodSecurityConfiguration(parseYAML(readFileSync(resolve(dirname(file), entry.path), 'utf8')));
  return defaultPodSecurityConfiguration();
}
