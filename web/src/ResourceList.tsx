// One kind's objects (in a namespace, or all) with the server's own Table columns, kept live by
// a watch of the same Table view; label selectors filter on the server, names on the page.
import { useEffect, useMemo, useState } from 'react';
import { listWatch, TABLE_ACCEPT, type ObjectMeta } from './api.js';
import { collectionPath, type Kind } from './discovery.js';
import { objectHref } from './router.js';

interface Column {
  name: string;
  type: string;
  priority?: number;
  description?: string;
}
interface Row {
  cells: unknown[];
  object: { metadata: ObjectMeta };
}
interface Table {
  metadata: { resourceVersion?: string };
  columnDefinitions: Column[];
  rows: Row[] | null;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Applies a watch event's rows (a Table of one) to the rows shown. */
function applyRows(rows: Row[], type: string, changed: Row[]): Row[] {
  let next = rows;
  for (const row of changed) {
    const uid = row.object.metadata.uid;
    const at = next.findIndex((r) => r.object.metadata.uid === uid);
    if (type === 'DELETED') {
      if (at >= 0) next = next.filter((_, i) => i !== at);
    } else if (at < 0) next = [...next, row];
    else {
      next = next === rows ? rows.slice() : next;
      next[at] = row;
    }
  }
  return next;
}

export function ResourceList({ kind, namespace }: { kind: Kind; namespace: string }) {
  const [columns, setColumns] = useState<Column[]>([]);
  const [rows, setRows] = useState<Row[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState('');
  const [labelInput, setLabelInput] = useState('');
  const [selector, setSelector] = useState('');
  const [nameFilter, setNameFilter] = useState('');

  const path = collectionPath(kind, namespace) + (selector ? `?labelSelector=${encodeURIComponent(selector)}` : '');
  useEffect(() => {
    setLoaded(false);
    setError('');
    return listWatch<Table, Table & { metadata: ObjectMeta }>(
      path,
      {
        list: (t) => {
          setColumns(t.columnDefinitions);
          setRows(t.rows ?? []);
          setLoaded(true);
        },
        event: (e) => setRows((prev) => applyRows(prev, e.type, e.object.rows ?? [])),
        error: (err) => setError(err instanceof Error ? err.message : String(err)),
      },
      TABLE_ACCEPT,
    );
  }, [path]);

  // Priority 0 columns are the ones kubectl shows without -o wide.
  const shown = columns.map((c, i) => ({ c, i })).filter(({ c }) => !c.priority);
  const visible = useMemo(
    () =>
      rows
        .filter((r) => (r.object.metadata.name ?? '').includes(nameFilter))
        .sort(
          (a, b) =>
            (a.object.metadata.namespace ?? '').localeCompare(b.object.metadata.namespace ?? '') ||
            (a.object.metadata.name ?? '').localeCompare(b.object.metadata.name ?? ''),
        ),
    [rows, nameFilter],
  );
  const allNamespaces = kind.namespaced && !namespace;
  return (
    <section className="list">
      <h2>
        {kind.kind} <small>{kind.namespaced ? namespace || 'all namespaces' : 'cluster'}</small>
      </h2>
      <div className="filters">
        <input
          name="name-filter"
          placeholder="Filter by name"
          value={nameFilter}
          onChange={(e) => setNameFilter(e.target.value)}
        />
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setSelector(labelInput.trim());
          }}
        >
          <input
            name="label-selector"
            placeholder="Label selector (app=web,tier!=db)"
            value={labelInput}
            onChange={(e) => setLabelInput(e.target.value)}
          />
        </form>
        <span className="count" data-testid="row-count">
          {loaded ? `${visible.length} of ${rows.length}` : 'loading…'}
        </span>
      </div>
      {error && <p className="error">{error}</p>}
      <table data-testid="resource-table">
        <thead>
          <tr>
            {allNamespaces && <th>Namespace</th>}
            {shown.map(({ c }) => (
              <th key={c.name} title={c.description}>
                {c.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {visible.map((r) => {
            const m = r.object.metadata;
            const href = objectHref(kind, m.namespace ?? '', m.name ?? '');
            return (
              <tr key={m.uid ?? m.name} data-name={m.name}>
                {allNamespaces && <td>{m.namespace}</td>}
                {shown.map(({ c, i }) => (
                  <td key={c.name}>{c.name === 'Name' ? <a href={href}>{cell(r.cells[i])}</a> : cell(r.cells[i])}</td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
