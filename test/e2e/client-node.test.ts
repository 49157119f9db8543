// End-to-end: the official JavaScript client (@kubernetes/client-node v2) against a real k8ts
// server: CRUD, selectors, pagination, watches from a resourceVersion, informers, Status errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  ListWatch,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { startCluster, type Cluster } from './harness.js';

const NS = 'client-node-e2e';

function statusOf(err: unknown): { code: number; reason?: string; message?: string; details?: any } {
  assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
  const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  assert.equal(body?.kind, 'Status');
  return { code: err.code, reason: body.reason, message: body.message, details: body.details };
}

async function rejectsWith(
  p: Promise<unknown>,
  code: number,
  reason: string,
): Promise<{ message?: string; details?: any }> {
  try {
    await p;
  } catch (err) {
    const s = statusOf(err);
    assert.equal(s.code, code, `code of ${s.message}`);
    assert.equal(s.reason, reason, `reason of ${s.message}`);
    return s;
  }
  assert.fail(`expected ${code} ${reason}`);
}

function until<T>(what: string, check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = check();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

/** Re-runs a read-modify-write on 409 Conflict, as client-go's RetryOnConflict does. */
async function retryOnConflict<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const conflict = err instanceof ApiException && err.code === 409 && statusOf(err).reason === 'Conflict';
      if (!conflict || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('@kubernetes/client-node', { timeout: 60_000 }, () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  before(async () => {
    cluster = await startCluster();
    kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
  });

  /** The root CA publisher puts kube-root-ca.crt into every namespace; wait until it is there. */
  async function rootCAPublished(ns: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: ns });
        return;
      } catch (err) {
        if (!(err instanceof ApiException && err.code === 404) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  after(async () => {
    await cluster?.cleanup();
  });

  it('does CRUD on ConfigMaps', async () => {
    const created = await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'crud', labels: { app: 'crud' } }, data: { a: '1' } },
    });
    assert.equal(created.metadata?.name, 'crud');
    assert.equal(created.metadata?.namespace, NS);
    assert.match(created.metadata?.resourceVersion ?? '', /^\d+$/);
    assert.ok(created.metadata?.uid);
    assert.ok(created.metadata?.creationTimestamp instanceof Date);

    const read = await core.readNamespacedConfigMap({ name: 'crud', namespace: NS });
    assert.deepEqual(read.data, { a: '1' });
    assert.equal(read.metadata?.resourceVersion, created.metadata?.resourceVersion);

    read.data = { a: '2', b: '3' };
    const replaced = await core.replaceNamespacedConfigMap({ name: 'crud', namespace: NS, body: read });
    assert.deepEqual(replaced.data, { a: '2', b: '3' });
    assert.ok(Number(replaced.metadata!.resourceVersion) > Number(created.metadata.resourceVersion));

    // A stale resourceVersion is a conflict.
    await rejectsWith(core.replaceNamespacedConfigMap({ name: 'crud', namespace: NS, body: read }), 409, 'Conflict');

    const patched = await core.patchNamespacedConfigMap(
      { name: 'crud', namespace: NS, body: { data: { c: '4' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.deepEqual(patched.data, { a: '2', b: '3', c: '4' });
    const jsonPatched = await core.patchNamespacedConfigMap({
      name: 'crud',
      namespace: NS,
      body: [{ op: 'remove', path: '/data/a' }],
    });
    assert.deepEqual(jsonPatched.data, { b: '3', c: '4' });
    const smp = await core.patchNamespacedConfigMap(
      { name: 'crud', namespace: NS, body: { metadata: { labels: { extra: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.deepEqual(smp.metadata?.labels, { app: 'crud', extra: 'y' });
    assert.equal(patched.data?.c, '4');

    const status = await core.deleteNamespacedConfigMap({ name: 'crud', namespace: NS });
    assert.equal((status as any).kind, 'Status');
    assert.equal((status as any).status, 'Success');
    await rejectsWith(core.readNamespacedConfigMap({ name: 'crud', namespace: NS }), 404, 'NotFound');
  });

  it('does CRUD on Deployments, including the scale subresource', async () => {
    const dep = await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'web', labels: { app: 'web' } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] },
          },
        },
      },
    });
    assert.equal(dep.spec?.replicas, 2);
    assert.equal(dep.metadata?.generation, 1);
    // Defaults applied as upstream does.
    assert.equal(dep.spec?.strategy?.type, 'RollingUpdate');
    assert.equal(dep.spec?.revisionHistoryLimit, 10);
    assert.equal(dep.spec?.template.spec?.containers[0].imagePullPolicy, 'IfNotPresent');

    const list = await apps.listNamespacedDeployment({ namespace: NS });
    assert.deepEqual(
      list.items.map((d) => d.metadata?.name),
      ['web'],
    );

    // The deployment controller writes status meanwhile (a new resourceVersion), so a
    // read-modify-write re-reads on a conflict, as a real client does.
    const scaled = await retryOnConflict(async () => {
      const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: NS });
      assert.equal(scale.spec?.replicas, 2);
      scale.spec = { replicas: 5 };
      return apps.replaceNamespacedDeploymentScale({ name: 'web', namespace: NS, body: scale });
    });
    assert.equal(scaled.spec?.replicas, 5);
    const updated = await retryOnConflict(async () => {
      const after = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
      assert.equal(after.spec?.replicas, 5);
      assert.equal(after.metadata?.generation, 2);
      after.spec.template.spec!.containers[0].image = 'nginx:1.28';
      return apps.replaceNamespacedDeployment({ name: 'web', namespace: NS, body: after });
    });
    assert.equal(updated.spec?.template.spec?.containers[0].image, 'nginx:1.28');
    assert.equal(updated.metadata?.generation, 3);

    // Invalid: selector does not match the template labels.
    const bad = await rejectsWith(
      apps.createNamespacedDeployment({
        namespace: NS,
        body: {
          metadata: { name: 'bad' },
          spec: {
            selector: { matchLabels: { app: 'x' } },
            template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
          },
        },
      }),
      422,
      'Invalid',
    );
    assert.equal(bad.details?.kind, 'Deployment');
    assert.ok(
      bad.details?.causes?.some((c: any) => c.field === 'spec.template.metadata.labels'),
      JSON.stringify(bad.details),
    );

    await apps.deleteNamespacedDeployment({ name: 'web', namespace: NS });
    await rejectsWith(apps.readNamespacedDeployment({ name: 'web', namespace: NS }), 404, 'NotFound');
  });

  it('surfaces Status errors as ApiException with the upstream code and reason', async () => {
    const nf = await rejectsWith(core.readNamespacedConfigMap({ name: 'nope', namespace: NS }), 404, 'NotFound');
    assert.equal(nf.message, 'configmaps "nope" not found');
    assert.deepEqual(nf.details, { name: 'nope', kind: 'configmaps' });

    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'dup' } } });
    const dup = await rejectsWith(
      core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'dup' } } }),
      409,
      'AlreadyExists',
    );
    assert.equal(dup.message, 'configmaps "dup" already exists');

    const inv = await rejectsWith(
      core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'Bad_Name' } } }),
      422,
      'Invalid',
    );
    assert.match(inv.message ?? '', /^ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"/);
    assert.equal(inv.details?.causes?.[0]?.field, 'metadata.name');
    assert.equal(inv.details?.causes?.[0]?.reason, 'FieldValueInvalid');

    await rejectsWith(core.readNamespacedConfigMap({ name: 'x', namespace: 'no-such-ns' }), 404, 'NotFound');
    await rejectsWith(
      core.createNamespacedConfigMap({ namespace: 'no-such-ns', body: { metadata: { name: 'x' } } }),
      404,
      'NotFound',
    );
  });

  it('lists with labelSelector and fieldSelector', async () => {
    const ns = `${NS}-sel`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const mk = (name: string, labels: Record<string, string>) =>
      core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels } } });
    await Promise.all([
      mk('a1', { app: 'a', tier: 'front' }),
      mk('a2', { app: 'a', tier: 'back' }),
      mk('b1', { app: 'b', tier: 'front' }),
      mk('c1', { other: 'x' }),
    ]);
    const names = (l: { items: V1ConfigMap[] }) => l.items.map((i) => i.metadata!.name).sort();
    assert.deepEqual(names(await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app=a' })), [
      'a1',
      'a2',
    ]);
    assert.deepEqual(
      names(await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app in (a,b),tier=front' })),
      ['a1', 'b1'],
    );
    // kube-root-ca.crt (published into every namespace, no labels) also has no app label.
    assert.deepEqual(
      names(
        await core.listNamespacedConfigMap({
          namespace: ns,
          labelSelector: '!app',
          fieldSelector: 'metadata.name!=kube-root-ca.crt',
        }),
      ),
      ['c1'],
    );
    assert.deepEqual(names(await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app,tier!=front' })), [
      'a2',
    ]);
    assert.deepEqual(names(await core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name=b1' })), [
      'b1',
    ]);
    assert.deepEqual(
      names(
        await core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name!=b1', labelSelector: 'app' }),
      ),
      ['a1', 'a2'],
    );
    // Cluster-wide with a namespace field selector.
    assert.deepEqual(
      names(
        await core.listConfigMapForAllNamespaces({ fieldSelector: `metadata.namespace=${ns}`, labelSelector: 'tier' }),
      ),
      ['a1', 'a2', 'b1'],
    );
    // An unsupported field is a 400 BadRequest.
    await rejectsWith(core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'data.x=1' }), 400, 'BadRequest');
    await rejectsWith(core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'a in (' }), 400, 'BadRequest');
  });

  it('paginates with limit and continue at one resourceVersion', async () => {
    const ns = `${NS}-page`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const mine = Array.from({ length: 23 }, (_, i) => `cm-${String(i).padStart(2, '0')}`);
    await Promise.all(
      mine.map((name) => core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } })),
    );
    // The namespace also holds the published kube-root-ca.crt (sorted after cm-*): 24 objects.
    await rootCAPublished(ns);
    const all = [...mine, 'kube-root-ca.crt'];
    const seen: string[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    let pages = 0;
    do {
      const page = await core.listNamespacedConfigMap({ namespace: ns, limit: 5, _continue: cont });
      pages++;
      seen.push(...page.items.map((i) => i.metadata!.name!));
      if (rv === undefined) rv = page.metadata?.resourceVersion;
      else assert.equal(page.metadata?.resourceVersion, rv, 'every page is at the first page resourceVersion');
      cont = page.metadata?._continue || undefined;
      if (cont) assert.equal(page.metadata?.remainingItemCount, all.length - seen.length);
      if (pages === 1) {
        // Changes after the first page are not seen by later pages.
        await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cm-99-late' } } });
        await core.deleteNamespacedConfigMap({ name: 'cm-22', namespace: ns });
      }
    } while (cont && pages < 20);
    assert.equal(pages, 5);
    assert.deepEqual(seen, all);
    // An invalid continue token is a 400.
    await rejectsWith(
      core.listNamespacedConfigMap({ namespace: ns, limit: 5, _continue: 'garbage' }),
      400,
      'BadRequest',
    );
  });

  it('watches from a resourceVersion and sees ADDED, MODIFIED, DELETED in order', async () => {
    const ns = `${NS}-watch`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'before' } } });
    // kube-root-ca.crt is published before the watch's starting point, so it is no event.
    await rootCAPublished(ns);
    const list = await core.listNamespacedConfigMap({ namespace: ns });
    const rv = list.metadata!.resourceVersion!;

    const events: { type: string; name: string; rv: string; data?: any }[] = [];
    const watch = new Watch(kc);
    // Changes made before the watch connects must be replayed from rv.
    const c = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'w1' }, data: { v: '1' } },
    });
    const ctl = await watch.watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { resourceVersion: rv, allowWatchBookmarks: true },
      (type, obj) => {
        if (type !== 'BOOKMARK')
          events.push({ type, name: obj.metadata.name, rv: obj.metadata.resourceVersion, data: obj.data });
      },
      () => {},
    );
    try {
      c.data = { v: '2' };
      const m = await core.replaceNamespacedConfigMap({ name: 'w1', namespace: ns, body: c });
      await core.deleteNamespacedConfigMap({ name: 'w1', namespace: ns });
      await until('3 events', () => events.length >= 3);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        events.map((e) => [e.type, e.name]),
        [
          ['ADDED', 'w1'],
          ['MODIFIED', 'w1'],
          ['DELETED', 'w1'],
        ],
      );
      assert.equal(events[0].rv, c.metadata!.resourceVersion);
      assert.equal(events[1].rv, m.metadata!.resourceVersion);
      assert.deepEqual(events[1].data, { v: '2' });
      const revs = events.map((e) => Number(e.rv));
      assert.deepEqual(
        [...revs].sort((a, b) => a - b),
        revs,
      );
      assert.ok(revs[0] > Number(rv));
    } finally {
      ctl.abort();
    }

    // A watch with a label selector only sees matching objects; relabelling is ADDED/DELETED.
    const sel: string[] = [];
    const ctl2 = await watch.watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      {
        labelSelector: 'pick=yes',
        resourceVersion: (await core.listNamespacedConfigMap({ namespace: ns })).metadata!.resourceVersion,
      },
      (type, obj) => sel.push(`${type} ${obj.metadata.name}`),
      () => {},
    );
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'nolabel' } } });
      const p = await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: 'picked', labels: { pick: 'yes' } } },
      });
      p.metadata!.labels = { pick: 'no' };
      await core.replaceNamespacedConfigMap({ name: 'picked', namespace: ns, body: p });
      await until('2 selector events', () => sel.length >= 2);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(sel, ['ADDED picked', 'DELETED picked']);
    } finally {
      ctl2.abort();
    }
  });

  it('drives any kind through the generic KubernetesObjectApi (discovery + server-side apply)', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const spec = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'generic', namespace: NS },
      spec: {
        selector: { matchLabels: { app: 'g' } },
        template: { metadata: { labels: { app: 'g' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
      },
    };
    const created: any = await objects.create(spec);
    assert.equal(created.kind, 'Deployment');
    assert.equal(created.spec.replicas, 1);
    const read: any = await objects.read({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'generic', namespace: NS },
    });
    assert.equal(read.metadata.uid, created.metadata.uid);
    const applied: any = await objects.patch(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'generic', namespace: NS },
        spec: { replicas: 4 },
      } as any,
      undefined,
      undefined,
      'e2e-apply',
      true,
      PatchStrategy.ServerSideApply,
    );
    assert.equal(applied.spec.replicas, 4);
    assert.ok(applied.metadata.managedFields.some((m: any) => m.manager === 'e2e-apply' && m.operation === 'Apply'));
    const list = await objects.list('apps/v1', 'Deployment', NS);
    assert.ok(list.items.some((d) => d.metadata?.name === 'generic'));
    const cms = await objects.list('v1', 'ConfigMap', NS, undefined, undefined, undefined, undefined, undefined, 1);
    assert.equal(cms.items.length, 1);
    await objects.delete({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'generic', namespace: NS } });
    await rejectsWith(
      objects.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'generic', namespace: NS } }),
      404,
      'NotFound',
    );
  });

  it('ends a watch cleanly at timeoutSeconds', async () => {
    const watch = new Watch(kc);
    const started = Date.now();
    const err = await new Promise<unknown>((resolve, reject) => {
      watch.watch(`/api/v1/namespaces/${NS}/configmaps`, { timeoutSeconds: 1 }, () => {}, resolve).catch(reject);
    });
    assert.equal(err ?? null, null);
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 5000, `took ${took}ms`);
  });

  it('runs an informer that syncs and sees adds, updates and deletes', async () => {
    const ns = `${NS}-inf`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'pre1' }, data: { k: 'a' } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'pre2' } } });
    // The namespace's published kube-root-ca.crt is there before the informer starts.
    await rootCAPublished(ns);
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const informer = new ListWatch<V1ConfigMap>(
      path,
      new Watch(kc),
      () => core.listNamespacedConfigMap({ namespace: ns }),
      false,
    );
    const log: string[] = [];
    const errs: unknown[] = [];
    informer.on('add', (o) => log.push(`add ${o.metadata!.name}`));
    informer.on('update', (o) => log.push(`update ${o.metadata!.name} ${JSON.stringify(o.data ?? {})}`));
    informer.on('delete', (o) => log.push(`delete ${o.metadata!.name}`));
    informer.on('error', (e) => errs.push(e));
    await informer.start();
    try {
      assert.deepEqual(
        informer
          .list(ns)
          .map((o) => o.metadata!.name)
          .sort(),
        ['kube-root-ca.crt', 'pre1', 'pre2'],
      );
      assert.deepEqual(log.sort(), ['add kube-root-ca.crt', 'add pre1', 'add pre2']);
      log.length = 0;
      // Give the watch a moment to connect, then change things.
      await new Promise((r) => setTimeout(r, 100));
      const pre1 = informer.get('pre1', ns)!;
      await core.replaceNamespacedConfigMap({ name: 'pre1', namespace: ns, body: { ...pre1, data: { k: 'b' } } });
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'new1' } } });
      await core.deleteNamespacedConfigMap({ name: 'pre2', namespace: ns });
      await until('informer catches up', () => log.length >= 3);
      assert.deepEqual(log, ['update pre1 {"k":"b"}', 'add new1', 'delete pre2']);
      assert.deepEqual(
        informer
          .list(ns)
          .map((o) => o.metadata!.name)
          .sort(),
        ['kube-root-ca.crt', 'new1', 'pre1'],
      );
      assert.deepEqual(informer.get('pre1', ns)?.data, { k: 'b' });
      const cur = await core.listNamespacedConfigMap({ namespace: ns });
      await until(
        'resourceVersion tracked',
        () =>
          Number(informer.latestResourceVersion()) >=
            Math.max(...cur.items.map((i) => Number(i.metadata!.resourceVersion))) || undefined,
      );
      assert.deepEqual(errs, []);
    } finally {
      await informer.stop();
    }
  });
});
