// Server-side printing: Table and PartialObjectMetadata views of objects, as kubectl asks for
// them (Accept: application/json;as=Table;v=v1;g=meta.k8s.io).
import type { TableColumn } from '../api/types.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const DEFAULT_COLUMNS: TableColumn[] = [
  {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: 'Name of the object',
    priority: 0,
    cell: (o) => o.metadata?.name,
  },
  {
    name: 'Created At',
    type: 'date',
    description: 'When the object was created',
    priority: 0,
    cell: (o) => o.metadata?.creationTimestamp,
  },
];

export function partialMetadata(obj: any): any {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function partialList(items: any[], listMeta: Record<string, unknown>): any {
  return {
    kind: 'PartialObjectMetadataList',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    items: items.map(partialMetadata),
  };
}

export interface TableOptions {
  includeObject: IncludeObject;
  /** Omit column definitions (watch events after the first). */
  noHeaders?: boolean;
}

export function toTable(
  columns: TableColumn[] | undefined,
  objs: any[],
  listMeta: Record<string, unknown>,
  opts: TableOptions,
): any {
  const cols = columns?.length ? columns : DEFAULT_COLUMNS;
  const now = Date.now();
  const rows = objs.map((o) => {
    const row: any = {
      cells: cols.map((c) => {
        try {
          const v = c.cell(o, now);
          return v === undefined || v === null ? (c.type === 'string' ? '' : null) : v;
        } catch {
          return c.type === 'string' ? '<error>' : null;
        }
      }),
    };
    if (opts.includeObject === 'Object') row.object = o;
    else if (opts.includeObject === 'Metadata') row.object = partialMetadata(o);
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: opts.noHeaders
      ? []
      : cols.map((c) => ({
          name: c.name,
          type: c.type,
          format: c.format ?? '',
          description: c.description ?? '',
          priority: c.priority ?? 0,
        })),
    rows,
  };
}
