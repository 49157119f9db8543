// registries.yaml parsing, the hosts.toml tree written from it, and the credentials handed to
// CRI PullImage (src/agent/runtime/registries.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  authFor,
  hostsTree,
  imageRegistry,
  loadRegistries,
  parseRegistries,
  registryWarnings,
  writeHostsTree,
} from '../../src/agent/runtime/registries.js';

const dir = mkdtempSync(join(tmpdir(), 'k8ts-registries-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ca = join(dir, 'ca.pem');
const cert = join(dir, 'client.pem');
const key = join(dir, 'client-key.pem');
for (const f of [ca, cert, key]) writeFileSync(f, 'x');

const example = `
mirrors:
  docker.io:
    endpoint:
      - "https://mirror.example.com:5000"
      - "http://127.0.0.1:5001/v2"
  registry.example.test:
    endpoint: ["http://127.0.0.1:5002"]
  "127.0.0.1:5002":
    endpoint: ["http://127.0.0.1:5002"]
  "*":
    endpoint: ["localhost:5003"]
configs:
  "mirror.example.com:5000":
    auth: { username: alice, password: secret }
    tls: { ca_file: ${ca}, cert_file: ${cert}, key_file: ${key} }
  "127.0.0.1:5002":
    auth: { auth: ${Buffer.from('bob:pw').toString('base64')} }
  secure.example.org:
    tls: { insecure_skip_verify: true }
`;

test('parses mirrors and configs, normalising endpoints', () => {
  const r = parseRegistries(example, 'reg.yaml');
  assert.deepEqual(r.mirrors['docker.io'].endpoints, ['https://mirror.example.com:5000', 'http://127.0.0.1:5001/v2']);
  // Without a scheme, a loopback host on another port than 443 is plain http.
  assert.deepEqual(r.mirrors['*'].endpoints, ['http://localhost:5003']);
  assert.deepEqual(r.configs['mirror.example.com:5000'], {
    auth: { username: 'alice', password: 'secret' },
    tls: { caFile: ca, certFile: cert, keyFile: key },
  });
  assert.deepEqual(r.configs['secure.example.org'], { tls: { insecureSkipVerify: true } });
  assert.deepEqual(parseRegistries('', 'empty.yaml'), { source: 'empty.yaml', mirrors: {}, configs: {} });
});

test('errors name the offending field', () => {
  const bad: [string, RegExp][] = [
    ['- a', /r\.yaml: must be a mapping with "mirrors" and\/or "configs"/],
    ['mirror: {}', /r\.yaml: mirror: unknown field \(expected mirrors or configs\)/],
    [
      'mirrors: {docker.io: {endpoints: [x]}}',
      /mirrors\."docker\.io"\.endpoints: unknown field \(expected one of: endpoint, rewrite\)/,
    ],
    ['mirrors: {docker.io: {endpoint: 5}}', /mirrors\."docker\.io"\.endpoint: must be a list of URLs/],
    [
      'mirrors: {docker.io: {endpoint: ["ftp://x"]}}',
      /mirrors\."docker\.io"\.endpoint\[0\]: "ftp:\/\/x": the scheme must be http or https/,
    ],
    ['mirrors: {docker.io: {endpoint: ["https://a", 7]}}', /mirrors\."docker\.io"\.endpoint\[1\]: must be a URL/],
    ['mirrors: {"https://docker.io": {}}', /mirrors\."https:\/\/docker\.io": the key must be a registry host/],
    ['mirrors: {docker.io: {rewrite: {"(": "x"}}}', /mirrors\."docker\.io"\.rewrite\."\(": invalid regular expression/],
    ['configs: {r.io: {auth: {password: p}}}', /configs\."r\.io"\.auth\.username: is required with password/],
    ['configs: {r.io: {auth: {}}}', /configs\."r\.io"\.auth: needs username and password, auth, or identity_token/],
    [
      'configs: {r.io: {auth: {auth: "not base64!"}}}',
      /configs\."r\.io"\.auth\.auth: must be base64 of "username:password"/,
    ],
    ['configs: {r.io: {auth: {username: 5}}}', /configs\."r\.io"\.auth\.username: must be a string, not number 5/],
    [
      'configs: {r.io: {tls: {insecure_skip_verify: "yes"}}}',
      /configs\."r\.io"\.tls\.insecure_skip_verify: must be true or false/,
    ],
    [
      'configs: {r.io: {tls: {ca_file: /nonexistent/ca.pem}}}',
      /configs\."r\.io"\.tls\.ca_file: \/nonexistent\/ca\.pem: no such file/,
    ],
    [`configs: {r.io: {tls: {key_file: ${key}}}}`, /configs\."r\.io"\.tls\.cert_file: is required with key_file/],
    ['configs: {r.io: {tsl: {}}}', /configs\."r\.io"\.tsl: unknown field \(expected one of: auth, tls\)/],
    ['mirrors: [', /r\.yaml: not valid YAML/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseRegistries(text, 'r.yaml'), re, text);
});

test('hosts.toml tree', () => {
  const r = parseRegistries(example, 'reg.yaml');
  const tree = hostsTree(r);
  assert.deepEqual([...tree.keys()].sort(), [
    '127.0.0.1:5002',
    '_default',
    'docker.io',
    'mirror.example.com:5000',
    'registry.example.test',
    'secure.example.org',
  ]);
  const docker = tree.get('docker.io')!;
  assert.match(docker, /^# Written by k8ts/);
  assert.match(docker, /^server = "https:\/\/registry-1\.docker\.io"$/m);
  assert.match(
    docker,
    /\[host\."https:\/\/mirror\.example\.com:5000"\]\n {2}capabilities = \["pull", "resolve"\]\n {2}ca = ".*ca\.pem"\n {2}client = \[\[".*client\.pem", ".*client-key\.pem"\]\]/,
  );
  assert.match(docker, /\[host\."http:\/\/127\.0\.0\.1:5001\/v2"\]\n {2}capabilities = \["pull", "resolve"\]\n(\n|$)/);
  const example2 = tree.get('registry.example.test')!;
  assert.match(example2, /^server = "https:\/\/registry\.example\.test"$/m);
  assert.match(example2, /\[host\."http:\/\/127\.0\.0\.1:5002"\]/);
  // The registry as its own endpoint is the server, over plain http, and not a second host entry.
  const own = tree.get('127.0.0.1:5002')!;
  assert.match(own, /^server = "http:\/\/127\.0\.0\.1:5002"$/m);
  assert.doesNotMatch(own, /\[host\./);
  assert.doesNotMatch(tree.get('_default')!, /^server/m);
  assert.match(tree.get('_default')!, /\[host\."http:\/\/localhost:5003"\]/);
  assert.match(tree.get('secure.example.org')!, /^server = "https:\/\/secure\.example\.org"\nskip_verify = true$/m);
  // A path other than /v2 is the API root as given.
  const custom = hostsTree(parseRegistries('mirrors: {quay.io: {endpoint: ["https://proxy.example.com/quay"]}}'));
  assert.match(
    custom.get('quay.io')!,
    /\[host\."https:\/\/proxy\.example\.com\/quay"\]\n {2}capabilities = \["pull", "resolve"\]\n {2}override_path = true/,
  );
});

test('writeHostsTree writes, updates and removes only what k8ts wrote', () => {
  const certs = join(dir, 'certs.d');
  mkdirSync(join(certs, 'mine.example.com'), { recursive: true });
  writeFileSync(join(certs, 'mine.example.com', 'hosts.toml'), 'server = "https://mine.example.com"\n');
  const first = writeHostsTree(certs, parseRegistries(example, 'reg.yaml'));
  assert.equal(first.length, 6);
  assert.match(readFileSync(join(certs, '_default', 'hosts.toml'), 'utf8'), /localhost:5003/);
  writeHostsTree(certs, parseRegistries('mirrors: {docker.io: {endpoint: ["https://m.example.com"]}}', 'reg.yaml'));
  assert.ok(!existsSync(join(certs, '_default')));
  assert.ok(!existsSync(join(certs, 'registry.example.test')));
  assert.match(readFileSync(join(certs, 'docker.io', 'hosts.toml'), 'utf8'), /m\.example\.com/);
  assert.ok(existsSync(join(certs, 'mine.example.com', 'hosts.toml')), 'a file the user wrote is kept');
  writeHostsTree(certs, undefined);
  assert.ok(!existsSync(join(certs, 'docker.io')));
});

test('authFor: mirror endpoint credentials first, then the registry', () => {
  const r = parseRegistries(example, 'reg.yaml');
  assert.equal(imageRegistry('busybox'), 'docker.io');
  assert.equal(imageRegistry('library/busybox:1'), 'docker.io');
  assert.equal(imageRegistry('localhost/x'), 'localhost');
  assert.equal(imageRegistry('127.0.0.1:5002/k8ts/busybox:pushed'), '127.0.0.1:5002');
  assert.deepEqual(authFor(r, 'nginx:1.25'), {
    username: 'alice',
    password: 'secret',
    serverAddress: 'https://mirror.example.com:5000',
  });
  assert.deepEqual(authFor(r, 'registry.example.test/k8ts/busybox:pushed'), {
    auth: Buffer.from('bob:pw').toString('base64'),
    serverAddress: 'https://127.0.0.1:5002',
  });
  assert.deepEqual(authFor(r, '127.0.0.1:5002/k8ts/busybox:pushed')?.serverAddress, 'https://127.0.0.1:5002');
  assert.equal(authFor(r, 'quay.io/x/y:1'), undefined);
  assert.equal(authFor(undefined, 'nginx'), undefined);
  const direct = parseRegistries('configs: {docker.io: {auth: {identity_token: tok}}}');
  assert.deepEqual(authFor(direct, 'busybox'), { identityToken: 'tok', serverAddress: 'https://registry-1.docker.io' });
});

test('loadRegistries: the flag, the default file in the data dir, or none', () => {
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  assert.equal(loadRegistries(undefined, dataDir), undefined);
  writeFileSync(join(dataDir, 'registries.yaml'), 'mirrors: {docker.io: {endpoint: ["https://m.example.com"]}}\n');
  assert.deepEqual(loadRegistries(undefined, dataDir)?.mirrors['docker.io'].endpoints, ['https://m.example.com']);
  assert.throws(
    () => loadRegistries(join(dir, 'missing.yaml'), dataDir),
    /missing\.yaml: no such file \(given with --private-registry\)/,
  );
  const other = join(dir, 'other.yaml');
  writeFileSync(other, 'mirrors: {docker.io: {rewrite: {"^library/(.*)": "mirror/$1"}}}\n');
  const r = loadRegistries(other, dataDir)!;
  assert.equal(r.source, other);
  assert.match(registryWarnings(r)[0], /mirrors\."docker\.io"\.rewrite is ignored/);
});
