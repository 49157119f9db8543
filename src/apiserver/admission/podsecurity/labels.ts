// A namespace's Pod Security labels (pod-security.kubernetes.io/<mode>[-version]) read as a policy,
// with the configured defaults where a label is absent.
import { invalid, path, type FieldError } from '../../../machinery/fielderrors.js';
import { MODES, type NamespacePolicy } from './config.js';
import { parseLevel, parseVersion } from './policy.js';

export const LABEL_PREFIX = 'pod-security.kubernetes.io/';

export interface LabelledPolicy {
  policy: NamespacePolicy;
  /** Invalid labels, as field errors (a namespace write with any is refused). */
  errors: FieldError[];
}

/**
 * The namespace's policy. An invalid enforce label counts as `restricted` (an invalid version as
 * `latest`), as upstream, so a typo never opens a namespace up; invalid audit and warn levels
 * count as `privileged`.
 */
export function policyFromLabels(
  labels: Record<string, string> | undefined,
  defaults: NamespacePolicy,
): LabelledPolicy {
  const policy = { ...defaults };
  const errors: FieldError[] = [];
  for (const mode of MODES) {
    const levelKey = `${LABEL_PREFIX}${mode}`;
    const versionKey = `${levelKey}-version`;
    const levelLabel = labels?.[levelKey];
    const versionLabel = labels?.[versionKey];
    let level = defaults[mode].level;
    let version = defaults[mode].version;
    if (levelLabel !== undefined) {
      const parsed = parseLevel(levelLabel);
      if (!parsed) errors.push(invalidLabel(levelKey, levelLabel, 'must be one of privileged, baseline, restricted'));
      // enforce fails closed; audit and warn fail open (upstream api.PolicyToEvaluate).
      level = parsed ?? (mode === 'enforce' ? 'restricted' : 'privileged');
    }
    if (versionLabel !== undefined) {
      const parsed = parseVersion(versionLabel);
      if (!parsed) errors.push(invalidLabel(versionKey, versionLabel, 'must be "latest" or "v1.x"'));
      version = parsed ?? 'latest';
    }
    policy[mode] = { level, version };
  }
  return { policy, errors };
}

function invalidLabel(key: string, value: string, detail: string): FieldError {
  return invalid(path('metadata', 'labels').key(key), value, detail);
}

export function fullyPrivileged(p: NamespacePolicy): boolean {
  return MODES.every((m) => p[m].level === 'privileged');
}

/** Same levels, and same versions where the level is not privileged (upstream Policy.Equivalent). */
export function equivalentPolicies(a: NamespacePolicy, b: NamespacePolicy): boolean {
  return MODES.every(
    (m) => a[m].level === b[m].level && (a[m].level === 'privileged' || a[m].version === b[m].version),
  );
}

/**
 * `enforce=restricted:latest, warn=baseline:latest`: the non-privileged modes the labels set, as
 * upstream's warning about an exempt namespace shows them.
 */
export function labelledModes(p: NamespacePolicy, labels: Record<string, string> | undefined): string {
  return MODES.filter(
    (m) =>
      p[m].level !== 'privileged' &&
      (labels?.[`${LABEL_PREFIX}${m}`] !== undefined || labels?.[`${LABEL_PREFIX}${m}-version`] !== undefined),
  )
    .map((m) => `${m}=${p[m].level}:${p[m].version}`)
    .join(', ');
}
