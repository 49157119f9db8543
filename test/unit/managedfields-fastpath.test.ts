// recordUpdateOperation (the managedFields bookkeeping of every create, update and non-apply
// patch) must produce exactly what it produced before it was optimised: the same entries, in
// the same order, with the same FieldsV1 key order. This file runs it side by side with a
// verbatim copy of the previous algorithm (the reference oracle at the bottom) over a corpus of
// built-in and custom objects, creates, updates, subresource writes and request-supplied
// managedFields, plus seeded random edit chains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRef, type Definitions, type Schema } from '../../src/machinery/openapi/definitions.js';
import { deepEqual, isPlainObject } from '../../src/machinery/objects.js';
import { recordUpdateOperation, type UpdateOptions } from '../../src/machinery/ssa/manager.js';
import type { TypeRef } from '../../src/machinery/ssa/typed.js';
import { BuiltinFieldSchema } from '../../src/apiserver/fieldschema.js';
import { publishedSchema } from '../../src/apiserver/crd/schema.js';

// ---- types, as the store's manageFields hook gets them ---------------------------------------

const schemas = new BuiltinFieldSchema();
const widget = publishedSchema('stable.example.com', 'v1', 'Widget', 'WidgetList', {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name', 'protocol'],
          items: { type: 'object', properties: { name: { type: 'string' }, protocol: { type: 'string', default: 'UDP' }, port: { type: 'integer' } }, required: ['name'] },
        },
        tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        plain: { type: 'array', items: { type: 'string' } },
        selector: { type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } },
        config: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        size: { 'x-kubernetes-int-or-string': true },
        template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
        nested: { type: 'object', properties: { inner: { type: 'object', additionalProperties: { type: 'integer' } } } },
      },
    },
    status: { type: 'object', properties: { ready: { type: 'boolean' }, conditions: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'], items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' } } } } } },
  },
} as any);
schemas.register('stable.example.com', 'v1', 'Widget', widget.definition, widget.definitions);

function typeOf(group: string, version: string, kind: string): TypeRef {
  const t = schemas.typeFor(group, version, kind);
  assert.ok(t?.schema, `no schema for ${group}/${version}/${kind}`);
  return t;
}

interface Kind {
  type: TypeRef;
  apiVersion: string;
  statusSubresource: boolean;
  object: () => any;
}

const META = () => ({ name: 'x', namespace: 'default', uid: '6b1c4a52-8f0e-4f8e-9a51-2b0f3d1e7c11', creationTimestamp: '2024-05-01T10:00:00Z', labels: { app: 'bench' } });

const KINDS: Record<string, Kind> = {
  configmap: {
    type: typeOf('', 'v1', 'ConfigMap'),
    apiVersion: 'v1',
    statusSubresource: false,
    object: () => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: META(), data: { payload: 'p'.repeat(64), other: 'o' } }),
  },
  secret: {
    type: typeOf('', 'v1', 'Secret'),
    apiVersion: 'v1',
    statusSubresource: false,
    object: () => ({ apiVersion: 'v1', kind: 'Secret', metadata: { ...META(), annotations: { note: 'n' } }, type: 'Opaque', data: { password: 'cGFzcw==' }, stringData: { user: 'u' } }),
  },
  pod: {
    type: typeOf('', 'v1', 'Pod'),
    apiVersion: 'v1',
    statusSubresource: true,
    object: () => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...META(), finalizers: ['example.com/f'], ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u-1', controller: true }] },
      spec: {
        initContainers: [{ name: 'init', image: 'busybox', command: ['sh', '-c', 'true'], resources: {} }],
        containers: [
          {
            name: 'app',
            image: 'nginx:1.27',
            args: ['-g', 'daemon off;'],
            ports: [{ containerPort: 80, protocol: 'TCP', name: 'http' }, { containerPort: 53, protocol: 'UDP' }, { containerPort: 8080 }],
            env: [{ name: 'A', value: '1' }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            resources: { limits: { cpu: '500m' }, requests: { cpu: '100m', memory: '64Mi' } },
            volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
            securityContext: {},
          },
          { name: 'sidecar', image: 'envoy', resources: {} },
        ],
        volumes: [
          { name: 'data', emptyDir: {} },
          { name: 'kube-api-access', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } },
        ],
        tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
        nodeSelector: { disk: 'ssd' },
        restartPolicy: 'Always',
        dnsPolicy: 'ClusterFirst',
        securityContext: {},
        schedulerName: 'default-scheduler',
        priority: 0,
        enableServiceLinks: true,
      },
      status: { phase: 'Pending', qosClass: 'Burstable', conditions: [{ type: 'PodScheduled', status: 'True' }] },
    }),
  },
  deployment: {
    type: typeOf('apps', 'v1', 'Deployment'),
    apiVersion: 'apps/v1',
    statusSubresource: true,
    object: () => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { ...META(), generation: 1, annotations: { 'deployment.kubernetes.io/revision': '1' } },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        template: {
          metadata: { labels: { app: 'web' }, creationTimestamp: null },
          spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }], restartPolicy: 'Always' },
        },
      },
      status: { replicas: 3, conditions: [{ type: 'Available', status: 'True' }] },
    }),
  },
  service: {
    type: typeOf('', 'v1', 'Service'),
    apiVersion: 'v1',
    statusSubresource: true,
    object: () => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: META(),
      spec: {
        selector: { app: 'web' },
        ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }],
        clusterIP: '10.0.0.10',
        clusterIPs: ['10.0.0.10'],
        type: 'ClusterIP',
        ipFamilies: ['IPv4'],
      },
      status: { loadBalancer: {} },
    }),
  },
  widget: {
    type: typeOf('stable.example.com', 'v1', 'Widget'),
    apiVersion: 'stable.example.com/v1',
    statusSubresource: true,
    object: () => ({
      apiVersion: 'stable.example.com/v1',
      kind: 'Widget',
      metadata: META(),
      spec: {
        ports: [{ name: 'a', port: 1 }, { name: 'b', protocol: 'TCP', port: 2 }],
        tags: ['x', 'y'],
        plain: ['p'],
        selector: { a: '1' },
        config: { deep: { list: [1, 2], map: { k: 'v' } }, empty: {} },
        size: '10%',
        template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'inner' }, spec: { anything: true } },
        nested: { inner: { a: 1, b: 2 } },
      },
      status: { ready: false, conditions: [{ type: 'Ready', status: 'False' }] },
    }),
  },
  freeform: {
    type: { schema: undefined },
    apiVersion: 'example.com/v1',
    statusSubresource: false,
    object: () => ({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: META(), spec: { list: [{ a: 1 }], map: { b: { c: null } }, n: 1 }, status: { ok: true } }),
  },
};

// ---- running both -------------------------------------------------------------------------------

const TIMES = ['2024-05-01T10:00:00Z', '2024-05-01T10:00:00Z', '2024-05-01T10:00:07Z', '2024-05-01T09:59:00Z', '2024-05-01T11:00:00Z'];

interface Step {
  obj: any;
  old: any | undefined;
  opts: Omit<UpdateOptions, 'now'>;
  time: string;
}

/** Runs one write both ways; returns the new implementation's result (equal to the oracle's). */
function check(step: Step, label: string): any {
  const oldBefore = structuredClone(step.old);
  const actual = structuredClone(step.obj);
  const expected = structuredClone(step.obj);
  recordUpdateOperation(actual, step.old, { ...step.opts, now: () => step.time });
  oracle.recordUpdateOperation(expected, structuredClone(step.old), { ...step.opts, now: () => step.time });
  assert.deepStrictEqual(actual, expected, label);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), `${label}: key order`);
  assert.deepStrictEqual(step.old, oldBefore, `${label}: the live object is not modified`);
  return actual;
}

function opts(kind: Kind, manager: string, over: Partial<UpdateOptions> = {}): Omit<UpdateOptions, 'now'> {
  return { manager, apiVersion: kind.apiVersion, type: kind.type, statusSubresource: kind.statusSubresource, ...over };
}

// ---- fixed corpus -------------------------------------------------------------------------------

/** Edits a few fields the way clients do: change, add, remove, reorder list items. */
function edit(obj: any): any {
  const o = structuredClone(obj);
  o.metadata.labels = { ...o.metadata.labels, tier: 'front' };
  delete o.metadata.labels.app;
  if (o.data) o.data = { payload: 'changed', extra: 'e' };
  const spec = o.spec;
  if (spec?.containers) {
    spec.containers = [...spec.containers].reverse();
    spec.containers[0].image = 'changed';
    spec.containers[1].ports = [{ containerPort: 9090, protocol: 'SCTP' }];
    spec.volumes.pop();
    spec.tolerations = [];
  }
  if (spec?.template?.spec?.containers) spec.template.spec.containers[0].env = [{ name: 'X', value: 'y' }];
  if (spec?.ports) spec.ports = [spec.ports[1], { name: 'new', port: 9, protocol: 'TCP' }];
  if (spec?.tags) spec.tags = ['y', 'z'];
  if (spec?.config) spec.config.deep.map = { k2: 'v2' };
  if (spec?.selector && !spec.selector.matchLabels) spec.selector = { b: '2' };
  if (spec?.map) spec.map = 'now a string';
  if (spec) spec.replicas = 7;
  return o;
}

function statusEdit(obj: any): any {
  const o = structuredClone(obj);
  o.status = { ...(o.status ?? {}), observed: 2, conditions: [{ type: 'Ready', status: 'True' }] };
  o.metadata.labels = { changed: 'by-status-writer' }; // ignored by a status write
  return o;
}

/** managedFields a request may carry. */
const REQUEST_MANAGED: Record<string, unknown> = {
  absent: undefined,
  null: null,
  reset: [],
  resetObject: [{}],
  notAList: 'nope',
  badOperation: [{ manager: 'x', operation: 'Patch', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: {} }],
  badFieldsType: [{ manager: 'x', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV2', fieldsV1: {} }],
  badPathElement: [{ manager: 'x', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'z:nope': {} } }],
  custom: [
    { manager: 'helm', operation: 'Apply', apiVersion: 'v1', time: '2024-05-01T09:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} }, 'f:name': {} }, 'f:spec': { 'f:replicas': {}, 'f:ports': { 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {} } } } } },
    { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: '2024-05-01T09:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { '.': {}, 'f:phase': {} } }, subresource: 'status' },
    { manager: 'creator', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { 'f:payload': {} }, 'f:metadata': { 'f:uid': {} } } },
    { manager: 'only-stripped', operation: 'Update', apiVersion: 'v1', time: '2024-05-01T08:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:resourceVersion': {} }, 'f:kind': {} } },
    { manager: 'empty', operation: 'Update', apiVersion: 'v2', fieldsType: 'FieldsV1' },
  ],
};

for (const [name, kind] of Object.entries(KINDS)) {
  test(`recordUpdateOperation matches the previous algorithm: ${name}`, () => {
    for (const [mfName, mf] of Object.entries(REQUEST_MANAGED)) {
      const withMF = (o: any) => {
        const c = structuredClone(o);
        if (mf === undefined) delete c.metadata.managedFields;
        else c.metadata.managedFields = structuredClone(mf);
        return c;
      };
      // create
      const created = check({ obj: withMF(kind.object()), old: undefined, opts: opts(kind, 'creator'), time: TIMES[0]! }, `${name} create (${mfName})`);
      for (const statusSubresource of [true, false]) {
        check({ obj: withMF(kind.object()), old: undefined, opts: opts(kind, 'creator', { statusSubresource }), time: TIMES[1]! }, `${name} create statusSubresource=${statusSubresource} (${mfName})`);
      }
      // updates by another manager, by the same one, and without a change
      const edited = edit(created);
      const updated = check({ obj: withMF(edited), old: created, opts: opts(kind, 'editor'), time: TIMES[2]! }, `${name} update (${mfName})`);
      check({ obj: edited, old: created, opts: opts(kind, 'editor'), time: TIMES[2]! }, `${name} update keeping managedFields`);
      check({ obj: withMF(edit(updated)), old: updated, opts: opts(kind, 'creator'), time: TIMES[3]! }, `${name} update by the creator (${mfName})`);
      check({ obj: withMF(updated), old: updated, opts: opts(kind, 'noop'), time: TIMES[3]! }, `${name} no-op update (${mfName})`);
      check({ obj: withMF(edited), old: created, opts: opts(kind, 'other-version', { apiVersion: 'v9' }), time: TIMES[4]! }, `${name} update at another version (${mfName})`);
      // status subresource: only status counts, request managedFields are not taken
      const status = check({ obj: withMF(statusEdit(updated)), old: updated, opts: opts(kind, 'kubelet', { subresource: 'status' }), time: TIMES[4]! }, `${name} status (${mfName})`);
      check({ obj: withMF(statusEdit(status)), old: status, opts: opts(kind, 'kubelet', { subresource: 'status' }), time: TIMES[0]! }, `${name} status again (${mfName})`);
      check({ obj: withMF(kind.object()), old: undefined, opts: opts(kind, 'scaler', { subresource: 'scale' }), time: TIMES[0]! }, `${name} other subresource (${mfName})`);
    }
  });
}

test('recordUpdateOperation matches the previous algorithm on edge shapes', () => {
  const cm = KINDS.configmap!;
  const cases: [string, any, any][] = [
    ['no metadata', { apiVersion: 'v1', kind: 'ConfigMap', data: { a: 'b' } }, undefined],
    ['nothing owned', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, undefined],
    ['nulls and empties', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', labels: {}, annotations: null }, data: {}, binaryData: null }, undefined],
    ['wrong shapes', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', labels: ['a'], finalizers: 'f' }, data: 'str', immutable: { no: 1 } }, undefined],
    ['update to wrong shapes', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', labels: 'l' }, data: ['a'] }, cm.object()],
    ['update from nothing', cm.object(), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }],
    ['removal of everything', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, check({ obj: cm.object(), old: undefined, opts: opts(cm, 'creator'), time: TIMES[0]! }, 'seed')],
  ];
  for (const [label, obj, old] of cases) {
    for (const subresource of [undefined, 'status']) check({ obj, old, opts: opts(cm, 'm', { subresource }), time: TIMES[0]! }, `${label} (${subresource ?? 'main'})`);
  }
  // Keys Object.prototype also has, at every level (JSON.parse makes "__proto__" an own key).
  const protoKeys = '{"constructor":"c","toString":"t","__proto__":{"hasOwnProperty":"h"}}';
  const odd = (kind: Kind, at: (o: any) => any) => {
    const o = kind.object();
    Object.assign(at(o), JSON.parse(protoKeys));
    return o;
  };
  const widget = KINDS.widget!;
  const oddCases: [Kind, (o: any) => any][] = [
    [cm, (o) => o.data],
    [cm, (o) => o.metadata.labels],
    [cm, (o) => o],
    [widget, (o) => o.spec.config],
    [widget, (o) => o.spec.nested.inner],
    [widget, (o) => o.spec],
    [KINDS.freeform!, (o) => o.spec.map],
    [KINDS.pod!, (o) => o.spec.containers[0]],
  ];
  for (const [kind, at] of oddCases) {
    const withKeys = odd(kind, at);
    const created = check({ obj: withKeys, old: undefined, opts: opts(kind, 'm'), time: TIMES[0]! }, 'prototype keys: create');
    check({ obj: kind.object(), old: created, opts: opts(kind, 'n'), time: TIMES[2]! }, 'prototype keys: removed');
    const plain = check({ obj: kind.object(), old: undefined, opts: opts(kind, 'm'), time: TIMES[0]! }, 'prototype keys: plain create');
    check({ obj: odd(kind, at), old: plain, opts: opts(kind, 'n'), time: TIMES[2]! }, 'prototype keys: added');
  }
  // Manager names and versions that need escaping in identifiers.
  check({ obj: cm.object(), old: undefined, opts: opts(cm, 'we"ird\\name\u2028', { apiVersion: '' }), time: '' }, 'odd manager, no time');
  const pod = KINDS.pod!;
  const bad = pod.object();
  bad.spec.containers.push({ image: 'no-name' }, 'not-a-map');
  bad.spec.containers[0].ports.push({ name: 'no-port' });
  check({ obj: bad, old: undefined, opts: opts(pod, 'm'), time: TIMES[0]! }, 'associative list items without keys');
  check({ obj: pod.object(), old: bad, opts: opts(pod, 'm'), time: TIMES[0]! }, 'from items without keys');
  const dup = pod.object();
  dup.spec.containers.push({ name: 'app', image: 'duplicate' });
  check({ obj: dup, old: pod.object(), opts: opts(pod, 'm'), time: TIMES[0]! }, 'duplicate keys');
});

// ---- random edit chains ---------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every (container, key) in a value, for picking an edit site. */
function sites(v: unknown, out: [any, string | number][] = []): [any, string | number][] {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), sites(x, out)));
  else if (isPlainObject(v)) for (const k of Object.keys(v)) if (k !== 'managedFields') out.push([v, k]), sites(v[k], out);
  return out;
}

function randomEdit(obj: any, rnd: () => number): any {
  const o = structuredClone(obj);
  // metadata stays an object (the store guarantees that), anything inside it may change.
  const all = sites(o).filter(([parent, key]) => parent !== o || key !== 'metadata');
  const edits = 1 + Math.floor(rnd() * 3);
  for (let n = 0; n < edits && all.length; n++) {
    const [parent, key] = all[Math.floor(rnd() * all.length)]!;
    const pick = Math.floor(rnd() * 8);
    const value = parent[key];
    if (pick === 0) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else if (pick === 1) parent[key] = `s${Math.floor(rnd() * 4)}`;
    else if (pick === 2) parent[key] = Math.floor(rnd() * 3);
    else if (pick === 3) parent[key] = null;
    else if (pick === 4) parent[key] = {};
    else if (pick === 5 && Array.isArray(parent)) parent.push(structuredClone(value));
    else if (pick === 6 && isPlainObject(value)) value[`k${Math.floor(rnd() * 3)}`] = 'added';
    else if (pick === 7 && Array.isArray(value)) value.reverse();
    else if (isPlainObject(parent)) parent[`n${Math.floor(rnd() * 3)}`] = { v: 1 };
  }
  return o;
}

test('recordUpdateOperation matches the previous algorithm on random edit chains', () => {
  const rnd = prng(20240501);
  const managers = ['a', 'b', 'kubectl', 'controller'];
  for (const [name, kind] of Object.entries(KINDS)) {
    for (let chain = 0; chain < 12; chain++) {
      let live: any = undefined;
      let obj = kind.object();
      for (let i = 0; i < 8; i++) {
        const subresource = live && rnd() < 0.2 ? 'status' : undefined;
        const keepMF = rnd();
        if (keepMF < 0.15) delete obj.metadata?.managedFields;
        else if (keepMF < 0.2 && isPlainObject(obj.metadata)) obj.metadata.managedFields = [];
        const step: Step = { obj, old: live, opts: opts(kind, managers[Math.floor(rnd() * managers.length)]!, { subresource }), time: TIMES[Math.floor(rnd() * TIMES.length)]! };
        live = check(step, `${name} chain ${chain} step ${i}`);
        obj = randomEdit(live, rnd);
      }
    }
  }
});

// ---- reference oracle -------------------------------------------------------------------------
// REFERENCE ORACLE: a verbatim copy of recordUpdateOperation and everything it used
// (src/machinery/ssa/{manager,typed,fieldset}.ts) as it was before the managedFields fast path.
// It exists only to check the optimised code against; do not optimise or reuse it.

namespace oracle {
  type PathElement = string;
  type Path = PathElement[];

  class FieldSet {
    readonly members = new Set<PathElement>();
    readonly children = new Map<PathElement, FieldSet>();

    static of(...paths: Path[]): FieldSet {
      const s = new FieldSet();
      for (const p of paths) s.insert(p);
      return s;
    }

    isEmpty(): boolean {
      if (this.members.size) return false;
      for (const c of this.children.values()) if (!c.isEmpty()) return false;
      return true;
    }

    insert(path: Path): void {
      if (!path.length) return;
      let node: FieldSet = this;
      for (let i = 0; i < path.length - 1; i++) node = node.child(path[i]!);
      node.members.add(path[path.length - 1]!);
    }

    child(pe: PathElement): FieldSet {
      let c = this.children.get(pe);
      if (!c) {
        c = new FieldSet();
        this.children.set(pe, c);
      }
      return c;
    }

    clone(): FieldSet {
      const s = new FieldSet();
      for (const m of this.members) s.members.add(m);
      for (const [k, c] of this.children) s.children.set(k, c.clone());
      return s;
    }

    union(o: FieldSet): FieldSet {
      const s = this.clone();
      for (const m of o.members) s.members.add(m);
      for (const [k, c] of o.children) {
        const mine = s.children.get(k);
        s.children.set(k, mine ? mine.union(c) : c.clone());
      }
      return s;
    }

    intersection(o: FieldSet): FieldSet {
      const s = new FieldSet();
      for (const m of this.members) if (o.members.has(m)) s.members.add(m);
      for (const [k, c] of this.children) {
        const theirs = o.children.get(k);
        if (!theirs) continue;
        const i = c.intersection(theirs);
        if (!i.isEmpty()) s.children.set(k, i);
      }
      return s;
    }

    difference(o: FieldSet): FieldSet {
      const s = new FieldSet();
      for (const m of this.members) if (!o.members.has(m)) s.members.add(m);
      for (const [k, c] of this.children) {
        const theirs = o.children.get(k);
        const d = theirs ? c.difference(theirs) : c.clone();
        if (!d.isEmpty()) s.children.set(k, d);
      }
      return s;
    }

    recursiveDifference(o: FieldSet): FieldSet {
      const s = new FieldSet();
      for (const m of this.members) if (!o.members.has(m)) s.members.add(m);
      for (const [k, c] of this.children) {
        if (o.members.has(k)) continue;
        const theirs = o.children.get(k);
        const d = theirs ? c.recursiveDifference(theirs) : c.clone();
        if (!d.isEmpty()) s.children.set(k, d);
      }
      return s;
    }

    toFieldsV1(): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      const keys = new Set<PathElement>([...this.members, ...[...this.children].filter(([, c]) => !c.isEmpty()).map(([k]) => k)]);
      for (const k of [...keys].sort(comparePathElements)) {
        const c = this.children.get(k);
        const inner = c && !c.isEmpty() ? c.toFieldsV1() : undefined;
        if (this.members.has(k)) out[k] = inner ? { '.': {}, ...inner } : {};
        else out[k] = inner!;
      }
      return out;
    }

    static fromFieldsV1(v: unknown): FieldSet {
      const s = new FieldSet();
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected an object in FieldsV1');
      for (const [k, sub] of Object.entries(v)) {
        if (k === '.') continue;
        validatePathElement(k);
        if (sub === null || typeof sub !== 'object' || Array.isArray(sub)) throw new Error(`expected an object at ${JSON.stringify(k)} in FieldsV1`);
        const entries = Object.keys(sub);
        if (!entries.length || '.' in sub) s.members.add(k);
        if (entries.some((e) => e !== '.')) {
          const c = FieldSet.fromFieldsV1(sub);
          if (!c.isEmpty()) s.children.set(k, c);
        }
      }
      return s;
    }
  }

  function validatePathElement(k: string): void {
    const kind = k.slice(0, 2);
    const rest = k.slice(2);
    switch (kind) {
      case 'f:':
        return;
      case 'k:':
      case 'v:': {
        let parsed: unknown;
        try {
          parsed = JSON.parse(rest);
        } catch {
          throw new Error(`invalid path element ${JSON.stringify(k)}`);
        }
        if (kind === 'k:' && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) throw new Error(`invalid key in path element ${JSON.stringify(k)}`);
        return;
      }
      case 'i:':
        if (/^\d+$/.test(rest)) return;
    }
    throw new Error(`unknown path element ${JSON.stringify(k)}`);
  }

  const ORDER: Record<string, number> = { 'f:': 0, 'k:': 1, 'v:': 2, 'i:': 3 };

  function comparePathElements(a: PathElement, b: PathElement): number {
    const ta = ORDER[a.slice(0, 2)] ?? 4;
    const tb = ORDER[b.slice(0, 2)] ?? 4;
    if (ta !== tb) return ta - tb;
    if (ta === 3) return Number(a.slice(2)) - Number(b.slice(2));
    return a < b ? -1 : a > b ? 1 : 0;
  }

  // -- typed.ts

  type Resolved =
    | { kind: 'scalar' }
    | { kind: 'map'; atomic: boolean; fields?: Record<string, Schema>; elem: Schema | undefined; declaredOnly: boolean }
    | { kind: 'list'; rel: 'atomic' | 'set' | 'map'; keys: string[]; items: Schema | undefined };

  const FREE: TypeRef = { schema: undefined };
  const KEY_DEFAULTS: Record<string, unknown> = { protocol: 'TCP' };

  function ext(field: Schema | undefined, resolved: Schema | undefined, name: string): unknown {
    return field?.[name] ?? resolved?.[name];
  }

  function resolveType(t: TypeRef, value: unknown): Resolved {
    const field = t.schema;
    const s = field ? resolveRef(field, t.extra) : undefined;
    const deduced = (): Resolved => {
      if (isPlainObject(value)) return { kind: 'map', atomic: false, elem: undefined, declaredOnly: false };
      if (Array.isArray(value)) return { kind: 'list', rel: 'atomic', keys: [], items: undefined };
      return { kind: 'scalar' };
    };
    if (!s) return deduced();
    if (s['x-kubernetes-int-or-string'] === true || s.format === 'int-or-string') return { kind: 'scalar' };
    const isList = s.type === 'array' || (!s.type && s.items !== undefined);
    const isMap = s.type === 'object' || (!s.type && (s.properties !== undefined || s.additionalProperties !== undefined));
    if (isList) {
      if (value !== undefined && value !== null && !Array.isArray(value)) return { kind: 'scalar' };
      const items = s.items;
      const listType = ext(field, s, 'x-kubernetes-list-type') as string | undefined;
      if (listType === 'map') {
        const keys = (ext(field, s, 'x-kubernetes-list-map-keys') as string[] | undefined) ?? [];
        return { kind: 'list', rel: 'map', keys, items };
      }
      if (listType === 'set') return { kind: 'list', rel: 'set', keys: [], items };
      if (listType === 'atomic') return { kind: 'list', rel: 'atomic', keys: [], items };
      const strategy = String(ext(field, s, 'x-kubernetes-patch-strategy') ?? '');
      if (strategy.split(',').includes('merge')) {
        const mergeKey = ext(field, s, 'x-kubernetes-patch-merge-key') as string | undefined;
        if (mergeKey) return { kind: 'list', rel: 'map', keys: [mergeKey], items };
        const itemSchema = items ? resolveRef(items, t.extra) : undefined;
        const scalarItems = itemSchema && itemSchema.type !== 'object' && itemSchema.type !== 'array' && !itemSchema.properties;
        if (scalarItems) return { kind: 'list', rel: 'set', keys: [], items };
      }
      return { kind: 'list', rel: 'atomic', keys: [], items };
    }
    if (isMap || s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-embedded-resource'] === true) {
      if (value !== undefined && value !== null && !isPlainObject(value)) return Array.isArray(value) ? deduced() : { kind: 'scalar' };
      const atomic = ext(field, s, 'x-kubernetes-map-type') === 'atomic';
      const additional = s.additionalProperties;
      const elem = typeof additional === 'object' ? additional : undefined;
      return { kind: 'map', atomic, fields: s.properties, elem, declaredOnly: !!s.properties && additional === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true };
    }
    if (!s.type) return deduced();
    return { kind: 'scalar' };
  }

  function fieldType(r: Resolved & { kind: 'map' }, key: string, extra: Definitions | undefined): TypeRef {
    const prop = r.fields?.[key];
    if (prop) return { schema: prop, extra };
    if (r.elem) return { schema: r.elem, extra };
    return FREE;
  }

  function itemType(r: Resolved & { kind: 'list' }, extra: Definitions | undefined): TypeRef {
    return r.items ? { schema: r.items, extra } : FREE;
  }

  function itemPathElement(r: Resolved & { kind: 'list' }, item: unknown, t: TypeRef): PathElement {
    if (r.rel === 'map') {
      if (!isPlainObject(item)) throw new Error('associative list with keys may not have non-map elements');
      const key: Record<string, unknown> = {};
      const itemSchema = r.items ? resolveRef(r.items, t.extra) : undefined;
      for (const name of [...r.keys].sort()) {
        if (item[name] !== undefined) key[name] = item[name];
        else {
          const def = itemSchema?.properties?.[name] ? resolveRef(itemSchema.properties[name], t.extra)?.default : undefined;
          if (def !== undefined) key[name] = def;
          else if (KEY_DEFAULTS[name] !== undefined && !t.extra) key[name] = KEY_DEFAULTS[name];
        }
      }
      if (!Object.keys(key).length) throw new Error('associative list with keys has an element that omits all key fields');
      return `k:${JSON.stringify(key)}`;
    }
    if (isPlainObject(item)) throw new Error("associative list without keys has an element that's a map type");
    if (Array.isArray(item)) throw new Error('not supported: associative list with lists as elements');
    return `v:${JSON.stringify(item)}`;
  }

  function isLeaf(r: Resolved, value: unknown): boolean {
    if (r.kind === 'scalar') return true;
    if (r.kind === 'map') return r.atomic || value === null;
    return r.rel === 'atomic' || value === null;
  }

  function safePE(r: Resolved & { kind: 'list' }, item: unknown, t: TypeRef): string | undefined {
    try {
      return itemPathElement(r, item, t);
    } catch {
      return undefined;
    }
  }

  interface Comparison {
    added: FieldSet;
    removed: FieldSet;
    modified: FieldSet;
  }

  function compare(lhs: unknown, rhs: unknown, t: TypeRef): Comparison {
    const c: Comparison = { added: new FieldSet(), removed: new FieldSet(), modified: new FieldSet() };
    compareNode(lhs, rhs, t, [], c);
    return c;
  }

  function isEmptyContainer(v: unknown): boolean {
    return v === undefined || v === null || (Array.isArray(v) && !v.length) || (isPlainObject(v) && !Object.keys(v).length);
  }

  function compareNode(l: unknown, r: unknown, t: TypeRef, path: Path, c: Comparison): void {
    const rl = resolveType(t, l === undefined ? r : l);
    const rr = resolveType(t, r === undefined ? l : r);
    const leaf = () => {
      if (!path.length) return;
      if (l === undefined) c.added.insert(path);
      else if (r === undefined) c.removed.insert(path);
      else if (!deepEqual(l, r)) c.modified.insert(path);
    };
    if (rl.kind !== rr.kind || isLeaf(rl, l) || isLeaf(rr, r) || (isEmptyContainer(l) && isEmptyContainer(r))) return leaf();
    if (rr.kind === 'map') {
      const lm = isPlainObject(l) ? l : {};
      const rm = isPlainObject(r) ? r : {};
      const keys = new Set([...Object.keys(lm), ...Object.keys(rm)]);
      for (const k of keys) {
        const lv = lm[k];
        const rv = rm[k];
        if (lv === undefined && rv === undefined) continue;
        compareNode(lv, rv, fieldType(rr, k, t.extra), [...path, `f:${k}`], c);
      }
    } else if (rr.kind === 'list') {
      const it = itemType(rr, t.extra);
      const li = indexItems(rr, Array.isArray(l) ? l : [], t);
      const ri = indexItems(rr, Array.isArray(r) ? r : [], t);
      for (const [pe, rv] of ri) compareNode(li.get(pe), rv, it, [...path, pe], c);
      for (const [pe, lv] of li) if (!ri.has(pe)) compareNode(lv, undefined, it, [...path, pe], c);
    }
    if (path.length) {
      if (l === undefined) c.added.insert(path);
      else if (r === undefined) c.removed.insert(path);
    }
  }

  function indexItems(r: Resolved & { kind: 'list' }, list: unknown[], t: TypeRef): Map<string, unknown> {
    const out = new Map<string, unknown>();
    list.forEach((item, i) => {
      const pe = safePE(r, item, t) ?? `i:${i}`;
      if (!out.has(pe)) out.set(pe, item);
    });
    return out;
  }

  // -- manager.ts

  interface VersionedSet {
    manager: string;
    operation: 'Apply' | 'Update';
    apiVersion: string;
    subresource?: string;
    set: FieldSet;
    time?: string;
  }

  type Managed = Map<string, VersionedSet>;

  function managerId(manager: string, operation: 'Apply' | 'Update', apiVersion: string, subresource?: string): string {
    const id: Record<string, string> = { manager, operation };
    if (operation === 'Update' && apiVersion) id.apiVersion = apiVersion;
    if (subresource) id.subresource = subresource;
    return JSON.stringify(id);
  }

  function decodeManaged(entries: unknown): Managed {
    const out: Managed = new Map();
    if (entries === undefined || entries === null) return out;
    if (!Array.isArray(entries)) throw new Error('managedFields must be a list');
    entries.forEach((e, i) => {
      if (!isPlainObject(e)) throw new Error(`managed fields entry ${i} is not an object`);
      if (e.operation !== 'Apply' && e.operation !== 'Update') throw new Error('operation must be `Apply` or `Update`');
      if (typeof e.apiVersion !== 'string' || !e.apiVersion) throw new Error('apiVersion must not be empty');
      if (e.fieldsType === undefined || e.fieldsType === '') throw new Error(`missing fieldsType in managed fields entry ${i}`);
      if (e.fieldsType !== 'FieldsV1') throw new Error(`invalid fieldsType ${JSON.stringify(e.fieldsType)} in managed fields entry ${i}`);
      const manager = typeof e.manager === 'string' ? e.manager : '';
      const subresource = typeof e.subresource === 'string' && e.subresource ? e.subresource : undefined;
      let set: FieldSet;
      try {
        set = e.fieldsV1 === undefined || e.fieldsV1 === null ? new FieldSet() : FieldSet.fromFieldsV1(e.fieldsV1);
      } catch (err) {
        throw new Error(`error decoding versioned set: ${(err as Error).message}`);
      }
      const vs: VersionedSet = { manager, operation: e.operation, apiVersion: e.apiVersion, subresource, set };
      if (typeof e.time === 'string') vs.time = e.time;
      out.set(managerId(manager, e.operation, e.apiVersion, subresource), vs);
    });
    return out;
  }

  function encodeManaged(m: Managed): unknown[] {
    const out: any[] = [];
    for (const vs of m.values()) {
      if (vs.set.isEmpty()) continue;
      const e: any = { manager: vs.manager, operation: vs.operation, apiVersion: vs.apiVersion };
      if (vs.time) e.time = vs.time;
      e.fieldsType = 'FieldsV1';
      e.fieldsV1 = vs.set.toFieldsV1();
      if (vs.subresource) e.subresource = vs.subresource;
      out.push(e);
    }
    const secs = (t?: string) => (t ? Math.floor(Date.parse(t) / 1000) : 0);
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return out.sort(
      (p, q) =>
        cmp(p.operation, q.operation) ||
        secs(p.time) - secs(q.time) ||
        cmp(p.manager ?? '', q.manager ?? '') ||
        cmp(p.apiVersion, q.apiVersion) ||
        cmp(p.subresource ?? '', q.subresource ?? ''),
    );
  }

  const STRIP = (() => {
    const s = FieldSet.of(['f:apiVersion'], ['f:kind'], ['f:metadata']);
    for (const f of ['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion']) {
      s.insert(['f:metadata', `f:${f}`]);
    }
    return s;
  })();

  function withoutManagedFields(obj: any): any {
    if (!isPlainObject(obj)) return obj;
    const copy: any = { ...obj };
    if (isPlainObject(copy.metadata)) {
      const { managedFields: _mf, ...meta } = copy.metadata as any;
      copy.metadata = meta;
    }
    return copy;
  }

  function ignoredFields(objs: any[], subresource: string | undefined, statusSubresource: boolean): FieldSet {
    const s = new FieldSet();
    if (subresource === 'status') {
      for (const o of objs) if (isPlainObject(o)) for (const k of Object.keys(o)) if (k !== 'status') s.insert([`f:${k}`]);
    } else if (statusSubresource) {
      s.insert(['f:status']);
    }
    return s;
  }

  function updateOthers(managed: Managed, live: unknown, next: unknown, t: TypeRef, self: string, ignored: FieldSet): { managed: Managed; changed: FieldSet } {
    const c = compare(live, next, t);
    const changed = c.modified.union(c.added).recursiveDifference(ignored);
    const removed = c.removed.recursiveDifference(ignored);
    const conflicts = new Map<string, FieldSet>();
    for (const [id, vs] of managed) {
      if (id === self) continue;
      const conflict = vs.set.intersection(changed);
      if (!conflict.isEmpty()) conflicts.set(id, conflict);
    }
    const out: Managed = new Map();
    for (const [id, vs] of managed) {
      if (id === self) {
        out.set(id, vs);
        continue;
      }
      let set = vs.set;
      const conflict = conflicts.get(id);
      if (conflict) set = set.difference(conflict);
      if (!removed.isEmpty()) set = set.difference(removed);
      if (!set.isEmpty()) out.set(id, { ...vs, set });
    }
    return { managed: out, changed };
  }

  function stripAll(m: Managed): void {
    for (const [id, vs] of m) {
      const set = vs.set.difference(STRIP);
      if (set.isEmpty()) m.delete(id);
      else vs.set = set;
    }
  }

  function isResetManagedFields(mf: unknown): boolean {
    if (!Array.isArray(mf)) return false;
    if (mf.length === 0) return true;
    return mf.length === 1 && isPlainObject(mf[0]) && Object.keys(mf[0]).length === 0;
  }

  export function recordUpdateOperation(obj: any, old: any | undefined, opts: UpdateOptions & { now: () => string }): void {
    const meta = obj.metadata ?? (obj.metadata = {});
    const liveManaged = (): Managed => {
      try {
        return decodeManaged(old?.metadata?.managedFields);
      } catch {
        return new Map();
      }
    };
    let managed: Managed;
    if (opts.subresource) managed = liveManaged();
    else if (isResetManagedFields(meta.managedFields)) managed = new Map();
    else {
      try {
        managed = decodeManaged(meta.managedFields);
        if (!managed.size) managed = liveManaged();
      } catch {
        managed = liveManaged();
      }
    }
    const next = withoutManagedFields(obj);
    let live: any;
    if (old) live = withoutManagedFields(old);
    else {
      live = {};
      for (const k of Object.keys(next)) if (isPlainObject(next[k]) && k !== 'apiVersion' && k !== 'kind') live[k] = {};
    }
    const ignored = ignoredFields([next], opts.subresource, !!opts.statusSubresource);
    const self = '\u0000current-operation';
    const r = updateOthers(managed, live, next, opts.type, self, ignored);
    managed = r.managed;
    const mine = r.changed.difference(STRIP);
    if (!mine.isEmpty()) {
      const id = managerId(opts.manager, 'Update', opts.apiVersion, opts.subresource);
      const prev = managed.get(id);
      managed.set(id, {
        manager: opts.manager,
        operation: 'Update',
        apiVersion: opts.apiVersion,
        subresource: opts.subresource,
        set: prev ? prev.set.union(mine) : mine,
        time: opts.now(),
      });
    }
    stripAll(managed);
    const entries = encodeManaged(managed);
    if (entries.length) meta.managedFields = entries;
    else delete meta.managedFields;
  }
}
