// API aggregation end to end: a small extension API server (written here, node https) serves
// wardle.example.com/v1alpha1 flunders behind a selector-less Service and a hand-made
// EndpointSlice; an APIService registers it. The real kubectl then lists and creates flunders
// through k8ts, which authorizes first and asserts the user in front-proxy headers under a
// certificate of the request header CA (the one published in extension-apiserver-authentication).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';
import { issue, loadOrCreateCA, type KeyPair } from '../../src/machinery/pki.js';

const GROUP = 'wardle.example.com';
const GV = `${GROUP}/v1alpha1`;
const NS = 'wardle';

interface Seen {
  user?: string;
  groups: string[];
  path: string;
}

interface Flunder {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; creationTimestamp?: string; resourceVersion?: string; uid?: string };
  spec?: unknown;
  status?: { seenUser?: string };
}

/** The extension API server: trusts the request header CA for X-Remote-* only, as generic apiservers do. */
class Wardle {
  readonly seen: Seen[] = [];

  /** What clients sent, without the aggregator's own availability checks (they come at any time). */
  get clientRequests(): Seen[] {
    return this.seen.filter((s) => s.user !== 'system:kube-aggregator');
  }
  private readonly flunders = new Map<string, Flunder>();
  private readonly watchers = new Set<ServerResponse>();
  private server?: https.Server;
  private rv = 1;
  port = 0;

  constructor(
    private readonly serving: KeyPair,
    private readonly requestHeaderCA: string,
    private readonly allowedNames: string[],
  ) {}

  async start(port = 0): Promise<void> {
    const server = https.createServer(
      {
        cert: this.serving.certPem,
        key: this.serving.keyPem,
        ca: this.requestHeaderCA,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => this.handle(req, res),
    );
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  /** The user the front proxy asserts, believed only under a verified certificate with an allowed name. */
  private identity(req: IncomingMessage): Seen {
    const socket = req.socket as TLSSocket;
    const cn = socket.authorized ? socket.getPeerCertificate().subject?.CN : undefined;
    const trusted = typeof cn === 'string' && this.allowedNames.includes(cn);
    const groups = req.headersDistinct['x-remote-group'] ?? [];
    return {
      user: trusted ? (req.headers['x-remote-user'] as string | undefined) : undefined,
      groups: trusted ? groups : [],
      path: req.url ?? '',
    };
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const who = this.identity(req);
    this.seen.push(who);
    if (!who.user)
      return this.send(res, 401, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Unauthorized',
        code: 401,
      });
    const url = new URL(req.url ?? '/', 'https://wardle');
    const p = url.pathname.replace(/\/+$/, '');
    if (p === `/apis/${GV}`)
      return this.send(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: GV,
        resources: [
          {
            name: 'flunders',
            singularName: 'flunder',
            namespaced: true,
            kind: 'Flunder',
            shortNames: ['fl'],
            verbs: ['create', 'get', 'list', 'watch'],
          },
        ],
      });
    if (p === '/openapi/v3')
      return this.send(res, 200, { paths: { [`apis/${GV}`]: { serverRelativeURL: `/openapi/v3/apis/${GV}?hash=1` } } });
    if (p === `/openapi/v3/apis/${GV}`) return this.send(res, 200, flunderOpenAPI());
    if (p === '/openapi/v2')
      return this.send(res, 200, {
        swagger: '2.0',
        info: { title: 'wardle', version: 'v1alpha1' },
        paths: {
          [`/apis/${GV}/namespaces/{namespace}/flunders`]: { get: { operationId: 'listFlunders' } },
          // Not under its group version: not routed to this server, so left out of the merge.
          '/apis/other.example.com/v1/things': { get: { operationId: 'listThings' } },
        },
        definitions: {
          'com.example.wardle.v1alpha1.Flunder':
            flunderOpenAPI().components.schemas['com.example.wardle.v1alpha1.Flunder'],
        },
      });
    const m = new RegExp(`^/apis/${GV.replace(/\./g, '\\.')}/namespaces/([^/]+)/flunders(?:/([^/]+))?$`).exec(p);
    if (!m)
      return this.send(res, 404, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'NotFound',
        code: 404,
      });
    const [, namespace, name] = m;
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString('utf8')));
      req.on('end', () => {
        const f = JSON.parse(body) as Flunder;
        f.metadata.namespace = namespace;
        f.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        f.metadata.uid = `uid-${this.rv}`;
        f.metadata.resourceVersion = String(++this.rv);
        f.status = { seenUser: who.user };
        this.flunders.set(`${namespace}/${f.metadata.name}`, f);
        for (const w of this.watchers) w.write(`${JSON.stringify({ type: 'ADDED', object: f })}\n`);
        this.send(res, 201, f);
      });
      return;
    }
    if (name) {
      const f = this.flunders.get(`${namespace}/${name}`);
      if (!f)
        return this.send(res, 404, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'NotFound',
          message: `flunders.${GROUP} "${name}" not found`,
          details: { name, group: GROUP, kind: 'flunders' },
          code: 404,
        });
      return this.send(res, 200, { ...f, status: { seenUser: who.user } });
    }
    const items = [...this.flunders.values()]
      .filter((f) => f.metadata.namespace === namespace)
      .map((f) => ({ ...f, status: { seenUser: who.user } }));
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      for (const f of items) res.write(`${JSON.stringify({ type: 'ADDED', object: f })}\n`);
      this.watchers.add(res);
      res.on('close', () => this.watchers.delete(res));
      return;
    }
    if ((req.headers.accept ?? '').includes('as=Table'))
      return this.send(res, 200, {
        kind: 'Table',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { resourceVersion: String(this.rv) },
        columnDefinitions: [
          { name: 'Name', type: 'string', format: 'name', description: 'name', priority: 0 },
          { name: 'Seen User', type: 'string', format: '', description: 'X-Remote-User', priority: 0 },
        ],
        rows: items.map((f) => ({
          cells: [f.metadata.name, who.user],
          object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: f.metadata },
        })),
      });
    this.send(res, 200, { kind: 'FlunderList', apiVersion: GV, metadata: { resourceVersion: String(this.rv) }, items });
  }
}

function flunderOpenAPI() {
  const gvk = { group: GROUP, version: 'v1alpha1', kind: 'Flunder' };
  const schema = { $ref: '#/components/schemas/com.example.wardle.v1alpha1.Flunder' };
  const get = {
    responses: { '200': { description: 'OK', content: { 'application/json': { schema } } } },
    'x-kubernetes-action': 'get',
    'x-kubernetes-group-version-kind': gvk,
  };
  return {
    openapi: '3.0.0',
    info: { title: 'wardle', version: 'v1alpha1' },
    // kubectl explain finds a resource's kind through the GET operation of its path.
    paths: { [`/apis/${GV}/namespaces/{namespace}/flunders/{name}`]: { get } },
    components: {
      schemas: {
        'com.example.wardle.v1alpha1.Flunder': {
          description: 'A Flunder is a test kind served by an extension API server.',
          type: 'object',
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            metadata: { type: 'object' },
            spec: {
              description: 'What the flunder wants.',
              type: 'object',
              properties: { reference: { description: 'Another flunder.', type: 'string' } },
            },
          },
          'x-kubernetes-group-version-kind': [{ group: GROUP, version: 'v1alpha1', kind: 'Flunder' }],
        },
      },
    },
  };
}

let cluster: Cluster;
let raw: RawClient;
let wardle: Wardle;
let pkiDir: string;
let caPem: string;

before(async () => {
  cluster = await startCluster();
  raw = rawClient(cluster.kubeconfig);
  pkiDir = mkdtempSync(join(tmpdir(), 'k8ts-wardle-'));
  const ca = await loadOrCreateCA(pkiDir, 'wardle-ca');
  caPem = ca.certPem;
  const serving = await issue(ca, { commonName: 'api', sans: [`api.${NS}.svc`], server: true });
  const cm = await raw.json('GET', '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication');
  assert.equal(cm.status, 200);
  const data = (cm.body as { data: Record<string, string> }).data;
  assert.deepEqual(JSON.parse(data['requestheader-username-headers']), ['X-Remote-User']);
  assert.deepEqual(JSON.parse(data['requestheader-group-headers']), ['X-Remote-Group']);
  assert.deepEqual(JSON.parse(data['requestheader-extra-headers-prefix']), ['X-Remote-Extra-']);
  assert.notEqual(data['requestheader-client-ca-file'], data['client-ca-file'], 'the request header CA is its own');
  wardle = new Wardle(
    serving,
    data['requestheader-client-ca-file'],
    JSON.parse(data['requestheader-allowed-names']) as string[],
  );
  await wardle.start();
});

after(async () => {
  await wardle?.stop();
  await cluster?.cleanup();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});

const serviceYAML = () => `apiVersion: v1
kind: Service
metadata: {name: api, namespace: ${NS}}
spec:
  ports: [{name: https, port: 443, targetPort: ${wardle.port}}]
`;

const sliceYAML = (ready = true) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-manual
  namespace: ${NS}
  labels: {kubernetes.io/service-name: api}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: ${ready}}}]
ports: [{name: https, port: ${wardle.port}, protocol: TCP}]
`;

interface AggregatedList {
  items: {
    metadata: { name: string };
    versions: { version: string; freshness: string; resources: { resource: string }[] }[];
  }[];
}

const groupIn = (list: unknown) => (list as AggregatedList).items.find((i) => i.metadata.name === GROUP)!;

async function condition(): Promise<{ status: string; reason: string; message: string }> {
  const o = JSON.parse(await cluster.k(['get', 'apiservice', `v1alpha1.${GROUP}`, '-o', 'json'])) as {
    status: { conditions: { type: string; status: string; reason: string; message: string }[] };
  };
  return o.status.conditions.find((c) => c.type === 'Available')!;
}

const waitFor = (reason: string, timeoutMs = 20_000) =>
  until(`Available reason ${reason}`, async () => ((await condition()).reason === reason ? condition() : undefined), {
    timeoutMs,
  });

test('an APIService with a Service becomes Available once its server answers discovery', async () => {
  await cluster.k(['create', 'namespace', NS]);
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.${GROUP}}
spec:
  group: ${GROUP}
  version: v1alpha1
  service: {namespace: ${NS}, name: api}
  caBundle: ${Buffer.from(caPem).toString('base64')}
  groupPriorityMinimum: 1000
  versionPriority: 15
`,
  );
  const missing = await waitFor('ServiceNotFound');
  assert.equal(missing.status, 'False');
  assert.equal(missing.message, `service/api in "${NS}" is not present`);
  await cluster.k(['apply', '-f', '-'], serviceYAML());
  assert.equal((await waitFor('EndpointsNotFound')).message, `cannot find endpointslices for service/api in "${NS}"`);
  await cluster.k(['apply', '-f', '-'], sliceYAML(false));
  assert.equal(
    (await waitFor('MissingEndpoints')).message,
    `endpointslices for service/api in "${NS}" have no addresses with port name "https"`,
  );
  await cluster.k(['apply', '-f', '-'], sliceYAML(true));
  const passed = await waitFor('Passed');
  assert.deepEqual([passed.status, passed.message], ['True', 'all checks passed']);
  // The check ran as upstream's: system:kube-aggregator in system:masters.
  assert.ok(wardle.seen.some((s) => s.user === 'system:kube-aggregator' && s.groups.includes('system:masters')));
  const table = await cluster.k(['get', 'apiservices']);
  assert.match(table, /^NAME\s+SERVICE\s+AVAILABLE\s+AGE\n/);
  assert.match(table, new RegExp(`^v1alpha1\\.wardle\\.example\\.com\\s+wardle/api\\s+True\\s+\\S+$`, 'm'));
  assert.match(table, /^v1beta1\.metrics\.k8s\.io\s+Local\s+True\s+\S+$/m);
});

test('discovery lists the remote group, legacy and aggregated, with its resources', async () => {
  const { groups } = JSON.parse(await cluster.k(['get', '--raw', '/apis'])) as { groups: { name: string }[] };
  const names = groups.map((g) => g.name);
  assert.ok(names.includes(GROUP));
  // groupPriorityMinimum 1000 sorts it after the built-in groups and before metrics.k8s.io (100).
  assert.ok(names.indexOf(GROUP) > names.indexOf('flowcontrol.apiserver.k8s.io'));
  assert.ok(names.indexOf(GROUP) < names.indexOf('metrics.k8s.io'));
  const group = JSON.parse(await cluster.k(['get', '--raw', `/apis/${GROUP}`])) as {
    preferredVersion: { groupVersion: string };
  };
  assert.equal(group.preferredVersion.groupVersion, GV);
  const agg = await raw.json('GET', '/apis', undefined, {
    Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
  });
  const item = groupIn(agg.body);
  assert.deepEqual(item.versions[0].resources[0].resource, 'flunders');
  assert.equal(item.versions[0].freshness, 'Current');
  const resources = await cluster.k(['api-resources', '--api-group', GROUP]);
  assert.match(resources, /^flunders\s+fl\s+wardle\.example\.com\/v1alpha1\s+true\s+Flunder$/m);
  const index = (JSON.parse(await cluster.k(['get', '--raw', '/openapi/v3'])) as { paths: Record<string, unknown> })
    .paths;
  assert.ok(index[`apis/${GV}`], 'the remote group version is in the OpenAPI v3 index');
  const v2 = JSON.parse(await cluster.k(['get', '--raw', '/openapi/v2'])) as {
    paths: Record<string, unknown>;
    definitions: Record<string, unknown>;
  };
  assert.ok(v2.definitions['com.example.wardle.v1alpha1.Flunder'], 'remote v2 definitions are merged');
  assert.ok(v2.definitions['io.k8s.api.core.v1.Pod'], 'local ones stay');
  assert.ok(v2.paths[`/apis/${GV}/namespaces/{namespace}/flunders`]);
  assert.ok(!v2.paths['/apis/other.example.com/v1/things']);
  const explained = await cluster.k(['explain', 'flunders.spec']);
  assert.match(explained, /What the flunder wants/);
});

test('kubectl creates, lists and gets flunders through the proxy as the requesting user', async () => {
  await cluster.k(
    ['create', '-f', '-'],
    `apiVersion: ${GV}\nkind: Flunder\nmetadata: {name: first, namespace: default}\nspec: {reference: none}\n`,
  );
  const listed = await cluster.k(['get', 'flunders', '-n', 'default']);
  assert.match(listed, /^NAME\s+SEEN USER$/m);
  assert.match(listed, /^first\s+system:admin$/m);
  const got = JSON.parse(await cluster.k(['get', 'flunder', 'first', '-n', 'default', '-o', 'json'])) as Flunder;
  assert.equal(got.status?.seenUser, 'system:admin');
  const last = wardle.clientRequests.at(-1)!;
  assert.equal(last.user, 'system:admin');
  assert.deepEqual(last.groups, ['system:masters', 'system:authenticated']);
  // A client's own X-Remote-* headers never reach the server.
  const spoofed = await raw.json('GET', `/apis/${GV}/namespaces/default/flunders/first`, undefined, {
    'X-Remote-User': 'mallory',
    'X-Remote-Group': 'system:masters',
  });
  assert.equal((spoofed.body as Flunder).status?.seenUser, 'system:admin');
  const notFound = await cluster.kubectl(['get', 'flunder', 'nope', '-n', 'default']);
  assert.match(notFound.stderr, /flunders.wardle.example.com "nope" not found/);
});

test('authorization happens in k8ts first: jane is refused until RBAC allows her, then is the user the server sees', async () => {
  const before = wardle.clientRequests.length;
  const refused = await cluster.kubectl(['get', 'flunders', '-n', 'default', '--as', 'jane']);
  assert.notEqual(refused.code, 0);
  assert.match(
    refused.stderr,
    /flunders\.wardle\.example\.com is forbidden: User "jane" cannot list resource "flunders" in API group "wardle\.example\.com" in the namespace "default"/,
  );
  assert.equal(wardle.clientRequests.length, before, 'a refused request never reaches the extension server');
  await cluster.k([
    'create',
    'role',
    'flunder-reader',
    '-n',
    'default',
    '--verb=get,list',
    `--resource=flunders.${GROUP}`,
  ]);
  await cluster.k(['create', 'rolebinding', 'jane-flunders', '-n', 'default', '--role=flunder-reader', '--user=jane']);
  const out = await until('jane lists flunders', async () => {
    const r = await cluster.kubectl(['get', 'flunders', '-n', 'default', '--as', 'jane', '--as-group', 'wardens']);
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.match(out, /first\s+jane/);
  const last = wardle.clientRequests.at(-1)!;
  assert.equal(last.user, 'jane');
  assert.deepEqual(last.groups, ['wardens', 'system:authenticated']);
});

test('a watch is passed on as events arrive, not buffered', async () => {
  const events: string[] = [];
  const req = https.get(new URL(`/apis/${GV}/namespaces/default/flunders?watch=true`, raw.base), { agent: raw.agent });
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  assert.equal(res.statusCode, 200);
  res.on('data', (d: Buffer) => events.push(...d.toString('utf8').split('\n').filter(Boolean)));
  await until('the initial event', () => events.some((e) => e.includes('"first"')));
  await cluster.k(
    ['create', '-f', '-'],
    `apiVersion: ${GV}\nkind: Flunder\nmetadata: {name: second, namespace: default}\n`,
  );
  await until('the event of the new flunder', () => events.some((e) => e.includes('"second"')));
  req.destroy();
});

test('a dead extension server: 503 as upstream words it, the condition flips, discovery still answers', async () => {
  await wardle.stop();
  const first = await cluster.kubectl(['get', 'flunders', '-n', 'default']);
  assert.notEqual(first.code, 0);
  assert.match(
    first.stderr,
    /Error from server \(ServiceUnavailable\): the server is currently unable to handle the request \(get flunders\.wardle\.example\.com\)/,
  );
  const failed = await waitFor('FailedDiscoveryCheck');
  assert.equal(failed.status, 'False');
  assert.match(
    failed.message,
    new RegExp(
      `^failing or missing response from https://127\\.0\\.0\\.1:${wardle.port}/apis/${GV.replace(/\./g, '\\.')}: Get "https://127\\.0\\.0\\.1:${wardle.port}/apis/${GV.replace(/\./g, '\\.')}": dial tcp 127\\.0\\.0\\.1:${wardle.port}: connect: connection refused$`,
    ),
  );
  assert.match(
    await cluster.k(['get', 'apiservices', `v1alpha1.${GROUP}`]),
    /wardle\/api\s+False \(FailedDiscoveryCheck\)/,
  );
  const unavailable = await raw.request('GET', `/apis/${GV}/namespaces/default/flunders`);
  assert.equal(unavailable.status, 503);
  assert.equal(unavailable.body, 'service unavailable\n');
  assert.match(String(unavailable.headers['content-type']), /^text\/plain/);
  // Discovery does not wait on the dead server: the group stays, marked Stale.
  const started = Date.now();
  const agg = await raw.json('GET', '/apis', undefined, {
    Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
  });
  assert.ok(Date.now() - started < 2000);
  const item = groupIn(agg.body);
  assert.equal(item.versions[0].freshness, 'Stale');
  await cluster.k(['get', 'pods', '-A']);
  // Back on the same port: the next check (here prompted by touching the EndpointSlice) passes.
  await wardle.start(wardle.port);
  await cluster.k(['label', 'endpointslice', 'api-manual', '-n', NS, 'touched=yes']);
  await waitFor('Passed');
  assert.match(await cluster.k(['get', 'flunders', '-n', 'default']), /first/);
});

test('APIService validation follows upstream', async () => {
  const r = await cluster.kubectl(['apply', '-f', '-'], {
    input: `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: wrong.${GROUP}}
spec:
  group: ${GROUP}
  version: v1beta1
  service: {namespace: ${NS}, name: api}
  insecureSkipTLSVerify: true
  caBundle: ${Buffer.from('x').toString('base64')}
  groupPriorityMinimum: 30000
  versionPriority: 15
`,
  });
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /metadata\.name: Invalid value: "wrong\.wardle\.example\.com": must be `spec\.version\+"\."\+spec\.group`: "v1beta1\.wardle\.example\.com"/,
  );
  assert.match(r.stderr, /spec\.groupPriorityMinimum: Invalid value: 30000: must be positive and less than 20000/);
  assert.match(r.stderr, /spec\.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present/);
});

test('a Local APIService deleted by hand is registered again', async () => {
  const before = JSON.parse(await cluster.k(['get', 'apiservice', 'v1.apps', '-o', 'json'])) as {
    metadata: { uid: string };
  };
  await cluster.k(['delete', 'apiservice', 'v1.apps']);
  await until('v1.apps registered again', async () => {
    const r = await cluster.kubectl(['get', 'apiservice', 'v1.apps', '-o', 'json']);
    return r.code === 0 && (JSON.parse(r.stdout) as { metadata: { uid: string } }).metadata.uid !== before.metadata.uid;
  });
  await until('v1.apps Available again', async () =>
    /^v1\.apps\s+Local\s+True/m.test(await cluster.k(['get', 'apiservice', 'v1.apps'])),
  );
});
