// Audit events of in-process calls (the server's own components): the same policy and Event
// format as HTTP requests, the requestURI an HTTPS client would have used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Auditor, parsePolicy } from '../../src/apiserver/audit/index.js';
import { beginInProcessAudit, requestURIOf } from '../../src/apiserver/audit/inprocess.js';
import * as errors from '../../src/machinery/errors.js';

function auditorWith(policy: string): { auditor: Auditor; lines: string[] } {
  const lines: string[] = [];
  const sink = { write: (l: string) => void lines.push(l), flush() {}, close() {} };
  return { auditor: new Auditor(parsePolicy(policy), sink), lines };
}

const scheduler = { name: 'system:kube-scheduler', groups: ['system:authenticated'] };
const binding = {
  user: scheduler,
  verb: 'create',
  group: '',
  version: 'v1',
  resource: 'pods',
  namespace: 'ns',
  name: 'p',
  subresource: 'binding',
  userAgent: 'kube-scheduler',
  body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p' }, target: { kind: 'Node', name: 'n1' } },
};

test('requestURI as the HTTPS transport spells it', () => {
  assert.equal(requestURIOf(binding), '/api/v1/namespaces/ns/pods/p/binding');
  assert.equal(
    requestURIOf({
      ...binding,
      verb: 'watch',
      group: 'apps',
      resource: 'deployments',
      name: undefined,
      subresource: undefined,
    }),
    '/apis/apps/v1/namespaces/ns/deployments?watch=true',
  );
});

test('a call at Request level: RequestReceived and ResponseComplete with the body; errors as Status', () => {
  const { auditor, lines } = auditorWith('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n');
  beginInProcessAudit(auditor, binding)!.complete({ response: {} });
  const [received, complete] = lines.map((l) => JSON.parse(l) as Record<string, any>);
  assert.equal(received.stage, 'RequestReceived');
  assert.equal(complete.stage, 'ResponseComplete');
  assert.equal(complete.auditID, received.auditID);
  assert.deepEqual(complete.user, { username: 'system:kube-scheduler', groups: ['system:authenticated'] });
  assert.deepEqual(complete.objectRef, {
    resource: 'pods',
    namespace: 'ns',
    name: 'p',
    apiVersion: 'v1',
    subresource: 'binding',
  });
  assert.deepEqual(complete.responseStatus, { metadata: {}, code: 201 });
  assert.deepEqual(complete.requestObject, binding.body);
  assert.equal(complete.responseObject, undefined);

  lines.length = 0;
  beginInProcessAudit(auditor, { ...binding, verb: 'get', body: undefined })!.complete({
    error: errors.notFound({ group: '', resource: 'pods' }, 'p'),
  });
  const failed = JSON.parse(lines[1]) as { responseStatus: Record<string, unknown> };
  assert.equal(failed.responseStatus.code, 404);
  assert.equal(failed.responseStatus.reason, 'NotFound');
  assert.equal(failed.responseStatus.message, 'pods "p" not found');
});

test('level None: no record at all', () => {
  const { auditor } = auditorWith('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n');
  assert.equal(beginInProcessAudit(auditor, binding), undefined);
  assert.equal(beginInProcessAudit(undefined, binding), undefined);
});

test("a call's authorization verdict is in its annotations (components are authorized as their users)", () => {
  const { auditor, lines } = auditorWith('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n');
  const denied = { decision: 'NoOpinion' as const, reason: '' };
  beginInProcessAudit(auditor, { ...binding, authorization: denied })!.complete({
    error: errors.forbidden({ group: '', resource: 'pods' }, 'p', 'User "system:kube-scheduler" cannot create'),
  });
  const allowed = { decision: 'Allow' as const, reason: 'RBAC: allowed by ClusterRoleBinding "system:kube-scheduler"' };
  beginInProcessAudit(auditor, { ...binding, authorization: allowed })!.complete({ response: {} });
  const done = lines.map((l) => JSON.parse(l) as Record<string, any>).filter((e) => e.stage === 'ResponseComplete');
  assert.equal(done[0].annotations['authorization.k8s.io/decision'], 'forbid');
  assert.equal(done[0].responseStatus.code, 403);
  assert.equal(done[1].annotations['authorization.k8s.io/decision'], 'allow');
  assert.equal(done[1].annotations['authorization.k8s.io/reason'], allowed.reason);
});
