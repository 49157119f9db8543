// The shape of one Pod Security Standards check (upstream k8s.io/pod-security-admission/policy):
// a check looks at a pod's metadata and spec and either allows it or names what it forbids, as a
// short reason ("host namespaces") and a detail ("hostNetwork=true") that the messages quote.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Container, EphemeralContainer, PodSpec } from 'kubernetes-types/core/v1.js';
import { compareStrings } from '../../../machinery/order.js';

export type Level = 'privileged' | 'baseline' | 'restricted';

export interface CheckResult {
  allowed: boolean;
  forbiddenReason?: string;
  forbiddenDetail?: string;
}

export interface Check {
  /** Upstream's check ID: checks of a level run in the byte order of their IDs. */
  id: string;
  level: Exclude<Level, 'privileged'>;
  /** IDs of lower-level checks this one replaces at its level (restricted volumes replace hostPath). */
  overrides?: string[];
  check(meta: ObjectMeta, spec: PodSpec): CheckResult;
}

export const ALLOWED: CheckResult = { allowed: true };

export function forbid(reason: string, detail: string): CheckResult {
  return { allowed: false, forbiddenReason: reason, forbiddenDetail: detail };
}

export function pluralize(singular: string, plural: string, n: number): string {
  return n === 1 ? singular : plural;
}

/** `"a", "b"`, as upstream's joinQuote: each item in plain quotes, nothing escaped. */
export function joinQuote(items: Iterable<string>): string {
  return [...items].map((s) => `"${s}"`).join(', ');
}

/** `container "a"` / `containers "a", "b"`. */
export function containersPhrase(names: string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}

/** Sorted, de-duplicated (upstream's sets.String.List()). Go sorts by bytes, as < does here. */
export function sortedSet(items: Iterable<string>): string[] {
  return [...new Set(items)].sort(compareStrings);
}

/** Every container of the pod: containers, initContainers, ephemeralContainers (upstream visitContainers). */
export function allContainers(spec: PodSpec): (Container | EphemeralContainer)[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
}
