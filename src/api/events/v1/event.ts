// events.k8s.io/v1 Event. It shares storage with core/v1 events: objects are stored in the core
// shape and converted field by field, as upstream's conversion does.
import type { KObject, ResourceDef } from '../../types.js';
import { type FieldError, invalid, path, required } from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain, isQualifiedName } from '../../../machinery/validation.js';
import { eventColumns } from './tables.js';
import { clone, immutable, isObject } from '../../apps/v1/workload.js';

/** events.k8s.io/v1 field -> core/v1 field; everything else keeps its name. */
const V1_TO_CORE: Record<string, string> = {
  regarding: 'involvedObject',
  note: 'message',
  reportingController: 'reportingComponent',
  deprecatedSource: 'source',
  deprecatedFirstTimestamp: 'firstTimestamp',
  deprecatedLastTimestamp: 'lastTimestamp',
  deprecatedCount: 'count',
};
const CORE_TO_V1: Record<string, string> = Object.fromEntries(Object.entries(V1_TO_CORE).map(([a, b]) => [b, a]));
const SHARED = ['eventTime', 'series', 'action', 'reason', 'related', 'type', 'reportingInstance'];

function rename(obj: KObject, map: Record<string, string>, apiVersion: string): KObject {
  const src = clone(obj) as Record<string, unknown>;
  const out: KObject = { apiVersion, kind: 'Event', metadata: (src.metadata as KObject['metadata']) ?? {} };
  for (const [k, v] of Object.entries(src)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata' || v === undefined) continue;
    if (Object.hasOwn(map, k)) out[map[k]] = v;
    else if (SHARED.includes(k)) out[k] = v;
  }
  return out;
}

/** events.k8s.io/v1 -> core/v1 (the storage shape). */
export function eventV1ToCore(obj: KObject): KObject {
  return rename(obj, V1_TO_CORE, 'v1');
}

/** core/v1 (the storage shape) -> events.k8s.io/v1. */
export function eventCoreToV1(obj: KObject): KObject {
  return rename(obj, CORE_TO_V1, 'events.k8s.io/v1');
}

const looksCore = (obj: any): boolean => Object.keys(obj ?? {}).some((k) => k in CORE_TO_V1);
const asCore = (obj: any): any =>
  looksCore(obj) || !Object.keys(obj ?? {}).some((k) => k in V1_TO_CORE) ? obj : eventV1ToCore(obj);

const REPORTING_INSTANCE_LIMIT = 128;
const ACTION_LIMIT = 128;
const REASON_LIMIT = 128;
const NOTE_LIMIT = 1024;

const unset = (v: unknown): boolean => v === undefined || v === null || v === '' || v === 0;

/** Upstream ValidateEventCreate for an events.k8s.io/v1 request (checked on the core shape). */
export function validateEventV1(input: any): FieldError[] {
  const e = asCore(input);
  const errs: FieldError[] = [];
  const ns: string = e.metadata?.namespace ?? '';
  const involvedNs: string = e.involvedObject?.namespace ?? '';
  if (unset(e.eventTime)) {
    if (involvedNs === '' ? ns !== '' && ns !== 'default' : ns !== involvedNs) {
      errs.push(invalid(path('involvedObject', 'namespace'), involvedNs, 'does not match event.namespace'));
    }
  } else {
    if (involvedNs === '' && ns !== 'default' && ns !== 'kube-system') {
      errs.push(invalid(path('involvedObject', 'namespace'), involvedNs, 'does not match event.namespace'));
    }
    const rc: string = e.reportingComponent ?? '';
    if (rc.length === 0) errs.push(required(path('reportingController')));
    for (const m of isQualifiedName(rc)) errs.push(invalid(path('reportingController'), rc, m));
    const ri: string = e.reportingInstance ?? '';
    if (ri.length === 0) errs.push(required(path('reportingInstance')));
    if (ri.length > REPORTING_INSTANCE_LIMIT)
      errs.push(invalid(path('reportingInstance'), '', `can have at most ${REPORTING_INSTANCE_LIMIT} characters`));
    const action: string = e.action ?? '';
    if (action.length === 0) errs.push(required(path('action')));
    if (action.length > ACTION_LIMIT)
      errs.push(invalid(path('action'), '', `can have at most ${ACTION_LIMIT} characters`));
    const reason: string = e.reason ?? '';
    if (reason.length === 0) errs.push(required(path('reason')));
    if (reason.length > REASON_LIMIT)
      errs.push(invalid(path('reason'), '', `can have at most ${REASON_LIMIT} characters`));
    if ((e.message ?? '').length > NOTE_LIMIT)
      errs.push(invalid(path('message'), '', `can have at most ${NOTE_LIMIT} characters`));
  }
  for (const m of isDNS1123Subdomain(ns)) errs.push(invalid(path('namespace'), ns, m));
  errs.push(...validateSeries(e));
  if (unset(e.eventTime)) errs.push(required(path('eventTime')));
  if (e.type !== 'Normal' && e.type !== 'Warning')
    errs.push(invalid(path('type'), '', `has invalid value: ${e.type ?? ''}`));
  if (!unset(e.firstTimestamp)) errs.push(invalid(path('deprecatedFirstTimestamp'), '', 'needs to be unset'));
  if (!unset(e.lastTimestamp)) errs.push(invalid(path('deprecatedLastTimestamp'), '', 'needs to be unset'));
  if (!unset(e.count)) errs.push(invalid(path('deprecatedCount'), '', 'needs to be unset'));
  if (!unset(e.source?.component) || !unset(e.source?.host))
    errs.push(invalid(path('deprecatedSource'), '', 'needs to be unset'));
  return errs;
}

function validateSeries(e: any): FieldError[] {
  if (!isObject(e.series)) return [];
  const errs: FieldError[] = [];
  if (!((e.series.count ?? 0) >= 2)) errs.push(invalid(path('series.count'), '', 'should be at least 2'));
  if (unset(e.series.lastObservedTime)) errs.push(required(path('series.lastObservedTime')));
  return errs;
}

/** Upstream ValidateEventUpdate for events.k8s.io/v1: everything but series is immutable. */
export function validateEventV1Update(input: any, oldInput: any): FieldError[] {
  const e = asCore(input);
  const o = asCore(oldInput);
  const errs: FieldError[] = [];
  for (const f of [
    'involvedObject',
    'reason',
    'message',
    'source',
    'firstTimestamp',
    'lastTimestamp',
    'count',
    'type',
  ]) {
    errs.push(...immutable(e[f], o[f], path(f)));
  }
  errs.push(...validateSeries(e));
  errs.push(...immutable(e.action, o.action, path('action')));
  errs.push(...immutable(e.related, o.related, path('related')));
  errs.push(...immutable(e.reportingComponent, o.reportingComponent, path('reportingController')));
  errs.push(...immutable(e.reportingInstance, o.reportingInstance, path('reportingInstance')));
  return errs;
}

const involved = (obj: any): any => obj?.involvedObject ?? obj?.regarding ?? {};
// eslint-disable-next-line @typescript-eslint/no-base-to-string -- API fields stringified as JavaScript does (scalars in practice)
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** Upstream's selectable fields for events, under both the core and the events.k8s.io names. */
export const eventFieldSelectors: Record<string, (obj: any) => string | undefined> = {};
for (const f of ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) {
  eventFieldSelectors[`involvedObject.${f}`] = (obj) => str(involved(obj)[f]);
  eventFieldSelectors[`regarding.${f}`] = (obj) => str(involved(obj)[f]);
}
eventFieldSelectors.reason = (obj) => str(obj?.reason);
eventFieldSelectors.type = (obj) => str(obj?.type);
eventFieldSelectors.source = (obj) => str((obj?.source ?? obj?.deprecatedSource)?.component);
eventFieldSelectors.reportingComponent = (obj) => str(obj?.reportingComponent ?? obj?.reportingController);
eventFieldSelectors.reportingController = eventFieldSelectors.reportingComponent;

export const eventResource: ResourceDef = {
  group: 'events.k8s.io',
  versions: [{ name: 'v1', toStorage: eventV1ToCore, fromStorage: eventCoreToV1 }],
  kind: 'Event',
  plural: 'events',
  singular: 'event',
  shortNames: ['ev'],
  namespaced: true,
  storagePrefix: '/core/events/',
  generationTracksSpec: false,
  validate: (obj, ctx) => (ctx?.operation === 'update' ? [] : validateEventV1(obj)),
  validateUpdate: validateEventV1Update,
  fieldSelectors: eventFieldSelectors,
  table: eventColumns,
};
