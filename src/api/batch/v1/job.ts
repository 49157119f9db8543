// batch/v1 Job: defaults, generated selector and validation as upstream's job strategy.
import type { ResourceDef, StrategyContext } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { validateLabelSelector, validateNonnegative } from '../../../machinery/validation.js';
import { validatePodTemplateSpec } from '../../core/v1/podspec.js';
import { jobColumns } from './tables.js';
import {
  clearStatus,
  clone,
  deepEqual,
  defaultTemplate,
  ensure,
  immutable,
  isObject,
  selectorMatches,
} from '../../apps/v1/workload.js';

export const LEGACY_JOB_NAME_LABEL = 'job-name';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';

const MAX_PARALLELISM_FOR_INDEXED_JOB = 100000;
const MAX_INT32 = 2147483647;

const isSet = (v: unknown): boolean => v !== undefined && v !== null;

/** SetDefaults_Job (and the pod template's defaults). */
export function defaultJob(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (!isSet(spec.completions) && !isSet(spec.parallelism)) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  if (!isSet(spec.parallelism)) spec.parallelism = 1;
  if (!isSet(spec.backoffLimit)) {
    spec.backoffLimit = spec.completionMode === 'Indexed' && isSet(spec.backoffLimitPerIndex) ? MAX_INT32 : 6;
  }
  const tplLabels = spec.template?.metadata?.labels;
  const meta = ensure(obj, 'metadata');
  if (isObject(tplLabels) && (!isObject(meta.labels) || Object.keys(meta.labels).length === 0))
    meta.labels = { ...tplLabels };
  if (!spec.completionMode) spec.completionMode = 'NonIndexed';
  if (!isSet(spec.suspend)) spec.suspend = false;
  if (isObject(spec.podFailurePolicy) && Array.isArray(spec.podFailurePolicy.rules)) {
    for (const rule of spec.podFailurePolicy.rules) {
      for (const pattern of rule?.onPodConditions ?? [])
        if (isObject(pattern) && !pattern.status) pattern.status = 'True';
    }
  }
  if (!spec.podReplacementPolicy)
    spec.podReplacementPolicy = isObject(spec.podFailurePolicy) ? 'Failed' : 'TerminatingOrFailed';
  defaultTemplate(spec);
}

/**
 * Upstream generateSelector: unless spec.manualSelector is true, the pods get the job-name and
 * controller-uid labels (legacy and batch.kubernetes.io/ forms) and the selector picks the uid.
 */
export function generateSelector(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (spec.manualSelector === true) return;
  const uid = obj.metadata?.uid;
  if (!uid) return;
  const tpl = ensure(spec, 'template');
  const tmeta = ensure(tpl, 'metadata');
  const labels = ensure(tmeta, 'labels');
  for (const k of [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL]) if (!(k in labels)) labels[k] = obj.metadata?.name ?? '';
  for (const k of [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL]) if (!(k in labels)) labels[k] = uid;
  const sel = ensure(spec, 'selector');
  const ml = ensure(sel, 'matchLabels');
  if (!(CONTROLLER_UID_LABEL in ml)) ml[CONTROLLER_UID_LABEL] = uid;
}

function validateHasLabel(
  labels: Record<string, string> | undefined,
  p: FieldPath,
  key: string,
  value: string,
): FieldError[] {
  const lp = p.child('labels').key(key);
  if (!labels || !(key in labels)) return [required(lp, `must be '${value}'`)];
  if (labels[key] !== value) return [invalid(lp, labels, `must be '${value}'`)];
  return [];
}

/** Upstream ValidateGeneratedSelector. */
export function validateGeneratedSelector(obj: any): FieldError[] {
  const spec = obj.spec ?? {};
  if (spec.manualSelector === true || !isObject(spec.selector)) return [];
  const errs: FieldError[] = [];
  const uid: string = obj.metadata?.uid ?? '';
  const name: string = obj.metadata?.name ?? '';
  if (!uid) errs.push(required(path('metadata', 'uid')));
  const tp = path('spec', 'template', 'metadata');
  const labels = spec.template?.metadata?.labels;
  errs.push(...validateHasLabel(labels, tp, LEGACY_CONTROLLER_UID_LABEL, uid));
  errs.push(...validateHasLabel(labels, tp, LEGACY_JOB_NAME_LABEL, name));
  errs.push(...validateHasLabel(labels, tp, CONTROLLER_UID_LABEL, uid));
  errs.push(...validateHasLabel(labels, tp, JOB_NAME_LABEL, name));
  const sel = spec.selector;
  const generated =
    Object.keys(sel.matchLabels ?? {}).length === 1 &&
    sel.matchLabels[CONTROLLER_UID_LABEL] === uid &&
    (sel.matchExpressions ?? []).length === 0;
  if (!generated) errs.push(invalid(path('spec', 'selector'), sel, '`selector` not auto-generated'));
  return errs;
}

const POD_FAILURE_ACTIONS = ['Count', 'FailIndex', 'FailJob', 'Ignore'];
const ON_EXIT_CODES_OPERATORS = ['In', 'NotIn'];

function validatePodFailurePolicy(spec: any, p: FieldPath): FieldError[] {
  const pfp = spec.podFailurePolicy;
  if (!isSet(pfp)) return [];
  const errs: FieldError[] = [];
  const rules = pfp.rules ?? [];
  if (rules.length > 20) errs.push(invalid(p.child('rules'), rules.length, 'must have at most 20 rules'));
  rules.forEach((rule: any, i: number) => {
    const rp = p.child('rules').index(i);
    if (!POD_FAILURE_ACTIONS.includes(rule?.action))
      errs.push(notSupported(rp.child('action'), rule?.action ?? '', POD_FAILURE_ACTIONS));
    else if (rule.action === 'FailIndex' && !isSet(spec.backoffLimitPerIndex)) {
      errs.push(invalid(rp.child('action'), rule.action, 'requires the backoffLimitPerIndex to be set'));
    }
    const hasCodes = isSet(rule?.onExitCodes);
    const hasConds = Array.isArray(rule?.onPodConditions) && rule.onPodConditions.length > 0;
    if (hasCodes && hasConds)
      errs.push(invalid(rp, rule, 'specifying both OnExitCodes and OnPodConditions is not supported'));
    else if (!hasCodes && !hasConds)
      errs.push(invalid(rp, rule, 'specifying one of OnExitCodes and OnPodConditions is required'));
    if (hasCodes) {
      const c = rule.onExitCodes;
      const cp = rp.child('onExitCodes');
      if (!ON_EXIT_CODES_OPERATORS.includes(c.operator))
        errs.push(notSupported(cp.child('operator'), c.operator ?? '', ON_EXIT_CODES_OPERATORS));
      const values: unknown[] = c.values ?? [];
      if (values.length === 0) errs.push(invalid(cp.child('values'), values, 'at least one value is required'));
      if (values.length > 255) errs.push(invalid(cp.child('values'), values.length, 'must have at most 255 values'));
      values.forEach((v, j) => {
        if (c.operator === 'In' && v === 0)
          errs.push(invalid(cp.child('values').index(j), v, 'must not be 0 for the In operator'));
        if (j > 0 && typeof v === 'number' && typeof values[j - 1] === 'number' && v <= (values[j - 1] as number)) {
          errs.push(invalid(cp.child('values').index(j), v, 'must be ordered'));
        }
      });
    }
    if (hasConds) {
      rule.onPodConditions.forEach((pat: any, j: number) => {
        const pp = rp.child('onPodConditions').index(j);
        if (!['True', 'False', 'Unknown'].includes(pat?.status))
          errs.push(notSupported(pp.child('status'), pat?.status ?? '', ['False', 'True', 'Unknown']));
        if (!pat?.type) errs.push(required(pp.child('type')));
      });
    }
  });
  return errs;
}

export interface JobSpecOptions {
  /** A CronJob's jobTemplate: the selector is not required there. */
  template?: boolean;
}

/** Upstream validateJobSpec (+ the selector rules of ValidateJobSpec for whole Jobs). */
export function validateJobSpec(spec: any, p: FieldPath, opts: JobSpecOptions = {}): FieldError[] {
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  for (const f of [
    'parallelism',
    'completions',
    'activeDeadlineSeconds',
    'backoffLimit',
    'ttlSecondsAfterFinished',
    'backoffLimitPerIndex',
    'maxFailedIndexes',
  ]) {
    errs.push(...validateNonnegative(spec[f], p.child(f)));
  }
  if (isSet(spec.backoffLimitPerIndex) && spec.completionMode !== 'Indexed') {
    errs.push(invalid(p.child('backoffLimitPerIndex'), spec.backoffLimitPerIndex, 'requires indexed completion mode'));
  }
  if (isSet(spec.maxFailedIndexes)) {
    if (!isSet(spec.backoffLimitPerIndex))
      errs.push(required(p.child('backoffLimitPerIndex'), 'when maxFailedIndexes is specified'));
    else if (isSet(spec.completions) && spec.maxFailedIndexes > spec.completions) {
      errs.push(
        invalid(p.child('maxFailedIndexes'), spec.maxFailedIndexes, 'must be less than or equal to completions'),
      );
    }
  }
  if (isSet(spec.completionMode)) {
    if (spec.completionMode !== 'NonIndexed' && spec.completionMode !== 'Indexed') {
      errs.push(notSupported(p.child('completionMode'), spec.completionMode, ['NonIndexed', 'Indexed']));
    }
    if (spec.completionMode === 'Indexed') {
      if (!isSet(spec.completions)) errs.push(required(p.child('completions'), 'when completion mode is Indexed'));
      if (isSet(spec.parallelism) && spec.parallelism > MAX_PARALLELISM_FOR_INDEXED_JOB) {
        errs.push(
          invalid(
            p.child('parallelism'),
            spec.parallelism,
            `must be less than or equal to ${MAX_PARALLELISM_FOR_INDEXED_JOB} when completion mode is Indexed`,
          ),
        );
      }
    }
  }
  errs.push(...validatePodFailurePolicy(spec, p.child('podFailurePolicy')));
  if (isSet(spec.podReplacementPolicy)) {
    const valid = isSet(spec.podFailurePolicy) ? ['Failed'] : ['Failed', 'TerminatingOrFailed'];
    if (!valid.includes(spec.podReplacementPolicy))
      errs.push(notSupported(p.child('podReplacementPolicy'), spec.podReplacementPolicy, valid));
  }
  if (isSet(spec.managedBy)) {
    if (typeof spec.managedBy !== 'string' || spec.managedBy.length > 63)
      errs.push(invalid(p.child('managedBy'), spec.managedBy, 'must be no more than 63 characters'));
  }
  if (!isObject(spec.template)) {
    errs.push(required(p.child('template')));
  } else {
    errs.push(...validatePodTemplateSpec(spec.template, p.child('template')));
    const rp = spec.template.spec?.restartPolicy;
    if (rp !== 'OnFailure' && rp !== 'Never') {
      errs.push(notSupported(p.child('template', 'spec', 'restartPolicy'), rp ?? '', ['OnFailure', 'Never']));
    } else if (rp === 'OnFailure' && isSet(spec.podFailurePolicy)) {
      errs.push(
        invalid(
          p.child('template', 'spec', 'restartPolicy'),
          rp,
          'only "Never" is supported when podFailurePolicy is specified',
        ),
      );
    }
  }
  if (!opts.template && !isSet(spec.selector)) {
    errs.push(required(p.child('selector')));
  } else if (isSet(spec.selector)) {
    errs.push(...validateLabelSelector(spec.selector, p.child('selector')));
  }
  if (isObject(spec.selector) && !selectorMatches(spec.selector, spec.template?.metadata?.labels)) {
    errs.push(
      invalid(
        p.child('template', 'metadata', 'labels'),
        spec.template?.metadata?.labels ?? {},
        '`selector` does not match template `labels`',
      ),
    );
  }
  return errs;
}

export function validateJob(obj: any, ctx?: StrategyContext): FieldError[] {
  if (ctx?.operation === 'create') generateSelector(obj);
  const errs = ctx?.operation === 'create' ? validateGeneratedSelector(obj) : [];
  errs.push(...validateJobSpec(obj.spec, path('spec')));
  return errs;
}

/** Upstream validatePodTemplateUpdate: while suspended and never started, scheduling directives may change. */
function validateJobTemplateUpdate(obj: any, old: any, p: FieldPath): FieldError[] {
  const tpl = obj.spec?.template;
  let oldTpl = old.spec?.template;
  const mutableScheduling = old.spec?.suspend === true && !isSet(old.status?.startTime);
  if (mutableScheduling && isObject(tpl) && isObject(oldTpl)) {
    oldTpl = clone(oldTpl);
    const ospec = ensure(oldTpl, 'spec');
    const nspec = tpl.spec ?? {};
    if (!isSet(nspec.affinity) && isSet(ospec.affinity)) {
      delete ospec.affinity.nodeAffinity;
      if (Object.keys(ospec.affinity).length === 0) delete ospec.affinity;
    } else if (isSet(nspec.affinity) && !isSet(ospec.affinity)) {
      ospec.affinity = { nodeAffinity: nspec.affinity.nodeAffinity };
    } else if (isSet(nspec.affinity) && isSet(ospec.affinity)) {
      ospec.affinity.nodeAffinity = nspec.affinity.nodeAffinity;
    }
    ospec.nodeSelector = nspec.nodeSelector;
    ospec.tolerations = nspec.tolerations;
    ospec.schedulingGates = nspec.schedulingGates;
    const ometa = ensure(oldTpl, 'metadata');
    ometa.annotations = tpl.metadata?.annotations;
    ometa.labels = tpl.metadata?.labels;
  }
  return immutable(tpl, oldTpl, p);
}

export function validateJobUpdate(obj: any, old: any): FieldError[] {
  const spec = obj.spec ?? {};
  const oldSpec = old.spec ?? {};
  const p = path('spec');
  const errs: FieldError[] = [];
  if (!deepEqual(spec.completions, oldSpec.completions)) {
    const elastic =
      spec.completionMode === 'Indexed' &&
      isSet(spec.completions) &&
      spec.completions === spec.parallelism &&
      oldSpec.completions === oldSpec.parallelism;
    if (!elastic) {
      if (spec.completionMode === 'Indexed') {
        errs.push(
          invalid(
            p.child('completions'),
            spec.completions ?? null,
            `can only be modified in tandem with ${p.child('parallelism').toString()}`,
          ),
        );
      } else {
        errs.push(...immutable(spec.completions, oldSpec.completions, p.child('completions')));
      }
    }
  }
  errs.push(...immutable(spec.selector, oldSpec.selector, p.child('selector')));
  errs.push(...validateJobTemplateUpdate(obj, old, p.child('template')));
  errs.push(...immutable(spec.completionMode, oldSpec.completionMode, p.child('completionMode')));
  errs.push(...immutable(spec.podFailurePolicy, oldSpec.podFailurePolicy, p.child('podFailurePolicy')));
  errs.push(...immutable(spec.backoffLimitPerIndex, oldSpec.backoffLimitPerIndex, p.child('backoffLimitPerIndex')));
  errs.push(...immutable(spec.managedBy, oldSpec.managedBy, p.child('managedBy')));
  errs.push(...immutable(spec.successPolicy, oldSpec.successPolicy, p.child('successPolicy')));
  return errs;
}

export const jobResource: ResourceDef = {
  group: 'batch',
  versions: [{ name: 'v1' }],
  kind: 'Job',
  plural: 'jobs',
  singular: 'job',
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  generationTracksSpec: true,
  defaults: defaultJob,
  prepareForCreate(obj) {
    clearStatus(obj);
    generateSelector(obj);
  },
  validate: validateJob,
  validateUpdate: validateJobUpdate,
  fieldSelectors: {
    'status.successful': (obj) => String(obj.status?.succeeded ?? 0),
  },
  table: jobColumns,
};
