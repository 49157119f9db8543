// Server-side printer columns (kubectl get) for events.k8s.io/v1 events. Upstream serves these
// from the same storage as core/v1 events and prints them the same way; only field names differ.
import type { Event } from 'kubernetes-types/events/v1.js';
import type { TableColumn } from '../../types.js';
import { makeEventColumns } from '../../core/v1/tables.js';

export const eventColumns: TableColumn[] = makeEventColumns((e: Event) => ({
  firstTimestamp: e.deprecatedFirstTimestamp,
  lastTimestamp: e.deprecatedLastTimestamp,
  eventTime: e.eventTime,
  count: e.deprecatedCount,
  series: e.series,
  type: e.type,
  reason: e.reason,
  message: e.note,
  involvedKind: e.regarding?.kind,
  involvedName: e.regarding?.name,
  fieldPath: e.regarding?.fieldPath,
  sourceComponent: e.deprecatedSource?.component,
  sourceHost: e.deprecatedSource?.host,
  reportingController: e.reportingController,
  reportingInstance: e.reportingInstance,
}));
