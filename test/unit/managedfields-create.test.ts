// A create's managedFields made in one walk of the object (recordCreate) must be exactly what
// upstream's general algorithm (recordUpdateGeneral: the object compared with the empty one of its
// type, the set stripped of server-owned fields and encoded) gives: the same entry, the same
// FieldsV1 keys in the same order. Checked on objects generated at random from the built-in and
// custom schemas (associative lists keyed by one field or several, sets, atomic maps, free-form
// values), with nulls, empties, wrong shapes, duplicate and missing keys and prototype keys mixed
// in, with and without a status subresource.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordCreate, recordUpdateGeneral, recordUpdateOperation } from '../../src/machinery/ssa/manager.js';
import type { TypeRef } from '../../src/machinery/ssa/typed.js';
import { BuiltinFieldSchema } from '../../src/apiserver/fieldschema.js';
import { publishedSchema } from '../../src/machinery/crdschema/schema.js';
import { resolveRef, type Definitions, type Schema } from '../../src/machinery/openapi/definitions.js';
import { fillNilFields } from '../../src/machinery/protobuf/nilfields.js';
import { prng } from '../support/prng.js';
import { widgetSchema } from '../support/widget.js';

const schemas = new BuiltinFieldSchema();
// The managedFields tests' custom resource, with one more associative list: keyed by three
// fields, none defaulted, its items holding another one.
const gadgetSchema = widgetSchema();
gadgetSchema.properties.spec.properties.routes = {
  type: 'array',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['zone', 'host', 'weight'],
  items: {
    type: 'object',
    properties: {
      zone: { type: 'string' },
      host: { type: 'string' },
      weight: { type: 'integer' },
      backends: {
        type: 'array',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        items: {
          type: 'object',
          properties: { name: { type: 'string' }, tags: { type: 'object', additionalProperties: { type: 'string' } } },
        },
      },
    },
  },
};
const gadget = publishedSchema('stable.example.com', 'v1', 'Gadget', 'GadgetList', gadgetSchema);
schemas.register('stable.example.com', 'v1', 'Gadget', gadget.definition, gadget.definitions);

interface Kind {
  group: string;
  version: string;
  kind: string;
}

const KINDS: Kind[] = [
  { group: '', version: 'v1', kind: 'Pod' },
  { group: '', version: 'v1', kind: 'ConfigMap' },
  { group: '', version: 'v1', kind: 'Service' },
  { group: '', version: 'v1', kind: 'Node' },
  { group: '', version: 'v1', kind: 'Secret' },
  { group: 'apps', version: 'v1', kind: 'Deployment' },
  { group: 'apps', version: 'v1', kind: 'StatefulSet' },
  { group: 'batch', version: 'v1', kind: 'Job' },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' },
  { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' },
  { group: 'stable.example.com', version: 'v1', kind: 'Gadget' },
];

/** Few distinct names, so associative list keys repeat now and then. */
const NAMES = ['a', 'b', 'c', 'TCP', 'UDP', 'constructor', '__proto__', 'x.y/z', 'é'];

class Gen {
  constructor(
    readonly rnd: () => number,
    private extra: Definitions | undefined,
  ) {}

  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)];
  }

  /** A value a client might send where `schema` is expected, at nesting `depth`. */
  value(schema: Schema | undefined, depth: number): unknown {
    // Now and then what a careless or hostile client sends: null, empties, the wrong shape.
    const odd = this.rnd();
    if (odd < 0.04) return null;
    if (odd < 0.06) return {};
    if (odd < 0.08) return [];
    if (odd < 0.09) return this.pick(['s', 1, true]);
    if (odd < 0.1) return { odd: this.pick(NAMES) };
    const s = resolveRef(schema, this.extra);
    if (!s || s['x-kubernetes-preserve-unknown-fields'] === true) return this.free(depth);
    if (s['x-kubernetes-int-or-string'] === true || s.format === 'int-or-string')
      return this.chance(0.5) ? this.pick(NAMES) : Math.floor(this.rnd() * 5);
    if (s.type === 'array') return this.list(s, depth);
    if (s.type === 'object' || s.properties || s.additionalProperties) return this.object(s, depth);
    if (s.type === 'integer' || s.type === 'number') return Math.floor(this.rnd() * 4);
    if (s.type === 'boolean') return this.chance(0.5);
    return this.pick(NAMES);
  }

  object(s: Schema, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (depth > 7) return out;
    const props = Object.entries(s.properties ?? {});
    // Wide structs (a PodSpec) get a few fields each, narrow ones most of theirs.
    const p = Math.min(0.8, 4 / Math.max(1, props.length)) * (depth > 4 ? 0.6 : 1);
    for (const [name, prop] of props)
      if (name !== 'managedFields' && this.chance(p)) set(out, name, this.value(prop, depth + 1));
    const add = s.additionalProperties;
    if (add && typeof add === 'object') {
      const n = Math.floor(this.rnd() * 3);
      for (let i = 0; i < n; i++) set(out, this.pick(NAMES), this.value(add, depth + 1));
    }
    if (this.chance(0.03)) set(out, this.pick(NAMES), this.free(depth + 1)); // an undeclared field
    return out;
  }

  list(s: Schema, depth: number): unknown[] {
    const n = depth > 7 ? 0 : Math.floor(this.rnd() * 4);
    const out: unknown[] = [];
    const items = s.items;
    const itemSchema = resolveRef(items, this.extra);
    for (let i = 0; i < n; i++) {
      const item = this.value(items, depth + 1);
      // Keys from a small pool: duplicates, and keys left out (some defaulted), happen.
      if (item && typeof item === 'object' && !Array.isArray(item) && itemSchema?.properties) {
        for (const [name, prop] of Object.entries(itemSchema.properties)) {
          const ps = resolveRef(prop, this.extra);
          if (!this.chance(0.7) || (ps?.type !== 'string' && ps?.type !== 'integer')) continue;
          set(item, name, ps.type === 'integer' ? Math.floor(this.rnd() * 3) : this.pick(NAMES.slice(0, 5)));
        }
      }
      out.push(item);
    }
    return out;
  }

  /** A value no schema describes. */
  free(depth: number): unknown {
    const r = this.rnd();
    if (depth > 6 || r < 0.4) return this.pick(['v', 2, false, null]);
    if (r < 0.7) {
      const o: Record<string, unknown> = {};
      const n = Math.floor(this.rnd() * 3);
      for (let i = 0; i < n; i++) set(o, this.pick(NAMES), this.free(depth + 1));
      return o;
    }
    return Array.from({ length: Math.floor(this.rnd() * 3) }, () => this.free(depth + 1));
  }
}

/** An own property, __proto__ included (as JSON.parse makes it). */
function set(o: any, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/** A create's object as the store hands it over: identity, server fields, Go's nulls filled in. */
function objectOf(k: Kind, type: TypeRef, g: Gen): any {
  const apiVersion = k.group ? `${k.group}/${k.version}` : k.version;
  const root = resolveRef(type.schema, type.extra)!;
  const obj: any = g.object(root, 0);
  obj.apiVersion = apiVersion;
  obj.kind = k.kind;
  if (typeof obj.metadata !== 'object' || obj.metadata === null || Array.isArray(obj.metadata)) obj.metadata = {};
  const meta = obj.metadata;
  meta.name = 'obj';
  if (g.chance(0.8)) meta.namespace = 'default';
  meta.uid = '6b1c4a52-8f0e-4f8e-9a51-2b0f3d1e7c11';
  meta.creationTimestamp = '2026-12-07T20:00:00Z';
  if (g.chance(0.5)) meta.generation = 1;
  const mf = g.rnd();
  if (mf < 0.1) meta.managedFields = [];
  else if (mf < 0.15) meta.managedFields = [{}];
  else if (mf < 0.2) meta.managedFields = null;
  fillNilFields(obj);
  return obj;
}

function typeOf(k: Kind): TypeRef {
  const t = schemas.typeFor(k.group, k.version, k.kind);
  assert.ok(t?.schema, `no schema for ${k.kind}`);
  return t;
}

test('a create: recordCreate gives what the general algorithm gives, on random objects of many kinds', () => {
  let withEntry = 0;
  let total = 0;
  for (const k of KINDS) {
    const type = typeOf(k);
    for (let seed = 1; seed <= 150; seed++) {
      const g = new Gen(prng(seed * 7919 + k.kind.length), type.extra);
      const obj = objectOf(k, type, g);
      for (const statusSubresource of [false, true]) {
        const opts = {
          manager: seed % 3 ? 'kubectl-create' : 'we"ird\\name',
          apiVersion: obj.apiVersion,
          type,
          statusSubresource,
          now: () => (seed % 5 ? '2026-12-07T20:00:01Z' : ''),
        };
        const general = structuredClone(obj);
        recordUpdateGeneral(general, undefined, opts);
        const fast = structuredClone(obj);
        recordCreate(fast, opts);
        const label = `${k.kind} seed ${seed} statusSubresource=${statusSubresource}: ${JSON.stringify(obj)}`;
        assert.equal(JSON.stringify(fast), JSON.stringify(general), label);
        const dispatched = structuredClone(obj);
        recordUpdateOperation(dispatched, undefined, opts);
        assert.equal(JSON.stringify(dispatched), JSON.stringify(general), label);
        total++;
        if (general.metadata.managedFields) withEntry++;
      }
    }
  }
  // Not a vacuous comparison: nearly every object has fields a manager owns.
  assert.ok(withEntry > total * 0.9, `${withEntry} of ${total} creates have an entry`);
});

test('a create: recordCreate gives what the general algorithm gives, on fixed shapes', () => {
  const cm = typeOf({ group: '', version: 'v1', kind: 'ConfigMap' });
  const pod = typeOf({ group: '', version: 'v1', kind: 'Pod' });
  const free: TypeRef = { schema: undefined };
  const cases: [string, TypeRef, any][] = [
    [
      'the benchmark ConfigMap',
      cm,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'c', namespace: 'ns', labels: { app: 'bench' }, uid: 'u', creationTimestamp: 't' },
        data: { value: 'x'.repeat(64) },
      },
    ],
    ['no metadata', cm, { apiVersion: 'v1', kind: 'ConfigMap', data: { a: 'b' } }],
    ['nothing owned', cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'n' } }],
    [
      'wrong shapes',
      cm,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'x', labels: ['a'] },
        data: 'str',
        immutable: { no: 1 },
      },
    ],
    [
      'a stripped field with children',
      cm,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: { a: 1 }, uid: [1] } },
    ],
    [
      'undefined members',
      cm,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', labels: { a: undefined } }, data: undefined },
    ],
    [
      'a pod with duplicate and keyless containers',
      pod,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p' },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'a',
              ports: [{ containerPort: 80 }, { containerPort: 80, protocol: 'UDP' }, { name: 'p' }],
            },
            { name: 'app', image: 'dup' },
            { image: 'no-name' },
            'not-a-map',
            undefined,
          ],
          volumes: null,
          nodeSelector: {},
        },
        status: { phase: 'Pending' },
      },
    ],
    [
      'free-form',
      free,
      {
        apiVersion: 'example.com/v1',
        kind: 'Thing',
        metadata: { name: 'x' },
        spec: { list: [{ a: 1 }], m: { b: { c: null } } },
        status: { ok: true },
      },
    ],
  ];
  for (const [label, type, obj] of cases) {
    fillNilFields(obj);
    for (const statusSubresource of [false, true]) {
      const opts = { manager: 'm', apiVersion: 'v1', type, statusSubresource, now: () => '2026-12-07T20:00:01Z' };
      const general = structuredClone(obj);
      recordUpdateGeneral(general, undefined, opts);
      const fast = structuredClone(obj);
      recordCreate(fast, opts);
      assert.equal(JSON.stringify(fast), JSON.stringify(general), label);
    }
  }
});
