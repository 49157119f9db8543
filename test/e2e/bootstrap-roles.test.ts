// Upstream's namespaced default roles: kube-system/extension-apiserver-authentication-reader,
// bound to the controller manager's and the scheduler's users, lets them (and whoever else is
// bound to it) read the CAs extension API servers authenticate clients with, and nothing more.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Role, RoleBinding } from 'kubernetes-types/rbac/v1.js';
import { startCluster, type Cluster } from './harness.js';

let cluster: Cluster;
before(async () => {
  cluster = await startCluster();
});
after(async () => {
  await cluster?.cleanup();
});

test('extension-apiserver-authentication-reader exists as upstream bootstraps it', async () => {
  const role = JSON.parse(
    await cluster.k(['get', 'role', '-n', 'kube-system', 'extension-apiserver-authentication-reader', '-o', 'json']),
  ) as Role;
  assert.deepEqual(role.rules, [
    {
      apiGroups: [''],
      resources: ['configmaps'],
      resourceNames: ['extension-apiserver-authentication'],
      verbs: ['get', 'list', 'watch'],
    },
  ]);
  assert.equal(role.metadata?.labels?.['kubernetes.io/bootstrapping'], 'rbac-defaults');
  assert.equal(role.metadata?.annotations?.['rbac.authorization.kubernetes.io/autoupdate'], 'true');
  const binding = JSON.parse(
    await cluster.k([
      'get',
      'rolebinding',
      '-n',
      'kube-system',
      'system::extension-apiserver-authentication-reader',
      '-o',
      'json',
    ]),
  ) as RoleBinding;
  assert.deepEqual(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'Role',
    name: 'extension-apiserver-authentication-reader',
  });
  assert.deepEqual(
    binding.subjects?.map((s) => s.name),
    ['system:kube-controller-manager', 'system:kube-scheduler'],
  );
  const canI = async (as: string, what: string) =>
    (await cluster.kubectl(['auth', 'can-i', 'get', what, '-n', 'kube-system', `--as=${as}`])).stdout.trim();
  assert.equal(await canI('system:kube-scheduler', 'configmap/extension-apiserver-authentication'), 'yes');
  assert.equal(await canI('system:kube-scheduler', 'configmap/kube-proxy'), 'no');
  assert.equal(await canI('jane', 'configmap/extension-apiserver-authentication'), 'no');
});
