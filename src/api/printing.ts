// Shared building blocks for the server-side Table columns of the built-in types (what
// `kubectl get` prints). The per-group files under src/api/<group>/<version>/tables.ts combine
// them; the cell formats follow upstream's printers so kubectl output looks the same.
import type { Container } from 'kubernetes-types/core/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { TableColumn } from './types.js';
import { age } from '../machinery/duration.js';
import { formatLabelSelector } from '../machinery/labels.js';
import { Quantity } from '../machinery/quantity.js';
import * as time from '../machinery/time.js';

/** A label map as `a=b,c=d` with sorted keys, `<none>` when empty (labels.FormatLabels). */
export { formatLabels } from '../machinery/labels.js';

export const NONE = '<none>';
export const UNSET = '<unset>';
export const UNKNOWN = '<unknown>';

/** The value itself, or `<none>` when it is empty or absent. */
export function orNone(value: string | undefined | null): string {
  return value ? value : NONE;
}

/** Joins the non-empty values with `sep`, or `<none>` when nothing is left. */
export function joinOrNone(values: readonly (string | undefined)[] | undefined, sep = ','): string {
  const kept = (values ?? []).filter((v): v is string => !!v);
  return kept.length ? kept.join(sep) : NONE;
}

/** `True`, `False`, or `<unset>` for an absent optional boolean (upstream printBoolPtr). */
export function boolPtr(value: boolean | undefined | null): string {
  if (value === undefined || value === null) return UNSET;
  return value ? 'True' : 'False';
}

/** metav1.FormatLabelSelector: `<none>` for an empty or absent selector. */
export function selectorString(sel: LabelSelector | undefined | null): string {
  return formatLabelSelector(sel ?? undefined);
}

/**
 * A quantity in its canonical form, as resource.Quantity's String() prints it. Absent quantities
 * print as `0` (a zero Quantity), which is what upstream shows for missing map entries.
 */
export function quantityString(value: string | number | undefined | null): string {
  if (value === undefined || value === null || value === '') return '0';
  try {
    return Quantity.parse(String(value)).toString();
  } catch {
    return String(value);
  }
}

/** Comma-joined container names and images (upstream layoutContainerCells). */
export function containerCells(containers: readonly Container[] | undefined): { names: string; images: string } {
  const list = containers ?? [];
  return {
    names: list.map((c) => c.name ?? '').join(','),
    images: list.map((c) => c.image ?? '').join(','),
  };
}

/** At most `max` entries, then ` + N more...`; `<unset>` when the list is empty. */
export function listWithMore(list: string[], count: number, max: number): string {
  const shown = list.slice(0, max).join(',');
  if (count > max) return `${shown} + ${count - max} more...`;
  return shown === '' ? UNSET : shown;
}

/** RFC 3339 in UTC without fractional seconds, as Go's time.RFC3339 formats a metav1.Time. */
export function rfc3339(timestamp: string | undefined): string {
  const ms = timestamp ? Date.parse(timestamp) : NaN;
  if (Number.isNaN(ms)) return '0001-01-01T00:00:00Z';
  return time.rfc3339(ms);
}

/** Sorted unique IPs (or hostnames when there is no IP) of a load-balancer status, comma-joined. */
export function loadBalancerIngress(ingress: readonly { ip?: string; hostname?: string }[] | undefined): string {
  const set = new Set<string>();
  for (const i of ingress ?? []) {
    if (i.ip) set.add(i.ip);
    else if (i.hostname) set.add(i.hostname);
  }
  return [...set].sort().join(',');
}

/** host:port, with brackets around IPv6 hosts (Go's net.JoinHostPort). */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// Columns used by many types

export function nameColumn(description = 'Name of the object, unique within its namespace.'): TableColumn {
  return {
    name: 'Name',
    type: 'string',
    format: 'name',
    description,
    cell: (o) => o?.metadata?.name ?? '',
    reads: { metadata: { name: true } },
  };
}

export function ageColumn(): TableColumn {
  return {
    name: 'Age',
    type: 'string',
    description: 'Time since the object was created (from creationTimestamp).',
    cell: (o, now) => age(o?.metadata?.creationTimestamp, now),
    reads: { metadata: { creationTimestamp: true } },
  };
}

/** The default table's second column: the creation time in RFC 3339. */
export function createdAtColumn(): TableColumn {
  return {
    name: 'Created At',
    type: 'date',
    description: 'When the object was created, in RFC 3339 form.',
    cell: (o) => rfc3339(o?.metadata?.creationTimestamp),
    reads: { metadata: { creationTimestamp: true } },
  };
}

/** NAME and CREATED AT: what upstream prints for types without their own printer. */
export function defaultColumns(): TableColumn[] {
  return [nameColumn(), createdAtColumn()];
}

/** CONTAINERS and IMAGES for a workload; `containers` extracts the pod template's containers. */
export function containerColumns(containers: (obj: any) => Container[] | undefined, priority = 1): TableColumn[] {
  const p = priority ? { priority } : {};
  return [
    {
      name: 'Containers',
      type: 'string',
      ...p,
      description: 'Names of the containers in the template.',
      cell: (o) => containerCells(containers(o)).names,
    },
    {
      name: 'Images',
      type: 'string',
      ...p,
      description: 'Images used by the containers in the template.',
      cell: (o) => containerCells(containers(o)).images,
    },
  ];
}

/** A wide SELECTOR column printed with metav1.FormatLabelSelector. */
export function labelSelectorColumn(
  selector: (obj: any) => LabelSelector | undefined,
  description: string,
): TableColumn {
  return { name: 'Selector', type: 'string', priority: 1, description, cell: (o) => selectorString(selector(o)) };
}
