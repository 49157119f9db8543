// The server's own components act under their own identities, with RBAC enforced on their
// in-process calls as on anyone's (upstream: kube-controller-manager with
// --use-service-account-credentials, kube-scheduler as system:kube-scheduler): a controller's
// role is exactly what it may do, and a permission taken from it shows as a Forbidden in its
// events until it is given back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, until, type Cluster } from './harness.js';

interface Rule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
}
interface ClusterRole {
  metadata: { name: string; resourceVersion?: string };
  rules: Rule[];
}

let c: Cluster;
before(async () => {
  c = await startCluster({ args: ['--simulated-nodes', '1'] });
});
after(async () => {
  await c?.cleanup();
});

const canI = async (as: string, ...args: string[]) =>
  (await c.kubectl(['auth', 'can-i', `--as=${as}`, ...args])).stdout.trim();

test("each component's user may do what its upstream role allows, no more", async () => {
  const deploymentController = 'system:serviceaccount:kube-system:deployment-controller';
  assert.equal(await canI(deploymentController, 'create', 'replicasets'), 'yes');
  assert.equal(await canI(deploymentController, 'get', 'secrets'), 'no');
  assert.equal(await canI('system:kube-scheduler', 'create', 'pods', '--subresource=binding'), 'yes');
  assert.equal(await canI('system:kube-scheduler', 'get', 'secrets'), 'no');
  assert.equal(await canI('system:kube-proxy', 'list', 'endpointslices.discovery.k8s.io'), 'yes');
  assert.equal(await canI('system:kube-proxy', 'create', 'pods'), 'no');
  // The aggregation controller may escalate ClusterRoles (it writes rules it does not hold).
  assert.equal(
    await canI('system:serviceaccount:kube-system:clusterrole-aggregation-controller', 'escalate', 'clusterroles'),
    'yes',
  );
  // k8ts' own components: a role of their own each.
  assert.equal(
    await canI('system:serviceaccount:kube-system:k8ts-dns', 'update', 'endpoints', '-n', 'kube-system'),
    'yes',
  );
  assert.equal(await canI('system:serviceaccount:kube-system:k8ts-dns', 'get', 'secrets', '-n', 'kube-system'), 'no');
});

test('a Deployment still runs its pods, each write done by the controller that owns it', async () => {
  await c.k(['create', 'deployment', 'ident-web', '--image=nginx', '--replicas=2']);
  await until(
    'the Deployment has 2 available replicas',
    async () => {
      const d = JSON.parse(await c.k(['get', 'deployment', 'ident-web', '-o', 'json'])) as {
        status?: { availableReplicas?: number };
      };
      return d.status?.availableReplicas === 2;
    },
    180_000,
  );
  const rs = JSON.parse(await c.k(['get', 'replicasets', '-l', 'app=ident-web', '-o', 'json'])) as {
    items: { metadata: { managedFields?: { manager: string }[] } }[];
  };
  assert.equal(rs.items.length, 1);
  await c.k(['delete', 'deployment', 'ident-web']);
});

test('a controller denied a permission fails visibly with a Forbidden, and recovers once it is restored', async () => {
  const roleName = 'system:controller:replicaset-controller';
  const original = JSON.parse(await c.k(['get', 'clusterrole', roleName, '-o', 'json'])) as ClusterRole;
  const withoutCreate: ClusterRole = {
    ...original,
    rules: original.rules.map((r) =>
      r.resources?.includes('pods') ? { ...r, verbs: r.verbs.filter((v) => v !== 'create') } : r,
    ),
  };
  const restore = async () => {
    const live = JSON.parse(await c.k(['get', 'clusterrole', roleName, '-o', 'json'])) as ClusterRole;
    await c.k(['replace', '-f', '-'], JSON.stringify({ ...live, rules: original.rules }));
  };
  await c.k(['replace', '-f', '-'], JSON.stringify(withoutCreate));
  try {
    assert.equal(await canI('system:serviceaccount:kube-system:replicaset-controller', 'create', 'pods'), 'no');
    await c.k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'ident-rs', namespace: 'default' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'ident-rs' } },
          template: {
            metadata: { labels: { app: 'ident-rs' } },
            spec: { containers: [{ name: 'c', image: 'nginx' }] },
          },
        },
      }),
    );
    const message = await until(
      "a FailedCreate event with the controller's Forbidden",
      async () => {
        const evs = JSON.parse(
          await c.k([
            'get',
            'events',
            '--field-selector',
            'involvedObject.name=ident-rs,reason=FailedCreate',
            '-o',
            'json',
          ]),
        ) as { items: { message?: string }[] };
        return evs.items.map((e) => e.message ?? '').find((m) => m.includes('forbidden'));
      },
      120_000,
    );
    assert.match(
      message,
      /User "system:serviceaccount:kube-system:replicaset-controller" cannot create resource "pods" in API group "" in the namespace "default"/,
    );
    const pods = JSON.parse(await c.k(['get', 'pods', '-l', 'app=ident-rs', '-o', 'json'])) as { items: unknown[] };
    assert.equal(pods.items.length, 0);
  } finally {
    await restore();
  }
  // Given back, the controller's retries succeed: the pod is created and runs.
  await until(
    'the ReplicaSet has its pod ready',
    async () => {
      const rs = JSON.parse(await c.k(['get', 'replicaset', 'ident-rs', '-o', 'json'])) as {
        status?: { readyReplicas?: number };
      };
      return rs.status?.readyReplicas === 1;
    },
    180_000,
  );
  await c.k(['delete', 'replicaset', 'ident-rs']);
});
