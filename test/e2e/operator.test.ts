// Issue 3 acceptance, operator style, with @kubernetes/client-node (v2): a CRD created through
// the apiextensions API, custom objects driven through CustomObjectsApi (CRUD, label selectors,
// server-side apply, the status subresource), and an informer-based "operator" that reconciles
// each Database by writing status.observedGeneration and a Ready condition. The status survives
// a server restart and the operator, rebuilt from the new kubeconfig, keeps reconciling.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { startCluster, type Cluster } from './harness.js';
import { until } from '../support/until.js';

const GROUP = 'ops.example.com';
const VERSION = 'v1';
const PLURAL = 'databases';
const NS = 'operator-e2e';

interface Database extends KubernetesObject {
  spec?: { engine?: string; replicas?: number };
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
  };
}

// Written with client-node's property names (`_default`, `_enum`, `x_kubernetes_list_type`, ...): its
// model serializer maps them to the wire names and drops keys it does not know.
const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${PLURAL}.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { plural: PLURAL, singular: 'database', kind: 'Database', shortNames: ['db'] },
    versions: [
      {
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Engine', type: 'string', jsonPath: '.spec.engine' },
          { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['engine'],
                properties: {
                  engine: { type: 'string', _enum: ['postgres', 'mysql'] },
                  replicas: { type: 'integer', minimum: 1, _default: 1 },
                  tags: { type: 'array', items: { type: 'string' }, x_kubernetes_list_type: 'set' },
                },
              },
              status: {
                type: 'object',
                properties: {
                  observedGeneration: { type: 'integer', format: 'int64' },
                  conditions: {
                    type: 'array',
                    x_kubernetes_list_type: 'map',
                    x_kubernetes_list_map_keys: ['type'],
                    items: {
                      type: 'object',
                      required: ['type', 'status'],
                      properties: {
                        type: { type: 'string' },
                        status: { type: 'string', _enum: ['True', 'False', 'Unknown'] },
                        reason: { type: 'string' },
                        message: { type: 'string' },
                        lastTransitionTime: { type: 'string', format: 'date-time' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

function statusOf(err: unknown): { code: number; reason?: string; message?: string } {
  assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
  const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  return { code: err.code, reason: body?.reason, message: body?.message };
}

async function rejectsWith(p: Promise<unknown>, code: number, reason: string): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    const s = statusOf(err);
    assert.equal(s.code, code, s.message);
    assert.equal(s.reason, reason, s.message);
    return s.message;
  }
  assert.fail(`expected ${code} ${reason}`);
}

/** The operator: an informer over Databases and a reconcile that writes status. */
class Operator {
  readonly informer: Informer<Database> & ObjectCache<Database>;
  readonly reconciled: string[] = [];
  readonly errors: unknown[] = [];
  private readonly api: CustomObjectsApi;
  private queue = Promise.resolve();

  constructor(
    kc: KubeConfig,
    private readonly useReplace = false,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`;
    this.informer = makeInformer<Database>(kc, path, () =>
      this.api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: PLURAL }),
    );
    const enqueue = (obj: Database) => {
      // One reconcile at a time, in event order (a work queue of one worker).
      this.queue = this.queue
        .then(() => this.reconcile(obj.metadata!.name!))
        .catch((err) => void this.errors.push(err));
    };
    this.informer.on('add', enqueue);
    this.informer.on('update', enqueue);
    this.informer.on('error', (err) => this.errors.push(err));
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
    await this.queue;
  }

  /** Reads the cache; writes status only when the observed generation is behind. */
  private async reconcile(name: string): Promise<void> {
    const db = this.informer.get(name, NS);
    if (!db) return;
    const generation = db.metadata!.generation!;
    if (db.status?.observedGeneration === generation) return;
    const ready = {
      type: 'Ready',
      status: 'True',
      reason: 'Reconciled',
      message: `${db.spec?.engine} with ${db.spec?.replicas} replicas`,
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    const status = { observedGeneration: generation, conditions: [ready] };
    if (this.useReplace) {
      await this.api.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: PLURAL,
        name,
        body: { ...db, status },
      });
    } else {
      await this.api.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace: NS,
          plural: PLURAL,
          name,
          body: { status },
          fieldManager: 'db-operator',
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
    this.reconciled.push(`${name}@${generation}`);
  }
}

describe('an operator on @kubernetes/client-node', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let custom: CustomObjectsApi;
  const co = { group: GROUP, version: VERSION, namespace: NS, plural: PLURAL };

  const connect = () => {
    kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    custom = kc.makeApiClient(CustomObjectsApi);
  };

  before(async () => {
    cluster = await startCluster();
    connect();
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    const created = await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: CRD });
    assert.equal(created.metadata?.name, `${PLURAL}.${GROUP}`);
    await until('the CRD to be Established', async () => {
      const crd = await kc
        .makeApiClient(ApiextensionsV1Api)
        .readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
      return crd.status?.conditions?.find((c) => c.type === 'Established')?.status === 'True';
    });
    await until('the CRD to be served', async () => {
      const list = await custom.listNamespacedCustomObject(co);
      return Array.isArray(list.items);
    });
  });

  after(async () => {
    await cluster?.cleanup();
  });

  it('does CRUD on custom objects through CustomObjectsApi', async () => {
    const created = await custom.createNamespacedCustomObject({
      ...co,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Database',
        metadata: { name: 'crud', labels: { tier: 'gold' } },
        spec: { engine: 'postgres', unknown: true },
      },
    });
    assert.equal(created.kind, 'Database');
    assert.equal(created.spec.replicas, 1, 'defaulted from the schema');
    assert.equal(created.spec.unknown, undefined, 'unknown fields pruned');
    assert.equal(created.metadata.generation, 1);
    const read = await custom.getNamespacedCustomObject({ ...co, name: 'crud' });
    assert.equal(read.metadata.uid, created.metadata.uid);
    read.spec.replicas = 3;
    const replaced = await custom.replaceNamespacedCustomObject({ ...co, name: 'crud', body: read });
    assert.equal(replaced.spec.replicas, 3);
    assert.equal(replaced.metadata.generation, 2);
    // A stale resourceVersion conflicts.
    await rejectsWith(custom.replaceNamespacedCustomObject({ ...co, name: 'crud', body: read }), 409, 'Conflict');
    const patched = await custom.patchNamespacedCustomObject(
      { ...co, name: 'crud', body: { spec: { replicas: 4 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.equal(patched.spec.replicas, 4);
    const jsonPatched = await custom.patchNamespacedCustomObject({
      ...co,
      name: 'crud',
      body: [{ op: 'replace', path: '/spec/engine', value: 'mysql' }],
    });
    assert.equal(jsonPatched.spec.engine, 'mysql');
    // Validation names the field.
    const msg = await rejectsWith(
      custom.createNamespacedCustomObject({
        ...co,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Database',
          metadata: { name: 'bad' },
          spec: { engine: 'oracle', replicas: 0 },
        },
      }),
      422,
      'Invalid',
    );
    assert.match(msg ?? '', /spec\.engine: Unsupported value: "oracle"/);
    assert.match(
      msg ?? '',
      /spec\.replicas: Invalid value: 0: spec\.replicas in body should be greater than or equal to 1/,
    );
    // The main resource ignores status; the status subresource ignores spec.
    const withStatus = await custom.patchNamespacedCustomObject(
      { ...co, name: 'crud', body: { status: { observedGeneration: 99 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.equal(withStatus.status, undefined);
    const st = await custom.patchNamespacedCustomObjectStatus(
      { ...co, name: 'crud', body: { spec: { replicas: 9 }, status: { observedGeneration: 5 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.equal(st.status.observedGeneration, 5);
    assert.equal(st.spec.replicas, 4);
    const status = await custom.getNamespacedCustomObjectStatus({ ...co, name: 'crud' });
    assert.equal(status.status.observedGeneration, 5);
    const deleted = await custom.deleteNamespacedCustomObject({ ...co, name: 'crud' });
    assert.equal(deleted.kind, 'Status');
    assert.equal(deleted.status, 'Success');
    await rejectsWith(custom.getNamespacedCustomObject({ ...co, name: 'crud' }), 404, 'NotFound');
  });

  it('lists custom objects with label selectors, across namespaces and in pages', async () => {
    for (const [name, tier] of [
      ['l1', 'gold'],
      ['l2', 'silver'],
      ['l3', 'gold'],
    ]) {
      await custom.createNamespacedCustomObject({
        ...co,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Database',
          metadata: { name, labels: { tier, suite: 'list' } },
          spec: { engine: 'mysql' },
        },
      });
    }
    const gold = await custom.listNamespacedCustomObject({ ...co, labelSelector: 'tier=gold,suite=list' });
    assert.equal(gold.kind, 'DatabaseList');
    assert.deepEqual(
      gold.items.map((i: any) => i.metadata.name),
      ['l1', 'l3'],
    );
    const notGold = await custom.listNamespacedCustomObject({ ...co, labelSelector: 'suite=list,tier!=gold' });
    assert.deepEqual(
      notGold.items.map((i: any) => i.metadata.name),
      ['l2'],
    );
    const setBased = await custom.listNamespacedCustomObject({ ...co, labelSelector: 'tier in (gold,silver),suite' });
    assert.equal(setBased.items.length, 3);
    const all = await custom.listCustomObjectForAllNamespaces({
      group: GROUP,
      version: VERSION,
      resourcePlural: PLURAL,
      labelSelector: 'suite=list',
    });
    assert.equal(all.items.length, 3);
    const page = await custom.listNamespacedCustomObject({ ...co, labelSelector: 'suite=list', limit: 2 });
    assert.equal(page.items.length, 2);
    assert.ok(page.metadata._continue ?? page.metadata.continue);
    const rest = await custom.listNamespacedCustomObject({
      ...co,
      labelSelector: 'suite=list',
      limit: 2,
      _continue: page.metadata.continue,
    });
    assert.deepEqual(
      rest.items.map((i: any) => i.metadata.name),
      ['l3'],
    );
    await custom.deleteCollectionNamespacedCustomObject({ ...co, labelSelector: 'suite=list' });
    const left = await custom.listNamespacedCustomObject({ ...co, labelSelector: 'suite=list' });
    assert.equal(left.items.length, 0);
  });

  it('applies custom objects server-side with field ownership and conflicts', async () => {
    const apply = (manager: string, spec: Record<string, unknown>, force?: boolean) =>
      custom.patchNamespacedCustomObject(
        {
          ...co,
          name: 'applied',
          fieldManager: manager,
          force,
          body: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: 'Database',
            metadata: { name: 'applied', namespace: NS },
            spec,
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
    const first = await apply('team-a', { engine: 'postgres', replicas: 2, tags: ['a'] });
    assert.equal(first.spec.replicas, 2);
    const a = first.metadata.managedFields.find((m: any) => m.manager === 'team-a');
    assert.equal(a.operation, 'Apply');
    assert.ok(a.fieldsV1['f:spec']['f:replicas']);
    // A second manager setting the same field conflicts, naming the field and the owner.
    const msg = await rejectsWith(apply('team-b', { engine: 'postgres', replicas: 5 }), 409, 'Conflict');
    assert.match(msg ?? '', /conflict with "team-a"/);
    assert.match(msg ?? '', /\.spec\.replicas/);
    // Set-typed lists merge across managers.
    const merged = await apply('team-b', { tags: ['b'] });
    assert.deepEqual([...merged.spec.tags].sort(), ['a', 'b']);
    // force=true takes the field.
    const forced = await apply('team-b', { tags: ['b'], replicas: 5 }, true);
    assert.equal(forced.spec.replicas, 5);
    const managers = forced.metadata.managedFields.map((m: any) => m.manager).sort();
    assert.deepEqual(managers, ['team-a', 'team-b']);
    const aNow = forced.metadata.managedFields.find((m: any) => m.manager === 'team-a');
    assert.equal(aNow.fieldsV1['f:spec']['f:replicas'], undefined);
    // A field a manager stops applying (and owns alone) is removed.
    const dropped = await apply('team-a', { engine: 'postgres' });
    assert.deepEqual(dropped.spec.tags, ['b']);
    assert.equal(dropped.spec.replicas, 5);
    await custom.deleteNamespacedCustomObject({ ...co, name: 'applied' });
  });

  it('runs an informer-based operator that writes status, across a server restart', async () => {
    let op = new Operator(kc);
    await op.start();
    const status = async (name: string, generation: number) => {
      const s = await custom.getNamespacedCustomObjectStatus({ ...co, name });
      const ready = s.status?.conditions?.find((c: any) => c.type === 'Ready');
      return s.status?.observedGeneration === generation && ready?.status === 'True' ? s : undefined;
    };
    try {
      await new Promise((r) => setTimeout(r, 200));
      await custom.createNamespacedCustomObject({
        ...co,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Database',
          metadata: { name: 'main' },
          spec: { engine: 'postgres', replicas: 1 },
        },
      });
      const s1 = await until('main reconciled at generation 1', () => status('main', 1));
      assert.equal(s1.metadata.generation, 1, 'a status write does not bump the generation');
      assert.match(s1.status.conditions[0].message, /postgres with 1 replicas/);
      await custom.patchNamespacedCustomObject(
        { ...co, name: 'main', body: { spec: { replicas: 3 } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const s2 = await until('main reconciled at generation 2', () => status('main', 2));
      assert.match(s2.status.conditions[0].message, /postgres with 3 replicas/);
      // The informer saw the operator's own status writes (updates) and left them alone.
      await until('the cache to see the status', () => op.informer.get('main', NS)?.status?.observedGeneration === 2);
      assert.deepEqual(
        op.reconciled.filter((r) => r.startsWith('main@')),
        ['main@1', 'main@2'],
      );
      const table = await cluster.k(['get', 'databases', '-n', NS]);
      assert.match(table, /^main\s+postgres\s+True\s/m);
    } finally {
      await op.stop();
    }
    assert.deepEqual(op.errors, []);

    await cluster.restart();
    connect();
    // Status survived the restart.
    const after = await custom.getNamespacedCustomObjectStatus({ ...co, name: 'main' });
    assert.equal(after.status.observedGeneration, 2);
    assert.equal(after.status.conditions[0].type, 'Ready');
    assert.equal(after.status.conditions[0].status, 'True');
    assert.equal(after.spec.replicas, 3);
    assert.equal(after.metadata.generation, 2);

    // A new operator (this one replaces status) against the restarted server.
    op = new Operator(kc, true);
    await op.start();
    try {
      // Nothing to do on the initial sync: everything is reconciled already.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        op.reconciled.filter((r) => r.startsWith('main@')),
        [],
      );
      await custom.patchNamespacedCustomObject(
        { ...co, name: 'main', body: { spec: { engine: 'mysql' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const s3 = await until('main reconciled at generation 3 after the restart', () => status('main', 3));
      assert.match(s3.status.conditions[0].message, /mysql with 3 replicas/);
      await custom.createNamespacedCustomObject({
        ...co,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Database',
          metadata: { name: 'second' },
          spec: { engine: 'mysql' },
        },
      });
      await until('second reconciled', () => status('second', 1));
      assert.deepEqual(
        op.reconciled.filter((r) => /^(main|second)@/.test(r)),
        ['main@3', 'second@1'],
      );
    } finally {
      await op.stop();
    }
    assert.deepEqual(op.errors, []);
  });
});
