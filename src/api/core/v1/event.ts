// core/v1 Event: the lenient legacy validation upstream keeps for v1, and its field selectors.
import type { Event } from 'kubernetes-types/core/v1.js';
import type { ResourceDef } from '../../types.js';
import { type FieldError, invalid, path, required } from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain, isQualifiedName } from '../../../machinery/validation.js';
import { eventColumns } from './tables.js';

const REPORTING_INSTANCE_LIMIT = 128;
const ACTION_LIMIT = 128;
const REASON_LIMIT = 128;
const NOTE_LIMIT = 1024;

/** legacyValidateEvent as it applies to core/v1 requests. */
export function validateEvent(event: Event): FieldError[] {
  const e = event as any;
  const errs: FieldError[] = [];
  const ns: string = e.metadata?.namespace ?? '';
  const involvedNS: string = e.involvedObject?.namespace ?? '';
  const nsPath = path('involvedObject', 'namespace');
  if (!e.eventTime) {
    if (!involvedNS) {
      if (ns !== '' && ns !== 'default') errs.push(invalid(nsPath, involvedNS, 'does not match event.namespace'));
    } else if (ns !== involvedNS) {
      errs.push(invalid(nsPath, involvedNS, 'does not match event.namespace'));
    }
  } else {
    if (!involvedNS && ns !== 'default' && ns !== 'kube-system')
      errs.push(invalid(nsPath, involvedNS, 'does not match event.namespace'));
    const rc: string = e.reportingComponent ?? '';
    if (!rc) errs.push(required(path('reportingComponent')));
    errs.push(...isQualifiedName(rc).map((m) => invalid(path('reportingComponent'), rc, m)));
    const ri: string = e.reportingInstance ?? '';
    if (!ri) errs.push(required(path('reportingInstance')));
    if (ri.length > REPORTING_INSTANCE_LIMIT)
      errs.push(invalid(path('reportingInstance'), '', `can have at most ${REPORTING_INSTANCE_LIMIT} characters`));
    const action: string = e.action ?? '';
    if (!action) errs.push(required(path('action')));
    if (action.length > ACTION_LIMIT)
      errs.push(invalid(path('action'), '', `can have at most ${ACTION_LIMIT} characters`));
    const reason: string = e.reason ?? '';
    if (!reason) errs.push(required(path('reason')));
    if (reason.length > REASON_LIMIT)
      errs.push(invalid(path('reason'), '', `can have at most ${REASON_LIMIT} characters`));
    if ((e.message ?? '').length > NOTE_LIMIT)
      errs.push(invalid(path('message'), '', `can have at most ${NOTE_LIMIT} characters`));
  }
  errs.push(...isDNS1123Subdomain(ns).map((m) => invalid(path('namespace'), ns, m)));
  return errs;
}

export const events: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'Event',
  plural: 'events',
  singular: 'event',
  shortNames: ['ev'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  generationTracksSpec: false,
  table: eventColumns,
  validate: (obj: any) => validateEvent(obj),
  fieldSelectors: {
    'involvedObject.kind': (o) => o.involvedObject?.kind ?? '',
    'involvedObject.namespace': (o) => o.involvedObject?.namespace ?? '',
    'involvedObject.name': (o) => o.involvedObject?.name ?? '',
    'involvedObject.uid': (o) => o.involvedObject?.uid ?? '',
    'involvedObject.apiVersion': (o) => o.involvedObject?.apiVersion ?? '',
    'involvedObject.resourceVersion': (o) => o.involvedObject?.resourceVersion ?? '',
    'involvedObject.fieldPath': (o) => o.involvedObject?.fieldPath ?? '',
    reason: (o) => o.reason ?? '',
    reportingComponent: (o) => o.reportingComponent ?? '',
    source: (o) => o.source?.component || o.reportingComponent || '',
    type: (o) => o.type ?? '',
  },
};
