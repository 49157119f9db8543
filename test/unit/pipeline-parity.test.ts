// One request pipeline, two entries: every verb run through HTTPS and through the in-process
// transport must give the same answers — objects, errors, warnings, pages, watch events — once
// what differs by nature (uids, timestamps, resourceVersions, the namespace) is normalised.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, Client, R, type Target, type Transport, type WatchEvent } from '../../src/client/index.js';
import { startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

let t: TestApi;
const warnings: Record<string, string[]> = { https: [], 'in-process': [] };
const clients: Record<string, Client> = {};

before(async () => {
  t = await startTestApi();
  clients.https = Client.fromKubeconfig(t.kubeconfig, {
    fieldManager: 'parity',
    onWarning: (w) => warnings.https.push(w),
  });
  clients['in-process'] = inProcessClient(t.api, {
    fieldManager: 'parity',
    onWarning: (w) => warnings['in-process'].push(w),
  });
});

after(async () => {
  for (const c of Object.values(clients)) await c.close();
  await t.stop();
});

const CM = R.configmaps;
const DEPLOY = R.deployments;

/** A step's outcome: its value, or the error's code, reason and message; with the warnings it raised. */
type Outcome = { value?: unknown; error?: { code: number; reason: string; message: string }; warnings: string[] };

/** Every verb, in order, against one transport in its own namespace. */
async function scenario(kind: string, ns: string): Promise<Record<string, Outcome>> {
  const tr: Transport = clients[kind].transport;
  const out: Record<string, Outcome> = {};
  const step = async (name: string, fn: () => Promise<unknown>): Promise<any> => {
    warnings[kind].length = 0;
    try {
      const value = await fn();
      out[name] = { value, warnings: [...warnings[kind]] };
      return value;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      out[name] = {
        error: { code: err.code, reason: err.reason, message: err.message },
        warnings: [...warnings[kind]],
      };
      return undefined;
    }
  };
  const cm: Target = { resource: CM, namespace: ns };
  const named = (name: string, subresource?: string): Target => ({ ...cm, name, subresource });
  const configMap = (name: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, labels: { app: 'parity' } },
    data: { k: 'v' },
    ...extra,
  });

  await step('create namespace', () =>
    tr.create({ resource: R.namespaces, name: undefined }, { metadata: { name: ns } }),
  );
  const a = await step('create', () => tr.create(cm, configMap('a')));
  await step('create: already exists', () => tr.create(cm, configMap('a')));
  await step('create: dry run', () => tr.create(cm, configMap('dry'), { dryRun: true }));
  await step('get: dry run stored nothing', () => tr.get(named('dry')));
  await step('create: Strict refuses an unknown field', () =>
    tr.create(cm, configMap('strict', { bogus: 1 }), { fieldValidation: 'Strict' }),
  );
  await step('create: Warn drops an unknown field, with a warning', () =>
    tr.create(cm, configMap('warn', { bogus: 1, metadata: { name: 'warn', extra: true } }), {
      fieldValidation: 'Warn',
    }),
  );
  await step('create: Ignore drops it silently', () =>
    tr.create(cm, configMap('ignore', { bogus: 1 }), { fieldValidation: 'Ignore' }),
  );
  await step('create: wrong kind', () => tr.create(cm, { ...configMap('wrong'), kind: 'Secret' }));
  await step('create: invalid object', () => tr.create(cm, configMap('Not_A_Name')));
  await step('get', () => tr.get(named('a')));
  await step('get: missing', () => tr.get(named('missing')));
  await step('update', () => tr.update(named('a'), { ...a, data: { k: 'updated' } }));
  await step('update: stale resourceVersion', () => tr.update(named('a'), { ...a, data: { k: 'stale' } }));
  await step('update: name mismatch', () =>
    tr.update(named('a'), { ...a, metadata: { ...a.metadata, name: 'other' } }),
  );
  await step('update: Strict with an unknown field', () =>
    tr.update(named('a'), { ...configMap('a'), bogus: true }, { fieldValidation: 'Strict' }),
  );

  // The four patch types, and their failures.
  await step('patch: json', () => tr.patch(named('a'), 'json', [{ op: 'add', path: '/data/json', value: '1' }]));
  await step('patch: json test fails', () =>
    tr.patch(named('a'), 'json', [{ op: 'test', path: '/data/json', value: 'no' }]),
  );
  await step('patch: json not a list', () => tr.patch(named('a'), 'json', { op: 'add' }));
  await step('patch: merge', () => tr.patch(named('a'), 'merge', { data: { merge: '2' } }));
  await step('patch: merge with an unknown field, Warn', () =>
    tr.patch(named('a'), 'merge', { spec: { x: 1 } }, { fieldValidation: 'Warn' }),
  );
  await step('patch: merge with an unknown field, Strict', () =>
    tr.patch(named('a'), 'merge', { spec: { x: 1 } }, { fieldValidation: 'Strict' }),
  );
  await step('patch: strategic', () => tr.patch(named('a'), 'strategic', { data: { strategic: '3' } }));
  await step('patch: merge with a stale resourceVersion', () =>
    tr.patch(named('a'), 'merge', { metadata: { resourceVersion: '1' }, data: { x: 'y' } }),
  );
  await step('patch: dry run', () => tr.patch(named('a'), 'merge', { data: { dry: 'run' } }, { dryRun: true }));
  await step('get after patches', () => tr.get(named('a')));
  await step('patch: missing object', () => tr.patch(named('missing'), 'merge', { data: {} }));
  await step('patch: force on a non-apply patch', () => tr.patch(named('a'), 'merge', { data: {} }, { force: true }));

  // Server-side apply: create, conflict, force, kind check.
  const applied = (data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'ssa', namespace: ns },
    data,
  });
  await step('apply: creates', () =>
    tr.patch(named('ssa'), 'apply', applied({ owned: 'one' }), { fieldManager: 'm1' }),
  );
  await step('apply: same manager changes its field', () =>
    tr.patch(named('ssa'), 'apply', applied({ owned: 'two' }), { fieldManager: 'm1' }),
  );
  await step('apply: another manager conflicts', () =>
    tr.patch(named('ssa'), 'apply', applied({ owned: 'three' }), { fieldManager: 'm2' }),
  );
  await step('apply: force takes the field', () =>
    tr.patch(named('ssa'), 'apply', applied({ owned: 'four' }), { fieldManager: 'm2', force: true }),
  );
  await step('apply: wrong kind', () =>
    tr.patch(named('ssa'), 'apply', { ...applied({}), kind: 'Secret' }, { fieldManager: 'm1' }),
  );
  await step('apply: unknown field, Strict', () =>
    tr.patch(
      named('ssa'),
      'apply',
      { ...applied({ owned: 'four' }), bogus: 1 },
      {
        fieldManager: 'm2',
        fieldValidation: 'Strict',
      },
    ),
  );
  await step('apply: dry run', () =>
    tr.patch(named('ssa'), 'apply', applied({ owned: 'dry' }), { fieldManager: 'm2', dryRun: true }),
  );
  await step('get after applies', () => tr.get(named('ssa')));

  // Pagination at one resourceVersion, with a write between pages.
  const paged: Target = { resource: CM, namespace: ns };
  for (const i of [0, 1, 2, 3, 4])
    await tr.create(paged, { metadata: { name: `page-${i}`, labels: { page: 'yes' } }, data: { i: String(i) } });
  const page1 = await step('list: page 1', () => tr.list(paged, { labelSelector: 'page=yes', limit: 2 }));
  await tr.create(paged, { metadata: { name: 'page-5', labels: { page: 'yes' } } });
  await tr.delete(named('page-4'));
  const page2 = await step('list: page 2 (same revision, despite writes)', () =>
    tr.list(paged, { labelSelector: 'page=yes', limit: 2, continue: page1.metadata.continue }),
  );
  await step('list: page 3', () =>
    tr.list(paged, { labelSelector: 'page=yes', limit: 2, continue: page2.metadata.continue }),
  );
  await step('list: bad continue token', () => tr.list(paged, { limit: 2, continue: 'garbage' }));
  await step('list: unsupported field selector', () => tr.list(paged, { fieldSelector: 'spec.x=1' }));
  await step('list: everything', () => tr.list(paged, {}));

  // Watch from a resourceVersion: only the changes after it.
  const from = (await tr.list(paged, { labelSelector: 'page=yes' })).metadata.resourceVersion!;
  await tr.patch(named('page-0'), 'merge', { data: { watched: 'yes' } });
  await tr.patch(named('page-1'), 'merge', { metadata: { labels: { page: 'no' } } });
  await tr.delete(named('page-2'));
  await step('watch: resumed from a resourceVersion', async () => {
    const events: WatchEvent[] = [];
    let resolve!: () => void;
    const got = new Promise<void>((r) => (resolve = r));
    const w = tr.watch(paged, { labelSelector: 'page=yes', resourceVersion: from }, (ev) => {
      events.push(ev);
      if (events.length === 3) resolve();
    });
    await Promise.race([got, new Promise((r) => setTimeout(r, 5000))]);
    w.stop();
    return events.map((e) => ({ type: e.type, name: e.object?.metadata?.name, data: e.object?.data }));
  });
  await step('watch: bad resourceVersion', async () => {
    const w = tr.watch(paged, { resourceVersion: 'x' }, () => undefined);
    const end = await w.done;
    if (end.error) throw end.error;
    return 'no error';
  });

  // Delete with preconditions; deletecollection.
  const victim = await tr.get(named('page-3'));
  await step('delete: uid precondition fails', () =>
    tr.delete(named('page-3'), { preconditions: { uid: 'not-the-uid' } }),
  );
  await step('delete: resourceVersion precondition fails', () =>
    tr.delete(named('page-3'), { preconditions: { resourceVersion: '1' } }),
  );
  await step('delete: dry run', () => tr.delete(named('page-3'), { dryRun: true }));
  await step('delete: preconditions hold', () =>
    tr.delete(named('page-3'), {
      preconditions: { uid: victim.metadata.uid, resourceVersion: victim.metadata.resourceVersion },
    }),
  );
  await step('delete: gone', () => tr.delete(named('page-3')));
  await step('delete: bad propagation policy', () =>
    tr.delete(named('a'), { propagationPolicy: 'Sideways' as 'Orphan' }),
  );
  await step('deletecollection', () => tr.deleteCollection(paged, { labelSelector: 'page=yes' }));
  await step('list after deletecollection', () => tr.list(paged, { labelSelector: 'page' }));

  // The scale and status subresources of a Deployment.
  const dep: Target = { resource: DEPLOY, namespace: ns };
  const d = await step('create deployment', () =>
    tr.create(dep, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
      },
    }),
  );
  const web = (subresource?: string): Target => ({ ...dep, name: 'web', subresource });
  const scale = await step('scale: get', () => tr.get(web('scale')));
  await step('scale: update', () => tr.update(web('scale'), { ...scale, spec: { replicas: 3 } }));
  await step('scale: update with a stale resourceVersion', () =>
    tr.update(web('scale'), { ...scale, spec: { replicas: 5 } }),
  );
  await step('scale: negative replicas', () =>
    tr.update(web('scale'), { ...scale, metadata: { name: 'web', namespace: ns }, spec: { replicas: -1 } }),
  );
  await step('scale: merge patch', () => tr.patch(web('scale'), 'merge', { spec: { replicas: 4 } }));
  await step('scale: json patch', () =>
    tr.patch(web('scale'), 'json', [{ op: 'replace', path: '/spec/replicas', value: 2 }]),
  );
  const current = await tr.get(web());
  await step('status: update with a stale resourceVersion', () =>
    tr.update(web('status'), { ...d, status: { replicas: 1 } }),
  );
  await step('status: update changes only status', () =>
    tr.update(web('status'), {
      ...current,
      spec: { ...current.spec, replicas: 9 },
      status: { observedGeneration: 1, replicas: 2 },
    }),
  );
  await step('status: merge patch', () => tr.patch(web('status'), 'merge', { status: { readyReplicas: 1 } }));
  await step('status: apply', () =>
    tr.patch(
      web('status'),
      'apply',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, status: { availableReplicas: 1 } },
      { fieldManager: 'status-owner' },
    ),
  );
  await step('unknown subresource', () => tr.get(web('nothing')));
  await step('get deployment', () => tr.get(web()));
  return out;
}

/** What differs by nature between two runs: identities, times, versions, the namespace name. */
function normalise(v: unknown, ns: string): unknown {
  const text = JSON.stringify(v)
    .replaceAll(ns, 'NS')
    .replace(/"(uid|creationTimestamp|time|lastTransitionTime|lastUpdateTime|deletionTimestamp)":"[^"]*"/g, '"$1":"*"')
    .replace(/"(resourceVersion|continue)":"[^"]+"/g, '"$1":"*"')
    .replace(/UID in (precondition|object meta): [0-9a-f-]{36}/g, 'UID in $1: *')
    .replace(/ResourceVersion in object meta: \d+/g, 'ResourceVersion in object meta: *')
    .replace(/the object has been modified;[^"]*/g, 'the object has been modified');
  return JSON.parse(text);
}

test('every verb gives the same answers over HTTPS and in process', async () => {
  const [https, inProcess] = [await scenario('https', 'parity-https'), await scenario('in-process', 'parity-inproc')];
  const a = normalise(https, 'parity-https') as Record<string, Outcome>;
  const b = normalise(inProcess, 'parity-inproc') as Record<string, Outcome>;
  assert.deepEqual(Object.keys(b), Object.keys(a));
  for (const step of Object.keys(a)) assert.deepEqual(b[step], a[step], `step "${step}"`);
  // The scenario did exercise what it names (both sides agree; check one).
  assert.equal(a['create: Strict refuses an unknown field'].error?.code, 400);
  assert.deepEqual(a['create: Warn drops an unknown field, with a warning'].warnings, [
    'unknown field "metadata.extra"',
    'unknown field "bogus"',
  ]);
  assert.deepEqual(a['patch: merge with an unknown field, Warn'].warnings, ['unknown field "spec"']);
  assert.equal(a['apply: force takes the field'].error, undefined);
  assert.equal(a['apply: another manager conflicts'].error?.code, 409);
  assert.equal(a['apply: wrong kind'].error?.code, 400);
  assert.equal(a['update: stale resourceVersion'].error?.code, 409);
  assert.equal(a['delete: uid precondition fails'].error?.code, 409);
  assert.deepEqual(
    (a['list: page 2 (same revision, despite writes)'].value as any).items.map((i: any) => i.metadata.name),
    ['page-2', 'page-3'],
  );
  assert.deepEqual(
    (a['watch: resumed from a resourceVersion'].value as any[]).map((e) => `${e.type} ${e.name}`),
    ['MODIFIED page-0', 'DELETED page-1', 'DELETED page-2'],
  );
  assert.equal((a['scale: merge patch'].value as any).spec.replicas, 4);
  assert.equal((a['status: update changes only status'].value as any).spec.replicas, 2);
});
