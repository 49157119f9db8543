// cluster.yml parsing (src/provision/config.ts): RKE's field names, k8ts's defaults, and an error
// naming the field for each kind of bad input; the package list `cluster up` copies onto nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { ConfigError, parseClusterConfig } from '../../src/provision/config.js';
import { clusterFiles, packageFiles } from '../../src/provision/up.js';
import { shq } from '../../src/provision/ssh.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const parse = (text: string) => parseClusterConfig(text, '/work', ROOT);

const MINIMAL = `
nodes:
  - address: 10.0.0.1
    role: [controlplane, worker]
`;

test('a minimal file: one node, RKE and k8ts defaults', () => {
  const c = parse(MINIMAL);
  assert.equal(c.clusterName, 'local');
  assert.equal(c.version, '0.1.0'); // the copied package's own version
  assert.equal(c.source, ROOT);
  assert.equal(c.httpsPort, 6443);
  assert.equal(c.drain, true);
  assert.deepEqual(c.drainInput, {
    force: true,
    ignoreDaemonSets: true,
    deleteLocalData: true,
    gracePeriod: -1,
    timeout: 120,
  });
  const [n] = c.nodes;
  assert.equal(n.name, '10.0.0.1');
  assert.equal(n.internalAddress, '10.0.0.1');
  assert.equal(n.port, 22);
  assert.equal(n.user, 'root');
  assert.equal(n.dataDir, '/var/lib/k8ts');
  assert.equal(n.installPath, '/opt/k8ts');
  assert.deepEqual(n.roles, ['controlplane', 'worker']);
});

test('RKE fields: ssh_key_path default and override, hostname_override, labels, extra_args', () => {
  const c = parse(`
cluster_name: prod
ssh_key_path: ~/.ssh/id_cluster
kubernetes_version: v1.2.3
token: s3cret
cluster_cidr: 10.50.0.0/16
service_cidr: 10.60.0.0/16
services:
  server:
    extra_args:
      node-monitor-grace-period: 20s
      disable-ingress: true
  agent:
    extra_args: ["--log-level=debug"]
upgrade_strategy:
  drain: false
  node_drain_input: { grace_period: 5, timeout: 60, force: false }
nodes:
  - address: 203.0.113.5
    internal_address: 10.0.0.5
    port: 2222
    user: ubuntu
    hostname_override: CP1
    role: [controlplane, etcd]
    labels: { zone: a }
  - address: 203.0.113.6
    ssh_key_path: /keys/w
    role: worker
    data_dir: /srv/k8ts
    install_path: /usr/local/k8ts
`);
  assert.equal(c.clusterName, 'prod');
  assert.equal(c.version, 'v1.2.3');
  assert.equal(c.token, 's3cret');
  assert.deepEqual(c.serverExtraArgs, ['--node-monitor-grace-period=20s', '--disable-ingress']);
  assert.deepEqual(c.agentExtraArgs, ['--log-level=debug']);
  assert.equal(c.drain, false);
  assert.equal(c.drainInput.gracePeriod, 5);
  assert.equal(c.drainInput.force, false);
  const [cp, w] = c.nodes;
  assert.equal(cp.name, 'cp1');
  assert.equal(cp.internalAddress, '10.0.0.5');
  assert.equal(cp.port, 2222);
  assert.equal(cp.user, 'ubuntu');
  assert.match(cp.sshKeyPath!, /\/\.ssh\/id_cluster$/);
  assert.deepEqual(cp.labels, { zone: 'a' });
  assert.equal(w.sshKeyPath, '/keys/w');
  assert.deepEqual(w.roles, ['worker']);
  assert.equal(w.dataDir, '/srv/k8ts');
  assert.equal(w.installPath, '/usr/local/k8ts');
});

test('bad input: each error names its field', () => {
  const cases: [string, RegExp][] = [
    ['nodes: []', /^nodes: required/],
    ['nodes: [{ role: [worker] }]', /^nodes\[0\]\.address: required/],
    ['nodes: [{ address: a }]', /^nodes\[0\]\.role: required/],
    ['nodes: [{ address: a, role: [master] }]', /^nodes\[0\]\.role\[0\]: "master" is not one of/],
    ['nodes: [{ address: a, role: [etcd] }]', /^nodes\[0\]\.role: etcd needs controlplane/],
    ['nodes: [{ address: a, role: [worker] }]', /^nodes: at least one node needs the controlplane role/],
    ['nodes: [{ address: a, role: [controlplane], port: 70000 }]', /^nodes\[0\]\.port: must be an integer/],
    ['nodes: [{ address: a, role: [controlplane], data_dir: rel }]', /^nodes\[0\]\.data_dir: must be an absolute/],
    [
      'nodes: [{ address: a, role: [controlplane] }, { address: a, role: [worker] }]',
      /^nodes\[1\]: node name "a" is already used by nodes\[0\]/,
    ],
    [
      'nodes: [{ address: a, role: [controlplane] }, { address: b, role: [controlplane] }]',
      /^nodes: several controlplane nodes need one datastore/,
    ],
    [
      'datastore_endpoint: https://e:2379\nnodes: [{ address: a, role: [controlplane, etcd] }]',
      /^datastore_endpoint: not with etcd role nodes/,
    ],
    ['k8ts_version: "../x"\nnodes: [{ address: a, role: [controlplane] }]', /^k8ts_version: "\.\.\/x" must be/],
    [
      'k8ts_binary: /usr/bin/k8ts\nk8ts_source: /src\nnodes: [{ address: a, role: [controlplane] }]',
      /^k8ts_binary: not with k8ts_source/,
    ],
    ['k8ts_binary: /usr/bin/k8ts\nnodes: [{ address: a, role: [controlplane] }]', /^k8ts_version: required/],
    [
      'services: { server: { extra_args: { "--bad": x } } }\nnodes: [{ address: a, role: [controlplane] }]',
      /^services\.server\.extra_args\.--bad: not a flag name/,
    ],
    [
      'upgrade_strategy: { drain: yes please }\nnodes: [{ address: a, role: [controlplane] }]',
      /^upgrade_strategy\.drain: must be true or false/,
    ],
    [
      'nodes: [{ address: a, role: [controlplane], hostname_override: "A_B" }]',
      /hostname_override: "a_b" is not a valid/,
    ],
    ['- just a list', /the file must be a map/],
    ['nodes: [', /^not YAML/],
  ];
  for (const [text, want] of cases) {
    assert.throws(
      () => parse(text),
      (err: Error) => err instanceof ConfigError && want.test(err.message),
      text,
    );
  }
});

test('files beside cluster.yml and the package copied onto nodes', () => {
  assert.deepEqual(clusterFiles('/x/cluster.yml'), {
    kubeconfig: '/x/kube_config_cluster.yml',
    state: '/x/cluster.k8tsstate',
  });
  const files = packageFiles(ROOT);
  for (const f of ['bin', 'package.json', 'dist/src', 'node_modules/commander', 'node_modules/better-sqlite3'])
    assert.ok(files.includes(f), `${f} copied`);
  for (const f of ['node_modules/typescript', 'node_modules/eslint', 'dist/test'])
    assert.ok(!files.includes(f), `${f} not copied`);
  assert.equal(shq('plain/path-1.2'), 'plain/path-1.2');
  assert.equal(shq("it's"), `'it'\\''s'`);
});
