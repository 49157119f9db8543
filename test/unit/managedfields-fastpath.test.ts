// recordUpdateOperation (the managedFields bookkeeping of every create, update and non-apply
// patch) must produce exactly what it produced before it was optimised: the same entries, in
// the same order, with the same FieldsV1 key order. Every write below is checked against a digest
// of the object the previous algorithm produced for it (test/fixtures/managedfields-golden.json),
// over a corpus of built-in and custom objects, creates, updates, subresource writes and
// request-supplied managedFields, plus seeded random edit chains.
//
// The digests were recorded from the previous implementation. Only when an output change is
// intended: `MF_RECORD=test/fixtures/managedfields-golden.json node --test <this file>` records
// the current outputs instead of checking them.
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { isPlainObject } from '../../src/machinery/objects.js';
import { recordUpdateOperation, type UpdateOptions } from '../../src/machinery/ssa/manager.js';
import type { TypeRef } from '../../src/machinery/ssa/typed.js';
import { BuiltinFieldSchema } from '../../src/apiserver/fieldschema.js';
import { publishedSchema } from '../../src/machinery/crdschema/schema.js';
import { prng } from '../support/prng.js';
import { widgetSchema } from '../support/widget.js';

// ---- types, as the store's manageFields hook gets them ---------------------------------------

const schemas = new BuiltinFieldSchema();
const widget = publishedSchema('stable.example.com', 'v1', 'Widget', 'WidgetList', widgetSchema());
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

const META = () => ({
  name: 'x',
  namespace: 'default',
  uid: '6b1c4a52-8f0e-4f8e-9a51-2b0f3d1e7c11',
  creationTimestamp: '2024-05-01T10:00:00Z',
  labels: { app: 'bench' },
});

const KINDS: Record<string, Kind> = {
  configmap: {
    type: typeOf('', 'v1', 'ConfigMap'),
    apiVersion: 'v1',
    statusSubresource: false,
    object: () => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: META(),
      data: { payload: 'p'.repeat(64), other: 'o' },
    }),
  },
  secret: {
    type: typeOf('', 'v1', 'Secret'),
    apiVersion: 'v1',
    statusSubresource: false,
    object: () => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { ...META(), annotations: { note: 'n' } },
      type: 'Opaque',
      data: { password: 'cGFzcw==' },
      stringData: { user: 'u' },
    }),
  },
  pod: {
    type: typeOf('', 'v1', 'Pod'),
    apiVersion: 'v1',
    statusSubresource: true,
    object: () => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...META(),
        finalizers: ['example.com/f'],
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u-1', controller: true }],
      },
      spec: {
        initContainers: [{ name: 'init', image: 'busybox', command: ['sh', '-c', 'true'], resources: {} }],
        containers: [
          {
            name: 'app',
            image: 'nginx:1.27',
            args: ['-g', 'daemon off;'],
            ports: [
              { containerPort: 80, protocol: 'TCP', name: 'http' },
              { containerPort: 53, protocol: 'UDP' },
              { containerPort: 8080 },
            ],
            env: [
              { name: 'A', value: '1' },
              { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
            resources: { limits: { cpu: '500m' }, requests: { cpu: '100m', memory: '64Mi' } },
            volumeMounts: [
              { name: 'data', mountPath: '/data' },
              { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
            ],
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
            imagePullPolicy: 'IfNotPresent',
            securityContext: {},
          },
          { name: 'sidecar', image: 'envoy', resources: {} },
        ],
        volumes: [
          { name: 'data', emptyDir: {} },
          {
            name: 'kube-api-access',
            projected: {
              defaultMode: 420,
              sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }],
            },
          },
        ],
        tolerations: [
          { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        ],
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
          spec: {
            containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }],
            restartPolicy: 'Always',
          },
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
        ports: [
          { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' },
        ],
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
        ports: [
          { name: 'a', port: 1 },
          { name: 'b', protocol: 'TCP', port: 2 },
        ],
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
    object: () => ({
      apiVersion: 'example.com/v1',
      kind: 'Thing',
      metadata: META(),
      spec: { list: [{ a: 1 }], map: { b: { c: null } }, n: 1 },
      status: { ok: true },
    }),
  },
};

// ---- running both -------------------------------------------------------------------------------

const TIMES = [
  '2024-05-01T10:00:00Z',
  '2024-05-01T10:00:00Z',
  '2024-05-01T10:00:07Z',
  '2024-05-01T09:59:00Z',
  '2024-05-01T11:00:00Z',
];

interface Step {
  obj: any;
  old: any;
  opts: Omit<UpdateOptions, 'now'>;
  time: string;
}

const GOLDEN_FILE = new URL('../../../test/fixtures/managedfields-golden.json', import.meta.url);
const golden: Record<string, string[]> = JSON.parse(readFileSync(GOLDEN_FILE, 'utf8'));
const RECORD = process.env.MF_RECORD;
const recorded: Record<string, string[]> = {};
if (RECORD) process.on('exit', () => writeFileSync(RECORD, JSON.stringify(recorded)));

/** The test whose writes check() is checking, and how many it checked so far. */
let current = '';
const begin = (name: string) => {
  current = name;
  recorded[name] = [];
};

/** Runs one write; its result must be the one the previous algorithm gave (by digest). */
function check(step: Step, label: string): any {
  const oldBefore = structuredClone(step.old);
  const actual = structuredClone(step.obj);
  recordUpdateOperation(actual, step.old, { ...step.opts, now: () => step.time });
  const digest = createHash('sha256').update(JSON.stringify(actual)).digest('base64url').slice(0, 12);
  const seen = recorded[current];
  if (!RECORD)
    assert.equal(
      digest,
      golden[current]?.[seen.length],
      `${label} (write ${seen.length} of ${current}): ${JSON.stringify(actual.metadata?.managedFields)}`,
    );
  seen.push(digest);
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
  badPathElement: [
    { manager: 'x', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'z:nope': {} } },
  ],
  custom: [
    {
      manager: 'helm',
      operation: 'Apply',
      apiVersion: 'v1',
      time: '2024-05-01T09:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { 'f:app': {} }, 'f:name': {} },
        'f:spec': { 'f:replicas': {}, 'f:ports': { 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {} } } },
      },
    },
    {
      manager: 'kube-controller-manager',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2024-05-01T09:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { '.': {}, 'f:phase': {} } },
      subresource: 'status',
    },
    {
      manager: 'creator',
      operation: 'Update',
      apiVersion: 'v1',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:data': { 'f:payload': {} }, 'f:metadata': { 'f:uid': {} } },
    },
    {
      manager: 'only-stripped',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2024-05-01T08:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:resourceVersion': {} }, 'f:kind': {} },
    },
    { manager: 'empty', operation: 'Update', apiVersion: 'v2', fieldsType: 'FieldsV1' },
  ],
};

for (const [name, kind] of Object.entries(KINDS)) {
  test(`recordUpdateOperation matches the previous algorithm: ${name}`, () => {
    begin(name);
    for (const [mfName, mf] of Object.entries(REQUEST_MANAGED)) {
      const withMF = (o: any) => {
        const c = structuredClone(o);
        if (mf === undefined) delete c.metadata.managedFields;
        else c.metadata.managedFields = structuredClone(mf);
        return c;
      };
      // create
      const created = check(
        { obj: withMF(kind.object()), old: undefined, opts: opts(kind, 'creator'), time: TIMES[0] },
        `${name} create (${mfName})`,
      );
      for (const statusSubresource of [true, false]) {
        check(
          {
            obj: withMF(kind.object()),
            old: undefined,
            opts: opts(kind, 'creator', { statusSubresource }),
            time: TIMES[1],
          },
          `${name} create statusSubresource=${statusSubresource} (${mfName})`,
        );
      }
      // updates by another manager, by the same one, and without a change
      const edited = edit(created);
      const updated = check(
        { obj: withMF(edited), old: created, opts: opts(kind, 'editor'), time: TIMES[2] },
        `${name} update (${mfName})`,
      );
      check(
        { obj: edited, old: created, opts: opts(kind, 'editor'), time: TIMES[2] },
        `${name} update keeping managedFields`,
      );
      check(
        { obj: withMF(edit(updated)), old: updated, opts: opts(kind, 'creator'), time: TIMES[3] },
        `${name} update by the creator (${mfName})`,
      );
      check(
        { obj: withMF(updated), old: updated, opts: opts(kind, 'noop'), time: TIMES[3] },
        `${name} no-op update (${mfName})`,
      );
      check(
        { obj: withMF(edited), old: created, opts: opts(kind, 'other-version', { apiVersion: 'v9' }), time: TIMES[4] },
        `${name} update at another version (${mfName})`,
      );
      // status subresource: only status counts, request managedFields are not taken
      const status = check(
        {
          obj: withMF(statusEdit(updated)),
          old: updated,
          opts: opts(kind, 'kubelet', { subresource: 'status' }),
          time: TIMES[4],
        },
        `${name} status (${mfName})`,
      );
      check(
        {
          obj: withMF(statusEdit(status)),
          old: status,
          opts: opts(kind, 'kubelet', { subresource: 'status' }),
          time: TIMES[0],
        },
        `${name} status again (${mfName})`,
      );
      check(
        {
          obj: withMF(kind.object()),
          old: undefined,
          opts: opts(kind, 'scaler', { subresource: 'scale' }),
          time: TIMES[0],
        },
        `${name} other subresource (${mfName})`,
      );
    }
  });
}

test('recordUpdateOperation matches the previous algorithm on edge shapes', () => {
  begin('edge shapes');
  const cm = KINDS.configmap;
  const cases: [string, any, any][] = [
    ['no metadata', { apiVersion: 'v1', kind: 'ConfigMap', data: { a: 'b' } }, undefined],
    ['nothing owned', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, undefined],
    [
      'nulls and empties',
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'x', labels: {}, annotations: null },
        data: {},
        binaryData: null,
      },
      undefined,
    ],
    [
      'wrong shapes',
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'x', labels: ['a'], finalizers: 'f' },
        data: 'str',
        immutable: { no: 1 },
      },
      undefined,
    ],
    [
      'update to wrong shapes',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', labels: 'l' }, data: ['a'] },
      cm.object(),
    ],
    ['update from nothing', cm.object(), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }],
    [
      'removal of everything',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } },
      check({ obj: cm.object(), old: undefined, opts: opts(cm, 'creator'), time: TIMES[0] }, 'seed'),
    ],
  ];
  for (const [label, obj, old] of cases) {
    for (const subresource of [undefined, 'status'])
      check({ obj, old, opts: opts(cm, 'm', { subresource }), time: TIMES[0] }, `${label} (${subresource ?? 'main'})`);
  }
  // Keys Object.prototype also has, at every level (JSON.parse makes "__proto__" an own key).
  const protoKeys = '{"constructor":"c","toString":"t","__proto__":{"hasOwnProperty":"h"}}';
  const odd = (kind: Kind, at: (o: any) => any) => {
    const o = kind.object();
    Object.assign(at(o), JSON.parse(protoKeys));
    return o;
  };
  const widget = KINDS.widget;
  const oddCases: [Kind, (o: any) => any][] = [
    [cm, (o) => o.data],
    [cm, (o) => o.metadata.labels],
    [cm, (o) => o],
    [widget, (o) => o.spec.config],
    [widget, (o) => o.spec.nested.inner],
    [widget, (o) => o.spec],
    [KINDS.freeform, (o) => o.spec.map],
    [KINDS.pod, (o) => o.spec.containers[0]],
  ];
  for (const [kind, at] of oddCases) {
    const withKeys = odd(kind, at);
    const created = check(
      { obj: withKeys, old: undefined, opts: opts(kind, 'm'), time: TIMES[0] },
      'prototype keys: create',
    );
    check({ obj: kind.object(), old: created, opts: opts(kind, 'n'), time: TIMES[2] }, 'prototype keys: removed');
    const plain = check(
      { obj: kind.object(), old: undefined, opts: opts(kind, 'm'), time: TIMES[0] },
      'prototype keys: plain create',
    );
    check({ obj: odd(kind, at), old: plain, opts: opts(kind, 'n'), time: TIMES[2] }, 'prototype keys: added');
  }
  // Manager names and versions that need escaping in identifiers.
  check(
    { obj: cm.object(), old: undefined, opts: opts(cm, 'we"ird\\name\u2028', { apiVersion: '' }), time: '' },
    'odd manager, no time',
  );
  const pod = KINDS.pod;
  const bad = pod.object();
  bad.spec.containers.push({ image: 'no-name' }, 'not-a-map');
  bad.spec.containers[0].ports.push({ name: 'no-port' });
  check({ obj: bad, old: undefined, opts: opts(pod, 'm'), time: TIMES[0] }, 'associative list items without keys');
  check({ obj: pod.object(), old: bad, opts: opts(pod, 'm'), time: TIMES[0] }, 'from items without keys');
  const dup = pod.object();
  dup.spec.containers.push({ name: 'app', image: 'duplicate' });
  check({ obj: dup, old: pod.object(), opts: opts(pod, 'm'), time: TIMES[0] }, 'duplicate keys');
});

// ---- random edit chains ---------------------------------------------------------------------

/** Every (container, key) in a value, for picking an edit site. */
function sites(v: unknown, out: [any, string | number][] = []): [any, string | number][] {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), sites(x, out)));
  else if (isPlainObject(v))
    for (const k of Object.keys(v))
      if (k !== 'managedFields') {
        out.push([v, k]);
        sites(v[k], out);
      }
  return out;
}

function randomEdit(obj: any, rnd: () => number): any {
  const o = structuredClone(obj);
  // metadata stays an object (the store guarantees that), anything inside it may change.
  const all = sites(o).filter(([parent, key]) => parent !== o || key !== 'metadata');
  const edits = 1 + Math.floor(rnd() * 3);
  for (let n = 0; n < edits && all.length; n++) {
    const [parent, key] = all[Math.floor(rnd() * all.length)];
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
  begin('random edit chains');
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
        const step: Step = {
          obj,
          old: live,
          opts: opts(kind, managers[Math.floor(rnd() * managers.length)], { subresource }),
          time: TIMES[Math.floor(rnd() * TIMES.length)],
        };
        live = check(step, `${name} chain ${chain} step ${i}`);
        obj = randomEdit(live, rnd);
      }
    }
  }
});
