// Admission webhooks against a webhook server run by this test process (node:https, a certificate
// from a test CA whose bundle goes in the configurations): sidecar injection by JSONPatch, an
// image-registry policy whose denial kubectl prints, failurePolicy with the webhook down, timeouts,
// selectors, dry run, warnings, matchPolicy Equivalent, reinvocation, and a `service`
// clientConfig reaching the server through a selector-less Service and its EndpointSlice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';
import { startCluster, type Cluster } from './harness.js';
import { type RawClient, rawClient } from './rawclient.js';
import { freePort } from '../support/ports.js';

const NS = 'wh';
const REGISTRY = 'registry.example.com/';
let c: Cluster;
let raw: RawClient;
let server: Server;
let port = 0;
let deadPort = 0;
let caBundle = '';
const pkiDir = mkdtempSync(join(tmpdir(), 'k8ts-webhook-pki-'));

/** The parts of reviewed objects the webhooks and assertions read. */
interface ReviewedObject {
  apiVersion?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: {
    containers?: { name: string; image: string }[];
    metrics?: { resource?: { target?: { averageUtilization?: number } } }[];
  };
}

interface Review {
  request: {
    uid: string;
    kind: { group: string; version: string; kind: string };
    requestKind: { group: string; version: string; kind: string };
    operation: string;
    name?: string;
    namespace?: string;
    dryRun: boolean;
    userInfo: { username: string };
    object: ReviewedObject | null;
    oldObject: ReviewedObject | null;
    options: { kind?: string; dryRun?: string[] } | null;
  };
}
/** Every review the server received, by path. */
const seen = new Map<string, Review[]>();
const seenAt = (path: string) => seen.get(path) ?? [];

const patchOf = (ops: object[]) => Buffer.from(JSON.stringify(ops)).toString('base64');

/** The webhook server's answers, by path. */
function answer(path: string, review: Review): Record<string, unknown> | 'hang' {
  const obj = review.request.object;
  const containers: { name: string; image: string }[] = obj?.spec?.containers ?? [];
  switch (path) {
    case '/inject':
      if (containers.some((ct) => ct.name === 'sidecar')) return { allowed: true };
      return {
        allowed: true,
        patchType: 'JSONPatch',
        patch: patchOf([
          { op: 'add', path: '/spec/containers/-', value: { name: 'sidecar', image: `${REGISTRY}sidecar:1` } },
        ]),
      };
    case '/registry': {
      const bad = containers.find((ct) => !ct.image.startsWith(REGISTRY));
      if (!bad) return { allowed: true };
      return {
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message: `image "${bad.image}" is not from ${REGISTRY}` },
      };
    }
    case '/warn':
      return { allowed: true, warnings: ['this ConfigMap is watched'], auditAnnotations: { checked: 'yes' } };
    case '/slow':
      return 'hang';
    case '/label': {
      // Adds a label once; a second webhook earlier in order is reinvoked because of it.
      if (obj?.metadata?.labels?.labelled) return { allowed: true };
      return {
        allowed: true,
        patchType: 'JSONPatch',
        patch: patchOf([{ op: 'add', path: '/metadata/labels/labelled', value: 'yes' }]),
      };
    }
    case '/count':
      return { allowed: true };
    case '/move':
      return {
        allowed: true,
        patchType: 'JSONPatch',
        patch: patchOf([{ op: 'replace', path: '/metadata/namespace', value: 'default' }]),
      };
    case '/invalid':
      // A container name no pod may have: the patched object must still pass validation.
      return {
        allowed: true,
        patchType: 'JSONPatch',
        patch: patchOf([{ op: 'add', path: '/spec/containers/-', value: { name: 'Not_Valid', image: 'x' } }]),
      };
    default:
      return { allowed: true };
  }
}

const hangers: (() => void)[] = [];

before(async () => {
  const ca = await loadOrCreateCA(pkiDir, 'webhook-test-ca');
  const cert = await issue(ca, { commonName: 'webhook', sans: ['127.0.0.1', `webhook.${NS}.svc`], server: true });
  caBundle = Buffer.from(ca.certPem).toString('base64');
  server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const review = JSON.parse(body) as Review;
      seen.set(path, [...seenAt(path), review]);
      const out = answer(path, review);
      const send = () => {
        if (res.writableEnded || res.destroyed) return;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: review.request.uid, allowed: true },
          }),
        );
      };
      if (out === 'hang') return void hangers.push(send);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.request.uid, ...out },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
  deadPort = await freePort();
  c = await startCluster();
  raw = rawClient(c.kubeconfig);
  await c.k(['create', 'namespace', NS]);
  await c.k(['label', 'namespace', NS, 'webhooks=on']);
});

after(async () => {
  for (const h of hangers) h();
  server?.closeAllConnections();
  server?.close();
  await c?.cleanup();
  rmSync(pkiDir, { recursive: true, force: true });
});

type Hook = Record<string, unknown>;

/** A webhook at a path of the test server (`url` clientConfig). */
const hook = (name: string, path: string, rules: object[], extra: Hook = {}): Hook => ({
  name,
  clientConfig: { url: `https://127.0.0.1:${port}${path}`, caBundle },
  rules,
  sideEffects: 'None',
  admissionReviewVersions: ['v1'],
  ...extra,
});

const podRule = (ops = ['CREATE']) => ({ operations: ops, apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] });
const cmRule = (ops = ['CREATE']) => ({
  operations: ops,
  apiGroups: [''],
  apiVersions: ['v1'],
  resources: ['configmaps'],
});

async function configure(kind: 'Mutating' | 'Validating', name: string, webhooks: Hook[]): Promise<void> {
  await c.k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: `${kind}WebhookConfiguration`,
      metadata: { name },
      webhooks,
    }),
  );
}
const unconfigure = (kind: 'Mutating' | 'Validating', name: string) =>
  c.k(['delete', `${kind.toLowerCase()}webhookconfiguration`, name]);

const podJSON = (name: string, image: string, labels: Record<string, string> = {}, ns = NS) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: { containers: [{ name: 'app', image }] },
  });
const cmJSON = (name: string, labels: Record<string, string> = {}, ns = NS) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels }, data: { a: 'b' } });

test('a mutating webhook injects a sidecar into labelled pods (JSONPatch), the object re-validated', async () => {
  await configure('Mutating', 'sidecar', [
    hook('sidecar.example.com', '/inject', [podRule()], { objectSelector: { matchLabels: { inject: 'true' } } }),
  ]);
  try {
    await c.k(['create', '-f', '-'], podJSON('with-sidecar', `${REGISTRY}app:1`, { inject: 'true' }));
    await c.k(['create', '-f', '-'], podJSON('without-sidecar', `${REGISTRY}app:1`));
    const names = async (pod: string) =>
      (
        JSON.parse(await c.k(['get', 'pod', pod, '-n', NS, '-o', 'json'])) as {
          spec: { containers: { name: string }[] };
        }
      ).spec.containers.map((ct) => ct.name);
    assert.deepEqual(await names('with-sidecar'), ['app', 'sidecar']);
    assert.deepEqual(await names('without-sidecar'), ['app']);
    const r = seenAt('/inject')[0].request;
    assert.equal(r.operation, 'CREATE');
    assert.equal(r.namespace, NS);
    assert.equal(r.name, 'with-sidecar');
    assert.deepEqual(r.kind, { group: '', version: 'v1', kind: 'Pod' });
    assert.equal(r.userInfo.username, 'system:admin');
    assert.equal(r.options?.kind, 'CreateOptions');
    assert.equal(seenAt('/inject').length, 1, 'the objectSelector kept the unlabelled pod away');
  } finally {
    await unconfigure('Mutating', 'sidecar');
  }
});

test('a patched object is validated like any other', async () => {
  await configure('Mutating', 'invalid', [
    hook('invalid.example.com', '/invalid', [podRule()], { objectSelector: { matchLabels: { broken: 'yes' } } }),
    hook('move.example.com', '/move', [podRule()], { objectSelector: { matchLabels: { move: 'yes' } } }),
  ]);
  try {
    const r = await c.kubectl(['create', '-f', '-'], {
      input: podJSON('broken', `${REGISTRY}app:1`, { broken: 'yes' }),
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The Pod "broken" is invalid: spec\.containers\[1\]\.name: Invalid value: "Not_Valid"/);
    const moved = await c.kubectl(['create', '-f', '-'], {
      input: podJSON('moved', `${REGISTRY}app:1`, { move: 'yes' }),
    });
    assert.equal(
      moved.stderr.trim(),
      'Error from server (BadRequest): error when creating "STDIN": the namespace of the provided object does not match the namespace sent on the request',
    );
  } finally {
    await unconfigure('Mutating', 'invalid');
  }
});

test("a validating webhook's denial reaches kubectl with its message", async () => {
  await configure('Validating', 'registry', [hook('registry.example.com', '/registry', [podRule()])]);
  try {
    const denied = await c.kubectl(['create', '-f', '-'], { input: podJSON('foreign', 'docker.io/library/nginx') });
    assert.notEqual(denied.code, 0);
    assert.equal(
      denied.stderr.trim(),
      'Error from server (Forbidden): error when creating "STDIN": admission webhook "registry.example.com" denied the request: image "docker.io/library/nginx" is not from registry.example.com/',
    );
    await c.k(['create', '-f', '-'], podJSON('local', `${REGISTRY}app:1`));
  } finally {
    await unconfigure('Validating', 'registry');
  }
});

test('namespaceSelector: only namespaces with the label are reviewed', async () => {
  await c.k(['create', 'namespace', 'wh-off']);
  await configure('Validating', 'registry-scoped', [
    hook('registry.example.com', '/registry', [podRule()], { namespaceSelector: { matchLabels: { webhooks: 'on' } } }),
  ]);
  try {
    const denied = await c.kubectl(['create', '-f', '-'], { input: podJSON('foreign2', 'docker.io/library/nginx') });
    assert.match(denied.stderr, /denied the request/);
    await c.k(['create', '-f', '-'], podJSON('foreign2', 'docker.io/library/nginx', {}, 'wh-off'));
  } finally {
    await unconfigure('Validating', 'registry-scoped');
  }
});

test('failurePolicy with the webhook down: Fail refuses with upstream message, Ignore lets the write through', async () => {
  const dead = (name: string, policy: string) =>
    hook(name, '/', [cmRule()], {
      clientConfig: { url: `https://127.0.0.1:${deadPort}/`, caBundle },
      failurePolicy: policy,
      objectSelector: { matchLabels: { policy: policy.toLowerCase() } },
    });
  await configure('Validating', 'down', [dead('fail.example.com', 'Fail'), dead('ignore.example.com', 'Ignore')]);
  try {
    const refused = await c.kubectl(['create', '-f', '-'], { input: cmJSON('refused', { policy: 'fail' }) });
    assert.notEqual(refused.code, 0);
    assert.equal(
      refused.stderr.trim(),
      `Error from server (InternalError): error when creating "STDIN": Internal error occurred: failed calling webhook "fail.example.com": failed to call webhook: Post "https://127.0.0.1:${deadPort}/?timeout=10s": dial tcp 127.0.0.1:${deadPort}: connect: connection refused`,
    );
    await c.k(['create', '-f', '-'], cmJSON('ignored', { policy: 'ignore' }));
    // The default is Fail.
    await configure('Validating', 'down', [{ ...dead('default.example.com', 'Fail'), failurePolicy: undefined }]);
    const byDefault = await c.kubectl(['create', '-f', '-'], { input: cmJSON('refused2', { policy: 'fail' }) });
    assert.match(byDefault.stderr, /failed calling webhook "default.example.com"/);
  } finally {
    await unconfigure('Validating', 'down');
  }
});

test('timeoutSeconds is honoured, and a hanging webhook holds up no other request', async () => {
  await configure('Validating', 'slow', [
    hook('slow.example.com', '/slow', [cmRule()], {
      timeoutSeconds: 2,
      objectSelector: { matchLabels: { slow: 'yes' } },
    }),
  ]);
  try {
    const metrics0 = (await raw.request('GET', '/metrics')).body;
    const started = Date.now();
    const slow = raw.json('POST', `/api/v1/namespaces/${NS}/configmaps`, JSON.parse(cmJSON('slow', { slow: 'yes' })));
    // Meanwhile other reads and writes are answered at once.
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      const other = await raw.json('POST', `/api/v1/namespaces/${NS}/configmaps`, JSON.parse(cmJSON(`fast-${i}`)));
      assert.equal(other.status, 201);
      assert.ok(Date.now() - t < 1000, `an unrelated write took ${Date.now() - t} ms`);
    }
    const r = await slow;
    const took = Date.now() - started;
    assert.equal(r.status, 500);
    assert.equal(
      (r.body as { message?: string }).message,
      `Internal error occurred: failed calling webhook "slow.example.com": failed to call webhook: Post "https://127.0.0.1:${port}/slow?timeout=2s": context deadline exceeded`,
    );
    assert.ok(took >= 1900 && took < 4000, `the call was given up after ${took} ms`);
    // The latency SLI leaves the webhook's time out (apiserver_request_sli_duration_seconds);
    // the request's whole duration has it.
    const metrics1 = (await raw.request('GET', '/metrics')).body;
    const over = (metric: string, text: string) => {
      const series = `${metric}_bucket{le="1.5",verb="POST",group="",version="v1",resource="configmaps",subresource="",scope="namespace",component="apiserver"}`;
      const line = (name: string) => text.split('\n').find((l) => l.startsWith(name));
      const count = `${metric}_count{verb="POST",group="",version="v1",resource="configmaps",subresource="",scope="namespace",component="apiserver"}`;
      const n = (l?: string) => Number(l?.slice(l.lastIndexOf(' ') + 1) ?? 0);
      if (text === metrics1) assert.ok(line(count), `${metric} has the series`);
      return n(line(count)) - n(line(series));
    };
    assert.equal(
      over('apiserver_request_duration_seconds', metrics1) - over('apiserver_request_duration_seconds', metrics0),
      1,
      'one POST took over 1.5 s',
    );
    assert.equal(
      over('apiserver_request_sli_duration_seconds', metrics1) -
        over('apiserver_request_sli_duration_seconds', metrics0),
      0,
      'without the webhook, none did',
    );
  } finally {
    await unconfigure('Validating', 'slow');
  }
});

test('dry run: the webhook is told, nothing is stored', async () => {
  await configure('Validating', 'dry', [
    hook('dry.example.com', '/count', [cmRule()], { sideEffects: 'NoneOnDryRun' }),
  ]);
  try {
    await c.k(['create', '-f', '-', '--dry-run=server'], cmJSON('dry'));
    const r = seenAt('/count').at(-1)!.request;
    assert.equal(r.dryRun, true);
    assert.deepEqual(r.options?.dryRun, ['All']);
    const get = await c.kubectl(['get', 'configmap', 'dry', '-n', NS]);
    assert.notEqual(get.code, 0);
  } finally {
    await unconfigure('Validating', 'dry');
  }
});

test("a webhook's warnings reach kubectl", async () => {
  await configure('Validating', 'warn', [hook('warn.example.com', '/warn', [cmRule()])]);
  try {
    const r = await c.kubectl(['create', '-f', '-'], { input: cmJSON('warned') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Warning: this ConfigMap is watched$/m);
  } finally {
    await unconfigure('Validating', 'warn');
  }
});

test('matchPolicy Equivalent: a rule on autoscaling/v2 sees an autoscaling/v1 request, converted', async () => {
  const rules = [
    {
      operations: ['CREATE'],
      apiGroups: ['autoscaling'],
      apiVersions: ['v2'],
      resources: ['horizontalpodautoscalers'],
    },
  ];
  await configure('Validating', 'equivalent', [
    hook('equivalent.example.com', '/count', rules),
    hook('exact.example.com', '/exact', rules, { matchPolicy: 'Exact' }),
  ]);
  try {
    const before = seenAt('/count').length;
    await c.k(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'autoscaling/v1',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'h', namespace: NS },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' },
          maxReplicas: 3,
          targetCPUUtilizationPercentage: 50,
        },
      }),
    );
    const r = seenAt('/count')[before].request;
    assert.deepEqual(r.kind, { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler' });
    assert.deepEqual(r.requestKind, { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' });
    assert.equal(r.object?.apiVersion, 'autoscaling/v2');
    assert.equal(r.object?.spec?.metrics?.[0]?.resource?.target?.averageUtilization, 50);
    assert.equal(seenAt('/exact').length, 0);
  } finally {
    await unconfigure('Validating', 'equivalent');
  }
});

test('reinvocationPolicy IfNeeded: an earlier webhook sees a later one’s change', async () => {
  await configure('Mutating', 'reinvoke', [
    hook('first.example.com', '/count-m', [cmRule()], {
      reinvocationPolicy: 'IfNeeded',
      objectSelector: { matchLabels: { re: 'x' } },
    }),
    hook('second.example.com', '/label', [cmRule()], { objectSelector: { matchLabels: { re: 'x' } } }),
  ]);
  try {
    await c.k(['create', '-f', '-'], cmJSON('reinvoked', { re: 'x' }));
    const first = seenAt('/count-m');
    assert.equal(first.length, 2, 'called again after the second webhook labelled the object');
    assert.equal(first[1].request.object?.metadata?.labels?.labelled, 'yes');
    assert.equal(seenAt('/label').length, 1);
    const cm = JSON.parse(await c.k(['get', 'configmap', 'reinvoked', '-n', NS, '-o', 'json'])) as ReviewedObject;
    assert.equal(cm.metadata?.labels?.labelled, 'yes');
  } finally {
    await unconfigure('Mutating', 'reinvoke');
  }
});

test('a service clientConfig reaches the webhook through a selector-less Service and its EndpointSlice', async () => {
  await c.k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'webhook', namespace: NS },
          spec: { ports: [{ name: 'https', port: 8443, targetPort: port }] },
        },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'webhook-local', namespace: NS, labels: { 'kubernetes.io/service-name': 'webhook' } },
          addressType: 'IPv4',
          ports: [{ name: 'https', port, protocol: 'TCP' }],
          endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
        },
      ],
    }),
  );
  await configure('Validating', 'by-service', [
    hook('service.example.com', '/registry', [podRule()], {
      clientConfig: { service: { namespace: NS, name: 'webhook', path: '/registry', port: 8443 }, caBundle },
    }),
  ]);
  try {
    const denied = await c.kubectl(['create', '-f', '-'], { input: podJSON('via-service', 'quay.io/x') });
    assert.match(denied.stderr, /admission webhook "service.example.com" denied the request: image "quay.io\/x"/);
    await c.k(['create', '-f', '-'], podJSON('via-service', `${REGISTRY}ok:1`));
  } finally {
    await unconfigure('Validating', 'by-service');
  }
});

test('matchConditions (CEL) choose the requests a webhook sees; one that cannot be evaluated fails closed under Fail', async () => {
  const conditional = (name: string, policy: string, expression: string) =>
    hook(name, '/count', [cmRule()], {
      failurePolicy: policy,
      objectSelector: { matchLabels: { cond: policy.toLowerCase() } },
      matchConditions: [{ name: 'the-condition', expression }],
    });
  await configure('Validating', 'conditions', [
    conditional('cond-fail.example.com', 'Fail', "object.metadata.name.startsWith('checked-')"),
    conditional('cond-ignore.example.com', 'Ignore', "object.metadata.labels['absent'] == 'x'"),
  ]);
  try {
    let calls = seenAt('/count').length;
    await c.k(['create', '-f', '-'], cmJSON('checked-one', { cond: 'fail' }));
    assert.equal(seenAt('/count').length, ++calls, 'the condition holds: the webhook was called');
    await c.k(['create', '-f', '-'], cmJSON('unchecked-one', { cond: 'fail' }));
    assert.equal(seenAt('/count').length, calls, 'the condition is false: the webhook was skipped');
    // An expression that cannot be evaluated (no such key): Ignore skips the webhook...
    await c.k(['create', '-f', '-'], cmJSON('cond-ignored', { cond: 'ignore' }));
    assert.equal(seenAt('/count').length, calls);
  } finally {
    await unconfigure('Validating', 'conditions');
  }
  // ...and Fail refuses the request.
  await configure('Validating', 'conditions', [
    conditional('cond-fail.example.com', 'Fail', "object.metadata.labels['absent'] == 'x'"),
  ]);
  try {
    const refused = await c.kubectl(['create', '-f', '-'], { input: cmJSON('cond-refused', { cond: 'fail' }) });
    assert.match(
      refused.stderr.trim(),
      /^Error from server \(Forbidden\): error when creating "STDIN": configmaps "cond-refused" is forbidden: failed evaluating match conditions, failing closed: matchCondition 'the-condition': /,
    );
  } finally {
    await unconfigure('Validating', 'conditions');
  }
});

test('webhook configurations themselves are never sent to webhooks', async () => {
  const all = [
    { operations: ['*'], apiGroups: ['admissionregistration.k8s.io'], apiVersions: ['*'], resources: ['*'] },
  ];
  await configure('Validating', 'self', [
    hook('self.example.com', '/', all, { clientConfig: { url: `https://127.0.0.1:${deadPort}/`, caBundle } }),
  ]);
  // Still editable and removable although its webhook is down and would refuse every change.
  await c.k(['label', 'validatingwebhookconfiguration', 'self', 'edited=yes']);
  await unconfigure('Validating', 'self');
});
