// RBAC enforced end to end with the real kubectl: ServiceAccount tokens, impersonation
// (--as/--as-group), the default ClusterRoles, access reviews (auth can-i) and escalation checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCluster, until, type Cluster } from './harness.js';

let c: Cluster;
before(async () => {
  c = await startCluster();
});
after(async () => {
  await c?.cleanup();
});

/** kubectl with only a bearer token (the admin kubeconfig's client certificate would win). */
const asToken = (token: string, args: string[]) =>
  c.kubectl([
    '--kubeconfig',
    '/dev/null',
    '--server',
    c.url,
    '--certificate-authority',
    join(c.dataDir, 'server', 'tls', 'ca.crt'),
    '--token',
    token,
    ...args,
  ]);

const FORBIDDEN = 'Error from server (Forbidden): ';

test('the default ClusterRoles and bindings exist, labelled and aggregated', async () => {
  const names = (await c.k(['get', 'clusterroles', '-o', 'name'])).split('\n');
  for (const n of ['cluster-admin', 'admin', 'edit', 'view', 'system:basic-user', 'system:discovery', 'system:node'])
    assert.ok(names.includes(`clusterrole.rbac.authorization.k8s.io/${n}`), n);
  const view = JSON.parse(await c.k(['get', 'clusterrole', 'view', '-o', 'json']));
  assert.equal(view.metadata.labels['kubernetes.io/bootstrapping'], 'rbac-defaults');
  assert.equal(view.metadata.annotations['rbac.authorization.kubernetes.io/autoupdate'], 'true');
  assert.equal(view.metadata.labels['rbac.authorization.k8s.io/aggregate-to-edit'], 'true');
  // The aggregation controller fills view from system:aggregate-to-view, and admin from edit and view.
  await until('admin aggregates view', async () => {
    const admin = JSON.parse(await c.k(['get', 'clusterrole', 'admin', '-o', 'json']));
    return (admin.rules ?? []).some((r: { resources?: string[] }) => r.resources?.includes('pods/log'));
  });
  const crb = JSON.parse(await c.k(['get', 'clusterrolebinding', 'cluster-admin', '-o', 'json']));
  assert.deepEqual(crb.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:masters' }]);
});

test('a ServiceAccount with a Role to get and list pods: exactly that, in its namespace', async () => {
  await c.k(['create', 'namespace', 'rbac-a']);
  await c.k(['create', 'namespace', 'rbac-b']);
  await c.k(['-n', 'rbac-a', 'create', 'serviceaccount', 'reader']);
  await c.k(['-n', 'rbac-a', 'create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods']);
  await c.k(['-n', 'rbac-a', 'create', 'rolebinding', 'reader', '--role=pod-reader', '--serviceaccount=rbac-a:reader']);
  const token = (await c.k(['-n', 'rbac-a', 'create', 'token', 'reader'])).trim();
  const who = 'User "system:serviceaccount:rbac-a:reader"';

  const pods = await asToken(token, ['-n', 'rbac-a', 'get', 'pods']);
  assert.equal(pods.code, 0, pods.stderr);
  const secrets = await asToken(token, ['-n', 'rbac-a', 'get', 'secrets']);
  assert.notEqual(secrets.code, 0);
  assert.equal(
    secrets.stderr.trim(),
    `${FORBIDDEN}secrets is forbidden: ${who} cannot list resource "secrets" in API group "" in the namespace "rbac-a"`,
  );
  const other = await asToken(token, ['-n', 'rbac-b', 'get', 'pods']);
  assert.equal(
    other.stderr.trim(),
    `${FORBIDDEN}pods is forbidden: ${who} cannot list resource "pods" in API group "" in the namespace "rbac-b"`,
  );
  const del = await asToken(token, ['-n', 'rbac-a', 'delete', 'pod', 'nothing']);
  assert.equal(
    del.stderr.trim(),
    `${FORBIDDEN}pods "nothing" is forbidden: ${who} cannot delete resource "pods" in API group "" in the namespace "rbac-a"`,
  );
  const nodes = await asToken(token, ['get', 'nodes']);
  assert.match(nodes.stderr, /cannot list resource "nodes" in API group "" at the cluster scope/);

  // auth can-i, from the SA itself and by impersonation.
  assert.equal((await asToken(token, ['-n', 'rbac-a', 'auth', 'can-i', 'list', 'pods'])).stdout.trim(), 'yes');
  assert.equal((await asToken(token, ['-n', 'rbac-a', 'auth', 'can-i', 'get', 'secrets'])).stdout.trim(), 'no');
  const list = await c.k(['-n', 'rbac-a', 'auth', 'can-i', '--list', '--as=system:serviceaccount:rbac-a:reader']);
  const rows = list
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s{2,}/));
  const byResource = new Map(rows.map((r) => [r[0], r[r.length - 1]]));
  assert.equal(byResource.get('pods'), '[get list]', list);
  assert.equal(byResource.get('selfsubjectaccessreviews.authorization.k8s.io'), '[create]', list);
  assert.ok(!byResource.has('secrets'), list);
  assert.ok(!rows.some((r) => r[0] === '*.*'), list);
});

test('impersonation: --as is 403 until bound; view cannot read Secrets; edit cannot change Roles', async () => {
  await c.k(['create', 'namespace', 'rbac-c']);
  const jane = await c.kubectl(['--as=jane', '-n', 'rbac-c', 'get', 'pods']);
  assert.equal(
    jane.stderr.trim(),
    `${FORBIDDEN}pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "rbac-c"`,
  );
  const whoami = JSON.parse(await c.k(['--as=jane', '--as-group=devs', 'auth', 'whoami', '-o', 'json']));
  assert.equal(whoami.status.userInfo.username, 'jane');
  assert.deepEqual(whoami.status.userInfo.groups, ['devs', 'system:authenticated']);

  await c.k(['-n', 'rbac-c', 'create', 'rolebinding', 'jane-view', '--clusterrole=view', '--user=jane']);
  await until('jane can list', async () => (await c.kubectl(['--as=jane', '-n', 'rbac-c', 'get', 'pods'])).code === 0);
  const secret = await c.kubectl(['--as=jane', '-n', 'rbac-c', 'get', 'secrets']);
  assert.match(secret.stderr, /User "jane" cannot list resource "secrets" in API group "" in the namespace "rbac-c"/);

  // A group binding: edit for devs. edit still may not write Roles.
  await c.k(['-n', 'rbac-c', 'create', 'rolebinding', 'devs-edit', '--clusterrole=edit', '--group=devs']);
  await until(
    'devs can read secrets',
    async () => (await c.kubectl(['--as=bob', '--as-group=devs', '-n', 'rbac-c', 'get', 'secrets'])).code === 0,
  );
  const role = await c.kubectl([
    '--as=bob',
    '--as-group=devs',
    '-n',
    'rbac-c',
    'create',
    'role',
    'r',
    '--verb=get',
    '--resource=pods',
  ]);
  assert.match(
    role.stderr,
    /roles.rbac.authorization.k8s.io is forbidden: User "bob" cannot create resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "rbac-c"/,
  );

  // Impersonating needs the impersonate verb: a ServiceAccount without it is refused.
  await c.k(['-n', 'rbac-c', 'create', 'serviceaccount', 'plain']);
  const token = (await c.k(['-n', 'rbac-c', 'create', 'token', 'plain'])).trim();
  const imp = await asToken(token, ['--as=jane', '-n', 'rbac-c', 'get', 'pods']);
  assert.equal(
    imp.stderr.trim(),
    `${FORBIDDEN}users "jane" is forbidden: User "system:serviceaccount:rbac-c:plain" cannot impersonate resource "users" in API group "" at the cluster scope`,
  );
});

test('escalation: nobody grants or binds what they do not hold, unless allowed to escalate or bind', async () => {
  await c.k(['create', 'namespace', 'rbac-d']);
  // carl may manage Roles and RoleBindings in rbac-d, and read pods there, nothing else.
  await c.k([
    '-n',
    'rbac-d',
    'create',
    'role',
    'rbac-admin',
    '--verb=get,list,watch,create,update,patch,delete',
    '--resource=roles,rolebindings',
  ]);
  await c.k(['-n', 'rbac-d', 'create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods']);
  await c.k(['-n', 'rbac-d', 'create', 'role', 'secret-reader', '--verb=get', '--resource=secrets']);
  await c.k(['-n', 'rbac-d', 'create', 'rolebinding', 'carl-rbac', '--role=rbac-admin', '--user=carl']);
  await c.k(['-n', 'rbac-d', 'create', 'rolebinding', 'carl-pods', '--role=pod-reader', '--user=carl']);
  const as = (args: string[]) => c.kubectl(['--as=carl', '-n', 'rbac-d', ...args]);
  await until('carl can read roles', async () => (await as(['get', 'roles'])).code === 0);

  // What carl holds he may grant and bind.
  const ok = await as(['create', 'role', 'sub-reader', '--verb=get', '--resource=pods']);
  assert.equal(ok.code, 0, ok.stderr);
  const okBind = await as(['create', 'rolebinding', 'dan-pods', '--role=pod-reader', '--user=dan']);
  assert.equal(okBind.code, 0, okBind.stderr);

  const grant = await as(['create', 'role', 'sneaky', '--verb=get,delete', '--resource=secrets']);
  assert.equal(
    grant.stderr.trim(),
    `${FORBIDDEN}roles.rbac.authorization.k8s.io "sneaky" is forbidden: user "carl" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}`,
  );
  const bind = await as(['create', 'rolebinding', 'sneaky', '--role=secret-reader', '--user=carl']);
  assert.match(
    bind.stderr,
    /rolebindings.rbac.authorization.k8s.io "sneaky" is forbidden: user "carl" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n\{APIGroups:\[""\], Resources:\["secrets"\], Verbs:\["get"\]\}/,
  );
  const cluster = await as(['create', 'rolebinding', 'admin', '--clusterrole=cluster-admin', '--user=carl']);
  assert.match(cluster.stderr, /is attempting to grant RBAC permissions not currently held/);

  // The bind verb on that role lets carl bind it without holding its rules.
  await c.k([
    '-n',
    'rbac-d',
    'create',
    'role',
    'binder',
    '--verb=bind',
    '--resource=roles',
    '--resource-name=secret-reader',
  ]);
  await c.k(['-n', 'rbac-d', 'create', 'rolebinding', 'carl-binder', '--role=binder', '--user=carl']);
  await until(
    'bind allowed',
    async () => (await as(['create', 'rolebinding', 'allowed', '--role=secret-reader', '--user=erin'])).code === 0,
  );
});

test('a restart reconciles the defaults: missing rules and bindings come back, autoupdate "false" stays as edited', async () => {
  await c.k([
    'annotate',
    'clusterrole',
    'system:heapster',
    'rbac.authorization.kubernetes.io/autoupdate=false',
    '--overwrite',
  ]);
  await c.k(['patch', 'clusterrole', 'system:heapster', '--type=json', '-p', '[{"op":"remove","path":"/rules/1"}]']);
  await c.k(['patch', 'clusterrole', 'system:kube-dns', '--type=json', '-p', '[{"op":"remove","path":"/rules/0"}]']);
  await c.k(['delete', 'clusterrolebinding', 'system:discovery']);
  await c.restart();
  const rules = async (name: string) => JSON.parse(await c.k(['get', 'clusterrole', name, '-o', 'json'])).rules;
  assert.equal((await rules('system:heapster')).length, 1);
  assert.deepEqual(await rules('system:kube-dns'), [
    { apiGroups: [''], resources: ['endpoints', 'services'], verbs: ['list', 'watch'] },
  ]);
  assert.equal(
    (await c.k(['get', 'clusterrolebinding', 'system:discovery', '-o', 'name'])).trim(),
    'clusterrolebinding.rbac.authorization.k8s.io/system:discovery',
  );
});
