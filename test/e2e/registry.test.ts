// Pulling images from OCI registries with real containers: a local docker-registry (distribution
// v2) over plain HTTP on loopback, the test image pushed to it with skopeo, and `k8ts server
// --private-registry registries.yaml` mirroring a made-up registry host to it. A second registry
// requires htpasswd (bcrypt) credentials, given once in registries.yaml and once as an
// imagePullSecret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestImage } from '../../src/agent/images/testimages.js';
import { realContainersUnavailable, run, startCluster, until, type Cluster } from './harness.js';
import { streamKubectl } from './streams.js';
import { freePort } from '../support/ports.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const bcryptAvailable = () =>
  spawnSync(
    'python3',
    [
      '-W',
      'ignore',
      '-c',
      'import crypt; assert crypt.crypt("x", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)).startswith("$2")',
    ],
    { stdio: 'ignore' },
  ).status === 0;

const skip =
  realContainersUnavailable() ??
  (!has('docker-registry')
    ? 'docker-registry is not installed (Debian: apt-get install docker-registry)'
    : undefined) ??
  (!has('skopeo') ? 'skopeo is not installed (apt-get install skopeo)' : undefined);
const authSkip =
  skip ?? (bcryptAvailable() ? undefined : 'no bcrypt for the htpasswd file (python3 crypt with Blowfish)');
if (skip) process.stderr.write(`registry.test: skipped: ${skip}\n`);

const USER = 'k8ts';
const PASSWORD = 'pull-me-2024';

let work: string;
let cluster: Cluster | undefined;
const registries: ChildProcess[] = [];
let port = 0;
let authPort = 0;

/** Starts docker-registry on 127.0.0.1:<port> with storage in the work dir; resolves when /v2/ answers. */
async function startRegistry(name: string, p: number, htpasswd?: string): Promise<void> {
  const dir = join(work, name);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const auth = htpasswd ? `auth:\n  htpasswd:\n    realm: k8ts-test\n    path: ${htpasswd}\n` : '';
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${p}\n${auth}`,
  );
  const proc = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  registries.push(proc);
  await until(
    `docker-registry ${name} on port ${p}`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited with ${proc.exitCode}: ${err}`);
      const res = await fetch(`http://127.0.0.1:${p}/v2/`).catch(() => undefined);
      return res !== undefined && (res.status === 200 || res.status === 401);
    },
    15_000,
  );
}

async function push(tar: string, dest: string, creds?: string): Promise<void> {
  const args = [
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    ...(creds ? ['--dest-creds', creds] : []),
    `oci-archive:${tar}`,
    `docker://${dest}`,
  ];
  const r = await run('skopeo', args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`skopeo ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
}

function podYaml(name: string, image: string, extra = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 0
${extra}  containers:
  - name: main
    image: ${image}
    imagePullPolicy: Always
    command: ["sh", "-c", "echo hello from ${name}; sleep 3600"]
`;
}

async function events(name: string): Promise<{ reason: string; type: string; message: string }[]> {
  const out = await cluster!.k(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json']);
  return JSON.parse(out).items.map((e: any) => ({ reason: e.reason, type: e.type, message: e.message }));
}

/** Waits until the pod's container runs and logs its greeting; checks the Pulled event. */
async function expectRuns(name: string, image: string): Promise<void> {
  try {
    await until(
      `pod ${name} running`,
      async () => (await cluster!.k(['get', 'pod', name, '-o', 'jsonpath={.status.phase}'])) === 'Running',
      90_000,
      500,
    );
  } catch (err: any) {
    const evs = await events(name).catch(() => []);
    throw new Error(`${err.message}; events:\n${evs.map((e) => `${e.type} ${e.reason}: ${e.message}`).join('\n')}`, {
      cause: err,
    });
  }
  const logs = await until(
    `logs of ${name}`,
    async () => (await cluster!.k(['logs', name])).includes(`hello from ${name}`) && (await cluster!.k(['logs', name])),
    20_000,
    500,
  );
  assert.match(logs, new RegExp(`hello from ${name}`));
  const evs = await until(
    `Pulled event of ${name}`,
    async () => {
      const all = await events(name);
      return all.some((e) => e.reason === 'Pulled') && all;
    },
    20_000,
    500,
  );
  const pulled = evs.find((e) => e.reason === 'Pulled')!;
  assert.match(
    pulled.message,
    new RegExp(`^Successfully pulled image "${image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" in [0-9.]+s`),
  );
}

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'k8ts-registry-'));
  port = await freePort();
  await startRegistry('open', port);
  const tar = join(work, 'busybox.tar');
  writeFileSync(tar, buildTestImage('busybox').tar);
  await push(tar, `127.0.0.1:${port}/k8ts/busybox:pushed`);

  let authYaml = '';
  if (!authSkip) {
    authPort = await freePort();
    const hash = spawnSync(
      'python3',
      [
        '-W',
        'ignore',
        '-c',
        'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))',
        PASSWORD,
      ],
      { encoding: 'utf8' },
    );
    const htpasswd = join(work, 'htpasswd');
    writeFileSync(htpasswd, `${USER}:${hash.stdout.trim()}\n`);
    await startRegistry('auth', authPort, htpasswd);
    await push(tar, `127.0.0.1:${authPort}/k8ts/busybox:pushed`, `${USER}:${PASSWORD}`);
    authYaml = `  "127.0.0.1:${authPort}":\n    endpoint:\n      - "http://127.0.0.1:${authPort}"\n`;
  }
  // The registry on 127.0.0.1 needs no entry for plain http (containerd uses http for loopback
  // hosts); registry.example.test is a name that resolves nowhere, served by the mirror only.
  const file = join(work, 'registries.yaml');
  writeFileSync(
    file,
    `mirrors:\n  registry.example.test:\n    endpoint:\n      - "http://127.0.0.1:${port}"\n${authYaml}` +
      (authSkip
        ? ''
        : `configs:\n  "127.0.0.1:${authPort}":\n    auth:\n      username: ${USER}\n      password: ${PASSWORD}\n`),
  );
  cluster = await startCluster({ agent: true, args: ['--private-registry', file] });
  await until(
    'node Ready',
    async () => (await cluster!.k(['get', 'nodes', '--no-headers'])).includes(' Ready'),
    90_000,
    500,
  );
});

after(async () => {
  await cluster?.cleanup();
  for (const r of registries) if (r.exitCode === null && r.pid) process.kill(r.pid, 'SIGTERM');
  if (work) rmSync(work, { recursive: true, force: true });
});

test('hosts.toml written from --private-registry', { skip }, () => {
  const toml = readFileSync(
    join(cluster!.dataDir, 'agent', 'containerd', 'certs.d', 'registry.example.test', 'hosts.toml'),
    'utf8',
  );
  assert.match(toml, /^server = "https:\/\/registry\.example\.test"$/m);
  assert.match(
    toml,
    new RegExp(`\\[host\\."http://127\\.0\\.0\\.1:${port}"\\]\\n {2}capabilities = \\["pull", "resolve"\\]`),
  );
});

test('pulls from a plain-http registry on loopback', { skip }, async () => {
  const image = `127.0.0.1:${port}/k8ts/busybox:pushed`;
  await cluster!.k(['apply', '-f', '-'], podYaml('direct', image));
  await expectRuns('direct', image);
});

test('pulls through a mirror from registries.yaml', { skip }, async () => {
  const image = 'registry.example.test/k8ts/busybox:pushed';
  await cluster!.k(['apply', '-f', '-'], podYaml('mirrored', image));
  await expectRuns('mirrored', image);
});

test('a missing image: ErrImagePull, then ImagePullBackOff', { skip }, async () => {
  const image = `127.0.0.1:${port}/k8ts/does-not-exist:1`;
  await cluster!.k(['apply', '-f', '-'], podYaml('missing', image));
  const watch = streamKubectl(cluster!, ['get', 'pod', 'missing', '-w', '--no-headers'], { maxMs: 60_000 });
  try {
    await watch.waitFor(/ErrImagePull[\s\S]*ImagePullBackOff/, 45_000);
  } finally {
    await watch.stop();
  }
  const row = await cluster!.k(['get', 'pod', 'missing', '--no-headers']);
  assert.match(row, /missing\s+0\/1\s+(ErrImagePull|ImagePullBackOff)\s/);
  const evs = await events('missing');
  const failed = evs.find((e) => e.reason === 'Failed' && e.message.startsWith('Failed to pull image'));
  assert.ok(failed, JSON.stringify(evs));
  assert.equal(failed.type, 'Warning');
  assert.match(failed.message, new RegExp(`Failed to pull image "${image.replace(/\./g, '\\.')}": .*not found`));
  assert.ok(evs.some((e) => e.reason === 'Failed' && e.message === 'Error: ErrImagePull'));
  assert.ok(evs.some((e) => e.reason === 'BackOff' && e.message === `Back-off pulling image "${image}"`));
});

test('credentials from registries.yaml for a registry that requires them', { skip: authSkip }, async () => {
  const image = `127.0.0.1:${authPort}/k8ts/busybox:pushed`;
  await cluster!.k(['apply', '-f', '-'], podYaml('authed', image));
  await expectRuns('authed', image);
});

test('imagePullSecrets for a registry the file has no credentials for', { skip: authSkip }, async () => {
  // "localhost:<port>" is the same registry under a host name registries.yaml does not know.
  const image = `localhost:${authPort}/k8ts/busybox:pushed`;
  await cluster!.k(['apply', '-f', '-'], podYaml('nosecret', image));
  await until(
    '401 for the pod without a secret',
    async () => {
      const evs = await events('nosecret');
      return evs.some((e) => e.reason === 'Failed' && /unauthorized|401|authorization failed/i.test(e.message));
    },
    45_000,
    500,
  );
  await cluster!.k([
    'create',
    'secret',
    'docker-registry',
    'regcred',
    `--docker-server=localhost:${authPort}`,
    `--docker-username=${USER}`,
    `--docker-password=${PASSWORD}`,
  ]);
  await cluster!.k(['apply', '-f', '-'], podYaml('withsecret', image, '  imagePullSecrets:\n  - name: regcred\n'));
  await expectRuns('withsecret', image);
});
