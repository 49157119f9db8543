// The server's own components in the audit log: the scheduler and the controller manager run
// inside `k8ts server` and call the API in process, yet their requests are audited under their
// own users as upstream's (separate processes) are: a binding by system:kube-scheduler, a
// ReplicaSet's pod created by the replicaset controller's service account (upstream's
// --use-service-account-credentials), each authorized by RBAC as its own user.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, until, type Cluster } from './harness.js';

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create]
    resources:
      - group: ""
        resources: ["pods", "pods/binding"]
  - level: None
`;

interface Ev {
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  user: { username?: string; groups?: string[] };
  objectRef?: { resource?: string; subresource?: string; name?: string; namespace?: string };
  responseStatus?: { code: number };
  annotations?: Record<string, string>;
}

let c: Cluster;
let dir: string;
let logFile: string;

const events = (): Ev[] =>
  existsSync(logFile)
    ? readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Ev)
    : [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-audit-components-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  logFile = join(dir, 'audit.log');
  c = await startCluster({
    args: ['--simulated-nodes', '1', '--audit-policy-file', join(dir, 'policy.yaml'), '--audit-log-path', logFile],
  });
});

after(async () => {
  await c?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the scheduler's binding and the ReplicaSet controller's pod create are audited under their users", async () => {
  await c.k(['create', 'deployment', 'web', '--image=nginx', '--replicas=1']);
  const bound = await until(
    'an audit event of a pod binding',
    () => events().find((e) => e.objectRef?.subresource === 'binding' && e.stage === 'ResponseComplete'),
    120_000,
  );
  assert.equal(bound.user.username, 'system:kube-scheduler');
  assert.equal(bound.verb, 'create');
  assert.equal(bound.responseStatus?.code, 201);
  assert.equal(bound.userAgent, 'kube-scheduler');
  assert.equal(bound.objectRef?.namespace, 'default');
  assert.match(bound.objectRef?.name ?? '', /^web-/);
  assert.equal(bound.requestURI, `/api/v1/namespaces/default/pods/${bound.objectRef?.name}/binding`);
  assert.equal(bound.annotations?.['authorization.k8s.io/decision'], 'allow');
  assert.match(bound.annotations?.['authorization.k8s.io/reason'] ?? '', /system:kube-scheduler/);
  // (The ReplicaSet's pod has a generated name: the request names none.)
  const created = events().find(
    (e) => e.objectRef?.resource === 'pods' && !e.objectRef.subresource && e.objectRef.namespace === 'default',
  );
  assert.ok(created, 'the pod create is in the log');
  assert.equal(created.user.username, 'system:serviceaccount:kube-system:replicaset-controller');
  assert.ok(created.user.groups?.includes('system:serviceaccounts:kube-system'));
  assert.ok(!created.user.groups?.includes('system:masters'), 'a controller is not a cluster admin');
  assert.equal(created.responseStatus?.code, 201);
  assert.match(created.annotations?.['authorization.k8s.io/reason'] ?? '', /system:controller:replicaset-controller/);
  // The policy's None rule keeps everything else out (the components' lists and watches included).
  assert.ok(events().every((e) => e.verb === 'create'));
});
