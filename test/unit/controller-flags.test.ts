// kube-controller-manager's worker-pool flags, as `k8ts server` and `k8ts controller-manager`
// take them: whole numbers of at least one, named in the error otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syncConcurrencyFromFlags } from '../../src/cli/component.js';
import { controllerOptionsFromFlags } from '../../src/cli/server.js';

test('--concurrent-*-syncs reach the controllers’ options', () => {
  assert.deepEqual(syncConcurrencyFromFlags({ concurrentReplicasetSyncs: '20', concurrentDeploymentSyncs: '8' }), {
    concurrentReplicaSetSyncs: 20,
    concurrentDeploymentSyncs: 8,
  });
  assert.deepEqual(syncConcurrencyFromFlags({}), {});
  const server = controllerOptionsFromFlags({ concurrentReplicasetSyncs: '12' });
  assert.equal(server.concurrentReplicaSetSyncs, 12);
  assert.equal(server.clusterCIDR, '10.42.0.0/16');
});

test('--concurrent-*-syncs refuse what is not a positive whole number, naming the flag', () => {
  assert.throws(
    () => syncConcurrencyFromFlags({ concurrentReplicasetSyncs: '0' }),
    /--concurrent-replicaset-syncs: want at least 1/,
  );
  assert.throws(
    () => syncConcurrencyFromFlags({ concurrentDeploymentSyncs: 'many' }),
    /--concurrent-deployment-syncs: want a non-negative whole number/,
  );
});
