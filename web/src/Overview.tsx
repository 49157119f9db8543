// The cluster at a glance: nodes (conditions, capacity, usage from metrics.k8s.io when it is
// served), pods by phase and recent Warning events, all kept live by watches. Usage has no watch
// in the metrics API: it is read again every 15 s while the page is open.
import { useEffect, useState } from 'react';
import { listWatch, request, type KubeObject, type ListOf } from './api.js';
import type { Kind } from './discovery.js';
import { applyEvent } from './live.js';
import { objectHref } from './router.js';

interface NodeStatus {
  conditions?: { type: string; status: string }[];
  capacity?: Record<string, string>;
  allocatable?: Record<string, string>;
}
interface Usage {
  metadata: { name?: string };
  usage: { cpu?: string; memory?: string };
}

const UNITS: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A resource.Quantity as a number (cores, bytes). */
export function quantity(q: string | undefined): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q ?? '');
  if (!m) return 0;
  return Number(m[1]) * (UNITS[m[2]] ?? 1);
}

function useList<T extends KubeObject>(path: string | undefined): T[] | undefined {
  const [items, setItems] = useState<T[] | undefined>();
  useEffect(() => {
    if (!path) return;
    return listWatch<ListOf<T>, T>(path, {
      list: (l) => setItems(l.items),
      event: (e) => setItems((prev) => applyEvent(prev ?? [], e)),
      error: () => setItems((prev) => prev ?? []),
    });
  }, [path]);
  return items;
}

function Bar({
  label,
  used,
  total,
  format,
}: {
  label: string;
  used: number;
  total: number;
  format: (n: number) => string;
}) {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return (
    <div className="bar" title={`${label}: ${format(used)} of ${format(total)}`}>
      <span>{label}</span>
      <svg width="120" height="10" role="img" aria-label={`${label} ${pct.toFixed(0)}%`}>
        <rect width="120" height="10" className="track" />
        <rect width={(120 * pct) / 100} height="10" className={pct > 85 ? 'fill hot' : 'fill'} />
      </svg>
      <small>
        {format(used)} / {format(total)}
      </small>
    </div>
  );
}

const cores = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)}`;
const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)}Gi`;

function useNodeUsage(served: boolean): Map<string, Usage['usage']> {
  const [usage, setUsage] = useState(new Map<string, Usage['usage']>());
  useEffect(() => {
    if (!served) return;
    const read = () =>
      request<ListOf<Usage>>('/apis/metrics.k8s.io/v1beta1/nodes').then(
        (l) => setUsage(new Map(l.items.map((u) => [u.metadata.name ?? '', u.usage]))),
        () => undefined,
      );
    void read();
    const timer = setInterval(() => void read(), 15_000);
    return () => clearInterval(timer);
  }, [served]);
  return usage;
}

interface Event extends KubeObject {
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
}

export function Overview({ kinds }: { kinds: Kind[] }) {
  const nodes = useList<KubeObject>('/api/v1/nodes');
  const pods = useList<KubeObject>('/api/v1/pods');
  const warnings = useList<Event>(`/api/v1/events?fieldSelector=${encodeURIComponent('type=Warning')}`);
  const usage = useNodeUsage(kinds.some((k) => k.group === 'metrics.k8s.io' && k.resource === 'nodes'));
  const phases = new Map<string, number>();
  for (const p of pods ?? []) {
    const phase = (p.status as { phase?: string } | undefined)?.phase ?? 'Unknown';
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
  }
  const recent = [...(warnings ?? [])]
    .sort((a, b) => (b.lastTimestamp ?? b.eventTime ?? '').localeCompare(a.lastTimestamp ?? a.eventTime ?? ''))
    .slice(0, 20);
  return (
    <section className="overview">
      <h2>Nodes</h2>
      <table data-testid="nodes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Conditions</th>
            <th>CPU</th>
            <th>Memory</th>
            <th>Pods</th>
          </tr>
        </thead>
        <tbody>
          {(nodes ?? []).map((n) => {
            const s = (n.status ?? {}) as NodeStatus;
            const u = usage.get(n.metadata.name ?? '');
            const alloc = s.allocatable ?? s.capacity ?? {};
            return (
              <tr key={n.metadata.uid}>
                <td>
                  <a href={objectHref({ group: '', version: 'v1', resource: 'nodes' }, '', n.metadata.name ?? '')}>
                    {n.metadata.name}
                  </a>
                </td>
                <td>
                  {(s.conditions ?? []).map((c) => (
                    <span
                      key={c.type}
                      className={`cond ${(c.type === 'Ready') === (c.status === 'True') ? 'good' : 'bad'}`}
                    >
                      {c.type}={c.status}
                    </span>
                  ))}
                </td>
                <td>
                  {u ? (
                    <Bar label="cpu" used={quantity(u.cpu)} total={quantity(alloc.cpu)} format={cores} />
                  ) : (
                    alloc.cpu
                  )}
                </td>
                <td>
                  {u ? (
                    <Bar label="mem" used={quantity(u.memory)} total={quantity(alloc.memory)} format={gib} />
                  ) : (
                    alloc.memory
                  )}
                </td>
                <td>{alloc.pods}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2>Pods by phase</h2>
      <div className="phases" data-testid="phases">
        {pods === undefined
          ? '…'
          : phases.size === 0
            ? 'No pods.'
            : [...phases].map(([phase, n]) => (
                <span key={phase} className={`phase ${phase}`}>
                  {phase} <b>{n}</b>
                </span>
              ))}
      </div>
      <h2>Recent warnings</h2>
      {recent.length === 0 ? (
        <p>None.</p>
      ) : (
        <table className="events">
          <tbody>
            {recent.map((e) => (
              <tr key={e.metadata.uid} className="warning">
                <td>{e.lastTimestamp ?? e.eventTime}</td>
                <td>
                  {e.involvedObject?.kind} {e.involvedObject?.namespace}/{e.involvedObject?.name}
                </td>
                <td>{e.reason}</td>
                <td>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
