// Where a process's heap goes, by owner: reads a V8 heap snapshot (`node --heapsnapshot-signal`,
// `v8.writeHeapSnapshot`) and prints, for each owner, the bytes only it keeps alive: what the
// collector could free if every instance of that class (or, for `Class.edge`, that property of
// every instance) were gone. Objects reachable through two owners (an object the watch cache
// shares with an informer) count for neither; the rest of the heap is the last line.
//
//   node dist/bench/heapowners.js FILE.heapsnapshot [Owner ...]
//   node dist/bench/heapowners.js FILE.heapsnapshot --detail WatchCache.items   # what that owner keeps
//
// Owners default to the server's: the watch cache (its live objects and its history apart), the
// informers' indexers, the scheduler's cache and queue, the work queues, the garbage collector's
// graph.
import { readFileSync } from 'node:fs';

const DEFAULT_OWNERS = [
  'WatchCache',
  'WatchCache.items',
  'WatchCache.history',
  'SharedIndexInformer',
  'DependencyGraph',
  'SchedulerCache',
  'SchedulingQueue',
  'RateLimitingQueue',
];

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function main() {
  const [file, ...named] = process.argv.slice(2);
  if (!file) throw new Error('usage: heapowners FILE.heapsnapshot [Owner ...] | --detail Owner');
  const detail = named[0] === '--detail' ? named[1] : undefined;
  const owners = detail ? [detail] : named.length ? named : DEFAULT_OWNERS;
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const { meta } = snap.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSize = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const edgeTypes = meta.edge_types[0];
  const weak = edgeTypes.indexOf('weak');
  const namedEdge = new Set(['context', 'property', 'internal', 'shortcut'].map((t) => edgeTypes.indexOf(t)));
  const objectType = meta.node_types[0].indexOf('object');
  const { nodes, edges, strings } = snap;
  const count = nodes.length / nf;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += nodes[i * nf + nEdges] * ef;
    firstEdge[i + 1] = e;
  }
  const className = (i: number) => (nodes[i * nf + nType] === objectType ? strings[nodes[i * nf + nName]] : '');

  /** Bytes reachable from the root (node 0) without entering a cut node or following a cut edge. */
  let seen = new Uint8Array(count);
  const reachable = (cutNode: (i: number) => boolean, cutEdge: (from: number, name: string) => boolean) => {
    seen = new Uint8Array(count);
    const stack = [0];
    seen[0] = 1;
    let bytes = 0;
    while (stack.length) {
      const i = stack.pop()!;
      bytes += nodes[i * nf + nSize];
      for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += ef) {
        const type = edges[e + eType];
        if (type === weak) continue;
        const to = edges[e + eTo] / nf;
        if (seen[to] || cutNode(to)) continue;
        if (namedEdge.has(type) && cutEdge(i, strings[edges[e + eName]])) continue;
        seen[to] = 1;
        stack.push(to);
      }
    }
    return bytes;
  };

  const total = reachable(
    () => false,
    () => false,
  );
  const all = seen;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1).padStart(8);
  console.log(`${mib(total)} MiB  reachable heap (${count} nodes)`);
  let attributed = 0;
  for (const owner of owners) {
    const [cls, prop] = owner.split('.');
    const without = prop
      ? reachable(
          () => false,
          (from, name) => name === prop && className(from) === cls,
        )
      : reachable(
          (i) => className(i) === cls,
          () => false,
        );
    const kept = total - without;
    if (detail) return printDetail(all, seen);
    // `Class.edge` owners are parts of `Class`: only whole classes add up.
    if (!prop) attributed += kept;
    console.log(`${mib(kept)} MiB  ${owner}`);
  }
  console.log(`${mib(total - attributed)} MiB  the rest (shared between owners, or owned by none of them)`);

  /** What the owner alone keeps, grouped by kind of node (constructor, or string size). */
  function printDetail(all: Uint8Array, without: Uint8Array) {
    const types = meta.node_types[0];
    const groups = new Map<string, { n: number; bytes: number }>();
    for (let i = 0; i < count; i++) {
      if (!all[i] || without[i]) continue;
      const type = types[nodes[i * nf + nType]];
      const size = nodes[i * nf + nSize];
      const group = type.includes('string')
        ? `${type} ${size < 64 ? '< 64 B' : size < 256 ? '< 256 B' : size < 2048 ? '< 2 KiB' : '≥ 2 KiB'}`
        : `${type} ${strings[nodes[i * nf + nName]].slice(0, 40)}`;
      const g = groups.get(group) ?? { n: 0, bytes: 0 };
      g.n++;
      g.bytes += size;
      groups.set(group, g);
    }
    for (const [group, g] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 20))
      console.log(`${mib(g.bytes)} MiB  ${String(g.n).padStart(9)}  ${group}`);
  }
}

main();
