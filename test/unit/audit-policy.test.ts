// The audit policy matcher (upstream's policy checker), its validation, and the log file's
// lumberjack-style rotation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEvaluator, parsePolicy, ruleMatches, type PolicyRule } from '../../src/apiserver/audit/policy.js';
import { RotatingFile, backupTimestamp } from '../../src/apiserver/audit/logwriter.js';
import { microTime } from '../../src/apiserver/audit/event.js';
import { requestAttributes } from '../../src/apiserver/authz/request.js';
import { parseRequestPath } from '../../src/apiserver/requestinfo.js';

const jane = { name: 'jane', groups: ['devs', 'system:authenticated'] };
const attrs = (path: string, method = 'GET', user = jane, query = '') =>
  requestAttributes(user, parseRequestPath(path), method, new URLSearchParams(query));
const rule = (r: Omit<PolicyRule, 'level'>): PolicyRule => ({ level: 'Metadata', ...r });

describe('rule matching', () => {
  test('users, groups and verbs', () => {
    const a = attrs('/api/v1/namespaces/default/pods');
    assert.ok(ruleMatches(rule({}), a));
    assert.ok(ruleMatches(rule({ users: ['jane'] }), a));
    assert.ok(!ruleMatches(rule({ users: ['bob'] }), a));
    assert.ok(ruleMatches(rule({ userGroups: ['devs'] }), a));
    assert.ok(!ruleMatches(rule({ userGroups: ['ops'] }), a));
    assert.ok(ruleMatches(rule({ verbs: ['list'] }), a));
    assert.ok(!ruleMatches(rule({ verbs: ['get'] }), a));
    assert.ok(ruleMatches(rule({ verbs: ['watch'] }), attrs('/api/v1/pods', 'GET', jane, 'watch=1')));
  });

  test('resources: group, subresources, wildcards, names and namespaces', () => {
    const log = attrs('/api/v1/namespaces/default/pods/web/log');
    const pod = attrs('/api/v1/namespaces/default/pods/web');
    const pods = (resources: string[], resourceNames?: string[]) =>
      rule({ resources: [{ group: '', resources, resourceNames }] });
    assert.ok(ruleMatches(pods(['pods']), pod));
    assert.ok(!ruleMatches(pods(['pods']), log), '"pods" is not its subresources');
    assert.ok(ruleMatches(pods(['pods/log']), log));
    assert.ok(!ruleMatches(pods(['pods/log']), pod));
    assert.ok(ruleMatches(pods(['pods/*']), log) && ruleMatches(pods(['pods/*']), pod));
    assert.ok(ruleMatches(pods(['*/log']), log) && !ruleMatches(pods(['*/log']), pod));
    assert.ok(ruleMatches(pods(['*']), log));
    assert.ok(ruleMatches(pods(['pods'], ['web']), pod));
    assert.ok(!ruleMatches(pods(['pods'], ['db']), pod));
    assert.ok(ruleMatches(rule({ resources: [{ group: '' }] }), pod), 'a group without resources: all of them');
    assert.ok(!ruleMatches(rule({ resources: [{ group: 'apps' }] }), pod));
    const deploy = attrs('/apis/apps/v1/namespaces/default/deployments/web');
    assert.ok(ruleMatches(rule({ resources: [{ group: 'apps', resources: ['deployments'] }] }), deploy));
    assert.ok(ruleMatches(rule({ namespaces: ['default'] }), pod));
    assert.ok(!ruleMatches(rule({ namespaces: ['kube-system'] }), pod));
    assert.ok(ruleMatches(rule({ namespaces: [''] }), attrs('/api/v1/nodes/n1')), '"" is cluster scope');
    assert.ok(!ruleMatches(rule({ namespaces: ['default'] }), attrs('/healthz/etcd')));
  });

  test('nonResourceURLs: exact, trailing *, and never resources', () => {
    const nr = (urls: string[]) => rule({ nonResourceURLs: urls });
    assert.ok(ruleMatches(nr(['/version']), attrs('/version')));
    assert.ok(ruleMatches(nr(['/openapi*']), attrs('/openapi/v3/apis/apps/v1')));
    assert.ok(ruleMatches(nr(['*']), attrs('/metrics')));
    assert.ok(!ruleMatches(nr(['/api*']), attrs('/api/v1/pods')), 'a resource request is no URL');
    assert.ok(!ruleMatches(nr(['/version']), attrs('/versions')));
  });

  test('the first matching rule decides; omitStages add up; none: level None', () => {
    const policy = parsePolicy(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
omitManagedFields: true
rules:
- level: None
  users: ["system:kube-proxy"]
- level: RequestResponse
  resources: [{group: "", resources: ["configmaps"]}]
  omitStages: ["ResponseStarted"]
  omitManagedFields: false
- level: Metadata
  resources: [{group: ""}]
`);
    const e = new PolicyEvaluator(policy);
    const cm = e.evaluate(attrs('/api/v1/namespaces/x/configmaps'));
    assert.equal(cm.level, 'RequestResponse');
    assert.deepEqual([...cm.omitStages].sort(), ['RequestReceived', 'ResponseStarted']);
    assert.equal(cm.omitManagedFields, false);
    const secret = e.evaluate(attrs('/api/v1/namespaces/x/secrets/s'));
    assert.equal(secret.level, 'Metadata');
    assert.equal(secret.omitManagedFields, true, "the policy's default");
    assert.equal(e.evaluate(attrs('/api/v1/pods', 'GET', { name: 'system:kube-proxy', groups: [] })).level, 'None');
    assert.equal(e.evaluate(attrs('/apis/apps/v1/deployments')).level, 'None');
  });

  test('validation', () => {
    assert.throws(
      () => parsePolicy('apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: []'),
      /want apiVersion audit.k8s.io\/v1/,
    );
    assert.throws(
      () => parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Everything}]'),
      /rules\[0\].level: Unsupported value: "Everything"/,
    );
    assert.throws(
      () =>
        parsePolicy(
          'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, nonResourceURLs: ["/a"], resources: [{group: ""}]}]',
        ),
      /rules cannot apply to both regular resources and non-resource URLs/,
    );
    assert.throws(
      () => parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, nonResourceURLs: ["/a*b"]}]'),
      /wildcards may only be at the end/,
    );
    assert.throws(
      () => parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Done]\nrules: []'),
      /omitStages\[0\]: Unsupported value: "Done"/,
    );
  });
});

describe('events', () => {
  test('timestamps are MicroTime', () => {
    assert.equal(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6) + 0.789), '2026-01-02T03:04:05.006789Z');
  });
});

describe('log rotation', () => {
  test('by size into name-<time>.ext, keeping maxbackup files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-auditlog-'));
    try {
      let t = Date.UTC(2026, 11, 6, 10, 0, 0, 0);
      const file = new RotatingFile(join(dir, 'audit.log'), { maxSizeMB: 1, maxBackups: 2 }, () => new Date(t));
      const line = `${'x'.repeat(1023)}\n`;
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 1024; i++) file.write(line); // exactly 1 MB: the next write rotates
        t += 1000;
      }
      file.write('last\n');
      file.close();
      const files = readdirSync(dir).sort();
      assert.deepEqual(files, [
        `audit-${backupTimestamp(new Date(Date.UTC(2026, 11, 6, 10, 0, 3)))}.log`,
        `audit-${backupTimestamp(new Date(Date.UTC(2026, 11, 6, 10, 0, 4)))}.log`,
        'audit.log',
      ]);
      assert.equal(files[0], 'audit-2026-12-06T10-00-03.000.log');
      assert.equal(readFileSync(join(dir, 'audit.log'), 'utf8'), 'last\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('maxage removes backups older than that many days', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-auditlog-'));
    try {
      const now = Date.UTC(2026, 11, 6);
      writeFileSync(join(dir, `audit-${backupTimestamp(new Date(now - 3 * 86400_000))}.log`), 'old\n');
      writeFileSync(join(dir, `audit-${backupTimestamp(new Date(now - 3600_000))}.log`), 'recent\n');
      writeFileSync(join(dir, 'audit.log'), 'x'.repeat(1024 * 1024));
      const file = new RotatingFile(join(dir, 'audit.log'), { maxSizeMB: 1, maxAgeDays: 2 }, () => new Date(now));
      file.write('next\n');
      file.close();
      assert.deepEqual(readdirSync(dir).sort(), [
        `audit-${backupTimestamp(new Date(now - 3600_000))}.log`,
        `audit-${backupTimestamp(new Date(now))}.log`,
        'audit.log',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
