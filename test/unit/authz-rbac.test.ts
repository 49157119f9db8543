// The RBAC evaluator, rule matching, the authorizer chain and the 403 wording.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RbacAuthorizer } from '../../src/apiserver/authz/rbac.js';
import { forbiddenError, requestAttributes } from '../../src/apiserver/authz/request.js';
import { compactString, ruleAllows, uncovered } from '../../src/apiserver/authz/rules.js';
import { attributes, type PolicyRule } from '../../src/apiserver/authz/types.js';
import {
  UnionAuthorizer,
  parseAuthorizationModes,
  privilegedGroupAuthorizer,
} from '../../src/apiserver/authz/union.js';
import { NodeAuthorizer } from '../../src/apiserver/authz/node.js';
import { parseRequestPath } from '../../src/apiserver/requestinfo.js';

const jane = { name: 'jane', groups: ['devs', 'system:authenticated'] };
const sa = {
  name: 'system:serviceaccount:apps:robot',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:apps'],
};

const binding = (
  name: string,
  roleRef: { kind: string; name: string },
  subjects: { kind: string; name: string; namespace?: string }[],
  namespace?: string,
) => ({ metadata: { name, namespace }, roleRef, subjects });

describe('rule matching', () => {
  const a = (fields: Parameters<typeof attributes>[0]) => attributes(fields);
  test('verbs, groups, resources and names with wildcards', () => {
    const rule: PolicyRule = { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['web'] };
    assert.ok(ruleAllows(a({ user: jane, verb: 'get', resource: 'pods', name: 'web' }), rule));
    assert.ok(!ruleAllows(a({ user: jane, verb: 'get', resource: 'pods', name: 'db' }), rule));
    assert.ok(!ruleAllows(a({ user: jane, verb: 'list', resource: 'pods' }), rule));
    assert.ok(!ruleAllows(a({ user: jane, verb: 'get', apiGroup: 'apps', resource: 'pods', name: 'web' }), rule));
    const all: PolicyRule = { verbs: ['*'], apiGroups: ['*'], resources: ['*'] };
    assert.ok(ruleAllows(a({ user: jane, verb: 'escalate', apiGroup: 'x', resource: 'y', subresource: 'z' }), all));
  });
  test('subresources: exact, and */sub of any resource; a resource rule does not grant its subresources', () => {
    const log: PolicyRule = { verbs: ['get'], apiGroups: [''], resources: ['pods/log'] };
    assert.ok(ruleAllows(a({ user: jane, verb: 'get', resource: 'pods', subresource: 'log' }), log));
    assert.ok(!ruleAllows(a({ user: jane, verb: 'get', resource: 'pods' }), log));
    const scale: PolicyRule = { verbs: ['get'], apiGroups: ['*'], resources: ['*/scale'] };
    assert.ok(
      ruleAllows(
        a({ user: jane, verb: 'get', apiGroup: 'apps', resource: 'deployments', subresource: 'scale' }),
        scale,
      ),
    );
    assert.ok(!ruleAllows(a({ user: jane, verb: 'get', apiGroup: 'apps', resource: 'deployments' }), scale));
    const pods: PolicyRule = { verbs: ['get'], apiGroups: [''], resources: ['pods'] };
    assert.ok(!ruleAllows(a({ user: jane, verb: 'get', resource: 'pods', subresource: 'exec' }), pods));
  });
  test('non-resource URLs: exact, * and a /* prefix', () => {
    const rule: PolicyRule = { verbs: ['get'], nonResourceURLs: ['/healthz', '/apis/*'] };
    const url = (path: string) => a({ user: jane, verb: 'get', resourceRequest: false, path });
    assert.ok(ruleAllows(url('/healthz'), rule));
    assert.ok(ruleAllows(url('/apis/apps/v1'), rule));
    assert.ok(!ruleAllows(url('/healthz/etcd'), rule));
    assert.ok(!ruleAllows(url('/api'), rule));
  });
});

describe('RBAC authorizer', () => {
  const rbac = new RbacAuthorizer();
  rbac.setRole('apps', 'pod-reader', {
    metadata: { name: 'pod-reader' },
    rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }],
  });
  rbac.setClusterRole('secret-reader', {
    metadata: { name: 'secret-reader' },
    rules: [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'] }],
  });
  rbac.setRoleBinding(
    'apps',
    'robot',
    binding('robot', { kind: 'Role', name: 'pod-reader' }, [{ kind: 'ServiceAccount', name: 'robot' }], 'apps'),
  );
  rbac.setClusterRoleBinding(
    'devs',
    binding('devs', { kind: 'ClusterRole', name: 'secret-reader' }, [{ kind: 'Group', name: 'devs' }]),
  );
  rbac.setRoleBinding(
    'apps',
    'jane-secrets',
    binding('jane-secrets', { kind: 'ClusterRole', name: 'secret-reader' }, [{ kind: 'User', name: 'jane' }], 'apps'),
  );
  const can = (user: typeof jane, verb: string, resource: string, namespace = '') =>
    rbac.authorize(attributes({ user, verb, resource, namespace })).decision;

  test('a ServiceAccount subject in its binding namespace', () => {
    assert.equal(can(sa, 'list', 'pods', 'apps'), 'Allow');
    assert.equal(can(sa, 'list', 'pods', 'other'), 'NoOpinion');
    assert.equal(can(sa, 'delete', 'pods', 'apps'), 'NoOpinion');
    assert.equal(can(sa, 'get', 'secrets', 'apps'), 'NoOpinion');
  });
  test('group subjects of a ClusterRoleBinding apply everywhere; the reason names the binding', () => {
    assert.equal(can(jane, 'get', 'secrets', 'anywhere'), 'Allow');
    assert.equal(can(jane, 'get', 'secrets'), 'Allow');
    const r = rbac.authorize(attributes({ user: { name: 'bob', groups: ['devs'] }, verb: 'get', resource: 'secrets' }));
    assert.equal(r.reason, 'RBAC: allowed by ClusterRoleBinding "devs" of ClusterRole "secret-reader" to Group "devs"');
  });
  test('a binding to a missing role is reported in the reason', () => {
    rbac.setRoleBinding(
      'apps',
      'broken',
      binding('broken', { kind: 'Role', name: 'nope' }, [{ kind: 'User', name: 'carl' }], 'apps'),
    );
    const r = rbac.authorize(
      attributes({ user: { name: 'carl', groups: [] }, verb: 'get', resource: 'pods', namespace: 'apps' }),
    );
    assert.deepEqual(r, { decision: 'NoOpinion', reason: 'RBAC: role.rbac.authorization.k8s.io "nope" not found' });
  });
  test('removing a binding takes its grants away', () => {
    rbac.setClusterRoleBinding('devs', undefined);
    assert.equal(can({ name: 'bob', groups: ['devs'] }, 'get', 'secrets', 'x'), 'NoOpinion');
  });
  test('rulesFor lists the rules of cluster-wide and namespace bindings', () => {
    assert.deepEqual(rbac.rulesFor(sa, 'apps').rules, [
      { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] },
    ]);
    assert.deepEqual(rbac.rulesFor(sa, 'other').rules, []);
  });
});

describe('escalation coverage', () => {
  test('what a user holds covers a rule; the missing part is named as upstream prints it', () => {
    const held: PolicyRule[] = [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'pods/*'] }];
    assert.deepEqual(uncovered(held, [{ verbs: ['get'], apiGroups: [''], resources: ['pods', 'pods/log'] }]), []);
    const missing = uncovered(held, [{ verbs: ['get', 'delete'], apiGroups: [''], resources: ['pods'] }]);
    assert.deepEqual(missing.map(compactString), ['{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}']);
  });
});

describe('authorizer chain and the request path', () => {
  test('--authorization-mode is checked', () => {
    assert.deepEqual(parseAuthorizationModes(undefined), ['Node', 'RBAC']);
    assert.deepEqual(parseAuthorizationModes('AlwaysAllow'), ['AlwaysAllow']);
    assert.throws(() => parseAuthorizationModes('RBAC,ABAC'), /"ABAC" is not a valid mode/);
  });
  test('system:masters is always allowed; without an opinion the answer is NoOpinion', () => {
    const chain = new UnionAuthorizer([privilegedGroupAuthorizer, new RbacAuthorizer()]);
    assert.equal(
      chain.authorize(
        attributes({ user: { name: 'root', groups: ['system:masters'] }, verb: 'delete', resource: 'nodes' }),
      ).decision,
      'Allow',
    );
    assert.equal(chain.authorize(attributes({ user: jane, verb: 'get', resource: 'pods' })).decision, 'NoOpinion');
  });
  test('verbs and the 403 messages of upstream', () => {
    const attrs = (path: string, method: string, query = '') =>
      requestAttributes(jane, parseRequestPath(path), method, new URLSearchParams(query));
    const msg = (path: string, method: string, query = '') => forbiddenError(attrs(path, method, query), '').message;
    assert.equal(
      msg('/api/v1/namespaces/default/secrets/s1', 'GET'),
      'secrets "s1" is forbidden: User "jane" cannot get resource "secrets" in API group "" in the namespace "default"',
    );
    assert.equal(
      msg('/apis/apps/v1/deployments', 'GET', 'watch=true'),
      'deployments.apps is forbidden: User "jane" cannot watch resource "deployments" in API group "apps" at the cluster scope',
    );
    assert.equal(
      msg('/api/v1/namespaces/ns/pods/p/log', 'GET'),
      'pods "p" is forbidden: User "jane" cannot get resource "pods/log" in API group "" in the namespace "ns"',
    );
    assert.equal(msg('/metrics', 'GET'), 'forbidden: User "jane" cannot get path "/metrics"');
    assert.equal(attrs('/api/v1/namespaces/ns/pods', 'DELETE').verb, 'deletecollection');
    assert.equal(attrs('/api/v1/nodes', 'GET', 'fieldSelector=metadata.name%3Dn1').name, 'n1');
    assert.equal(attrs('/api/v1/namespaces/ns1', 'GET').namespace, 'ns1');
    const e = forbiddenError(attrs('/api/v1/namespaces/default/secrets/s1', 'GET'), '');
    assert.equal(e.code, 403);
    assert.deepEqual(e.details, { name: 's1', kind: 'secrets' });
  });
});

describe('Node authorizer', () => {
  const pod = {
    metadata: { namespace: 'ns', name: 'p' },
    spec: {
      nodeName: 'n1',
      serviceAccountName: 'robot',
      containers: [{ name: 'c', envFrom: [{ secretRef: { name: 'env-secret' } }] }],
      volumes: [{ name: 'v', configMap: { name: 'cm' } }],
    },
  };
  const node = new NodeAuthorizer({
    podsIn: (ns) => (ns === 'ns' ? [pod] : []),
    pod: (ns, name) => (ns === 'ns' && name === 'p' ? pod : undefined),
    claimsOfVolume: () => [],
  });
  const n1 = { name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
  const n2 = { name: 'system:node:n2', groups: ['system:nodes', 'system:authenticated'] };
  const ask = (user: typeof n1, fields: Partial<Parameters<typeof attributes>[0]>) =>
    node.authorize(attributes({ user, verb: 'get', ...fields })).decision;
  test('objects its pods use, and nothing else', () => {
    assert.equal(ask(n1, { resource: 'secrets', namespace: 'ns', name: 'env-secret' }), 'Allow');
    assert.equal(ask(n1, { resource: 'configmaps', namespace: 'ns', name: 'cm' }), 'Allow');
    assert.equal(ask(n2, { resource: 'secrets', namespace: 'ns', name: 'env-secret' }), 'NoOpinion');
    assert.equal(ask(n1, { resource: 'secrets', namespace: 'ns', name: 'other' }), 'NoOpinion');
    assert.equal(ask(n1, { resource: 'secrets', namespace: 'ns', verb: 'list' }), 'NoOpinion');
    assert.equal(
      ask(n1, { resource: 'serviceaccounts', subresource: 'token', namespace: 'ns', name: 'robot', verb: 'create' }),
      'Allow',
    );
  });
  test('its own Node and Lease, its pods status; reading services', () => {
    assert.equal(ask(n1, { resource: 'nodes', name: 'n1', verb: 'patch', subresource: 'status' }), 'Allow');
    assert.equal(ask(n1, { resource: 'nodes', name: 'n2', verb: 'patch', subresource: 'status' }), 'NoOpinion');
    assert.equal(
      ask(n1, {
        apiGroup: 'coordination.k8s.io',
        resource: 'leases',
        namespace: 'kube-node-lease',
        name: 'n1',
        verb: 'update',
      }),
      'Allow',
    );
    assert.equal(
      ask(n1, {
        apiGroup: 'coordination.k8s.io',
        resource: 'leases',
        namespace: 'kube-node-lease',
        name: 'n2',
        verb: 'update',
      }),
      'NoOpinion',
    );
    assert.equal(
      ask(n1, { resource: 'pods', subresource: 'status', namespace: 'ns', name: 'p', verb: 'patch' }),
      'Allow',
    );
    assert.equal(
      ask(n2, { resource: 'pods', subresource: 'status', namespace: 'ns', name: 'p', verb: 'patch' }),
      'NoOpinion',
    );
    assert.equal(ask(n1, { resource: 'services', verb: 'watch' }), 'Allow');
    assert.equal(ask(jane, { resource: 'services', verb: 'watch' }), 'NoOpinion');
  });
});
