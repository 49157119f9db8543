// Server-side printing: Table and PartialObjectMetadata views of objects, as kubectl asks for
// them (Accept: application/json;as=Table;v=v1;g=meta.k8s.io).
import type { TableColumn } from '../api/types.js';
import {
  type Projection,
  type Span,
  type SpanOf,
  memberSpan,
  mergeProjections,
  project,
} from '../machinery/jsonprojection.js';
import { type StoredObject, keptObjectOf } from '../storage/cacher.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const DEFAULT_COLUMNS: TableColumn[] = [
  {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: 'Name of the object',
    priority: 0,
    cell: (o) => o.metadata?.name,
    reads: { metadata: { name: true } },
  },
  {
    name: 'Created At',
    type: 'date',
    description: 'When the object was created',
    priority: 0,
    cell: (o) => o.metadata?.creationTimestamp,
    reads: { metadata: { creationTimestamp: true } },
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

/** The cells of one object's row. */
function cellsOf(cols: readonly TableColumn[], o: any, now: number): unknown[] {
  return cols.map((c) => {
    try {
      const v = c.cell(o, now);
      return v === undefined || v === null ? (c.type === 'string' ? '' : null) : v;
    } catch {
      return c.type === 'string' ? '<error>' : null;
    }
  });
}

function columnDefinitions(cols: readonly TableColumn[], opts: TableOptions): unknown[] {
  return opts.noHeaders
    ? []
    : cols.map((c) => ({
        name: c.name,
        type: c.type,
        format: c.format ?? '',
        description: c.description ?? '',
        priority: c.priority ?? 0,
      }));
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
    const row: any = { cells: cellsOf(cols, o, now) };
    if (opts.includeObject === 'Object') row.object = o;
    else if (opts.includeObject === 'Metadata') row.object = partialMetadata(o);
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columnDefinitions(cols, opts),
    rows,
  };
}

/** What a set of columns reads of an object, when every column says (TableColumn.reads). */
const readsOf = new WeakMap<readonly TableColumn[], Projection | null>();
function columnsRead(cols: readonly TableColumn[]): Projection | undefined {
  let reads = readsOf.get(cols);
  if (reads === undefined) {
    reads = cols.every((c) => c.reads) ? cols.map((c) => c.reads!).reduce(mergeProjections) : null;
    readsOf.set(cols, reads);
  }
  return reads ?? undefined;
}

const PARTIAL_HEAD = '{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1"';

/**
 * One row's JSON text from a stored object whose served form is its stored form. Its
 * PartialObjectMetadata carries the metadata as the stored text has it, and its cells are computed
 * from the object the cache keeps parsed or else from the parts of the text the columns read; the
 * object is parsed whole only when a column does not say what it reads (or the text surprises).
 */
function rowText(
  cols: readonly TableColumn[],
  reads: Projection | undefined,
  s: StoredObject,
  now: number,
  include: IncludeObject,
): string {
  const json = s.json;
  let o: any;
  let meta: Span | undefined;
  try {
    o = reads ? keptObjectOf(s) : s.obj;
    if (o === undefined) {
      const note: SpanOf = { member: 'metadata' };
      o = project(json, reads!, note);
      meta = note.span;
    } else if (include === 'Metadata') meta = memberSpan(json, 'metadata');
  } catch {
    // Not the JSON expected of a stored object: the whole object, as JSON.parse reads it.
    o = s.obj;
    const cells = JSON.stringify(cellsOf(cols, o, now));
    if (include === 'None') return `{"cells":${cells}}`;
    return `{"cells":${cells},"object":${JSON.stringify(include === 'Object' ? o : partialMetadata(o))}}`;
  }
  let row = '{"cells":[';
  for (let i = 0; i < cols.length; i++) {
    const c = cols[i];
    let v: unknown;
    try {
      v = c.cell(o, now);
      if (v === undefined || v === null) v = c.type === 'string' ? '' : null;
    } catch {
      v = c.type === 'string' ? '<error>' : null;
    }
    // As in an array JSON.stringify writes: null for what has no JSON form.
    row += (i ? ',' : '') + (JSON.stringify(v) ?? 'null');
  }
  if (include === 'None') return row + ']}';
  if (include === 'Object') return `${row}],"object":${json}}`;
  if (meta === undefined) return `${row}],"object":${PARTIAL_HEAD}}}`;
  return `${row}],"object":${PARTIAL_HEAD},"metadata":${json.slice(meta.start, meta.end)}}}`;
}

/**
 * The Table of stored objects as JSON text, the same text as JSON.stringify(toTable(...)) of
 * their parsed objects, for objects whose served form is their stored form (servedAsStored).
 */
export function storedTableText(
  columns: TableColumn[] | undefined,
  items: readonly StoredObject[],
  listMeta: Record<string, unknown>,
  opts: TableOptions,
): string {
  const cols = columns?.length ? columns : DEFAULT_COLUMNS;
  const reads = columnsRead(cols);
  const now = Date.now();
  const shell = JSON.stringify({
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columnDefinitions(cols, opts),
    rows: [],
  });
  // The shell ends with `"rows":[]}`: the rows go between the brackets.
  const rows = items.map((s) => rowText(cols, reads, s, now, opts.includeObject));
  return `${shell.slice(0, -2)}${rows.join(',')}]}`;
}
