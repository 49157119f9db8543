// The Table of a list written as text from the stored objects (storedTableText) is byte for byte
// the JSON of the Table built from the parsed objects (toTable), for many kinds of pods, whichever
// way a row's cells get their object: the cache's parsed object, the informers' view without
// managedFields, or (nothing kept) only the parts of the stored text the columns read.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { TableColumn } from '../../src/api/types.js';
import * as core from '../../src/api/core/v1/tables.js';
import { type IncludeObject, storedTableText, toTable } from '../../src/apiserver/table.js';
import { type Projection, memberSpan, project, skipValue } from '../../src/machinery/jsonprojection.js';
import { CachedObject, type StoredObject, keptObjectOf, makeStored } from '../../src/storage/cacher.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** A deterministic generator (the same pods every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const NOW = Date.now();
// Every table of the tests is made at NOW: AGE and RESTARTS' "ago" would otherwise move on between
// the table compared and the one it is compared with.
mock.method(Date, 'now', () => NOW);
const ts = (secAgo: number) => new Date(NOW - secAgo * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const TRICKY = ['plain', 'quote " and } ] , :', 'back\\slash\\', 'üñí©ødé ✓', 'tab\tnew\nline', '{"spec":1}', '\\"'];

function containerState(r: () => number): Record<string, unknown> {
  const k = Math.floor(r() * 6);
  if (k === 0) return { running: { startedAt: ts(100) } };
  if (k === 1)
    return { waiting: { reason: ['CrashLoopBackOff', 'ContainerCreating', 'PodInitializing'][Math.floor(r() * 3)] } };
  if (k === 2) return { waiting: {} };
  if (k === 3) return { terminated: { exitCode: 0, reason: 'Completed', finishedAt: ts(50) } };
  if (k === 4) return { terminated: { exitCode: 1 + Math.floor(r() * 3), reason: r() < 0.5 ? undefined : 'Error' } };
  return { terminated: { exitCode: 137, signal: 9 } };
}

function statuses(r: () => number, names: string[]): Record<string, unknown>[] {
  return names.map((name) => {
    const restarts = r() < 0.4 ? Math.floor(r() * 7) : 0;
    return {
      name,
      image: 'registry.example.com/app:1',
      imageID: '',
      ready: r() < 0.6,
      started: r() < 0.7,
      restartCount: restarts,
      state: containerState(r),
      lastState:
        restarts && r() < 0.8 ? { terminated: { exitCode: 1, finishedAt: ts(30 + Math.floor(r() * 90_000)) } } : {},
    };
  });
}

/** A pod as the API stores it, of one of many kinds (pending, running, terminated, initialising...). */
function makePod(i: number, r: () => number): Record<string, unknown> {
  const containers = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, c) => ({
    name: `c${c}`,
    image: 'registry.example.com/app:1',
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 10 },
  }));
  const initContainers =
    r() < 0.35
      ? Array.from({ length: 1 + Math.floor(r() * 2) }, (_, c) => ({
          name: `init${c}`,
          image: 'busybox',
          ...(r() < 0.4 ? { restartPolicy: 'Always' } : {}),
        }))
      : undefined;
  const gates =
    r() < 0.25 ? [{ conditionType: 'example.com/gate-a' }, { conditionType: 'example.com/gate-b' }] : undefined;
  const phase = ['Pending', 'Running', 'Succeeded', 'Failed', undefined][Math.floor(r() * 5)];
  const conditions = [
    { type: 'PodScheduled', status: 'True', ...(r() < 0.1 ? { status: 'False', reason: 'SchedulingGated' } : {}) },
    { type: 'Initialized', status: r() < 0.7 ? 'True' : 'False' },
    { type: 'Ready', status: r() < 0.5 ? 'True' : 'False' },
    ...(gates ? [{ type: 'example.com/gate-a', status: r() < 0.5 ? 'True' : 'False' }] : []),
  ];
  const tricky = TRICKY[i % TRICKY.length];
  const metadata: Record<string, unknown> = {
    name: i % 17 === 3 ? `pød-${i}` : `pod-${i}`,
    generateName: 'pod-',
    namespace: `ns-${i % 3}`,
    uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    creationTimestamp: i % 29 === 5 ? undefined : i % 31 === 7 ? 'not a time' : ts(i * 37),
    labels: { app: 'web', tricky: 'x' },
    annotations: { note: tricky, [tricky]: 'key' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'u', controller: true }],
    ...(r() < 0.15 ? { deletionTimestamp: ts(5), deletionGracePeriodSeconds: 30, finalizers: ['example.com/f'] } : {}),
    managedFields: [
      {
        manager: 'kube-controller-manager',
        operation: 'Update',
        apiVersion: 'v1',
        time: ts(60),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:containers': {} } },
      },
    ],
  };
  const pod: Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: {
      ...(initContainers ? { initContainers } : {}),
      containers,
      ...(r() < 0.8 ? { nodeName: `node-${i % 7}` } : {}),
      ...(gates ? { readinessGates: gates } : {}),
    },
  };
  if (r() < 0.1) return pod; // no status at all
  const ips = r() < 0.7 ? [{ ip: `10.1.${i % 250}.${(i * 7) % 250}` }, { ip: 'fd00::1' }] : undefined;
  pod.status = {
    ...(phase ? { phase } : {}),
    ...(r() < 0.08 ? { reason: r() < 0.5 ? 'NodeLost' : 'Evicted' } : {}),
    conditions,
    ...(ips ? { podIP: ips[0].ip, podIPs: ips } : r() < 0.3 ? { podIP: '10.9.9.9' } : {}),
    ...(r() < 0.2 ? { nominatedNodeName: 'node-nominated' } : {}),
    ...(initContainers
      ? {
          initContainerStatuses: statuses(
            r,
            initContainers.map((c) => c.name),
          ),
        }
      : {}),
    ...(r() < 0.9
      ? {
          containerStatuses: statuses(
            r,
            containers.map((c) => c.name),
          ),
        }
      : {}),
    qosClass: 'BestEffort',
  };
  return pod;
}

/** The stored text, metadata usually third (as the API writes it), sometimes elsewhere. */
function storedText(pod: Record<string, unknown>, rev: number, i: number): string {
  const metadata = { resourceVersion: String(rev), ...(pod.metadata as object) };
  const { apiVersion, kind, spec, status } = pod;
  if (i % 11 === 4) return JSON.stringify({ spec, status, kind, metadata, apiVersion });
  return JSON.stringify({ apiVersion, kind, metadata, spec, status });
}

const PODS = 400;
const r = rng(16);
const pods = Array.from({ length: PODS }, (_, i) => makePod(i, r));
const texts = pods.map((p, i) => storedText(p, 1000 + i, i));
const decode = (_key: string, value: string) => JSON.parse(value);
const key = (i: number) => `/registry/pods/ns/pod-${i}`;
const LIST_META = { resourceVersion: '1400', continue: 'eyJ0b2tlbiI6MX0', remainingItemCount: 1234 };

function expected(cols: TableColumn[] | undefined, includeObject: IncludeObject, noHeaders = false): string {
  // The objects as the cache parses them again from their text.
  return JSON.stringify(
    toTable(
      cols,
      texts.map((t) => JSON.parse(t)),
      LIST_META,
      { includeObject, noHeaders },
    ),
  );
}

/** Cache entries whose parsed objects nothing holds any more: rows parse only what they read. */
async function unkeptItems(): Promise<StoredObject[]> {
  const items = texts.map((t, i) => new CachedObject(key(i), t, 1000 + i, 1000 + i, decode, JSON.parse(t), false));
  // A WeakRef's target lives to the end of the job that made it.
  await new Promise((done) => setImmediate(done));
  gc();
  return items;
}

const COLUMN_SETS: [string, TableColumn[] | undefined][] = [
  ['pod columns', core.podColumns],
  ['the default columns', undefined],
  // A column that does not say what it reads: the row parses the whole object.
  ['columns without reads', core.configMapColumns],
];

for (const [what, cols] of COLUMN_SETS) {
  test(`stored Table text = JSON of toTable: ${what}, every includeObject, every way to the object`, async () => {
    const unkept = await unkeptItems();
    assert.equal(unkept.filter((s) => keptObjectOf(s) !== undefined).length, 0, 'the collector kept none');
    const held = texts.map((t, i) => new CachedObject(key(i), t, 1000 + i, 1000 + i, decode, JSON.parse(t), true));
    const lean = texts.map((t, i) => {
      const c = new CachedObject(key(i), t, 1000 + i, 1000 + i, decode, JSON.parse(t), true);
      c.shared(true); // the informers' view without managedFields
      return c;
    });
    const plain = texts.map((t, i) => makeStored(key(i), JSON.parse(t), 1000 + i, 1000 + i, t));
    for (const includeObject of ['Metadata', 'Object', 'None'] as IncludeObject[]) {
      const want = expected(cols, includeObject);
      for (const [how, items] of [
        ['nothing kept', unkept],
        ['held', held],
        ['lean view', lean],
        ['plain stored', plain],
      ] as const) {
        const got = storedTableText(cols, items, LIST_META, { includeObject });
        if (got !== want) {
          const at = [...got].findIndex((ch, k) => ch !== want[k]);
          assert.fail(
            `${how}, ${includeObject}: differs at ${at}: ${got.slice(at - 120, at + 80)}\n  want ${want.slice(at - 120, at + 80)}`,
          );
        }
      }
    }
    assert.equal(
      storedTableText(cols, unkept, LIST_META, { includeObject: 'Metadata', noHeaders: true }),
      expected(cols, 'Metadata', true),
    );
    assert.equal(
      storedTableText(cols, [], LIST_META, { includeObject: 'Metadata' }),
      JSON.stringify(toTable(cols, [], LIST_META, { includeObject: 'Metadata' })),
    );
  });
}

test('the pods cover every STATUS the printer gives', () => {
  const table = toTable(
    core.podColumns,
    texts.map((t) => JSON.parse(t)),
    {},
    { includeObject: 'None' },
  );
  const seen = new Set(table.rows.map((row: { cells: string[] }) => row.cells[2].replace(/\d+/g, 'N')));
  for (const status of [
    'Pending',
    'Running',
    'Succeeded',
    'Failed',
    'Terminating',
    'Unknown',
    'Completed',
    'NotReady',
    'CrashLoopBackOff',
    'ContainerCreating',
    'Error',
    'Signal:N',
    'ExitCode:N',
    'Init:N/N',
    'Init:Error',
    'Init:ExitCode:N',
    'Init:Signal:N',
    'Init:ContainerCreating',
    'SchedulingGated',
    'NodeLost',
  ])
    assert.ok(seen.has(status), `no pod prints ${status}; seen: ${[...seen].join(' ')}`);
  const restarts = new Set(table.rows.map((row: { cells: string[] }) => /ago\)$/.test(row.cells[3])));
  assert.ok(restarts.has(true) && restarts.has(false));
});

test('a stored text the projection cannot read: the row shows the parsed object', async () => {
  const pod = makePod(1, rng(3));
  const good = storedText(pod, 7, 1);
  for (const includeObject of ['Metadata', 'Object', 'None'] as IncludeObject[]) {
    // Cut short after its metadata: what the cache parses (here, the whole text) is what the row shows.
    const items = [new CachedObject(key(1), good.slice(0, good.length - 40), 7, 7, () => JSON.parse(good), {}, false)];
    await new Promise((done) => setImmediate(done));
    gc();
    assert.equal(keptObjectOf(items[0]), undefined);
    const want = JSON.stringify(toTable(core.podColumns, [JSON.parse(good)], {}, { includeObject }));
    assert.equal(storedTableText(core.podColumns, items, {}, { includeObject }), want);
  }
});

// ---- the projection itself -----------------------------------------------------------------

function pick(value: unknown, proj: Projection): unknown {
  if (proj === true || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => pick(v, proj));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (Object.hasOwn(proj, k)) out[k] = pick(v, proj[k]);
  return out;
}

test('project reads the projected parts as JSON.parse does, spaces, escapes and all', () => {
  const projections: Projection[] = [
    true,
    { metadata: true },
    { metadata: { name: true, annotations: true }, spec: { containers: {} } },
    { status: { conditions: { type: true } }, spec: { nodeName: true, initContainers: true } },
    { nothing: true },
  ];
  for (let i = 0; i < PODS; i += 7) {
    const value = JSON.parse(texts[i]);
    for (const text of [texts[i], JSON.stringify(value, null, 2), JSON.stringify(value, null, '\t')]) {
      for (const proj of projections) assert.deepEqual(project(text, proj), pick(value, proj));
      const span = memberSpan(text, 'metadata')!;
      assert.deepEqual(JSON.parse(text.slice(span.start, span.end)), value.metadata);
      assert.equal(skipValue(text, 0), text.length);
    }
  }
  for (const text of [
    '[1, "a\\\\", {"x": [true, null, -1.5e3]}]',
    '"\\"}"',
    '{}',
    '[]',
    '0',
    '{"__proto__":{"a":1}}',
  ]) {
    assert.deepEqual(project(text, true), JSON.parse(text));
  }
  const proto = project('{"__proto__":{"a":1},"b":2}', JSON.parse('{"__proto__":true}') as Projection) as object;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
  for (const bad of ['{"a":1', '{"a" 1}', '{"a":1,}x', '{"a":"x}', '[1,2', '{"a":1}}'])
    assert.throws(() => project(bad, { a: true }), SyntaxError, bad);
});
