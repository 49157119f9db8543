// CertificateSigningRequests with openssl and the real kubectl: the "adding a user" walkthrough of
// docs/security.md step by step (key, CSR, approval, Role and RoleBinding, a kubeconfig with the
// issued certificate), then approval rights, denial, validation and the Failed condition.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { run, startCluster, until, type Cluster } from './harness.js';

const KUBECTL_DIR = dirname(
  execFileSync('readlink', ['-f', execFileSync('which', ['kubectl']).toString().trim()])
    .toString()
    .trim(),
);
const KUBECTLS = ['kubectl.1.33', 'kubectl.1.27'].map((b) => join(KUBECTL_DIR, b));

let c: Cluster;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-csr-'));
  c = await startCluster();
});
after(async () => {
  await c?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args, { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
}

/** A key and a PKCS#10 request for `subject`, as the walkthrough makes them. */
async function keyAndRequest(name: string, subject: string, extra: string[] = []): Promise<string> {
  await openssl(['genrsa', '-out', `${name}.key`, '2048']);
  await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`, ...extra]);
  return readFileSync(join(dir, `${name}.csr`)).toString('base64');
}

const csrManifest = (name: string, request: string, signerName: string, usages: string[], expirationSeconds = 86400) =>
  JSON.stringify({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request, signerName, expirationSeconds, usages },
  });

async function csrJson(name: string) {
  return JSON.parse(await c.k(['get', 'csr', name, '-o', 'json'])) as {
    spec: { username: string; groups: string[] };
    status: { certificate?: string; conditions?: { type: string; reason?: string; message?: string }[] };
  };
}

for (const [i, kubectl] of KUBECTLS.entries()) {
  test(`adding a user with ${kubectl.split('/').pop()}: key, CSR, approve, Role, kubeconfig`, async () => {
    const user = `jane${i}`;
    const ns = `team${i}`;
    const request = await keyAndRequest(user, `/CN=${user}/O=developers`);
    const k = async (args: string[], input?: string) => {
      const r = await c.kubectl(args, { bin: kubectl, input });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await k(['apply', '-f', '-'], csrManifest(user, request, 'kubernetes.io/kube-apiserver-client', ['client auth']));
    const pending = await k(['get', 'csr', user]);
    assert.match(pending, /SIGNERNAME\s+REQUESTOR\s+REQUESTEDDURATION\s+CONDITION/);
    assert.match(
      pending,
      new RegExp(`${user}\\s+\\S+\\s+kubernetes.io/kube-apiserver-client\\s+system:admin\\s+24h\\s+Pending`),
    );
    assert.match(await k(['certificate', 'approve', user]), /approved/);
    await until('certificate issued', async () => !!(await csrJson(user)).status.certificate);
    assert.match(await k(['get', 'csr', user]), /Approved,Issued/);
    const certPem = Buffer.from((await csrJson(user)).status.certificate!, 'base64').toString();
    writeFileSync(join(dir, `${user}.crt`), certPem);
    const text = execFileSync('openssl', ['x509', '-noout', '-subject', '-dates', '-ext', 'extendedKeyUsage'], {
      input: certPem,
    }).toString();
    assert.match(text, new RegExp(`subject=CN ?= ?${user}, O ?= ?developers`));
    assert.match(text, /TLS Web Client Authentication/);
    const notAfter = Date.parse(/notAfter=(.*)/.exec(text)![1]);
    assert.ok(Math.abs(notAfter - Date.now() - 86400_000) < 120_000, 'expirationSeconds is honoured');

    await k(['create', 'namespace', ns]);
    await k(['-n', ns, 'create', 'role', 'pod-reader', '--verb=get,list,watch', '--resource=pods']);
    await k(['-n', ns, 'create', 'rolebinding', `${user}-pods`, '--role=pod-reader', `--user=${user}`]);

    const server = (await k(['config', 'view', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim();
    await openssl(['version']); // (the CA comes from the admin kubeconfig)
    const caData = (
      await k(['config', 'view', '--raw', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority-data}'])
    ).trim();
    writeFileSync(join(dir, 'ca.crt'), Buffer.from(caData, 'base64'));
    const kc = join(dir, `${user}.kubeconfig`);
    const own = (args: string[]) => run(kubectl, ['--kubeconfig', kc, ...args], { cwd: dir });
    for (const args of [
      ['config', 'set-cluster', 'k8ts', `--server=${server}`, '--certificate-authority=ca.crt', '--embed-certs'],
      [
        'config',
        'set-credentials',
        user,
        `--client-key=${user}.key`,
        `--client-certificate=${user}.crt`,
        '--embed-certs',
      ],
      ['config', 'set-context', user, '--cluster=k8ts', `--user=${user}`, `--namespace=${ns}`],
      ['config', 'use-context', user],
    ])
      assert.equal((await own(args)).code, 0);
    const pods = await own(['get', 'pods']);
    assert.equal(pods.code, 0, pods.stderr);
    assert.match(pods.stderr, /No resources found/);
    const secrets = await own(['get', 'secrets']);
    assert.equal(
      secrets.stderr.trim(),
      `Error from server (Forbidden): secrets is forbidden: User "${user}" cannot list resource "secrets" in API group "" in the namespace "${ns}"`,
    );
  });
}

test('approving needs update on certificatesigningrequests/approval and approve on the signer', async () => {
  const request = await keyAndRequest('bob', '/CN=bob');
  await c.k(['apply', '-f', '-'], csrManifest('bob', request, 'kubernetes.io/kube-apiserver-client', ['client auth']));
  await c.k([
    'create',
    'clusterrole',
    'csr-approval',
    '--verb=get,list,update',
    '--resource=certificatesigningrequests,certificatesigningrequests/approval',
  ]);
  await c.k(['create', 'clusterrolebinding', 'csr-approval', '--clusterrole=csr-approval', '--user=approver']);
  const refused = await c.kubectl(['--as=approver', 'certificate', 'approve', 'bob']);
  assert.notEqual(refused.code, 0);
  assert.match(
    refused.stderr,
    /certificatesigningrequests.certificates.k8s.io "bob" is forbidden: user not permitted to approve requests with signerName "kubernetes.io\/kube-apiserver-client"/,
  );
  // approve on signers, by the signer's domain wildcard.
  // (signers is no served resource: kubectl create clusterrole refuses it, so the role is written out.)
  const signerRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'signer-approver' },
    rules: [
      {
        apiGroups: ['certificates.k8s.io'],
        resources: ['signers'],
        resourceNames: ['kubernetes.io/*'],
        verbs: ['approve'],
      },
    ],
  };
  await c.k(['apply', '-f', '-'], JSON.stringify(signerRole));
  await c.k(['create', 'clusterrolebinding', 'signer-approver', '--clusterrole=signer-approver', '--user=approver']);
  const ok = await c.kubectl(['--as=approver', 'certificate', 'approve', 'bob']);
  assert.equal(ok.code, 0, ok.stderr);
  await until('bob issued', async () => !!(await csrJson('bob')).status.certificate);
});

test('deny, the Failed condition for a request its signer refuses, and validation', async () => {
  const request = await keyAndRequest('carol', '/CN=carol');
  await c.k(
    ['apply', '-f', '-'],
    csrManifest('carol', request, 'kubernetes.io/kube-apiserver-client', ['client auth']),
  );
  assert.match(await c.k(['certificate', 'deny', 'carol']), /denied/);
  assert.match(await c.k(['get', 'csr', 'carol']), /Denied/);
  assert.equal((await csrJson('carol')).status.certificate, undefined);

  // A kubelet client request must name a node in system:nodes: approved, then Failed by the signer.
  const node = await keyAndRequest('node', '/CN=someone/O=system:nodes');
  await c.k(
    ['apply', '-f', '-'],
    csrManifest('node', node, 'kubernetes.io/kube-apiserver-client-kubelet', ['client auth', 'digital signature']),
  );
  await c.k(['certificate', 'approve', 'node']);
  await until(
    'Failed condition',
    async () => (await csrJson('node')).status.conditions?.some((x) => x.type === 'Failed') ?? false,
  );
  const failed = (await csrJson('node')).status.conditions!.find((x) => x.type === 'Failed')!;
  assert.equal(failed.reason, 'SignerValidationFailure');
  assert.equal(failed.message, 'subject common name does not begin with system:node:');
  assert.match(await c.k(['get', 'csr', 'node']), /Approved,Failed/);

  // A proper kubelet client request is issued as system:node:NAME in system:nodes.
  const good = await keyAndRequest('n1', '/CN=system:node:n1/O=system:nodes');
  await c.k(
    ['apply', '-f', '-'],
    csrManifest('n1', good, 'kubernetes.io/kube-apiserver-client-kubelet', [
      'client auth',
      'digital signature',
      'key encipherment',
    ]),
  );
  await c.k(['certificate', 'approve', 'n1']);
  await until('n1 issued', async () => !!(await csrJson('n1')).status.certificate);

  const bad = await c.kubectl(['apply', '-f', '-'], {
    input: csrManifest('bad', Buffer.from('not a request').toString('base64'), 'example', [], 60),
  });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /spec.request: Invalid value: .*PEM block type must be CERTIFICATE REQUEST/);
  assert.match(bad.stderr, /spec.usages: Required value/);
  assert.match(
    bad.stderr,
    /spec.signerName: Invalid value: "example": must be a fully qualified domain and path of the form 'example.com\/signer-name'/,
  );
  assert.match(
    bad.stderr,
    /spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds \(10 minutes\)/,
  );

  const masters = await keyAndRequest('root', '/CN=root/O=system:masters');
  const refused = await c.kubectl(['apply', '-f', '-'], {
    input: csrManifest('root', masters, 'kubernetes.io/kube-apiserver-client', ['client auth']),
  });
  assert.match(
    refused.stderr,
    /use of kubernetes.io\/kube-apiserver-client signer with system:masters group is not allowed/,
  );
});
