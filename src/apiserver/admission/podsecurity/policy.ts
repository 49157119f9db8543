// Levels, versions and the evaluation of a pod against a level (upstream policy.Evaluator and
// api.LevelVersion). Only the latest checks are kept: every valid version label is accepted and
// evaluated as `latest`, which is what a version at or past this server's release means upstream.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { PodSpec } from 'kubernetes-types/core/v1.js';
import type { Check, CheckResult, Level } from './check.js';
import * as baselineHost from './baseline-host.js';
import * as baselineContainer from './baseline-container.js';
import * as restricted from './restricted.js';
import { compareStrings } from '../../../machinery/order.js';

export type { Level } from './check.js';

export const LEVELS: readonly Level[] = ['privileged', 'baseline', 'restricted'];

/** A level with the version its label asked for ('latest' or 'v1.N'). */
export interface LevelVersion {
  level: Level;
  version: string;
}

/** -1, 0 or 1 as a is less strict than, as strict as, or stricter than b. */
export function compareLevels(a: Level, b: Level): number {
  return Math.sign(LEVELS.indexOf(a) - LEVELS.indexOf(b));
}

export function formatLevelVersion(lv: LevelVersion): string {
  return `${lv.level}:${lv.version}`;
}

export function parseLevel(s: string): Level | undefined {
  return (LEVELS as readonly string[]).includes(s) ? (s as Level) : undefined;
}

/** 'latest' or 'v1.N' (upstream api.ParseVersion); undefined when neither. */
export function parseVersion(s: string): string | undefined {
  if (s === 'latest') return s;
  const m = /^v1\.(0|[1-9][0-9]*)$/.exec(s);
  return m ? s : undefined;
}

const byId = (a: Check, b: Check): number => compareStrings(a.id, b.id);

/** The Checks a module exports (it may export helpers too). */
function checksIn(module: Record<string, unknown>): Check[] {
  return Object.values(module).filter(
    (v): v is Check => typeof v === 'object' && v !== null && 'id' in v && 'check' in v,
  );
}

const BASELINE: Check[] = [...checksIn(baselineHost), ...checksIn(baselineContainer)].sort(byId);
const RESTRICTED_ONLY: Check[] = checksIn(restricted).sort(byId);

/** The checks each level runs, in upstream's order: the baseline ones, then the restricted ones. */
function checksOf(level: Level): Check[] {
  if (level === 'privileged') return [];
  if (level === 'baseline') return BASELINE;
  const overridden = new Set(RESTRICTED_ONLY.flatMap((c) => c.overrides ?? []));
  return [...BASELINE.filter((c) => !overridden.has(c.id)), ...RESTRICTED_ONLY];
}

const CHECKS: Record<Level, Check[]> = {
  privileged: checksOf('privileged'),
  baseline: checksOf('baseline'),
  restricted: checksOf('restricted'),
};

/** The failed checks of a pod at a level (empty: allowed). */
export function evaluatePod(lv: LevelVersion, meta: ObjectMeta, spec: PodSpec): CheckResult[] {
  return CHECKS[lv.level].map((c) => c.check(meta, spec)).filter((r) => !r.allowed);
}

/** `reason (detail), reason (detail)`, as upstream's aggregate of forbidden reasons. */
export function describeViolations(results: CheckResult[]): string {
  return results
    .map((r) => (r.forbiddenDetail ? `${r.forbiddenReason} (${r.forbiddenDetail})` : r.forbiddenReason))
    .join(', ');
}

/** Only the reasons, as the namespace check lists them per pod. */
export function violationReasons(results: CheckResult[]): string {
  return results.map((r) => r.forbiddenReason).join(', ');
}
