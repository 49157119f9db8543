// flowcontrol.apiserver.k8s.io/v1 FlowSchema and PriorityLevelConfiguration (cluster-scoped,
// with status): API Priority and Fairness' configuration. Defaults and validation follow
// upstream pkg/apis/flowcontrol (v1 defaults, validation); the API server acts on the objects
// (apiserver/flowcontrol).
import type {
  FlowSchema,
  NonResourcePolicyRule,
  PolicyRulesWithSubjects,
  PriorityLevelConfiguration,
  ResourcePolicyRule,
  Subject,
} from 'kubernetes-types/flowcontrol/v1.js';
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { isDNS1123Label, isDNS1123Subdomain, isPathSegmentName } from '../../../machinery/validation.js';
import { flowSchemaColumns, priorityLevelColumns } from './tables.js';

export const DEFAULT_MATCHING_PRECEDENCE = 1000;
export const DEFAULT_NOMINAL_CONCURRENCY_SHARES = 30;
export const DEFAULT_QUEUING = { queues: 64, handSize: 8, queueLengthLimit: 50 };
const MAX_MATCHING_PRECEDENCE = 10000;
const MAX_HAND_SIZE = 15;
const DISTINGUISHERS = ['ByUser', 'ByNamespace'];
const SUBJECT_KINDS = ['ServiceAccount', 'Group', 'User'];
const PL_TYPES = ['Exempt', 'Limited'];
const LIMIT_RESPONSES = ['Queue', 'Reject'];
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', '*'];

export function defaultFlowSchema(o: FlowSchema): void {
  const spec = o.spec;
  if (spec && (spec.matchingPrecedence === undefined || spec.matchingPrecedence === 0))
    spec.matchingPrecedence = DEFAULT_MATCHING_PRECEDENCE;
}

export function defaultPriorityLevel(o: PriorityLevelConfiguration): void {
  const spec = o.spec;
  if (!spec) return;
  if (spec.type === 'Exempt' && !spec.exempt) spec.exempt = {};
  if (spec.exempt) {
    spec.exempt.nominalConcurrencyShares ??= 0;
    spec.exempt.lendablePercent ??= 0;
  }
  const l = spec.limited;
  if (!l) return;
  l.nominalConcurrencyShares ??= DEFAULT_NOMINAL_CONCURRENCY_SHARES;
  l.lendablePercent ??= 0;
  const q = l.limitResponse?.queuing;
  if (q) {
    if (!q.queues) q.queues = DEFAULT_QUEUING.queues;
    if (!q.handSize) q.handSize = DEFAULT_QUEUING.handSize;
    if (!q.queueLengthLimit) q.queueLengthLimit = DEFAULT_QUEUING.queueLengthLimit;
  }
}

/** A list of names where "*" stands for all and must then stand alone. */
function validateStarAlone(values: string[] | undefined, p: FieldPath, what: string): FieldError[] {
  if (!values || values.length === 0) return [required(p, `${what} must contain at least one value`)];
  if (values.length > 1 && values.includes('*'))
    return [invalid(p, values, `if '*' is present, must not specify other ${what}`)];
  return [];
}

function validateSubject(s: Subject, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const set = [s.user && 'user', s.group && 'group', s.serviceAccount && 'serviceAccount'].filter(Boolean);
  switch (s.kind) {
    case 'User':
      if (!s.user) errs.push(required(p.child('user'), 'user is required when subject kind is User'));
      else if (!s.user.name) errs.push(required(p.child('user', 'name'), 'username is required'));
      break;
    case 'Group':
      if (!s.group) errs.push(required(p.child('group'), 'group is required when subject kind is Group'));
      else if (!s.group.name) errs.push(required(p.child('group', 'name'), 'group name is required'));
      break;
    case 'ServiceAccount': {
      const sa = s.serviceAccount;
      if (!sa) {
        errs.push(
          required(p.child('serviceAccount'), 'serviceAccount is required when subject kind is ServiceAccount'),
        );
        break;
      }
      if (!sa.name) errs.push(required(p.child('serviceAccount', 'name'), 'serviceAccount name is required'));
      else if (sa.name !== '*')
        for (const msg of isDNS1123Subdomain(sa.name))
          errs.push(invalid(p.child('serviceAccount', 'name'), sa.name, msg));
      if (!sa.namespace)
        errs.push(required(p.child('serviceAccount', 'namespace'), 'serviceAccount namespace is required'));
      else
        for (const msg of isDNS1123Label(sa.namespace))
          errs.push(invalid(p.child('serviceAccount', 'namespace'), sa.namespace, msg));
      break;
    }
    default:
      errs.push(notSupported(p.child('kind'), s.kind, SUBJECT_KINDS));
      return errs;
  }
  const kindField = s.kind === 'User' ? 'user' : s.kind === 'Group' ? 'group' : 'serviceAccount';
  for (const other of set)
    if (other !== kindField)
      errs.push(forbidden(p.child(other as string), `${other} is forbidden when subject kind is ${s.kind}`));
  return errs;
}

function validateVerbs(verbs: string[] | undefined, p: FieldPath): FieldError[] {
  const errs = validateStarAlone(verbs, p, 'verbs');
  for (const v of verbs ?? []) if (!VERBS.includes(v)) errs.push(notSupported(p, v, VERBS));
  return errs;
}

function validateResourceRule(r: ResourcePolicyRule, p: FieldPath): FieldError[] {
  const errs = validateVerbs(r.verbs, p.child('verbs'));
  errs.push(...validateStarAlone(r.apiGroups, p.child('apiGroups'), 'api groups'));
  errs.push(...validateStarAlone(r.resources, p.child('resources'), 'resources'));
  const ns = r.namespaces ?? [];
  if (ns.length === 0 && !r.clusterScope)
    errs.push(
      required(p.child('namespaces'), 'resource rules that are not cluster scoped must supply at least one namespace'),
    );
  else if (ns.length > 1 && ns.includes('*'))
    errs.push(invalid(p.child('namespaces'), ns, "if '*' is present, must not specify other namespaces"));
  ns.forEach((n, i) => {
    if (n !== '*') for (const msg of isDNS1123Label(n)) errs.push(invalid(p.child('namespaces').index(i), n, msg));
  });
  return errs;
}

function validateNonResourceRule(r: NonResourcePolicyRule, p: FieldPath): FieldError[] {
  const errs = validateVerbs(r.verbs, p.child('verbs'));
  const urls = r.nonResourceURLs;
  errs.push(...validateStarAlone(urls, p.child('nonResourceURLs'), 'non-resource urls'));
  (urls ?? []).forEach((u, i) => {
    if (u === '*') return;
    const up = p.child('nonResourceURLs').index(i);
    if (!u.startsWith('/')) errs.push(invalid(up, u, 'must start with slash'));
    else if (u.slice(0, -1).includes('*')) errs.push(invalid(up, u, "'*' may only be the last character"));
    else if (u.endsWith('*') && !u.endsWith('/*')) errs.push(invalid(up, u, "'*' may only follow a slash"));
  });
  return errs;
}

function validateRules(rule: PolicyRulesWithSubjects, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!rule.subjects?.length) errs.push(required(p.child('subjects'), 'subjects must contain at least one value'));
  rule.subjects?.forEach((s, i) => errs.push(...validateSubject(s, p.child('subjects').index(i))));
  if (!rule.resourceRules?.length && !rule.nonResourceRules?.length)
    errs.push(required(p, 'at least one of resourceRules and nonResourceRules has to be non-empty'));
  rule.resourceRules?.forEach((r, i) => errs.push(...validateResourceRule(r, p.child('resourceRules').index(i))));
  rule.nonResourceRules?.forEach((r, i) =>
    errs.push(...validateNonResourceRule(r, p.child('nonResourceRules').index(i))),
  );
  return errs;
}

export function validateFlowSchema(o: FlowSchema): FieldError[] {
  const errs: FieldError[] = [];
  const spec = o.spec;
  const sp = path('spec');
  if (!spec) return [required(sp)];
  const prec = spec.matchingPrecedence ?? 0;
  if (prec <= 0 || prec > MAX_MATCHING_PRECEDENCE)
    errs.push(
      invalid(sp.child('matchingPrecedence'), prec, `must be a positive value no more than ${MAX_MATCHING_PRECEDENCE}`),
    );
  if (o.metadata?.name === 'exempt' && prec !== 1)
    errs.push(
      invalid(sp.child('matchingPrecedence'), prec, "only the schema named 'exempt' may have matching precedence 1"),
    );
  const dm = spec.distinguisherMethod;
  if (dm && !DISTINGUISHERS.includes(dm.type))
    errs.push(notSupported(sp.child('distinguisherMethod', 'type'), dm.type, DISTINGUISHERS));
  const plName = spec.priorityLevelConfiguration?.name ?? '';
  if (!plName) errs.push(required(sp.child('priorityLevelConfiguration', 'name'), 'must reference a priority level'));
  else
    for (const msg of isPathSegmentName(plName))
      errs.push(invalid(sp.child('priorityLevelConfiguration', 'name'), plName, msg));
  spec.rules?.forEach((r, i) => errs.push(...validateRules(r, sp.child('rules').index(i))));
  return errs;
}

function validatePercent(v: number | undefined, p: FieldPath): FieldError[] {
  if (v === undefined || (v >= 0 && v <= 100)) return [];
  return [invalid(p, v, 'must be between 0 and 100, inclusive')];
}

/** Bits of entropy a shuffle-sharding hand needs: log2 of deckSize^handSize, at most 60 (upstream). */
function handEntropyBits(deck: number, hand: number): number {
  return Math.log2(deck) * hand;
}

export function validatePriorityLevel(o: PriorityLevelConfiguration): FieldError[] {
  const errs: FieldError[] = [];
  const spec = o.spec;
  const sp = path('spec');
  if (!spec) return [required(sp)];
  const name = o.metadata?.name;
  if (!PL_TYPES.includes(spec.type)) return [notSupported(sp.child('type'), spec.type, PL_TYPES)];
  if ((name === 'exempt') !== (spec.type === 'Exempt'))
    errs.push(invalid(sp.child('type'), spec.type, "type must be 'Exempt' if and only if name is 'exempt'"));
  if (spec.type === 'Exempt') {
    if (spec.limited) errs.push(forbidden(sp.child('limited'), 'must be nil if the type is not Limited'));
    const e = spec.exempt;
    if (e) {
      const ncs = e.nominalConcurrencyShares ?? 0;
      if (ncs < 0)
        errs.push(invalid(sp.child('exempt', 'nominalConcurrencyShares'), ncs, 'must be a non-negative integer'));
      errs.push(...validatePercent(e.lendablePercent, sp.child('exempt', 'lendablePercent')));
    }
    return errs;
  }
  if (spec.exempt) errs.push(forbidden(sp.child('exempt'), 'must be nil if the type is Limited'));
  const l = spec.limited;
  const lp = sp.child('limited');
  if (!l) return [...errs, required(lp, 'must not be empty when type is Limited')];
  const ncs = l.nominalConcurrencyShares ?? 0;
  if (ncs < 0) errs.push(invalid(lp.child('nominalConcurrencyShares'), ncs, 'must be a non-negative integer'));
  errs.push(...validatePercent(l.lendablePercent, lp.child('lendablePercent')));
  if (l.borrowingLimitPercent !== undefined && l.borrowingLimitPercent < 0)
    errs.push(
      invalid(
        lp.child('borrowingLimitPercent'),
        l.borrowingLimitPercent,
        'if specified, must be a non-negative integer',
      ),
    );
  const lr = l.limitResponse;
  const rp = lp.child('limitResponse');
  if (!lr || !LIMIT_RESPONSES.includes(lr.type)) {
    errs.push(notSupported(rp.child('type'), lr?.type ?? '', LIMIT_RESPONSES));
    return errs;
  }
  const qp = rp.child('queuing');
  if (lr.type === 'Reject') {
    if (lr.queuing) errs.push(forbidden(qp, 'must be nil if limited.limitResponse.type is not Limited'));
    return errs;
  }
  const q = lr.queuing;
  if (!q) return [...errs, required(qp, 'must not be empty if limited.limitResponse.type is Queue')];
  if (q.queueLengthLimit !== undefined && q.queueLengthLimit <= 0)
    errs.push(invalid(qp.child('queueLengthLimit'), q.queueLengthLimit, 'must be positive'));
  const queues = q.queues ?? 0;
  if (queues <= 0) errs.push(invalid(qp.child('queues'), queues, 'must be positive'));
  const hand = q.handSize ?? 0;
  if (hand <= 0) errs.push(invalid(qp.child('handSize'), hand, 'must be positive'));
  else if (hand > queues)
    errs.push(invalid(qp.child('handSize'), hand, `should not be greater than queues (${queues})`));
  else if (hand > MAX_HAND_SIZE)
    errs.push(invalid(qp.child('handSize'), hand, `should not be greater than ${MAX_HAND_SIZE}`));
  else if (queues > 0 && handEntropyBits(queues, hand) > 60)
    errs.push(
      invalid(
        qp.child('handSize'),
        hand,
        `required entropy bits of deckSize ${queues} and handSize ${hand} should not be greater than 60`,
      ),
    );
  return errs;
}

export const flowSchemaResource: ResourceDef = {
  group: 'flowcontrol.apiserver.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'FlowSchema',
  plural: 'flowschemas',
  singular: 'flowschema',
  namespaced: false,
  generationTracksSpec: true,
  subresources: { status: true },
  defaults: (o) => defaultFlowSchema(o as FlowSchema),
  validate: (o) => validateFlowSchema(o as FlowSchema),
  table: flowSchemaColumns,
};

export const priorityLevelResource: ResourceDef = {
  group: 'flowcontrol.apiserver.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'PriorityLevelConfiguration',
  plural: 'prioritylevelconfigurations',
  singular: 'prioritylevelconfiguration',
  namespaced: false,
  generationTracksSpec: true,
  subresources: { status: true },
  defaults: (o) => defaultPriorityLevel(o as PriorityLevelConfiguration),
  validate: (o) => validatePriorityLevel(o as PriorityLevelConfiguration),
  table: priorityLevelColumns,
};
