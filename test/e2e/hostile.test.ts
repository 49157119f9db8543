// Hostile input against a running server (issue "hardening", item 10). Every answer must be a 4xx
// Status, or a 2xx where the input is valid; never a 5xx, a reset or silence. Every 100 requests
// /readyz must be 200 and a plain ConfigMap create must work; at the end no prototype was
// polluted and the server's memory is back near where it started. Cases are generated from a
// seed (printed; HOSTILE_SEED=<n> repeats a run, HOSTILE_CASE=<id> runs one case).
//
// Bound on memory: after the suite deletes what it created, the server's RSS is at most 150 MiB
// above its RSS before the first case. The suite sends a few dozen bodies of ~3 MiB; a server
// that keeps none of them stays well inside that, while one that keeps (or leaks) the bodies it
// rejected, or whose heap blew up on a bomb, does not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { collectServerGarbage, startCluster, until, type Cluster } from './harness.js';
import { HostileRunner, serverRssBytes, summarize, type Case, type Expectation } from './hostilerunner.js';
import {
  Rng,
  blockMappingDepthWithin,
  mutate,
  nestedJSON,
  nestedYAMLBlock,
  nestedYAMLFlow,
  structuralCuts,
  suiteSeed,
  yamlAliasBomb,
} from './hostilegen.js';

const NS = '/api/v1/namespaces/default';
const CM = `${NS}/configmaps`;
const PODS = `${NS}/pods`;
const SVCS = `${NS}/services`;
const DEPLOYS = '/apis/apps/v1/namespaces/default/deployments';
const JOBS = '/apis/batch/v1/namespaces/default/jobs';
const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const CRS = '/apis/fuzz.k8ts.example/v1/namespaces/default/hostiles';
const TRAV_NS = 'hostile-trav';
const TARGET = `${CM}/hostile-target`;
/** The special-keys class writes here, so whatever it leaves behind does not skew the other classes. */
const SPECIAL_TARGET = `${CM}/hostile-special`;
const DEPLOY_TARGET = `${DEPLOYS}/hostile-deploy`;
const CR_TARGET = `${CRS}/hostile-cr`;
const DRY = 'dryRun=All';
const MIB = 1024 * 1024;
/** Just under the 3 MiB body limit, leaving room for the rest of the object. */
const HUGE = 3 * MIB - 64 * 1024;
const SUITE_LABEL = { 'hostile-suite': 'yes' };
/** How far above its pre-suite RSS the server may end (see the header comment). */
const RSS_BOUND_MIB = 150;

const PATCH_TYPE = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;
type PatchKind = keyof typeof PATCH_TYPE;

const VALID: Expectation = { valid: true };
const REJECT: Expectation = {};
const BAD_REQUEST: Expectation = { status: 400 };
/** Upstream: a body nested deeper than 10,000 levels is a decode error (Go's encoding/json and yaml limits). */
const TOO_DEEP: Expectation = { status: 400, message: /depth/i };
/** An object bigger than the store keeps (1.5 MiB as JSON, etcd's limit); dry runs too, unlike upstream (docs/security.md). */
const TOO_BIG_TO_STORE: Expectation = { status: 413, message: /request is too large/ };

// Real objects of each kind: the sources of truncations and mutations, and bases for number cases.
const configMap = () => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'fuzz-cm', labels: { app: 'fuzz' }, annotations: { note: 'a "quoted" value' } },
  data: { a: '1', 'b.txt': 'line1\nline2' },
});
const container = () => ({
  name: 'c',
  image: 'busybox:1.36',
  command: ['sleep', '3600'],
  ports: [{ containerPort: 80, protocol: 'TCP' }],
  env: [{ name: 'A', value: '1' }],
  resources: { limits: { cpu: '100m', memory: '64Mi' } },
  livenessProbe: { exec: { command: ['true'] }, periodSeconds: 10 },
});
const pod = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'fuzz-pod', labels: { app: 'fuzz' } },
  spec: { containers: [container()], restartPolicy: 'Always', terminationGracePeriodSeconds: 5 },
});
const deployment = (name = 'fuzz-deploy') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: 'fuzz', ...SUITE_LABEL } },
  spec: {
    replicas: 0,
    selector: { matchLabels: { app: 'fuzz' } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
    template: { metadata: { labels: { app: 'fuzz' } }, spec: { containers: [container()] } },
  },
});
const service = () => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'fuzz-svc' },
  spec: { selector: { app: 'fuzz' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
});
const job = () => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'fuzz-job' },
  spec: { backoffLimit: 1, template: { spec: { restartPolicy: 'Never', containers: [container()] } } },
});
const crd = (plural = 'hostiles', group = 'fuzz.k8ts.example') => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: plural.replace(/s$/, ''), kind: 'Hostile', listKind: 'HostileList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              count: { type: 'integer', format: 'int32', minimum: 0 },
            },
          },
        },
      },
    ],
  },
});

let cluster: Cluster;
let runner: HostileRunner;
let rssBaseline = 0;
const seed = suiteSeed();
const timings: string[] = [];
let totalCases = 0;

function yamlOf(value: unknown, indent = 0): string {
  // A small JSON-to-block-YAML printer (quoted scalars), so YAML sources match the JSON ones key for key.
  const pad = ' '.repeat(indent);
  if (Array.isArray(value))
    return value
      .map((v) => (typeof v === 'object' && v ? `${pad}-\n${yamlOf(v, indent + 2)}` : `${pad}- ${JSON.stringify(v)}\n`))
      .join('');
  return Object.entries(value as object)
    .map(([k, v]) =>
      typeof v === 'object' && v
        ? `${pad}${JSON.stringify(k)}:\n${yamlOf(v, indent + 2)}`
        : `${pad}${JSON.stringify(k)}: ${JSON.stringify(v)}\n`,
    )
    .join('');
}

async function must(c: Omit<Case, 'id'>, status: number): Promise<any> {
  const r = await runner.send(c);
  assert.equal(r.status, status, `${c.method} ${c.path}: ${r.status ?? r.error} ${r.body?.slice(0, 300)}`);
  return r.body ? JSON.parse(r.body) : undefined;
}

/** The objects every class works against (recreated if a case took the server down). */
async function createFixtures(): Promise<void> {
  const post = async (path: string, obj: unknown) => {
    const r = await runner.send({ method: 'POST', path, body: JSON.stringify(obj) });
    if (r.status !== 201 && r.status !== 409) throw new Error(`fixture ${path}: ${r.status ?? r.error} ${r.body}`);
  };
  await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TRAV_NS } });
  await post(`/api/v1/namespaces/${TRAV_NS}/configmaps`, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'victim' },
  });
  await post(CM, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'hostile-target', labels: SUITE_LABEL },
    data: { a: '1' },
  });
  await post(CM, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'hostile-special', labels: SUITE_LABEL },
    data: { a: '1' },
  });
  for (let i = 0; i < 3; i++)
    await post(CM, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `hostile-page-${i}`, labels: SUITE_LABEL },
    });
  await post(DEPLOYS, deployment('hostile-deploy'));
  await post(CRDS, crd());
  await until(
    'the hostile CRD to be served',
    async () => (await runner.send({ method: 'GET', path: CRS })).status === 200,
    30_000,
  );
  await post(CRS, {
    apiVersion: 'fuzz.k8ts.example/v1',
    kind: 'Hostile',
    metadata: { name: 'hostile-cr' },
    spec: { a: 1 },
  });
}

/** Ordinary traffic before the memory baseline: a freshly started server's RSS still grows with its first requests. */
async function warmUp(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await runner.send({ method: 'POST', path: `${CM}?${DRY}`, body: JSON.stringify(configMap()) });
    await runner.send({
      method: 'PATCH',
      path: `${TARGET}?${DRY}`,
      body: '{"data":{"w":"1"}}',
      contentType: PATCH_TYPE.merge,
    });
    await runner.send({ method: 'GET', path: `${CM}?labelSelector=hostile-suite` });
  }
}

before(async () => {
  console.log(`# hostile suite seed ${seed} (HOSTILE_SEED=${seed} repeats this run)`);
  // With an inspector, so that memory is compared after full garbage collections.
  cluster = await startCluster({ nodeArgs: ['--inspect=127.0.0.1:0'] });
  runner = new HostileRunner(cluster, seed);
  runner.onRestart = async () => {
    await createFixtures();
    await warmUp();
    await collectServerGarbage(cluster);
    rssBaseline = serverRssBytes(cluster);
  };
  await createFixtures();
  await warmUp();
  await collectServerGarbage(cluster);
  rssBaseline = serverRssBytes(cluster);
});

after(async () => {
  console.log(`# hostile suite: ${totalCases} cases, ${runner?.requests ?? 0} requests in all; ${timings.join(', ')}`);
  runner?.close();
  await cluster?.cleanup();
});

/** Run one class of cases and fail with a list of what went wrong (seed and repro for each). */
async function runClass(
  name: string,
  cases: Case[],
  concurrency = 4,
  afterwards?: () => Promise<string[]>,
): Promise<void> {
  const started = Date.now();
  const failures = await runner.run(cases, concurrency);
  // Checks of what the cases must not have done (run even when cases failed, reported with them).
  for (const problem of (await afterwards?.()) ?? []) {
    console.log(`# hostile FAIL [seed ${seed}] (${name}, afterwards): ${problem}`);
    failures.unshift({ id: `(${name}, afterwards)`, problem, repro: '' });
  }
  totalCases += cases.length;
  timings.push(
    `${name} ${cases.length} cases ${((Date.now() - started) / 1000).toFixed(1)} s (RSS after: ${(serverRssBytes(cluster) / MIB).toFixed(0)} MiB)`,
  );
  if (failures.length) assert.fail(summarize(name, seed, cases.length, failures));
}

const T = { timeout: 60_000 };

test('truncated JSON and YAML bodies (every structural point of real objects) are 400 / rejected', T, async () => {
  const cases: Case[] = [];
  const sources: [string, string, object][] = [
    ['configmap', `${CM}?${DRY}`, configMap()],
    ['deployment', `${DEPLOYS}?${DRY}`, deployment()],
    ['pod', `${PODS}?${DRY}`, pod()],
    ['crd', `${CRDS}?${DRY}`, crd('fuzzes', 'fuzz2.k8ts.example')],
  ];
  for (const [kind, path, obj] of sources) {
    const json = JSON.stringify(obj);
    // Every strict prefix of a JSON object is malformed: upstream's decoder answers 400.
    for (const cut of structuralCuts(json))
      cases.push({
        id: `truncate/${kind}/json@${cut}`,
        method: 'POST',
        path,
        body: json.slice(0, cut),
        expect: BAD_REQUEST,
      });
    // A prefix of a YAML document is often a valid, smaller document: any 2xx/4xx is right.
    const yaml = yamlOf(obj);
    for (const cut of structuralCuts(yaml).filter((c) => yaml[c - 1] === '\n' || yaml[c - 1] === ':' || c === 0))
      cases.push({
        id: `truncate/${kind}/yaml@${cut}`,
        method: 'POST',
        path,
        body: yaml.slice(0, cut),
        contentType: 'application/yaml',
        expect: cut === 0 ? BAD_REQUEST : VALID,
      });
  }
  await runClass('truncated bodies', cases, 6);
});

test('byte-mutated JSON and YAML bodies never get a 5xx', T, async () => {
  const rng = new Rng(seed);
  const cases: Case[] = [];
  const sources: [string, string, object][] = [
    ['configmap', `${CM}?${DRY}`, configMap()],
    ['deployment', `${DEPLOYS}?${DRY}`, deployment()],
    ['pod', `${PODS}?${DRY}`, pod()],
    ['crd', `${CRDS}?${DRY}`, crd('fuzzes', 'fuzz2.k8ts.example')],
  ];
  for (const [kind, path, obj] of sources) {
    for (const [format, text, contentType] of [
      ['json', JSON.stringify(obj), 'application/json'],
      ['yaml', yamlOf(obj), 'application/yaml'],
    ] as const) {
      let body: Buffer = Buffer.from(text);
      for (let i = 0; i < 50; i++) {
        // Mutations accumulate a few at a time, then start over from the real object.
        if (i % 5 === 0) body = Buffer.from(text);
        const m = mutate(rng, body);
        body = m.body;
        cases.push({ id: `mutate/${kind}/${format}/${i}`, method: 'POST', path, body, contentType, expect: VALID });
      }
    }
  }
  await runClass('mutated bodies', cases, 6);
});

test('deep nesting: bodies and all four patch types at depths 100, 10,001 and 100,000', T, async () => {
  const cases: Case[] = [];
  const cmHead = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":';
  const cmYAML = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n';
  const applyHead = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hostile-target"},"x":';
  for (const depth of [100, 10_001, 100_000]) {
    const expect = depth > 10_000 ? TOO_DEEP : VALID;
    for (const shape of ['array', 'object'] as const) {
      const deep = nestedJSON(depth, shape);
      const id = (what: string) => `deep/${what}/${shape}/${depth}`;
      cases.push({ id: id('json-body'), method: 'POST', path: `${CM}?${DRY}`, body: `${cmHead}${deep}}`, expect });
      cases.push({
        id: id('json-cr'),
        method: 'POST',
        path: `${CRS}?${DRY}`,
        body: `{"apiVersion":"fuzz.k8ts.example/v1","kind":"Hostile","metadata":{"name":"deep"},"spec":{"x":${deep}}}`,
        expect,
      });
      cases.push({
        id: id('yaml-flow'),
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: `${cmYAML}x: ${nestedYAMLFlow(depth, shape)}\n`,
        contentType: 'application/yaml',
        expect,
      });
      if (shape === 'array')
        cases.push({
          id: id('yaml-block'),
          method: 'POST',
          path: `${CM}?${DRY}`,
          body: nestedYAMLBlock(cmYAML, depth, 'array'),
          contentType: 'application/yaml',
          expect,
        });
      cases.push({
        id: id('patch-json'),
        method: 'PATCH',
        path: `${TARGET}?${DRY}`,
        body: `[{"op":"add","path":"/x","value":${deep}}]`,
        contentType: PATCH_TYPE.json,
        expect,
      });
      cases.push({
        id: id('patch-merge'),
        method: 'PATCH',
        path: `${TARGET}?${DRY}`,
        body: `{"x":${deep}}`,
        contentType: PATCH_TYPE.merge,
        expect,
      });
      cases.push({
        id: id('patch-merge-cr'),
        method: 'PATCH',
        path: `${CR_TARGET}?${DRY}`,
        body: `{"spec":{"x":${deep}}}`,
        contentType: PATCH_TYPE.merge,
        expect,
      });
      cases.push({
        id: id('patch-strategic'),
        method: 'PATCH',
        path: `${TARGET}?${DRY}`,
        body: `{"x":${deep}}`,
        contentType: PATCH_TYPE.strategic,
        expect,
      });
      cases.push({
        id: id('patch-apply'),
        method: 'PATCH',
        path: `${TARGET}?${DRY}&fieldManager=hostile`,
        body: `${applyHead}${deep}}`,
        contentType: PATCH_TYPE.apply,
        expect,
      });
    }
    cases.push({
      id: `deep/patch-apply-yaml-block/${depth}`,
      method: 'PATCH',
      path: `${TARGET}?${DRY}&fieldManager=hostile`,
      body: nestedYAMLBlock('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile-target\n', depth, 'array'),
      contentType: PATCH_TYPE.apply,
      expect,
    });
    // A JSON patch path `depth` segments deep: the path does not exist, whatever its depth.
    cases.push({
      id: `deep/patch-json-path/${depth}`,
      method: 'PATCH',
      path: `${TARGET}?${DRY}`,
      body: `[{"op":"add","path":"${'/a'.repeat(depth)}","value":1}]`,
      contentType: PATCH_TYPE.json,
      expect: REJECT,
    });
  }
  // Block mappings grow quadratically with depth: 100, and the deepest that fits in 3 MiB (~2,400).
  for (const depth of [100, blockMappingDepthWithin(3 * MIB - 1024)]) {
    cases.push({
      id: `deep/yaml-block-map/${depth}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: nestedYAMLBlock(cmYAML, depth, 'object'),
      contentType: 'application/yaml',
      expect: VALID,
    });
  }
  await runClass('deep nesting', cases, 2);
});

test('YAML alias bombs, undefined and self-referencing aliases are 400', T, async () => {
  const head = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: alias\n';
  const applyHead = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile-target\n';
  const y = (id: string, body: string, expect: Expectation, apply = false): Case => ({
    id: `alias/${id}${apply ? '/apply' : ''}`,
    method: apply ? 'PATCH' : 'POST',
    path: apply ? `${TARGET}?${DRY}&fieldManager=hostile` : `${CM}?${DRY}`,
    body: body.replace(head, apply ? applyHead : head),
    contentType: apply ? PATCH_TYPE.apply : 'application/yaml',
    expect,
  });
  const bodies: [string, string, Expectation][] = [
    ['billion-laughs', yamlAliasBomb(head, 9, 9), BAD_REQUEST],
    ['wide-bomb', yamlAliasBomb(head, 4, 200), BAD_REQUEST],
    ['small-aliases', yamlAliasBomb(head, 3, 3), VALID],
    ['undefined', `${head}x: *nope\n`, BAD_REQUEST],
    ['undefined-key', `${head}x:\n  *nope : 1\n`, BAD_REQUEST],
    ['self-reference', `${head}x: &a [1, *a]\n`, BAD_REQUEST],
    [
      'merge-key-bomb',
      `${yamlAliasBomb(head, 6, 9).replace(/x: \*l5\n$/, '')}m0: &m0 {a: *l5, b: *l5}\nx:\n  <<: [*m0, *m0]\n`,
      BAD_REQUEST,
    ],
    [
      'alias-in-metadata',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n alias\n  labels:\n    app: *n\n',
      VALID,
    ],
  ];
  const cases = bodies.flatMap(([id, body, expect]) => [y(id, body, expect), y(id, body, expect, true)]);
  await runClass('YAML aliases', cases, 2);
});

test(
  'huge strings (names, label and annotation values, data; 3 MiB minus a bit) are rejected, not a crash',
  T,
  async () => {
    const big = 'a'.repeat(HUGE);
    const cm = (patch: (o: any) => void) => {
      const o: any = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'huge' } };
      patch(o);
      return JSON.stringify(o);
    };
    const cases: Case[] = [
      { id: 'huge/name', method: 'POST', path: `${CM}?${DRY}`, body: cm((o) => (o.metadata.name = big)) },
      {
        id: 'huge/generateName',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: cm((o) => (delete o.metadata.name, (o.metadata.generateName = big))),
      },
      {
        id: 'huge/label-value',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: cm((o) => (o.metadata.labels = { a: big })),
      },
      {
        id: 'huge/label-key',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: cm((o) => (o.metadata.labels = { [big]: 'a' })),
      },
      {
        id: 'huge/annotation-value',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: cm((o) => (o.metadata.annotations = { a: big })),
      },
      {
        id: 'huge/annotation-key',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: cm((o) => (o.metadata.annotations = { [big]: 'a' })),
      },
      {
        id: 'huge/finalizer',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: cm((o) => (o.metadata.finalizers = [`x/${big}`])),
      },
      { id: 'huge/namespace', method: 'POST', path: `${CM}?${DRY}`, body: cm((o) => (o.metadata.namespace = big)) },
      { id: 'huge/data-value', method: 'POST', path: `${CM}?${DRY}`, body: cm((o) => (o.data = { a: big })) },
      { id: 'huge/data-key', method: 'POST', path: `${CM}?${DRY}`, body: cm((o) => (o.data = { [big]: 'a' })) },
      {
        id: 'huge/escaped-data-value',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"huge"},"data":{"a":"${'\\u00e9'.repeat(HUGE / 6)}"}}`,
        expect: VALID,
      },
      // Valid, but with a managedFields entry per key more than the store keeps.
      {
        id: 'huge/many-keys',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: cm((o) => (o.data = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 'v'])))),
        expect: TOO_BIG_TO_STORE,
      },
      {
        id: 'huge/many-keys-storable',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: cm((o) => (o.data = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`k${i}`, 'v'])))),
        expect: VALID,
      },
      {
        id: 'huge/secret-data',
        method: 'POST',
        path: `${NS}/secrets?${DRY}`,
        body: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'huge' },
          data: { a: Buffer.alloc((HUGE * 3) / 4).toString('base64') },
        }),
      },
      // Upstream does not limit an image name's length (and a dry run never meets etcd's request
      // limit there); here the store's limit holds for dry runs too.
      {
        id: 'huge/image',
        method: 'POST',
        path: `${PODS}?${DRY}`,
        body: JSON.stringify({ ...pod(), spec: { containers: [{ name: 'c', image: big }] } }),
        expect: TOO_BIG_TO_STORE,
      },
      {
        id: 'huge/yaml-data-value',
        method: 'POST',
        path: `${CM}?${DRY}`,
        body: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  a: ${big}\n`,
        contentType: 'application/yaml',
      },
      {
        id: 'huge/put-label-value',
        method: 'PUT',
        path: `${TARGET}?${DRY}`,
        body: JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'hostile-target', labels: { a: big } },
        }),
      },
      {
        id: 'huge/merge-patch-annotation',
        method: 'PATCH',
        path: `${TARGET}?${DRY}`,
        body: JSON.stringify({ metadata: { annotations: { a: big } } }),
        contentType: PATCH_TYPE.merge,
      },
      {
        id: 'huge/json-patch-path',
        method: 'PATCH',
        path: `${TARGET}?${DRY}`,
        body: JSON.stringify([{ op: 'add', path: `/data/${big}`, value: 'x' }]),
        contentType: PATCH_TYPE.json,
      },
      {
        id: 'huge/apply-name',
        method: 'PATCH',
        path: `${TARGET}?${DRY}&fieldManager=hostile`,
        body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: big } }),
        contentType: PATCH_TYPE.apply,
      },
      // Just under the 1 MiB ConfigMap limit: valid, stored, and deleted at the end.
      {
        id: 'huge/stored-1mib',
        method: 'POST',
        path: CM,
        body: cm(
          (o) => (
            (o.metadata.name = 'hostile-big'),
            (o.metadata.labels = SUITE_LABEL),
            (o.data = { a: 'b'.repeat(MIB - 4096) })
          ),
        ),
        expect: VALID,
      },
    ];
    await runClass('huge strings', cases, 2);
  },
);

/** Integer fields of built-in kinds: where they sit in a valid object, and their Go type. */
const INT_FIELDS: {
  kind: string;
  path: string;
  make: () => any;
  field: (o: any) => [any, string];
  bits: 32 | 64;
  anyRejection?: boolean;
}[] = [
  { kind: 'deployment', path: DEPLOYS, make: deployment, field: (o) => [o.spec, 'replicas'], bits: 32 },
  { kind: 'deployment', path: DEPLOYS, make: deployment, field: (o) => [o.spec, 'minReadySeconds'], bits: 32 },
  { kind: 'deployment', path: DEPLOYS, make: deployment, field: (o) => [o.spec, 'revisionHistoryLimit'], bits: 32 },
  { kind: 'deployment', path: DEPLOYS, make: deployment, field: (o) => [o.spec, 'progressDeadlineSeconds'], bits: 32 },
  { kind: 'deployment', path: DEPLOYS, make: deployment, field: (o) => [o.metadata, 'generation'], bits: 64 },
  { kind: 'pod', path: PODS, make: pod, field: (o) => [o.spec, 'terminationGracePeriodSeconds'], bits: 64 },
  { kind: 'pod', path: PODS, make: pod, field: (o) => [o.spec, 'activeDeadlineSeconds'], bits: 64 },
  { kind: 'pod', path: PODS, make: pod, field: (o) => [o.spec, 'priority'], bits: 32 },
  { kind: 'pod', path: PODS, make: pod, field: (o) => [(o.spec.securityContext = {}), 'runAsUser'], bits: 64 },
  { kind: 'pod', path: PODS, make: pod, field: (o) => [o.spec.containers[0].ports[0], 'containerPort'], bits: 32 },
  { kind: 'pod', path: PODS, make: pod, field: (o) => [o.spec.containers[0].livenessProbe, 'periodSeconds'], bits: 32 },
  { kind: 'service', path: SVCS, make: service, field: (o) => [o.spec.ports[0], 'port'], bits: 32 },
  // IntOrString: out of range is refused by validation (422) here, by the decoder (400) upstream.
  {
    kind: 'service',
    path: SVCS,
    make: service,
    field: (o) => [o.spec.ports[0], 'targetPort'],
    bits: 32,
    anyRejection: true,
  },
  { kind: 'job', path: JOBS, make: job, field: (o) => [o.spec, 'backoffLimit'], bits: 32 },
  { kind: 'job', path: JOBS, make: job, field: (o) => [o.spec, 'activeDeadlineSeconds'], bits: 64 },
  { kind: 'job', path: JOBS, make: job, field: (o) => [o.spec, 'ttlSecondsAfterFinished'], bits: 32 },
  { kind: 'configmap', path: CM, make: configMap, field: (o) => [o.metadata, 'deletionGracePeriodSeconds'], bits: 64 },
];

/** Edge numbers as JSON text, and whether each is an integer within int32 / int64. */
/**
 * `asDouble`: what JSON.parse makes of the text when that is a valid integer although the text is
 * not one for Go (1e2 is 100; -2^63-1 rounds to -2^63). A server that decodes JSON into doubles
 * can't tell those apart, so they may be taken as the integer (a documented difference).
 */
const EDGE_NUMBERS: { text: string; int32: boolean; int64: boolean; asDouble?: { int32: boolean; int64: boolean } }[] =
  [
    { text: '2147483647', int32: true, int64: true },
    { text: '2147483648', int32: false, int64: true },
    { text: '-2147483648', int32: true, int64: true },
    { text: '-2147483649', int32: false, int64: true },
    { text: '9007199254740992', int32: false, int64: true },
    { text: '9007199254740993', int32: false, int64: true },
    { text: '9223372036854775807', int32: false, int64: true },
    { text: '9223372036854775808', int32: false, int64: false },
    { text: '-9223372036854775808', int32: false, int64: true },
    { text: '-9223372036854775809', int32: false, int64: false, asDouble: { int32: false, int64: true } },
    { text: '1e308', int32: false, int64: false },
    { text: '1e309', int32: false, int64: false },
    { text: '1.5', int32: false, int64: false },
    { text: '-0', int32: true, int64: true },
    { text: '1e2', int32: false, int64: false, asDouble: { int32: true, int64: true } },
  ];

test('integers at the edges of every int32/int64 field: out of range is 400, in range never a 5xx', T, async () => {
  const cases: Case[] = [];
  for (const f of INT_FIELDS) {
    for (const n of EDGE_NUMBERS) {
      const obj = f.make();
      const [holder, key] = f.field(obj);
      holder[key] = '@NUMBER@';
      const body = JSON.stringify(obj).replace('"@NUMBER@"', n.text);
      const inRange = f.bits === 32 ? n.int32 : n.int64;
      const asDoubleInRange = n.asDouble && (f.bits === 32 ? n.asDouble.int32 : n.asDouble.int64);
      // Upstream decodes into Go int32/int64: anything else is "cannot unmarshal number ..." (400).
      const expect = inRange || asDoubleInRange ? VALID : f.anyRejection ? REJECT : BAD_REQUEST;
      cases.push({ id: `int/${f.kind}/${key}/${n.text}`, method: 'POST', path: `${f.path}?${DRY}`, body, expect });
    }
  }
  // The same edges in YAML, and in patches and delete options.
  for (const n of EDGE_NUMBERS) {
    const yaml = yamlOf(deployment()).replace('"replicas": 0', `"replicas": ${n.text}`);
    const int32 = n.int32 || n.asDouble?.int32 ? VALID : BAD_REQUEST;
    cases.push({
      id: `int/deployment-yaml/replicas/${n.text}`,
      method: 'POST',
      path: `${DEPLOYS}?${DRY}`,
      body: yaml,
      contentType: 'application/yaml',
      expect: int32,
    });
    cases.push({
      id: `int/merge-patch/replicas/${n.text}`,
      method: 'PATCH',
      path: `${DEPLOY_TARGET}?${DRY}`,
      body: `{"spec":{"replicas":${n.text}}}`,
      contentType: PATCH_TYPE.merge,
      expect: int32,
    });
    // Custom resources are validated by their schema (type: integer), not decoded into Go ints: only a fraction must be refused.
    cases.push({
      id: `int/cr-int32/${n.text}`,
      method: 'POST',
      path: `${CRS}?${DRY}`,
      body: `{"apiVersion":"fuzz.k8ts.example/v1","kind":"Hostile","metadata":{"name":"num"},"count":${n.text}}`,
      expect: n.text === '1.5' ? REJECT : VALID,
    });
    cases.push({
      id: `int/delete-grace/${n.text}`,
      method: 'DELETE',
      path: `${TARGET}?${DRY}`,
      body: `{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"],"gracePeriodSeconds":${n.text}}`,
      expect: n.int64 || n.asDouble?.int64 ? VALID : BAD_REQUEST,
    });
  }
  for (const text of ['0x10', '.inf', '-.inf', '.nan', '1_000', '0o17', '+5']) {
    cases.push({
      id: `int/deployment-yaml/replicas/${text}`,
      method: 'POST',
      path: `${DEPLOYS}?${DRY}`,
      body: yamlOf(deployment()).replace('"replicas": 0', `"replicas": ${text}`),
      contentType: 'application/yaml',
      expect: VALID,
    });
  }
  await runClass('integer edges', cases, 6);
});

test('invalid UTF-8 in bodies, names, keys, headers and paths is never a 5xx', T, async () => {
  const bad: [string, Buffer][] = [
    ['ff', Buffer.from([0xff])],
    ['c3-28', Buffer.from([0xc3, 0x28])],
    ['surrogate', Buffer.from([0xed, 0xa0, 0x80])],
    ['overlong-slash', Buffer.from([0xc0, 0xaf])],
    ['f8', Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])],
    ['truncated-3byte', Buffer.from([0xe2, 0x82])],
  ];
  const cases: Case[] = [];
  const wrap = (before: string, b: Buffer, after: string) =>
    Buffer.concat([Buffer.from(before), b, Buffer.from(after)]);
  for (const [id, b] of bad) {
    const head = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":';
    cases.push({
      id: `utf8/data-value/${id}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: wrap(`${head}"u8"},"data":{"a":"x`, b, 'y"}}'),
      expect: VALID,
    });
    cases.push({
      id: `utf8/data-key/${id}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: wrap(`${head}"u8"},"data":{"a`, b, '":"y"}}'),
      expect: VALID,
    });
    cases.push({
      id: `utf8/name/${id}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: wrap(`${head}"u8`, b, '"}}'),
      expect: REJECT,
    });
    cases.push({
      id: `utf8/label-value/${id}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: wrap(`${head}"u8","labels":{"a":"b`, b, '"}}}'),
      expect: REJECT,
    });
    cases.push({
      id: `utf8/outside-string/${id}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: wrap(`${head}"u8"}`, b, '}'),
      expect: BAD_REQUEST,
    });
    cases.push({
      id: `utf8/yaml/${id}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: wrap('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: u8\ndata:\n  a: x', b, 'y\n'),
      contentType: 'application/yaml',
      expect: VALID,
    });
    cases.push({
      id: `utf8/merge-patch/${id}`,
      method: 'PATCH',
      path: `${TARGET}?${DRY}`,
      body: wrap('{"data":{"a":"x', b, '"}}'),
      contentType: PATCH_TYPE.merge,
      expect: VALID,
    });
    cases.push({
      id: `utf8/apply/${id}`,
      method: 'PATCH',
      path: `${TARGET}?${DRY}&fieldManager=hostile`,
      body: wrap('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile-target\ndata:\n  a: x', b, '\n'),
      contentType: PATCH_TYPE.apply,
      expect: VALID,
    });
    // Raw bytes in the path and query (Node sends \u0080-\u00ff as single bytes).
    const latin1 = b.toString('latin1');
    // Node's HTTP parser refuses raw bytes over 0x7f in the request line itself (plain 400, as Go's server does for an
    // unparsable request line); upstream Go passes them on (404).
    cases.push({
      id: `utf8/path-name/${id}`,
      method: 'GET',
      path: `${CM}/a${latin1}b`,
      expect: { status: [400, 404], plain: true },
    });
    cases.push({
      id: `utf8/path-escaped/${id}`,
      method: 'GET',
      path: `${CM}/a${[...b].map((x) => `%${x.toString(16)}`).join('')}b`,
      expect: REJECT,
    });
    cases.push({
      id: `utf8/label-selector/${id}`,
      method: 'GET',
      path: `${CM}?labelSelector=a%3D${[...b].map((x) => `%${x.toString(16)}`).join('')}`,
      expect: REJECT,
    });
    cases.push({
      id: `utf8/user-agent/${id}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ua' } }),
      headers: { 'User-Agent': `x${latin1}y/1.0` },
      expect: VALID,
    });
  }
  cases.push({
    id: 'utf8/lone-surrogate-escape',
    method: 'POST',
    path: `${CM}?${DRY}`,
    body: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u8"},"data":{"a":"\\ud800x","\\udfff":"y"}}',
    expect: VALID,
  });
  cases.push({
    id: 'utf8/nul-escape',
    method: 'POST',
    path: `${CM}?${DRY}`,
    body: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u8"},"data":{"a":"\\u0000"}}',
    expect: VALID,
  });
  cases.push({
    id: 'utf8/bom',
    method: 'POST',
    path: `${CM}?${DRY}`,
    body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(configMap()))]),
    expect: VALID,
  });
  cases.push({
    id: 'utf8/utf16',
    method: 'POST',
    path: `${CM}?${DRY}`,
    body: Buffer.from(JSON.stringify(configMap()), 'utf16le'),
    expect: BAD_REQUEST,
  });
  await runClass('invalid UTF-8', cases, 6);
});

test('duplicate keys: accepted with a warning by default, 400 under fieldValidation=Strict', T, async () => {
  const bodies: [string, string][] = [
    ['kind', '{"apiVersion":"v1","kind":"ConfigMap","kind":"ConfigMap","metadata":{"name":"dup"}}'],
    ['metadata', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"metadata":{"name":"dup2"}}'],
    ['name', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"}}'],
    ['label', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","labels":{"a":"1","a":"2"}}}'],
    ['data', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1","a":"2"}}'],
    [
      'many',
      `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{${Array(5000).fill('"a":"1"').join(',')}}}`,
    ],
  ];
  const cases: Case[] = [];
  for (const [id, body] of bodies) {
    cases.push({ id: `dup/json/${id}`, method: 'POST', path: `${CM}?${DRY}`, body, expect: VALID });
    cases.push({
      id: `dup/json-strict/${id}`,
      method: 'POST',
      path: `${CM}?${DRY}&fieldValidation=Strict`,
      body,
      expect: { status: 400, message: /duplicate field/ },
    });
  }
  const yamlDup = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\ndata:\n  a: "1"\n  a: "2"\n';
  cases.push({
    id: 'dup/yaml',
    method: 'POST',
    path: `${CM}?${DRY}`,
    body: yamlDup,
    contentType: 'application/yaml',
    expect: VALID,
  });
  cases.push({
    id: 'dup/yaml-strict',
    method: 'POST',
    path: `${CM}?${DRY}&fieldValidation=Strict`,
    body: yamlDup,
    contentType: 'application/yaml',
    expect: BAD_REQUEST,
  });
  cases.push({
    id: 'dup/merge-patch',
    method: 'PATCH',
    path: `${TARGET}?${DRY}`,
    body: '{"data":{"a":"1","a":"2"}}',
    contentType: PATCH_TYPE.merge,
    expect: VALID,
  });
  cases.push({
    id: 'dup/strategic-patch',
    method: 'PATCH',
    path: `${DEPLOY_TARGET}?${DRY}`,
    body: '{"spec":{"replicas":0,"replicas":0}}',
    contentType: PATCH_TYPE.strategic,
    expect: VALID,
  });
  cases.push({
    id: 'dup/apply',
    method: 'PATCH',
    path: `${TARGET}?${DRY}&fieldManager=hostile`,
    body: yamlDup.replace('name: dup', 'name: hostile-target'),
    contentType: PATCH_TYPE.apply,
    expect: VALID,
  });
  cases.push({
    id: 'dup/json-patch-op-keys',
    method: 'PATCH',
    path: `${TARGET}?${DRY}`,
    body: '[{"op":"add","op":"remove","path":"/data/a","value":"x"}]',
    contentType: PATCH_TYPE.json,
    expect: VALID,
  });
  await runClass('duplicate keys', cases);
});

const SPECIAL_KEYS = ['__proto__', 'constructor', 'prototype'];
/** What a pollution attempt would plant on Object.prototype: a stray field and a label selectors would see. */
const POISON = {
  hostilepolluted: 'yes',
  labels: { hostilepolluted: 'yes' },
  prototype: { hostilepolluted: 'yes', labels: { hostilepolluted: 'yes' } },
};

test(
  'special keys (__proto__, constructor, prototype) at every level, in bodies and all four patch types',
  T,
  async () => {
    const cases: Case[] = [];
    // Where a special key is planted in an object: each level of a Deployment and of a ConfigMap.
    const deployLevels: [string, (o: any) => any][] = [
      ['top', (o) => o],
      ['metadata', (o) => o.metadata],
      ['labels', (o) => o.metadata.labels],
      ['annotations', (o) => (o.metadata.annotations = {})],
      ['spec', (o) => o.spec],
      ['selector', (o) => o.spec.selector.matchLabels],
      ['template-spec', (o) => o.spec.template.spec],
      ['container', (o) => o.spec.template.spec.containers[0]],
      ['resources', (o) => o.spec.template.spec.containers[0].resources.limits],
      ['env', (o) => o.spec.template.spec.containers[0].env[0]],
    ];
    const cmLevels: [string, (o: any) => any][] = [
      ['top', (o) => o],
      ['metadata', (o) => o.metadata],
      ['labels', (o) => (o.metadata.labels ??= {})],
      ['data', (o) => (o.data = {})],
    ];
    const planted = (make: () => any, level: (o: any) => any, key: string) => {
      // JSON.stringify drops a "__proto__" set by assignment, so it is spliced in as text.
      const o = make();
      level(o)['@SPECIAL@'] = POISON;
      return JSON.stringify(o).replace('"@SPECIAL@"', JSON.stringify(key));
    };
    for (const key of SPECIAL_KEYS) {
      for (const [lvl, at] of deployLevels) {
        const body = planted(() => deployment('hostile-special'), at, key);
        cases.push({
          id: `special/create-deploy/${lvl}/${key}`,
          method: 'POST',
          path: `${DEPLOYS}?${DRY}`,
          body,
          expect: VALID,
        });
        const patch = planted(
          () => ({
            metadata: { labels: {} },
            spec: {
              selector: { matchLabels: {} },
              template: { spec: { containers: [{ name: 'c', env: [{ name: 'A' }], resources: { limits: {} } }] } },
            },
          }),
          at,
          key,
        );
        cases.push({
          id: `special/merge-deploy/${lvl}/${key}`,
          method: 'PATCH',
          path: `${DEPLOY_TARGET}?${DRY}`,
          body: patch,
          contentType: PATCH_TYPE.merge,
          expect: VALID,
        });
        cases.push({
          id: `special/strategic-deploy/${lvl}/${key}`,
          method: 'PATCH',
          path: `${DEPLOY_TARGET}?${DRY}`,
          body: patch,
          contentType: PATCH_TYPE.strategic,
          expect: VALID,
        });
        const apply = planted(() => deployment('hostile-deploy'), at, key);
        cases.push({
          id: `special/apply-deploy/${lvl}/${key}`,
          method: 'PATCH',
          path: `${DEPLOY_TARGET}?${DRY}&fieldManager=hostile`,
          body: apply,
          contentType: PATCH_TYPE.apply,
          expect: VALID,
        });
      }
      for (const [lvl, at] of cmLevels) {
        // These are real writes (not dry runs): stored objects are where pollution would stick.
        const make = () => ({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `hostile-special-${lvl}-${key.replace(/_/g, '')}`, labels: { ...SUITE_LABEL } },
        });
        cases.push({
          id: `special/create-cm/${lvl}/${key}`,
          method: 'POST',
          path: CM,
          body: planted(make, at, key),
          expect: VALID,
        });
        cases.push({
          id: `special/merge-cm/${lvl}/${key}`,
          method: 'PATCH',
          path: SPECIAL_TARGET,
          body: planted(() => ({ metadata: {} }), at, key),
          contentType: PATCH_TYPE.merge,
          expect: VALID,
        });
        cases.push({
          id: `special/strategic-cm/${lvl}/${key}`,
          method: 'PATCH',
          path: SPECIAL_TARGET,
          body: planted(() => ({ metadata: {} }), at, key),
          contentType: PATCH_TYPE.strategic,
          expect: VALID,
        });
        cases.push({
          id: `special/apply-cm/${lvl}/${key}`,
          method: 'PATCH',
          path: `${SPECIAL_TARGET}?fieldManager=hostile-special`,
          body: planted(
            () => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hostile-special' } }),
            at,
            key,
          ),
          contentType: PATCH_TYPE.apply,
          expect: VALID,
        });
        const yamlKey = `${key}:\n  hostilepolluted: "yes"\n  labels:\n    hostilepolluted: "yes"\n`;
        cases.push({
          id: `special/yaml-cm/${lvl}/${key}`,
          method: 'POST',
          path: `${CM}?${DRY}`,
          body: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile-yaml\n${yamlKey}`,
          contentType: 'application/yaml',
          expect: VALID,
        });
        cases.push({
          id: `special/put-cm/${lvl}/${key}`,
          method: 'PUT',
          path: `${SPECIAL_TARGET}?${DRY}`,
          body: planted(
            () => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hostile-special' } }),
            at,
            key,
          ),
          expect: VALID,
        });
      }
      for (const path of [
        `/${key}/hostilepolluted`,
        `/${key}/labels`,
        `/metadata/${key}/hostilepolluted`,
        `/constructor/prototype/hostilepolluted`,
        `/data/${key}`,
      ]) {
        cases.push({
          id: `special/json-patch${path}`,
          method: 'PATCH',
          path: SPECIAL_TARGET,
          body: JSON.stringify([{ op: 'add', path, value: 'yes' }]),
          contentType: PATCH_TYPE.json,
          expect: VALID,
        });
      }
    }
    await runClass('special keys', dedupe(cases), 4);
  },
);

function dedupe(cases: Case[]): Case[] {
  const seen = new Set<string>();
  return cases.filter((c) => !seen.has(c.id) && seen.add(c.id));
}

test(
  'after the special keys: no prototype pollution (fresh objects are clean, selectors see nothing, SSA works)',
  T,
  async () => {
    // Every check runs and reports, so one run shows all the ways pollution shows.
    const problems: string[] = [];
    const check = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        problems.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
      }
    };
    await check('a fresh ConfigMap has exactly the fields it was given', async () => {
      const fresh = await must(
        {
          method: 'POST',
          path: CM,
          body: JSON.stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'hostile-fresh', labels: SUITE_LABEL },
          }),
        },
        201,
      );
      assert.deepEqual(Object.keys(fresh).sort(), ['apiVersion', 'kind', 'metadata']);
      const got = await must({ method: 'GET', path: `${CM}/hostile-fresh` }, 200);
      assert.deepEqual(Object.keys(got).sort(), ['apiVersion', 'kind', 'metadata'], JSON.stringify(got));
      assert.deepEqual(Object.keys(got.metadata).sort(), [
        'creationTimestamp',
        'labels',
        'managedFields',
        'name',
        'namespace',
        'resourceVersion',
        'uid',
      ]);
      assert.deepEqual(got.metadata.labels, SUITE_LABEL);
      assert.doesNotMatch(JSON.stringify(got), /hostilepolluted/);
    });
    // A label planted on Object.prototype would make every object without labels match.
    for (const path of [
      `${CM}?labelSelector=hostilepolluted%3Dyes`,
      `/api/v1/configmaps?labelSelector=hostilepolluted`,
      `${DEPLOYS}?labelSelector=hostilepolluted`,
    ]) {
      await check(`no object matches ${path}`, async () => {
        const list = await must({ method: 'GET', path }, 200);
        assert.deepEqual(
          list.items.map((i: any) => i.metadata.name),
          [],
        );
      });
    }
    await check('the special-keys target carries no planted label', async () => {
      const target = await must({ method: 'GET', path: SPECIAL_TARGET }, 200);
      assert.doesNotMatch(JSON.stringify(target.metadata.labels ?? {}), /hostilepolluted/);
    });
    // Data keys named like prototype properties are ordinary keys: stored and returned as sent.
    await check('data keys __proto__, constructor and prototype round-trip', async () => {
      const body =
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hostile-protokeys","labels":{"hostile-suite":"yes"}},"data":{"__proto__":"p","constructor":"c","prototype":"t"}}';
      await must({ method: 'POST', path: CM, body }, 201);
      const keys = await must({ method: 'GET', path: `${CM}/hostile-protokeys` }, 200);
      assert.deepEqual(Object.entries(keys.data ?? {}).sort(), [
        ['__proto__', 'p'],
        ['constructor', 'c'],
        ['prototype', 't'],
      ]);
    });
    // Server-side apply still creates, updates and tracks ownership.
    await check('server-side apply creates, updates and records one Apply manager', async () => {
      const apply = (data: Record<string, string>) =>
        runner.send({
          method: 'PATCH',
          path: `${CM}/hostile-ssa?fieldManager=hostile-ssa`,
          body: JSON.stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'hostile-ssa', labels: SUITE_LABEL },
            data,
          }),
          contentType: PATCH_TYPE.apply,
        });
      const created = await apply({ a: '1' });
      assert.equal(created.status, 201, created.body ?? created.error);
      const applied = await apply({ b: '2' });
      assert.equal(applied.status, 200, applied.body ?? applied.error);
      const ssa = JSON.parse(applied.body!);
      assert.deepEqual(ssa.data, { b: '2' });
      assert.deepEqual(
        ssa.metadata.managedFields.map((m: any) => [m.manager, m.operation]),
        [['hostile-ssa', 'Apply']],
      );
      assert.deepEqual(Object.keys(ssa.metadata.managedFields[0].fieldsV1).sort(), ['f:data', 'f:metadata']);
    });
    await check('server-side apply to the special-keys target still works', async () => {
      const r = await runner.send({
        method: 'PATCH',
        path: `${SPECIAL_TARGET}?fieldManager=hostile-after`,
        body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile-special\ndata:\n  after: "yes"\n',
        contentType: PATCH_TYPE.apply,
      });
      assert.equal(r.status, 200, r.body ?? r.error);
    });
    if (problems.length)
      assert.fail(`prototype pollution checks failed (seed ${seed}):\n  - ${problems.join('\n  - ')}`);
  },
);

test('wrong kinds and apiVersions for the URL are 400', T, async () => {
  const cm = (o: object) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'wrong' }, ...o });
  const cases: Case[] = [
    {
      id: 'wrongkind/kind-secret',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ kind: 'Secret' }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/kind-list',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ kind: 'ConfigMapList' }),
      expect: REJECT,
    },
    { id: 'wrongkind/kind-number', method: 'POST', path: `${CM}?${DRY}`, body: cm({ kind: 5 }), expect: BAD_REQUEST },
    {
      id: 'wrongkind/kind-object',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ kind: { a: 1 } }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/apiversion-apps',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ apiVersion: 'apps/v1' }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/apiversion-v2',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ apiVersion: 'v2' }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/apiversion-number',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ apiVersion: 1 }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/apiversion-array',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ apiVersion: ['v1'] }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/apiversion-slashes',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ apiVersion: '/v1/' }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/missing-both',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: '{"metadata":{"name":"wrong"}}',
      expect: VALID,
    },
    {
      id: 'wrongkind/deployment-to-pods',
      method: 'POST',
      path: `${PODS}?${DRY}`,
      body: JSON.stringify(deployment()),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/pod-to-deployments',
      method: 'POST',
      path: `${DEPLOYS}?${DRY}`,
      body: JSON.stringify(pod()),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/crd-to-crs',
      method: 'POST',
      path: `${CRS}?${DRY}`,
      body: JSON.stringify(crd()),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/cr-wrong-version',
      method: 'POST',
      path: `${CRS}?${DRY}`,
      body: '{"apiVersion":"fuzz.k8ts.example/v2","kind":"Hostile","metadata":{"name":"w"}}',
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/metadata-array',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ metadata: [] }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/metadata-string',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ metadata: 'x' }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/data-array',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ data: ['a'] }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/labels-array',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ metadata: { name: 'wrong', labels: ['a'] } }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/containers-object',
      method: 'POST',
      path: `${PODS}?${DRY}`,
      body: JSON.stringify({ ...pod(), spec: { containers: { name: 'c', image: 'x' } } }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/put-name-mismatch',
      method: 'PUT',
      path: `${TARGET}?${DRY}`,
      body: cm({ metadata: { name: 'other' } }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/put-namespace-mismatch',
      method: 'PUT',
      path: `${TARGET}?${DRY}`,
      body: cm({ metadata: { name: 'hostile-target', namespace: 'kube-system' } }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/post-namespace-mismatch',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: cm({ metadata: { name: 'wrong', namespace: 'kube-system' } }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/put-kind-secret',
      method: 'PUT',
      path: `${TARGET}?${DRY}`,
      body: cm({ kind: 'Secret', metadata: { name: 'hostile-target' } }),
      expect: BAD_REQUEST,
    },
    {
      id: 'wrongkind/apply-kind-secret',
      method: 'PATCH',
      path: `${TARGET}?${DRY}&fieldManager=hostile`,
      body: cm({ kind: 'Secret', metadata: { name: 'hostile-target' } }),
      contentType: PATCH_TYPE.apply,
      expect: REJECT,
    },
    {
      id: 'wrongkind/apply-apiversion-apps',
      method: 'PATCH',
      path: `${TARGET}?${DRY}&fieldManager=hostile`,
      body: cm({ apiVersion: 'apps/v1', metadata: { name: 'hostile-target' } }),
      contentType: PATCH_TYPE.apply,
      expect: REJECT,
    },
    {
      id: 'wrongkind/merge-kind-secret',
      method: 'PATCH',
      path: `${TARGET}?${DRY}`,
      body: '{"kind":"Secret"}',
      contentType: PATCH_TYPE.merge,
      expect: REJECT,
    },
    {
      id: 'wrongkind/json-patch-apiversion',
      method: 'PATCH',
      path: `${TARGET}?${DRY}`,
      body: '[{"op":"replace","path":"/apiVersion","value":"apps/v1"}]',
      contentType: PATCH_TYPE.json,
      expect: REJECT,
    },
  ];
  for (const [id, path] of [
    ['apps-v2', '/apis/apps/v2/namespaces/default/deployments'],
    ['configmaps-in-apps', '/apis/apps/v1/namespaces/default/configmaps'],
    ['api-v2', '/api/v2/namespaces/default/configmaps'],
    ['cr-v9', '/apis/fuzz.k8ts.example/v9/namespaces/default/hostiles'],
    ['no-such-group', '/apis/nope.example/v1/namespaces/default/things'],
    ['core-as-group', '/apis/core/v1/namespaces/default/configmaps'],
    ['empty-group', '/apis//v1/namespaces/default/configmaps'],
  ]) {
    cases.push({ id: `wrongkind/url/${id}/get`, method: 'GET', path, expect: { status: 404 } });
    cases.push({ id: `wrongkind/url/${id}/post`, method: 'POST', path, body: cm({}), expect: { status: [404, 405] } });
  }
  await runClass('wrong kinds and apiVersions', cases);
});

test(
  'malformed patches of all four types (wrong shapes, bad ops and paths, garbage directives) are 4xx',
  T,
  async () => {
    const cases: Case[] = [];
    const add = (type: PatchKind, id: string, body: string, target = TARGET, expect: Expectation = REJECT) =>
      cases.push({
        id: `patch/${type}/${id}`,
        method: 'PATCH',
        path: `${target}?${DRY}${type === 'apply' ? '&fieldManager=hostile' : ''}`,
        body,
        contentType: PATCH_TYPE[type],
        expect,
      });
    const jsonPatches: [string, string, string?, Expectation?][] = [
      ['object', '{}'],
      ['string', '"str"'],
      ['number', '5'],
      ['null', 'null'],
      ['number-op', '[1]'],
      ['null-op', '[null]'],
      ['empty-op', '[{}]'],
      ['missing-path', '[{"op":"add","value":1}]'],
      ['missing-value', '[{"op":"add","path":"/data/x"}]'],
      ['unknown-op', '[{"op":"bogus","path":"/data"}]'],
      ['op-number', '[{"op":5,"path":"/data"}]'],
      ['path-number', '[{"op":"add","path":5,"value":"1"}]'],
      ['path-array', '[{"op":"add","path":["/data"],"value":"1"}]'],
      // evanphx/json-patch v4, which upstream applies JSON patches with, takes the next three.
      ['path-no-slash', '[{"op":"add","path":"data/x","value":"1"}]', TARGET, VALID],
      ['remove-missing', '[{"op":"remove","path":"/nope/nope"}]'],
      ['replace-missing', '[{"op":"replace","path":"/data/missing","value":"1"}]', TARGET, VALID],
      ['move-no-from', '[{"op":"move","path":"/data/x"}]'],
      ['move-into-child', '[{"op":"move","from":"/metadata","path":"/metadata/name"}]'],
      ['copy-missing', '[{"op":"copy","from":"/nope","path":"/data/x"}]', TARGET, VALID],
      ['test-fails', '[{"op":"test","path":"/data","value":{"nope":"1"}}]'],
      ['bad-escape', '[{"op":"add","path":"/data/~2","value":"x"}]'],
      ['lone-tilde', '[{"op":"add","path":"/data/~","value":"x"}]'],
      ['remove-root', '[{"op":"remove","path":""}]'],
      ['replace-root-array', '[{"op":"replace","path":"","value":[]}]'],
      ['replace-root-null', '[{"op":"replace","path":"","value":null}]'],
      ['name-object', '[{"op":"replace","path":"/metadata/name","value":{"a":1}}]'],
      ['labels-dash', '[{"op":"add","path":"/metadata/labels/-","value":"x"}]'],
      [
        'index-huge',
        '[{"op":"add","path":"/spec/template/spec/containers/99999999999999999999","value":{}}]',
        DEPLOY_TARGET,
      ],
      // Upstream applies JSON patches with SupportNegativeIndices: -1 is the last element.
      ['index-negative', '[{"op":"add","path":"/spec/template/spec/containers/-1","value":{}}]', DEPLOY_TARGET, VALID],
      ['index-exponent', '[{"op":"remove","path":"/spec/template/spec/containers/1e0"}]', DEPLOY_TARGET],
      ['index-leading-zero', '[{"op":"remove","path":"/spec/template/spec/containers/00"}]', DEPLOY_TARGET],
      [
        'index-past-end',
        '[{"op":"add","path":"/spec/template/spec/containers/5","value":{"name":"x","image":"x"}}]',
        DEPLOY_TARGET,
      ],
      // Upstream caps a JSON patch at 10,000 operations (413) and copies at 3 MiB accumulated.
      [
        '10001-ops',
        JSON.stringify(Array.from({ length: 10_001 }, (_, i) => ({ op: 'add', path: `/data/k${i}`, value: 'v' }))),
        TARGET,
        { status: 413 },
      ],
      [
        'copy-doubling',
        JSON.stringify([
          { op: 'add', path: '/x', value: ['a'] },
          ...Array.from({ length: 20 }, () => ({ op: 'copy', from: '/x', path: '/x/-' })),
        ]),
        TARGET,
        { valid: true },
      ],
    ];
    for (const [id, body, target, expect] of jsonPatches) add('json', id, body, target, expect);
    const mergePatches: [string, string, string?][] = [
      ['array', '[]'],
      ['array-of-numbers', '[1,2]'],
      ['string', '"str"'],
      ['number', '5'],
      ['null', 'null'],
      ['true', 'true'],
      ['metadata-array', '{"metadata":[]}'],
      ['metadata-string', '{"metadata":"x"}'],
      ['metadata-null', '{"metadata":null}'],
      ['name-number', '{"metadata":{"name":5}}'],
      ['name-null', '{"metadata":{"name":null}}'],
      ['name-other', '{"metadata":{"name":"other"}}'],
      ['namespace-other', '{"metadata":{"namespace":"kube-system"}}'],
      ['labels-array', '{"metadata":{"labels":[]}}'],
      ['label-number', '{"metadata":{"labels":{"a":5}}}'],
      ['resourceversion-garbage', '{"metadata":{"resourceVersion":"garbage"}}'],
      ['uid-other', '{"metadata":{"uid":"00000000-0000-0000-0000-000000000000"}}'],
      ['timestamp-garbage', '{"metadata":{"creationTimestamp":"garbage"}}'],
      ['managedfields-string', '{"metadata":{"managedFields":"x"}}'],
      ['managedfields-bad-entry', '{"metadata":{"managedFields":[{"manager":5,"fieldsV1":"x"}]}}'],
      ['ownerrefs-garbage', '{"metadata":{"ownerReferences":[{"uid":5}]}}'],
      ['data-array', '{"data":[]}'],
      ['data-nested', '{"data":{"a":{"b":1}}}'],
      ['kind-null', '{"kind":null}'],
      ['containers-object', '{"spec":{"template":{"spec":{"containers":{}}}}}', DEPLOY_TARGET],
      ['replicas-string', '{"spec":{"replicas":"x"}}', DEPLOY_TARGET],
      ['selector-number', '{"spec":{"selector":5}}', DEPLOY_TARGET],
    ];
    for (const [id, body, target] of mergePatches)
      add('merge', id, body, target, id === 'kind-null' || id === 'metadata-null' ? VALID : REJECT);
    const strategic: [string, string, Expectation?][] = [
      ['array', '[]'],
      ['string', '"x"'],
      ['patch-garbage', '{"$patch":"garbage"}'],
      ['patch-number', '{"$patch":5}'],
      ['patch-delete-top', '{"$patch":"delete"}'],
      ['patch-replace-top', '{"$patch":"replace"}'],
      ['spec-patch-garbage', '{"spec":{"$patch":"garbage"}}'],
      ['metadata-patch-delete', '{"metadata":{"$patch":"delete"}}'],
      ['delete-without-key', '{"spec":{"template":{"spec":{"containers":[{"$patch":"delete"}]}}}}'],
      ['container-patch-garbage', '{"spec":{"template":{"spec":{"containers":[{"$patch":"garbage","name":"c"}]}}}}'],
      ['container-replace-empty', '{"spec":{"template":{"spec":{"containers":[{"$patch":"replace"}]}}}}'],
      [
        'ports-delete-without-key',
        '{"spec":{"template":{"spec":{"containers":[{"name":"c","ports":[{"$patch":"delete"}]}]}}}}',
      ],
      ['order-number', '{"spec":{"template":{"spec":{"$setElementOrder/containers":5}}}}'],
      ['order-numbers', '{"spec":{"template":{"spec":{"$setElementOrder/containers":[5]}}}}'],
      ['order-empty-entries', '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{}]}}}}'],
      [
        'order-unknown-names',
        '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nope"}]}}}}',
        VALID,
      ],
      ['order-of-map', '{"$setElementOrder/spec":[1]}', VALID],
      [
        'order-mismatch',
        '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"name":"d","image":"x"}]}}}}',
        VALID,
      ],
      ['retainkeys-number', '{"spec":{"strategy":{"$retainKeys":5}}}'],
      ['retainkeys-string', '{"spec":{"strategy":{"$retainKeys":"type","type":"Recreate"}}}'],
      ['retainkeys-numbers', '{"spec":{"strategy":{"$retainKeys":[5]}}}'],
      ['retainkeys-unknown', '{"spec":{"strategy":{"$retainKeys":["nope"]}}}', VALID],
      ['deletefromlist-number', '{"metadata":{"$deleteFromPrimitiveList/finalizers":5}}'],
      ['deletefromlist-objects', '{"metadata":{"$deleteFromPrimitiveList/finalizers":[{"a":1}]}}', VALID],
      ['deletefromlist-on-map', '{"metadata":{"$deleteFromPrimitiveList/labels":["a"]}}', VALID],
      ['deletefromlist-top', '{"$deleteFromPrimitiveList/metadata":["x"]}', VALID],
      [
        'deletefromlist-string',
        '{"spec":{"template":{"spec":{"containers":[{"name":"c","$deleteFromPrimitiveList/command":"x"}]}}}}',
      ],
      ['unknown-directive', '{"$unknownDirective":1}', VALID],
      ['containers-number', '{"spec":{"template":{"spec":{"containers":5}}}}'],
      ['containers-numbers', '{"spec":{"template":{"spec":{"containers":[5]}}}}'],
      ['container-name-number', '{"spec":{"template":{"spec":{"containers":[{"name":5}]}}}}'],
    ];
    for (const [id, body, expect] of strategic) add('strategic', id, body, DEPLOY_TARGET, expect ?? REJECT);
    // Custom resources have no strategic merge: upstream answers 415.
    add('strategic', 'on-custom-resource', '{"spec":{"a":2}}', CR_TARGET, { status: 415 });
    const apply: [string, string, string?, Expectation?][] = [
      ['array', '[]'],
      ['sequence', '- a\n'],
      ['number', '5'],
      ['string', '"str"'],
      ['null', 'null'],
      ['empty-object', '{}'],
      ['kind-missing', 'apiVersion: v1\nmetadata: {name: hostile-target}\n'],
      ['apiversion-missing', 'kind: ConfigMap\nmetadata: {name: hostile-target}\n'],
      ['name-other', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n'],
      ['metadata-array', 'apiVersion: v1\nkind: ConfigMap\nmetadata: []\n'],
      [
        'managedfields-set',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-target, managedFields: [{manager: x}]}\n',
      ],
      ['data-array', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-target}\ndata: [1]\n'],
      ['data-nested', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-target}\ndata: {a: {b: c}}\n'],
      [
        'containers-map',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: hostile-deploy}\nspec: {template: {spec: {containers: {c: 1}}}}\n',
        DEPLOY_TARGET,
      ],
      [
        'duplicate-merge-keys',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: hostile-deploy}\nspec: {template: {spec: {containers: [{name: c, image: a}, {name: c, image: b}]}}}\n',
        DEPLOY_TARGET,
      ],
      [
        'container-no-name',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: hostile-deploy}\nspec: {template: {spec: {containers: [{image: a}]}}}\n',
        DEPLOY_TARGET,
      ],
      ['tabs', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: hostile-target\n'],
      [
        'multi-document',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-target}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n',
        TARGET,
        VALID,
      ],
      [
        'yaml-tags',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-target}\ndata: {a: !!binary aGVsbG8=}\n',
        TARGET,
        VALID,
      ],
      [
        'yaml-js-tag',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-target}\ndata: {a: !!js/function "function(){}"}\n',
        TARGET,
        VALID,
      ],
    ];
    for (const [id, body, target, expect] of apply) add('apply', id, body, target, expect ?? REJECT);
    cases.push({
      id: 'patch/apply/no-field-manager',
      method: 'PATCH',
      path: `${TARGET}?${DRY}`,
      body: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-target}\n',
      contentType: PATCH_TYPE.apply,
      expect: REJECT,
    });
    cases.push({
      id: 'patch/apply/long-field-manager',
      method: 'PATCH',
      path: `${TARGET}?${DRY}&fieldManager=${'m'.repeat(200)}`,
      body: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile-target}\n',
      contentType: PATCH_TYPE.apply,
      expect: REJECT,
    });
    cases.push({
      id: 'patch/merge/force',
      method: 'PATCH',
      path: `${TARGET}?${DRY}&force=true`,
      body: '{}',
      contentType: PATCH_TYPE.merge,
      expect: REJECT,
    });
    cases.push({
      id: 'patch/merge/missing-object',
      method: 'PATCH',
      path: `${CM}/hostile-nope?${DRY}`,
      body: '{}',
      contentType: PATCH_TYPE.merge,
      expect: { status: 404 },
    });
    await runClass('malformed patches', cases);
  },
);

test('bad label/field selectors and list/watch query parameters are 4xx', T, async () => {
  const first = await must({ method: 'GET', path: `${CM}?limit=1&labelSelector=hostile-suite%3Dyes` }, 200);
  const token: string = first.metadata.continue;
  assert.ok(token, 'a list with limit=1 over several objects returns a continue token');
  const q = (id: string, query: string, expect: Expectation = REJECT, path = CM): Case => ({
    id: `query/${id}`,
    method: 'GET',
    path: `${path}?${query}`,
    expect,
  });
  const enc = encodeURIComponent;
  const cases: Case[] = [];
  const labelSelectors: [string, Expectation][] = [
    ['a in (', BAD_REQUEST],
    ['!!a', BAD_REQUEST],
    ['a=b=c', BAD_REQUEST],
    ['==', BAD_REQUEST],
    ['=', BAD_REQUEST],
    ['a,,b', BAD_REQUEST],
    ['a!=', VALID],
    [',', BAD_REQUEST],
    ['a in ()', VALID],
    ['a notin', BAD_REQUEST],
    ['a b', BAD_REQUEST],
    ['a>b', BAD_REQUEST],
    ['a>99999999999999999999', BAD_REQUEST],
    ['!', BAD_REQUEST],
    ['(a)', BAD_REQUEST],
    ['é=1', BAD_REQUEST],
    // Upstream's lexer takes NUL as the end of input: this is `a=`, a valid selector.
    ['a=\u0000', VALID],
    [`${'k'.repeat(300)}=1`, BAD_REQUEST],
    [`a=${'v'.repeat(100)}`, BAD_REQUEST],
    [`a in (${Array.from({ length: 1000 }, (_, i) => `v${i}`).join(',')})`, VALID],
    ['a in (b,)', VALID],
  ];
  labelSelectors.forEach(([s, expect], i) => cases.push(q(`label/${i}`, `labelSelector=${enc(s)}`, expect)));
  cases.push(q('label/raw-percent', 'labelSelector=%ff%fe'));
  cases.push(q('label/bad-escape', 'labelSelector=%zz', { valid: true }));
  const fieldSelectors: [string, Expectation][] = [
    ['metadata.name', BAD_REQUEST],
    ['metadata.name==', VALID],
    ['=x', BAD_REQUEST],
    ['spec.nope=x', BAD_REQUEST],
    ['metadata.name in (x)', BAD_REQUEST],
    ['metadata.name!=x,,', VALID],
    ['metadata.name=\\', VALID],
    [`metadata.name=${'n'.repeat(5000)}`, VALID],
  ];
  fieldSelectors.forEach(([s, expect], i) => cases.push(q(`field/${i}`, `fieldSelector=${enc(s)}`, expect)));
  for (const v of ['abc', '1e3', '99999999999999999999', '0x10', '1.5', ''])
    cases.push(q(`limit/${v || 'empty'}`, `limit=${v}`, v === '' ? VALID : BAD_REQUEST));
  cases.push(q('limit/negative', 'limit=-1', VALID));
  // Continue tokens: crafted garbage is 400 (or 410 for a compacted revision); random damage is anything but a 5xx.
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64');
  const crafted: [string, string][] = [
    ['not-base64', '!!!'],
    ['base64-garbage', Buffer.from('garbage').toString('base64')],
    ['wrong-version', b64({ v: 'meta.k8s.io/v0', rv: 1, start: 'a' })],
    ['rv-string', b64({ v: 'meta.k8s.io/v1', rv: 'x', start: 'a' })],
    ['start-traversal', b64({ v: 'meta.k8s.io/v1', rv: 1, start: '../../secrets/' })],
    ['start-absolute', b64({ v: 'meta.k8s.io/v1', rv: 1, start: '/registry/secrets/' })],
    ['truncated', token.slice(0, Math.floor(token.length / 2))],
    ['array', b64([1, 2])],
  ];
  for (const [id, t] of crafted) cases.push(q(`continue/${id}`, `limit=1&continue=${enc(t)}`, { status: [400, 410] }));
  // Well-formed tokens with odd contents: upstream's checks (path.Clean of the start key, rv != 0) let these through.
  cases.push(
    q('continue/negative-rv', `limit=1&continue=${enc(b64({ v: 'meta.k8s.io/v1', rv: -1, start: 'a' }))}`, VALID),
  );
  cases.push(
    q('continue/start-nul', `limit=1&continue=${enc(b64({ v: 'meta.k8s.io/v1', rv: 1, start: '\u0000' }))}`, VALID),
  );
  cases.push(q('continue/with-selector-change', `limit=1&continue=${enc(token)}&labelSelector=other%3Dx`, VALID));
  cases.push(q('continue/with-rv', `limit=1&continue=${enc(token)}&resourceVersion=1`, REJECT));
  const rng = new Rng(seed ^ 0xc0ffee);
  for (let i = 0; i < 20; i++) {
    const m = mutate(rng, Buffer.from(token)).body.toString('latin1');
    cases.push(q(`continue/mutated/${i}`, `limit=1&continue=${enc(m)}`, VALID));
  }
  for (const v of ['garbage', '-1', '1e5', '99999999999999999999', '0x10'])
    cases.push(q(`rv/${v}`, `resourceVersion=${v}`, REJECT));
  // Upstream waits ~3 s for a revision from the future, then answers 504 "Too large resource version".
  cases.push(
    q('rv/future', 'resourceVersion=999999999&resourceVersionMatch=NotOlderThan', { valid: true, upstream5xx: 504 }),
  );
  cases.push(q('rvmatch/garbage', 'resourceVersion=0&resourceVersionMatch=garbage'));
  cases.push(q('rvmatch/without-rv', 'resourceVersionMatch=Exact'));
  for (const v of ['abc', '1e100', '99999999999999999999'])
    cases.push(q(`timeout/${v}`, `timeoutSeconds=${v}`, BAD_REQUEST));
  cases.push(q('timeout/negative-list', 'timeoutSeconds=-1', VALID));
  const watch = (id: string, query: string, expect: Expectation = REJECT, path = CM) =>
    cases.push(q(`watch/${id}`, `watch=true&${query}`, { ...expect, stream: true }, path));
  watch('timeout-garbage', 'timeoutSeconds=abc', BAD_REQUEST);
  watch('rv-garbage', 'resourceVersion=garbage&timeoutSeconds=1', REJECT);
  watch('limit-garbage', 'limit=abc&timeoutSeconds=1', BAD_REQUEST);
  // Upstream's watch ignores a continue token.
  watch('continue', `continue=${enc(token)}&timeoutSeconds=1`, VALID);
  watch('valid', 'timeoutSeconds=1', VALID);
  watch('negative-timeout', 'timeoutSeconds=-1', VALID);
  watch('bookmarks-garbage', 'allowWatchBookmarks=maybe&timeoutSeconds=1', VALID);
  watch('initial-events-no-match', 'sendInitialEvents=true&timeoutSeconds=1');
  watch('initial-events', 'sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1', VALID);
  watch('field-selector-garbage', 'fieldSelector=spec.nope%3Dx&timeoutSeconds=1', BAD_REQUEST);
  watch('single-object', 'timeoutSeconds=1', VALID, TARGET);
  cases.push(q('watch/value-maybe', 'watch=maybe&timeoutSeconds=1', { valid: true, stream: true }));
  // Upstream validates CreateOptions: an unsupported dryRun value is 422 Invalid.
  cases.push({
    id: 'query/dryrun-mixed',
    method: 'POST',
    path: `${CM}?dryRun=All&dryRun=Some`,
    body: JSON.stringify(configMap()),
    expect: { status: 422 },
  });
  cases.push({
    id: 'query/propagation-garbage',
    method: 'DELETE',
    path: `${TARGET}?${DRY}&propagationPolicy=garbage`,
    expect: REJECT,
  });
  cases.push({
    id: 'query/grace-garbage',
    method: 'DELETE',
    path: `${TARGET}?${DRY}&gracePeriodSeconds=abc`,
    expect: BAD_REQUEST,
  });
  cases.push({
    id: 'query/field-manager-long',
    method: 'POST',
    path: `${CM}?${DRY}&fieldManager=${'m'.repeat(200)}`,
    body: JSON.stringify(configMap()),
    expect: REJECT,
  });
  cases.push({
    id: 'query/field-validation-garbage',
    method: 'POST',
    path: `${CM}?${DRY}&fieldValidation=garbage`,
    body: JSON.stringify(configMap()),
    expect: REJECT,
  });
  cases.push(q('query/unknown-params', 'nope=1&pretty=garbage&x=%00', VALID));
  await runClass('selectors and query parameters', cases, 4);
});

test('path traversal and escapes in names and paths are 400 (or 404), never served from elsewhere', T, async () => {
  const ns = `/api/v1/namespaces/${TRAV_NS}/configmaps`;
  const cases: Case[] = [];
  // Upstream: "Name parameter invalid: \"..\": may not be '..'" (IsValidPathSegmentName), 400.
  const dotNames: [string, RegExp][] = [
    ['..', /may not be '\.\.'/],
    ['.', /may not be '\.'/],
    ['%2e%2e', /may not be '\.\.'/],
    ['%2E%2E', /may not be '\.\.'/],
    ['.%2e', /may not be '\.\.'/],
    ['%2e', /may not be '\.'/],
  ];
  const cmBody = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });
  // DELETEs through dot segments go last: a server that normalises them deletes the namespace.
  const deletes: Case[] = [];
  /** A 2xx listing objects of other namespaces (or of the namespace itself) was served from elsewhere. */
  const LEAK = /hostile-target|"victim"|hostile-page/;
  for (const [name, message] of dotNames) {
    const expect = { status: 400, message };
    const decoded = decodeURIComponent(name);
    cases.push({ id: `trav/name/${name}/get`, method: 'GET', path: `${ns}/${name}`, expect });
    cases.push({ id: `trav/name/${name}/put`, method: 'PUT', path: `${ns}/${name}`, body: cmBody(decoded), expect });
    cases.push({
      id: `trav/name/${name}/patch`,
      method: 'PATCH',
      path: `${ns}/${name}`,
      body: '{}',
      contentType: PATCH_TYPE.merge,
      expect,
    });
    cases.push({
      id: `trav/name/${name}/apply`,
      method: 'PATCH',
      path: `${ns}/${name}?fieldManager=hostile`,
      body: cmBody(decoded),
      contentType: PATCH_TYPE.apply,
      expect,
    });
    deletes.push({ id: `trav/name/${name}/delete`, method: 'DELETE', path: `${ns}/${name}`, expect });
    // Upstream lists a namespace named ".." (empty); what it must not do is list another one.
    cases.push({
      id: `trav/namespace/${name}/list`,
      method: 'GET',
      path: `/api/v1/namespaces/${name}/configmaps`,
      expect: { valid: true, forbidBody: LEAK },
    });
    cases.push({
      id: `trav/namespace/${name}/create`,
      method: 'POST',
      path: `/api/v1/namespaces/${name}/configmaps?${DRY}`,
      body: cmBody('x'),
      expect: REJECT,
    });
    // Created with such a name in the body: 422 from metadata validation upstream.
    cases.push({
      id: `trav/body-name/${name}`,
      method: 'POST',
      path: `${ns}?${DRY}`,
      body: cmBody(decoded),
      expect: REJECT,
    });
  }
  const paths: [string, string, string, Expectation?][] = [
    ['name-then-dotdot', 'GET', `${ns}/victim/..`],
    ['climb-to-secrets', 'GET', `${ns}/victim/../../secrets`],
    ['climb-to-secrets-encoded', 'GET', `${ns}/victim/%2e%2e/%2e%2e/secrets`],
    ['climb-out-of-namespace', 'GET', `/api/v1/namespaces/${TRAV_NS}/../kube-system/configmaps`],
    [
      'climb-to-group',
      'GET',
      `/apis/apps/v1/namespaces/default/deployments/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/api/v1/secrets`,
    ],
    ['dot-segments', 'GET', `${ns}/./victim`],
    ['encoded-slash-name', 'GET', `${ns}/victim%2f..%2f..%2fsecrets`],
    ['encoded-slash', 'GET', `${ns}/a%2fb`],
    ['percent-name', 'GET', `${ns}/a%25b`],
    ['bad-escape', 'GET', `${ns}/%ff`],
    // Go's server answers an unparsable request URI itself: 400, plain text.
    ['bad-escape-incomplete', 'GET', `${ns}/%`, { status: 400, plain: true }],
    ['bad-escape-nonhex', 'GET', `${ns}/%zz`, { status: 400, plain: true }],
    ['nul', 'GET', `${ns}/a%00b`],
    ['overlong-dot', 'GET', `${ns}/%c0%ae%c0%ae`],
    ['backslash', 'GET', `${ns}/..\\..\\secrets`],
    ['hash-in-name', 'GET', `${ns}/victim#x`],
    ['hash-encoded', 'GET', `${ns}/victim%23x`],
    ['question-encoded', 'GET', `${ns}/victim%3Fx`],
    ['double-slash-inside', 'GET', `/api/v1/namespaces/${TRAV_NS}//configmaps`],
    ['empty-namespace', 'GET', '/api/v1/namespaces//configmaps'],
    ['overlong-name', 'GET', `${ns}/${'n'.repeat(10_000)}`],
    [
      'overlong-namespace',
      'GET',
      `/api/v1/namespaces/${'n'.repeat(10_000)}/configmaps`,
      { valid: true, forbidBody: LEAK },
    ],
    ['overlong-resource', 'GET', `/api/v1/namespaces/default/${'r'.repeat(10_000)}`],
  ];
  for (const [id, method, path, expect] of paths)
    cases.push({ id: `trav/path/${id}`, method, path, expect: expect ?? REJECT });
  deletes.push({ id: 'trav/path/hash-delete', method: 'DELETE', path: `${ns}/victim#x`, expect: REJECT });
  deletes.push({ id: 'trav/path/dotdot-delete', method: 'DELETE', path: `${ns}/victim/..`, expect: REJECT });
  // Double slashes: upstream's router does not collapse them; any answer but a 5xx.
  cases.push({
    id: 'trav/path/double-slash-leading',
    method: 'GET',
    path: `//api/v1/namespaces/${TRAV_NS}/configmaps`,
    expect: { valid: true, plain: true },
  });
  cases.push({ id: 'trav/path/double-slash-trailing', method: 'GET', path: `${ns}//`, expect: { valid: true } });
  await runClass('path traversal', [...cases, ...deletes], 1, async () => {
    const problems: string[] = [];
    const survived = await runner.send({ method: 'GET', path: `/api/v1/namespaces/${TRAV_NS}` });
    if (survived.status !== 200 || JSON.parse(survived.body!).metadata.deletionTimestamp)
      problems.push(
        `namespace ${TRAV_NS} was deleted through a dot-segment DELETE: ${survived.status} ${survived.body?.slice(0, 200)}`,
      );
    const victim = await runner.send({ method: 'GET', path: `${ns}/victim` });
    if (victim.status !== 200)
      problems.push(
        `configmap victim was deleted through a '#', '.' or '..' path: ${victim.status} ${victim.body?.slice(0, 200)}`,
      );
    return problems;
  });
});

test('oversized URLs and headers (100 KB) get a Status answer, not a dropped connection', T, async () => {
  const big = 'a'.repeat(100 * 1024);
  const cases: Case[] = [
    { id: 'oversize/url-query', method: 'GET', path: `${CM}?x=${big}`, expect: VALID },
    { id: 'oversize/url-name', method: 'GET', path: `${CM}/${big}`, expect: REJECT },
    {
      id: 'oversize/url-label-selector',
      method: 'GET',
      path: `${CM}?labelSelector=${Array.from({ length: 10_000 }, (_, i) => `k${i}`).join(',')}`,
      expect: VALID,
    },
    { id: 'oversize/header', method: 'GET', path: CM, headers: { 'X-Hostile': big }, expect: VALID },
    {
      id: 'oversize/many-headers',
      method: 'GET',
      path: CM,
      headers: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`X-Hostile-${i}`, 'v'.repeat(100)])),
      expect: VALID,
    },
    {
      id: 'oversize/user-agent',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: JSON.stringify(configMap()),
      headers: { 'User-Agent': big },
      expect: VALID,
    },
    {
      id: 'oversize/accept',
      method: 'GET',
      path: CM,
      headers: { Accept: Array(5000).fill('application/json').join(', ') },
      expect: VALID,
    },
    {
      id: 'oversize/content-type',
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: JSON.stringify(configMap()),
      contentType: `application/json; x=${big}`,
      expect: VALID,
    },
    { id: 'oversize/bearer', method: 'GET', path: CM, headers: { Authorization: `Bearer ${big}` }, expect: VALID },
    {
      id: 'oversize/field-manager-query',
      method: 'POST',
      path: `${CM}?${DRY}&fieldManager=${big}`,
      body: JSON.stringify(configMap()),
      expect: REJECT,
    },
  ];
  await runClass('oversized URLs and headers', cases, 2);
});

test('wrong Content-Types on POST, PUT and PATCH are 415 (none on POST/PUT means JSON, as upstream)', T, async () => {
  const cases: Case[] = [];
  const body = JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'hostile-target' },
    data: { a: '1' },
  });
  const unsupported = [
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'application/xml',
    'application/json-patch+json',
    '*/*',
    'application/',
    ';;;',
    'image/png',
  ];
  for (const ct of unsupported) {
    const expect = { status: 415 };
    cases.push({
      id: `ctype/post/${ct}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: body.replace('hostile-target', 'hostile-ct'),
      contentType: ct,
      expect,
    });
    cases.push({ id: `ctype/put/${ct}`, method: 'PUT', path: `${TARGET}?${DRY}`, body, contentType: ct, expect });
  }
  for (const ct of [
    ...unsupported.filter((c) => c !== 'application/json-patch+json'),
    'application/json',
    'application/yaml',
    null,
  ]) {
    cases.push({
      id: `ctype/patch/${ct ?? 'none'}`,
      method: 'PATCH',
      path: `${TARGET}?${DRY}`,
      body: '{"data":{"a":"2"}}',
      contentType: ct,
      expect: { status: 415 },
    });
  }
  // Accepted: no Content-Type (JSON, as upstream: kubectl's scale client sends none), parameters, case, and JSON sent as YAML.
  for (const ct of [null, 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/yaml']) {
    cases.push({
      id: `ctype/post-ok/${ct ?? 'none'}`,
      method: 'POST',
      path: `${CM}?${DRY}`,
      body: body.replace('hostile-target', 'hostile-ct'),
      contentType: ct,
      expect: { status: 201 },
    });
    cases.push({
      id: `ctype/put-ok/${ct ?? 'none'}`,
      method: 'PUT',
      path: `${TARGET}?${DRY}`,
      body,
      contentType: ct,
      expect: { status: 200 },
    });
  }
  cases.push({
    id: 'ctype/patch-ok/params',
    method: 'PATCH',
    path: `${TARGET}?${DRY}`,
    body: '{"data":{"a":"2"}}',
    contentType: 'application/merge-patch+json; charset=utf-8',
    expect: { status: 200 },
  });
  cases.push({
    id: 'ctype/post/protobuf-garbage',
    method: 'POST',
    path: `${CM}?${DRY}`,
    body: 'not protobuf',
    contentType: 'application/vnd.kubernetes.protobuf',
    expect: REJECT,
  });
  await runClass('content types', cases);
});

test(
  'after the suite, with its objects deleted, the server is healthy and its memory is back near the start',
  { timeout: 60_000 },
  async () => {
    const del = async (path: string) => {
      const r = await runner.send({ method: 'DELETE', path });
      assert.ok(
        r.status === 200 || r.status === 202 || r.status === 404,
        `DELETE ${path}: ${r.status ?? r.error} ${r.body?.slice(0, 200)}`,
      );
    };
    await del(`${CM}?labelSelector=hostile-suite`);
    await del(`${DEPLOYS}?labelSelector=hostile-suite`);
    await del(CR_TARGET);
    await del(`${CRDS}/hostiles.fuzz.k8ts.example`);
    await del(`/api/v1/namespaces/${TRAV_NS}`);
    const left = await must({ method: 'GET', path: `${CM}?labelSelector=hostile-suite` }, 200);
    assert.deepEqual(
      left.items.map((i: any) => i.metadata.name),
      [],
    );
    assert.equal(await runner.checkpoint(), undefined);
    // After a full GC, RSS shrinks as V8 gives pages back, and the YAML parser's thread stops
    // after 10 s idle: watch for up to 20 s, keep the lowest.
    await collectServerGarbage(cluster);
    let rss = serverRssBytes(cluster);
    for (let waited = 0; waited < 20_000 && rss - rssBaseline > RSS_BOUND_MIB * MIB; waited += 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      rss = Math.min(rss, serverRssBytes(cluster));
    }
    const grewMiB = (rss - rssBaseline) / MIB;
    const metrics = await runner.send({ method: 'GET', path: '/metrics' });
    const heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics.body ?? '')?.[1]) / MIB;
    console.log(`# hostile suite: server heap used at the end ${heapUsed.toFixed(0)} MiB`);
    console.log(
      `# hostile suite: server RSS ${(rssBaseline / MIB).toFixed(0)} MiB before, ${(rss / MIB).toFixed(0)} MiB after (${grewMiB >= 0 ? '+' : ''}${grewMiB.toFixed(0)} MiB); restarts after: ${runner.restarts.join(', ') || 'none'}`,
    );
    assert.ok(grewMiB <= RSS_BOUND_MIB, `server RSS grew by ${grewMiB.toFixed(0)} MiB (bound ${RSS_BOUND_MIB} MiB)`);
    assert.deepEqual(runner.restarts, [], 'cases that took the server down (it was restarted after each)');
  },
);
