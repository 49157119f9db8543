// Issue 14: charts in OCI registries. `k8ts chart push|pull|template|install oci://...` against
// (1) a minimal OCI distribution-API server this test serves on loopback, standing for a remote
// registry that wants a bearer token (token endpoint with basic credentials) or basic auth, and
// (2) a real docker-registry (distribution) over plain HTTP when it is installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, run, startCluster, until, type Cluster, type RunResult } from './harness.js';

const USER = 'chartuser';
const PASSWORD = 's3cret';
const TOKEN = 'token-for-chartuser';

/** What the registry holds: blobs by digest, manifests by repository and tag (or digest). */
interface Store {
  blobs: Map<string, Buffer>;
  manifests: Map<string, { type: string; body: Buffer }>;
  uploads: number;
}

/** A distribution-API subset (blobs, monolithic uploads, manifests, tags) behind `auth`. */
function registry(auth: 'bearer' | 'basic'): { server: Server; store: Store; port: () => number } {
  const store: Store = { blobs: new Map(), manifests: new Map(), uploads: 0 };
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
      if (url.pathname === '/token') {
        if (req.headers.authorization !== basic) return void res.writeHead(401).end('bad credentials');
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ token: TOKEN }));
      }
      const expected = auth === 'bearer' ? `Bearer ${TOKEN}` : basic;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, {
          'www-authenticate':
            auth === 'bearer'
              ? `Bearer realm="http://${host}/token",service="${host}",scope="repository:charts:pull"`
              : 'Basic realm="test"',
          'content-type': 'application/json',
        });
        return void res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      }
      let m: RegExpExecArray | null;
      if ((m = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(url.pathname)) && req.method === 'POST') {
        res.writeHead(202, { location: `/v2/${m[1]}/blobs/uploads/u${++store.uploads}` });
        return void res.end();
      }
      if ((m = /^\/v2\/(.+)\/blobs\/uploads\/u\d+$/.exec(url.pathname)) && req.method === 'PUT') {
        const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
        if (url.searchParams.get('digest') !== digest) return void res.writeHead(400).end('DIGEST_INVALID');
        store.blobs.set(digest, body);
        return void res.writeHead(201, { location: `/v2/${m[1]}/blobs/${digest}` }).end();
      }
      if ((m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]+)$/.exec(url.pathname))) {
        const blob = store.blobs.get(m[2]);
        if (!blob) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': blob.length, 'docker-content-digest': m[2] });
        return void res.end(req.method === 'HEAD' ? undefined : blob);
      }
      if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname))) {
        const key = `${m[1]}:${m[2]}`;
        if (req.method === 'PUT') {
          store.manifests.set(key, { type: String(req.headers['content-type']), body });
          return void res.writeHead(201).end();
        }
        const found = store.manifests.get(key);
        if (!found) return void res.writeHead(404).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN' }] }));
        res.writeHead(200, { 'content-type': found.type });
        return void res.end(found.body);
      }
      if ((m = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname))) {
        const tags = [...store.manifests.keys()].filter((k) => k.startsWith(`${m![1]}:`)).map((k) => k.split(':')[1]);
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ name: m[1], tags }));
      }
      res.writeHead(404).end();
    });
  });
  return { server, store, port: () => (server.address() as { port: number }).port };
}

let work: string;
let cluster: Cluster | undefined;
const servers: Server[] = [];
let dockerRegistry: ChildProcess | undefined;

function chart(args: string[], kubeconfig?: string): Promise<RunResult> {
  return run(process.execPath, [K8TS_BIN, 'chart', ...args], {
    env: { ...process.env, ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}) },
    timeoutMs: 120_000,
  });
}

async function ok(args: string[], kubeconfig?: string): Promise<string> {
  const r = await chart(args, kubeconfig);
  assert.equal(r.code, 0, `k8ts chart ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function writeChart(dir: string, version: string, colour: string): void {
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(join(dir, 'Chart.yaml'), `apiVersion: v2\nname: hello\nversion: ${version}\ndescription: A greeting\n`);
  writeFileSync(join(dir, 'values.yaml'), `colour: ${colour}\n`);
  writeFileSync(
    join(dir, 'templates', 'config.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hello\ndata:\n  colour: {{ .Values.colour | quote }}\n',
  );
}

async function listen(server: Server): Promise<void> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'k8ts-chart-oci-'));
  for (const [version, colour] of [
    ['1.0.0', 'red'],
    ['1.1.0', 'green'],
  ]) {
    writeChart(join(work, `src-${version}`), version, colour);
    await ok(['package', join(work, `src-${version}`), '-d', work]);
  }
});

after(async () => {
  await cluster?.cleanup();
  for (const s of servers) s.close();
  if (dockerRegistry && dockerRegistry.exitCode === null) dockerRegistry.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

test('push and pull with a bearer token; --version picks a tag; the layers carry Helm media types', async () => {
  const { server, store, port } = registry('bearer');
  await listen(server);
  const remote = `oci://127.0.0.1:${port()}/charts`;
  const creds = ['--plain-http', '--username', USER, '--password', PASSWORD];
  for (const version of ['1.0.0', '1.1.0']) {
    const out = await ok(['push', join(work, `hello-${version}.tgz`), remote, ...creds]);
    assert.match(
      out,
      new RegExp(`^Pushed: 127\\.0\\.0\\.1:${port()}/charts/hello:${version}\\nDigest: sha256:[0-9a-f]{64}\\n$`),
    );
  }
  const manifest = JSON.parse(store.manifests.get('charts/hello:1.0.0')!.body.toString()) as {
    config: { mediaType: string };
    layers: { mediaType: string }[];
    annotations: Record<string, string>;
  };
  assert.equal(manifest.config.mediaType, 'application/vnd.cncf.helm.config.v1+json');
  assert.deepEqual(
    manifest.layers.map((l) => l.mediaType),
    ['application/vnd.cncf.helm.chart.content.v1.tar+gzip'],
  );
  assert.equal(manifest.annotations['org.opencontainers.image.version'], '1.0.0');

  // Without credentials the registry refuses, with Helm-like wording.
  const refused = await chart(['pull', `${remote}/hello`, '--version', '1.0.0', '--plain-http', '-d', work]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /^Error: .*401/m);

  const dest = join(work, 'pulled');
  const out = await ok(['pull', `${remote}/hello`, '--version', '1.0.0', '-d', dest, ...creds]);
  assert.match(out, /^Pulled: 127\.0\.0\.1:\d+\/charts\/hello:1\.0\.0\nDigest: sha256:/);
  assert.deepEqual(readFileSync(join(dest, 'hello-1.0.0.tgz')), readFileSync(join(work, 'hello-1.0.0.tgz')));
  // No version: the newest tag; a constraint: the newest tag matching it.
  await ok(['pull', `${remote}/hello`, '-d', dest, '--untar', '--untardir', 'newest', ...creds]);
  assert.match(readFileSync(join(dest, 'newest', 'hello', 'Chart.yaml'), 'utf8'), /version: 1\.1\.0/);
  await ok(['pull', `${remote}/hello`, '--version', '~1.0', '-d', join(dest, 'tilde'), ...creds]);
  assert.ok(existsSync(join(dest, 'tilde', 'hello-1.0.0.tgz')));

  const rendered = await ok(['template', 'demo', `${remote}/hello`, '--version', '1.0.0', ...creds]);
  assert.match(rendered, /# Source: hello\/templates\/config.yaml\n[\s\S]*name: demo-hello\n[\s\S]*colour: "red"/);
});

test('basic auth: install and upgrade a release from oci://', async () => {
  const { server, port } = registry('basic');
  await listen(server);
  const remote = `oci://127.0.0.1:${port()}/charts`;
  const creds = ['--plain-http', '--username', USER, '--password', PASSWORD];
  for (const version of ['1.0.0', '1.1.0']) await ok(['push', join(work, `hello-${version}.tgz`), remote, ...creds]);
  cluster = await startCluster();
  const kubeconfig = cluster.kubeconfig;
  await ok(['install', 'greet', `${remote}/hello`, '--version', '1.0.0', ...creds], kubeconfig);
  assert.equal(await cluster.k(['get', 'configmap', 'greet-hello', '-o', 'jsonpath={.data.colour}']), 'red');
  await ok(['upgrade', 'greet', `${remote}/hello`, '--version', '1.1.0', ...creds], kubeconfig);
  assert.equal(await cluster.k(['get', 'configmap', 'greet-hello', '-o', 'jsonpath={.data.colour}']), 'green');
  await ok(['uninstall', 'greet'], kubeconfig);
});

const hasDockerRegistry = spawnSync('sh', ['-c', 'command -v docker-registry'], { stdio: 'ignore' }).status === 0;

test(
  'a real docker-registry over plain HTTP',
  { skip: !hasDockerRegistry && 'docker-registry is not installed' },
  async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createNetServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const dir = join(work, 'docker-registry');
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    dockerRegistry = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'ignore'] });
    await until(
      `docker-registry on port ${port}`,
      async () => (await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined))?.status === 200,
      60_000,
    );
    const remote = `oci://127.0.0.1:${port}/library`;
    await ok(['push', join(work, 'hello-1.1.0.tgz'), remote, '--plain-http']);
    const dest = join(work, 'from-docker-registry');
    await ok(['pull', `${remote}/hello`, '--version', '1.1.0', '--plain-http', '-d', dest]);
    assert.deepEqual(readFileSync(join(dest, 'hello-1.1.0.tgz')), readFileSync(join(work, 'hello-1.1.0.tgz')));
    dockerRegistry.kill('SIGTERM');
  },
);
