// Which requests an admission webhook is called for: rules (operations, groups, versions,
// resources with subresources, scope), namespaceSelector, objectSelector, matchPolicy, and the
// checks on its AdmissionReview answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidatingWebhook } from 'kubernetes-types/admissionregistration/v1.js';
import { type RuleTarget, isExemptFromWebhooks, ruleMatches } from '../../src/apiserver/admission/webhook/rules.js';
import { matchWebhook } from '../../src/apiserver/admission/webhook/match.js';
import { admissionReview, verifyResponse } from '../../src/apiserver/admission/webhook/review.js';
import { webhookDenied } from '../../src/apiserver/admission/webhook/errors.js';
import { applyWebhookPatch, replaceContents } from '../../src/apiserver/admission/webhook/patch.js';
import { type WebhookDeps, callWebhook } from '../../src/apiserver/admission/webhook/call.js';
import { celMatchConditions } from '../../src/apiserver/admission/webhook/matchconditions.js';
import type { AdmissionAttributes } from '../../src/apiserver/admission/interfaces.js';
import { pods } from '../../src/api/core/v1/pod.js';
import { namespaces } from '../../src/api/core/v1/namespace.js';
import { horizontalPodAutoscalerResource } from '../../src/api/autoscaling/v2/hpa.js';

const pod: RuleTarget = {
  operation: 'CREATE',
  group: '',
  version: 'v1',
  resource: 'pods',
  subresource: '',
  namespace: 'default',
};
const rule = (r: Record<string, unknown>) => ({
  operations: ['CREATE'],
  apiGroups: [''],
  apiVersions: ['v1'],
  resources: ['pods'],
  ...r,
});

test('operations, groups and versions: exact values or *', () => {
  assert.ok(ruleMatches(rule({}), pod));
  assert.ok(ruleMatches(rule({ operations: ['*'] }), { ...pod, operation: 'DELETE' }));
  assert.ok(!ruleMatches(rule({}), { ...pod, operation: 'UPDATE' }));
  assert.ok(ruleMatches(rule({ operations: ['UPDATE', 'CREATE'] }), pod));
  assert.ok(!ruleMatches(rule({ apiGroups: ['apps'] }), pod));
  assert.ok(ruleMatches(rule({ apiGroups: ['*'] }), pod));
  assert.ok(!ruleMatches(rule({ apiVersions: ['v2'] }), pod));
  assert.ok(ruleMatches(rule({ apiVersions: ['*'] }), pod));
  assert.ok(
    ruleMatches(rule({ operations: ['CONNECT'] }), {
      ...pod,
      operation: 'CONNECT',
      subresource: 'exec',
      resource: 'pods',
    }) === false,
  );
  assert.ok(
    ruleMatches(rule({ operations: ['CONNECT'], resources: ['pods/exec'] }), {
      ...pod,
      operation: 'CONNECT',
      subresource: 'exec',
    }),
  );
});

test('resources: a subresource is selected only by its own entry or a wildcard', () => {
  const status = { ...pod, operation: 'UPDATE', subresource: 'status' };
  assert.ok(!ruleMatches(rule({ operations: ['*'] }), status), 'pods does not cover pods/status');
  assert.ok(ruleMatches(rule({ operations: ['*'], resources: ['pods/status'] }), status));
  assert.ok(ruleMatches(rule({ operations: ['*'], resources: ['pods/*'] }), status));
  // As upstream's matcher: a subresource wildcard covers the main resource too.
  assert.ok(ruleMatches(rule({ resources: ['pods/*'] }), pod));
  assert.ok(ruleMatches(rule({ operations: ['*'], resources: ['*/status'] }), status));
  assert.ok(!ruleMatches(rule({ operations: ['*'], resources: ['*/scale'] }), status));
  assert.ok(ruleMatches(rule({ resources: ['*'] }), pod));
  assert.ok(!ruleMatches(rule({ operations: ['*'], resources: ['*'] }), status), '* is main resources only');
  assert.ok(ruleMatches(rule({ operations: ['*'], resources: ['*/*'] }), status));
  assert.ok(!ruleMatches(rule({ resources: ['services'] }), pod));
});

test('scope: Namespaced excludes cluster-scoped objects and namespaces themselves', () => {
  const ns: RuleTarget = { ...pod, resource: 'namespaces', namespace: '' };
  const node: RuleTarget = { ...pod, resource: 'nodes', namespace: '' };
  const any = rule({ resources: ['*'] });
  assert.ok(ruleMatches({ ...any, scope: 'Namespaced' }, pod));
  assert.ok(!ruleMatches({ ...any, scope: 'Namespaced' }, node));
  assert.ok(!ruleMatches({ ...any, scope: 'Namespaced' }, { ...ns, namespace: 'x' }));
  assert.ok(ruleMatches({ ...any, scope: 'Cluster' }, node));
  assert.ok(ruleMatches({ ...any, scope: 'Cluster' }, ns));
  assert.ok(!ruleMatches({ ...any, scope: 'Cluster' }, pod));
  assert.ok(ruleMatches({ ...any, scope: '*' }, pod) && ruleMatches({ ...any, scope: '*' }, node));
});

test('webhook configurations are never sent to webhooks', () => {
  assert.ok(isExemptFromWebhooks('admissionregistration.k8s.io', 'ValidatingWebhookConfiguration'));
  assert.ok(isExemptFromWebhooks('admissionregistration.k8s.io', 'MutatingWebhookConfiguration'));
  assert.ok(!isExemptFromWebhooks('', 'Pod'));
});

const user = { name: 'alice', groups: ['system:authenticated'] };
const podAttrs = (over: Partial<AdmissionAttributes> = {}): AdmissionAttributes => ({
  operation: 'CREATE',
  group: '',
  version: 'v1',
  resource: 'pods',
  kind: 'Pod',
  subresource: '',
  namespace: 'team-a',
  name: 'p',
  object: { metadata: { name: 'p', namespace: 'team-a', labels: { inject: 'yes' } } },
  user,
  dryRun: false,
  def: pods,
  ...over,
});
const hook = (over: Partial<ValidatingWebhook> = {}): ValidatingWebhook => ({
  name: 'h.example.com',
  clientConfig: { url: 'https://127.0.0.1:1/' },
  rules: [rule({ operations: ['*'] })],
  sideEffects: 'None',
  admissionReviewVersions: ['v1'],
  ...over,
});
const nsLabels = (name: string) => (name === 'team-a' ? { env: 'prod' } : undefined);

test('namespaceSelector: the namespace labels, or a Namespace object its own', () => {
  const prod = { matchLabels: { env: 'prod' } };
  assert.deepEqual(matchWebhook(hook({ namespaceSelector: prod }), podAttrs(), nsLabels), {
    version: 'v1',
    kind: 'Pod',
  });
  assert.equal(
    matchWebhook(hook({ namespaceSelector: { matchLabels: { env: 'dev' } } }), podAttrs(), nsLabels),
    undefined,
  );
  assert.equal(
    matchWebhook(
      hook({ namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] } }),
      podAttrs(),
      nsLabels,
    ),
    undefined,
  );
  // A Namespace being created: its own labels (it has no namespace yet).
  const nsHook = hook({ namespaceSelector: prod, rules: [rule({ operations: ['*'], resources: ['namespaces'] })] });
  const createNs = (labels: Record<string, string>) =>
    podAttrs({
      resource: 'namespaces',
      kind: 'Namespace',
      namespace: '',
      name: 'n',
      def: namespaces,
      object: { metadata: { name: 'n', labels } },
    });
  assert.ok(matchWebhook(nsHook, createNs({ env: 'prod' }), nsLabels));
  assert.equal(matchWebhook(nsHook, createNs({ env: 'dev' }), nsLabels), undefined);
  // A missing namespace is the client's 404, once the rules select the request.
  assert.throws(() => matchWebhook(hook({ namespaceSelector: prod }), podAttrs({ namespace: 'gone' }), nsLabels), {
    code: 404,
  });
  assert.equal(
    matchWebhook(
      hook({ namespaceSelector: prod, rules: [rule({ resources: ['services'] })] }),
      podAttrs({ namespace: 'gone' }),
      nsLabels,
    ),
    undefined,
  );
});

test('objectSelector: the new or the old object', () => {
  const sel = { objectSelector: { matchLabels: { inject: 'yes' } } };
  assert.ok(matchWebhook(hook(sel), podAttrs(), nsLabels));
  const unlabelled = { metadata: { name: 'p' } };
  assert.equal(matchWebhook(hook(sel), podAttrs({ object: unlabelled }), nsLabels), undefined);
  const update = podAttrs({
    operation: 'UPDATE',
    object: unlabelled,
    oldObject: { metadata: { labels: { inject: 'yes' } } },
  });
  assert.ok(matchWebhook(hook(sel), update, nsLabels), 'the old object had the label');
  const del = podAttrs({
    operation: 'DELETE',
    object: undefined,
    oldObject: { metadata: { labels: { inject: 'yes' } } },
  });
  assert.ok(matchWebhook(hook(sel), del, nsLabels));
});

test('matchPolicy: Equivalent sees another served version of the resource, Exact does not', () => {
  const hpaV1Request: Partial<AdmissionAttributes> = {
    group: 'autoscaling',
    version: 'v2',
    resource: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    def: horizontalPodAutoscalerResource,
    requestVersion: 'v1',
  };
  const v2Only = [rule({ apiGroups: ['autoscaling'], apiVersions: ['v2'], resources: ['horizontalpodautoscalers'] })];
  assert.deepEqual(matchWebhook(hook({ rules: v2Only, matchPolicy: 'Equivalent' }), podAttrs(hpaV1Request), nsLabels), {
    version: 'v2',
    kind: 'HorizontalPodAutoscaler',
  });
  assert.equal(
    matchWebhook(hook({ rules: v2Only, matchPolicy: 'Exact' }), podAttrs(hpaV1Request), nsLabels),
    undefined,
  );
  // The version asked for wins when the rules name it.
  const both = [rule({ apiGroups: ['autoscaling'], apiVersions: ['*'], resources: ['horizontalpodautoscalers'] })];
  assert.equal(matchWebhook(hook({ rules: both }), podAttrs(hpaV1Request), nsLabels)?.version, 'v1');
});

test('AdmissionReview request fields, and the answer checked as upstream', () => {
  const a = podAttrs({ dryRun: true, fieldManager: 'kubectl', requestVersion: 'v1', auditAnnotations: {} });
  const review = admissionReview('v1', a, { version: 'v1', kind: 'Pod' }, a.object, undefined);
  const r = review.request;
  assert.equal(review.apiVersion, 'admission.k8s.io/v1');
  assert.deepEqual(r.kind, { group: '', version: 'v1', kind: 'Pod' });
  assert.deepEqual(r.requestResource, { group: '', version: 'v1', resource: 'pods' });
  assert.equal(r.operation, 'CREATE');
  assert.equal(r.namespace, 'team-a');
  assert.equal(r.oldObject, null);
  assert.equal(r.dryRun, true);
  assert.deepEqual(r.options, {
    kind: 'CreateOptions',
    apiVersion: 'meta.k8s.io/v1',
    dryRun: ['All'],
    fieldManager: 'kubectl',
  });
  assert.deepEqual(r.userInfo, { username: 'alice', groups: ['system:authenticated'] });

  const answer = (response: object, extra = {}) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response,
    ...extra,
  });
  assert.throws(() => verifyResponse(review, {}, false), /webhook response was absent/);
  assert.throws(() => verifyResponse(review, answer({ uid: 'x', allowed: true }), false), /expected response.uid=/);
  assert.throws(
    () =>
      verifyResponse(review, answer({ uid: r.uid, allowed: true }, { apiVersion: 'admission.k8s.io/v1beta1' }), false),
    /expected webhook response of admission.k8s.io\/v1, Kind=AdmissionReview, got admission.k8s.io\/v1beta1, Kind=AdmissionReview/,
  );
  assert.throws(
    () => verifyResponse(review, answer({ uid: r.uid, allowed: true, patch: 'W10=', patchType: 'JSONPatch' }), false),
    /validating webhook may not return response.patch/,
  );
  assert.throws(
    () => verifyResponse(review, answer({ uid: r.uid, allowed: true, patch: 'W10=' }), true),
    /webhook returned response.patch but not response.patchType/,
  );
  const ok = verifyResponse(review, answer({ uid: r.uid, allowed: true, warnings: ['careful'] }), false);
  assert.equal(ok.allowed, true);
  assert.deepEqual(ok.warnings, ['careful']);
});

test('a denial is at least a 400 and quotes the webhook', () => {
  const e = webhookDenied('deny.example.com', { message: 'no way', code: 403, reason: 'Forbidden' });
  assert.equal(e.code, 403);
  assert.equal(e.message, 'admission webhook "deny.example.com" denied the request: no way');
  assert.equal(webhookDenied('d', { code: 200 }).code, 400);
  assert.equal(webhookDenied('d', undefined).message, 'admission webhook "d" denied the request without explanation');
  assert.equal(webhookDenied('d', { reason: 'Because' }).message, 'admission webhook "d" denied the request: Because');
});

const deps = (matches?: boolean): WebhookDeps => ({
  stores: () => undefined,
  namespaceLabels: nsLabels,
  matchConditions: matches === undefined ? celMatchConditions : { matches: () => matches },
});
const registered = (h: ValidatingWebhook) => ({ configuration: 'c', hook: h, id: `c/0/${h.name}` });
const objectsOf = (a: AdmissionAttributes) => ({ object: a.object as unknown, oldObject: a.oldObject as unknown });

test('dry run: a webhook with side effects refuses it whatever its failurePolicy', async () => {
  const a = podAttrs({ dryRun: true });
  for (const sideEffects of ['Unknown', 'Some']) {
    for (const failurePolicy of ['Fail', 'Ignore']) {
      await assert.rejects(
        callWebhook(
          deps(),
          registered(hook({ sideEffects, failurePolicy })),
          a,
          { version: 'v1', kind: 'Pod' },
          objectsOf(a),
          false,
        ),
        { code: 400, message: 'admission webhook "h.example.com" does not support dry run' },
      );
    }
  }
});

test('matchConditions in CEL: false skips the webhook; an evaluation error fails closed under Fail, skips under Ignore', async () => {
  const a = podAttrs();
  const conditional = (failurePolicy: string, expression: string) =>
    registered(hook({ failurePolicy, matchConditions: [{ name: 'c', expression }] }));
  const inv = { version: 'v1', kind: 'Pod' };
  // No call is made in any of these: the webhook's URL is unreachable.
  assert.deepEqual(
    await callWebhook(deps(), conditional('Fail', "request.namespace == 'elsewhere'"), a, inv, objectsOf(a), false),
    { skipped: true },
  );
  const broken = "object.metadata.labels['missing'] == 'x'";
  await assert.rejects(callWebhook(deps(), conditional('Fail', broken), a, inv, objectsOf(a), false), (err: Error) => {
    assert.match(
      err.message,
      /^pods "p" is forbidden: failed evaluating match conditions, failing closed: matchCondition 'c'/,
    );
    return true;
  });
  assert.deepEqual(await callWebhook(deps(), conditional('Ignore', broken), a, inv, objectsOf(a), false), {
    skipped: true,
  });
  assert.deepEqual(await callWebhook(deps(false), conditional('Fail', 'true'), a, inv, objectsOf(a), false), {
    skipped: true,
  });
});

test('a webhook patch: JSONPatch only, decoded from base64, applied to a copy, put back in place', () => {
  const obj = { metadata: { name: 'p', labels: { a: '1' } }, spec: { containers: [{ name: 'app' }] } };
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
  const patched = applyWebhookPatch(
    'w',
    b64([{ op: 'add', path: '/metadata/labels/b', value: '2' }]),
    'JSONPatch',
    obj,
  );
  assert.deepEqual(obj.metadata.labels, { a: '1' }, 'the input is not modified');
  assert.throws(
    () => applyWebhookPatch('w', b64([]), 'MergePatch', obj),
    /failed calling webhook "w": unsupported patch type "MergePatch"/,
  );
  assert.throws(
    () => applyWebhookPatch('w', b64({}), 'JSONPatch', obj),
    /received undecodable patch in webhook response/,
  );
  assert.equal(applyWebhookPatch('w', b64([]), 'JSONPatch', obj), obj, 'an empty patch changes nothing');
  assert.throws(() => applyWebhookPatch('w', b64([{ op: 'add', path: '/x', value: 1 }]), 'JSONPatch', undefined), {
    code: 500,
    message: /admission webhook "w" attempted to modify the object, which is not supported for this operation/,
  });
  const meta = obj.metadata;
  replaceContents(obj, patched as Record<string, unknown>);
  assert.equal(obj.metadata, meta, 'the store keeps its reference to metadata');
  assert.deepEqual(obj.metadata.labels, { a: '1', b: '2' });
});
