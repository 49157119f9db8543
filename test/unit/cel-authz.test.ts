// The CEL authorizer library (upstream k8s.io/apiserver/pkg/cel/library/authz.go) over the real
// RBAC authorizer: resource checks with namespace, name and subresource; path checks; checks as a
// service account; `authorizer.requestResource`; decisions' allowed/reason/errored/error; the
// fixed price of a check (350,000: a third check in one expression exceeds the per-call limit);
// and the webhook matchConditions evaluator binding the authorizer for the request's user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMISSION_VARIABLES,
  AUTHZ_CHECK_COST,
  CelCompileError,
  CelEvaluationError,
  admissionActivation,
  compile,
  compileMatchConditions,
} from '../../src/cel/index.js';
import { estimateRuleCost } from '../../src/cel/estimate.js';
import { RbacAuthorizer } from '../../src/apiserver/authz/rbac.js';
import { UnionAuthorizer, privilegedGroupAuthorizer } from '../../src/apiserver/authz/union.js';
import { celMatchConditionsWith } from '../../src/apiserver/admission/webhook/matchconditions.js';
import type { AdmissionRequest } from '../../src/apiserver/admission/webhook/review.js';

const rbac = new RbacAuthorizer();
rbac.setRole('team', 'deployer', {
  metadata: { name: 'deployer' },
  rules: [
    { verbs: ['get', 'update'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] },
    { verbs: ['update'], apiGroups: ['apps'], resources: ['deployments/scale'] },
    { verbs: ['create'], apiGroups: [''], resources: ['configmaps'] },
  ],
});
rbac.setClusterRole('health', {
  metadata: { name: 'health' },
  rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }],
});
rbac.setClusterRole('sa-reader', {
  metadata: { name: 'sa-reader' },
  rules: [{ verbs: ['list'], apiGroups: [''], resources: ['pods'] }],
});
const bind = (
  name: string,
  role: { kind: string; name: string },
  subjects: { kind: string; name: string; namespace?: string }[],
  namespace?: string,
) => ({
  metadata: { name, namespace },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...role },
  subjects,
});
rbac.setRoleBinding(
  'team',
  'jane',
  bind('jane', { kind: 'Role', name: 'deployer' }, [{ kind: 'User', name: 'jane' }], 'team'),
);
rbac.setClusterRoleBinding(
  'health',
  bind('health', { kind: 'ClusterRole', name: 'health' }, [{ kind: 'User', name: 'jane' }]),
);
rbac.setClusterRoleBinding(
  'robot',
  bind('robot', { kind: 'ClusterRole', name: 'sa-reader' }, [
    { kind: 'ServiceAccount', name: 'robot', namespace: 'ci' },
  ]),
);
const authorizer = new UnionAuthorizer([privilegedGroupAuthorizer, rbac]);
const authorize = authorizer.authorize.bind(authorizer);

const request = (user: string, groups: string[] = ['system:authenticated']) => ({
  kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
  resource: { group: 'apps', version: 'v1', resource: 'deployments' },
  name: 'web',
  namespace: 'team',
  operation: 'UPDATE',
  userInfo: { username: user, groups },
  dryRun: false,
});

const evaluate = (expression: string, user = 'jane', groups?: string[]) =>
  compile(expression, ADMISSION_VARIABLES).evaluate(
    admissionActivation({ object: {}, request: request(user, groups), authorize }),
  );
const run = (expression: string, user?: string, groups?: string[]): unknown => evaluate(expression, user, groups).value;

test('resource checks go to the authorizer with group, resource, namespace, name and subresource', () => {
  const web = "authorizer.group('apps').resource('deployments').namespace('team').name('web')";
  assert.equal(run(`${web}.check('get').allowed()`), true);
  assert.equal(run(`${web}.check('delete').allowed()`), false);
  assert.equal(run(`${web.replace("'web'", "'db'")}.check('get').allowed()`), false, 'resourceNames hold');
  assert.equal(run(`${web.replace("'team'", "'other'")}.check('get').allowed()`), false, 'the namespace holds');
  assert.equal(run(`${web.replace("'web'", "'db'")}.subresource('scale').check('update').allowed()`), true);
  assert.equal(run(`${web}.check('get').allowed()`, 'carl'), false, 'another user');
  assert.equal(run(`${web}.check('delete').allowed()`, 'root', ['system:masters']), true, 'system:masters');
  // The reason is the authorizer's; a decision from a working authorizer did not error.
  assert.match(
    String(run(`${web}.check('get').reason()`)),
    /RBAC: allowed by RoleBinding "jane\/team" of Role "deployer" to User "jane"/,
  );
  assert.equal(run(`${web}.check('delete').errored()`), false);
  assert.equal(run(`${web}.check('delete').error()`), '');
});

test('path checks, service accounts and the request resource', () => {
  assert.equal(run("authorizer.path('/healthz').check('get').allowed()"), true);
  assert.equal(run("authorizer.path('/metrics').check('get').allowed()"), false);
  assert.equal(
    run("authorizer.serviceAccount('ci', 'robot').group('').resource('pods').check('list').allowed()"),
    true,
  );
  assert.equal(
    run("authorizer.serviceAccount('ci', 'other').group('').resource('pods').check('list').allowed()"),
    false,
  );
  // The account acts without the caller's groups: jane's grants are not its own.
  assert.equal(run("authorizer.serviceAccount('ci', 'robot').path('/healthz').check('get').allowed()"), false);
  // authorizer.requestResource: the request's group, resource, namespace and name.
  assert.equal(run("authorizer.requestResource.check('update').allowed()"), true);
  assert.equal(run("authorizer.requestResource.check('patch').allowed()"), false);
  assert.equal(run("authorizer.requestResource.subresource('scale').check('update').allowed()"), true);
});

test('bad arguments are evaluation errors with upstream text; wrong types do not compile', () => {
  assert.throws(() => run("authorizer.path('  ').check('get')"), /path must not be empty/);
  assert.throws(() => run("authorizer.group('').resource('').check('get')"), /resource must not be empty/);
  assert.throws(
    () => run("authorizer.serviceAccount('ci', 'Not_Valid').path('/').check('get')"),
    /Invalid service account name/,
  );
  assert.throws(
    () => run("authorizer.serviceAccount('Bad.NS', 'robot').path('/').check('get')"),
    /Invalid service account namespace/,
  );
  assert.throws(() => compile('authorizer.group(1)', ADMISSION_VARIABLES), CelCompileError);
  assert.throws(() => compile("authorizer.path('/').allowed()", ADMISSION_VARIABLES), CelCompileError);
  // Without an authorizer bound the variable is null, so calling it fails.
  const p = compile("authorizer.path('/healthz').check('get').allowed()", ADMISSION_VARIABLES);
  assert.throws(() => p.evaluate(admissionActivation({ request: request('jane') })), CelEvaluationError);
});

test('a check costs 350,000: two fit in one expression, a third exceeds the per-call limit', () => {
  const check = "authorizer.path('/healthz').check('get').allowed()";
  const two = evaluate(`${check} && ${check.replace('healthz', 'readyz')} || true`);
  assert.ok(two.cost >= 2 * AUTHZ_CHECK_COST && two.cost < 3 * AUTHZ_CHECK_COST, `cost ${two.cost}`);
  assert.throws(
    () => run(`[1, 2, 3].all(i, authorizer.path('/x' + string(i)).check('get').errored() == false)`),
    (err: Error) => err instanceof CelEvaluationError && err.costExceeded,
  );
  // The static estimate prices a check the same way.
  const estimated = estimateRuleCost(compile(check, ADMISSION_VARIABLES).ast, undefined);
  assert.ok(estimated >= AUTHZ_CHECK_COST && estimated < AUTHZ_CHECK_COST + 100, `estimate ${estimated}`);
});

test('matchConditions: policies and webhooks see the authorizer for the request user', async () => {
  const conditions = [
    { name: 'can-scale', expression: "authorizer.requestResource.subresource('scale').check('update').allowed()" },
  ];
  const compiled = compileMatchConditions(conditions);
  assert.deepEqual(compiled.errors, []);
  const vars = (user: string) => admissionActivation({ request: request(user), authorize });
  assert.deepEqual(compiled.evaluate(vars('jane')), { matches: true });
  assert.deepEqual(compiled.evaluate(vars('carl')), { matches: false, failedCondition: 'can-scale' });

  const webhook = celMatchConditionsWith(() => authorize);
  const review = (username: string): AdmissionRequest =>
    ({
      uid: 'u1',
      ...request(username),
      requestKind: request(username).kind,
      requestResource: request(username).resource,
      userInfo: { username, groups: ['system:authenticated'] },
      object: { metadata: { name: 'web' } },
    }) as unknown as AdmissionRequest;
  const canGetWeb = [
    {
      name: 'may-get',
      expression:
        "authorizer.group('apps').resource('deployments').namespace('team').name('web').check('get').allowed()",
    },
  ];
  assert.equal(await webhook.matches(canGetWeb, review('jane')), true);
  assert.equal(await webhook.matches(canGetWeb, review('carl')), false);
});
