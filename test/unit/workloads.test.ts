// Unit tests of the workload controllers' logic: StatefulSet ordinals and identity, cron
// next-times (time zones, DST, descriptors, dom/dow), missed schedules, Job back-off and
// completed-index formatting, DaemonSet node eligibility, revision hashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  claimName,
  getOrdinal,
  newStatefulSetPod,
  revisionForNewPod,
} from '../../src/controllers/statefulset/identity.js';
import {
  hashRevisionData,
  safeEncodeString,
  scaledValue,
  templatePatch,
  templateFromRevision,
} from '../../src/controllers/statefulset/common.js';
import { formatRFC3339In, mostRecentScheduleTime, parseSchedule } from '../../src/controllers/cronjob/schedule.js';
import { jobFromTemplate, jobNameFor } from '../../src/controllers/cronjob/controller.js';
import { backoffDelayMs, formatIndexes, parseIndexes } from '../../src/controllers/job/util.js';
import { jobExpiresAt } from '../../src/controllers/job/ttl.js';
import {
  addDaemonTolerations,
  nodeShouldRunDaemonPod,
  targetNodeOf,
  withNodeAffinity,
} from '../../src/controllers/daemonset/eligibility.js';

const T = (s: string) => Date.parse(s);
const iso = (t: number) => new Date(t).toISOString();

test('statefulset ordinals parse only <set>-<n>', () => {
  assert.equal(getOrdinal('db', 'db-0'), 0);
  assert.equal(getOrdinal('db', 'db-12'), 12);
  assert.equal(getOrdinal('db', 'db-01'), -1);
  assert.equal(getOrdinal('db', 'db-x'), -1);
  assert.equal(getOrdinal('db', 'dbx-1'), -1);
  assert.equal(getOrdinal('my-db', 'my-db-3'), 3);
  assert.equal(getOrdinal('db', 'db-1-2'), -1);
  assert.equal(claimName('data', 'db', 2), 'data-db-2');
});

test('statefulset pods carry identity, claims and revision', () => {
  const set = {
    metadata: { name: 'db', namespace: 'ns', uid: 'u1' },
    spec: {
      serviceName: 'db-svc',
      selector: { matchLabels: { app: 'db' } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } }],
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    },
  };
  const pod = newStatefulSetPod(set, set.spec.template, 'db-abc', 1);
  assert.equal(pod.metadata.name, 'db-1');
  assert.equal(pod.spec.hostname, 'db-1');
  assert.equal(pod.spec.subdomain, 'db-svc');
  assert.equal(pod.metadata.labels['statefulset.kubernetes.io/pod-name'], 'db-1');
  assert.equal(pod.metadata.labels['apps.kubernetes.io/pod-index'], '1');
  assert.equal(pod.metadata.labels['controller-revision-hash'], 'db-abc');
  assert.deepEqual(pod.spec.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-1' } }]);
  assert.deepEqual(pod.metadata.ownerReferences[0], {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    name: 'db',
    uid: 'u1',
    controller: true,
    blockOwnerDeletion: true,
  });
});

test('statefulset partition: ordinals below it are created at the current revision', () => {
  const cur = { metadata: { name: 'cur' } };
  const upd = { metadata: { name: 'upd' } };
  const set = { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } } };
  assert.equal(revisionForNewPod(set, 0, cur, upd), cur);
  assert.equal(revisionForNewPod(set, 1, cur, upd), cur);
  assert.equal(revisionForNewPod(set, 2, cur, upd), upd);
  assert.equal(revisionForNewPod({ spec: { updateStrategy: { type: 'OnDelete' } } }, 0, cur, upd), upd);
});

test('revision data round-trips the template and hashes stably', () => {
  const tpl = { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } };
  const data = templatePatch(tpl);
  assert.equal(data.spec.template.$patch, 'replace');
  assert.deepEqual(templateFromRevision({ data }), tpl);
  const h = hashRevisionData(data);
  assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  assert.equal(h, hashRevisionData(templatePatch(structuredClone(tpl))));
  assert.notEqual(h, hashRevisionData(data, 1));
  assert.equal(
    safeEncodeString('0123'),
    'bcdf'
      .split('')
      .map((_, i) => 'bcdfghjklmnpqrstvwxz2456789'['0123'.charCodeAt(i) % 27])
      .join(''),
  );
  assert.equal(scaledValue('25%', 10, true), 3);
  assert.equal(scaledValue('25%', 10, false), 2);
  assert.equal(scaledValue(2, 10, true), 2);
});

test('cron next times: steps, ranges, lists, names', () => {
  const s = parseSchedule('*/15 9-10 * * mon-fri');
  assert.equal(iso(s.next(T('2024-01-05T10:50:00Z'))), '2024-01-08T09:00:00.000Z'); // Friday → Monday
  assert.equal(iso(s.next(T('2024-01-08T09:00:00Z'))), '2024-01-08T09:15:00.000Z'); // strictly after
  assert.equal(iso(parseSchedule('*/1 * * * *').next(T('2024-01-01T00:00:30Z'))), '2024-01-01T00:01:00.000Z');
  assert.equal(iso(parseSchedule('0 0 1 jan,jul *').next(T('2024-02-01T00:00:00Z'))), '2024-07-01T00:00:00.000Z');
  assert.equal(iso(parseSchedule('5 4 * * sun').next(T('2024-03-04T00:00:00Z'))), '2024-03-10T04:05:00.000Z');
  assert.equal(iso(parseSchedule('@hourly').next(T('2024-01-01T10:00:00Z'))), '2024-01-01T11:00:00.000Z');
  assert.equal(iso(parseSchedule('@yearly').next(T('2024-06-01T00:00:00Z'))), '2025-01-01T00:00:00.000Z');
  assert.equal(iso(parseSchedule('0 0 29 2 *').next(T('2024-03-01T00:00:00Z'))), '2028-02-29T00:00:00.000Z');
  assert.equal(iso(parseSchedule('@every 90s').next(T('2024-01-01T00:00:00.500Z'))), '2024-01-01T00:01:30.000Z');
  assert.throws(() => parseSchedule('61 * * * *'), /above maximum/);
});

test('cron: day-of-month and day-of-week are ORed when both are restricted', () => {
  // The 13th or any Friday.
  const s = parseSchedule('0 0 13 * 5');
  assert.equal(iso(s.next(T('2024-09-01T00:00:00Z'))), '2024-09-06T00:00:00.000Z'); // Friday 6th
  assert.equal(iso(s.next(T('2024-09-06T00:00:00Z'))), '2024-09-13T00:00:00.000Z'); // Friday 13th
  // With a star in one of them they are ANDed (dow * → every 13th).
  assert.equal(iso(parseSchedule('0 0 13 * *').next(T('2024-09-01T00:00:00Z'))), '2024-09-13T00:00:00.000Z');
  // */2 in day-of-week is not a star: ORed with dom.
  assert.equal(iso(parseSchedule('0 0 1 * */2').next(T('2024-09-02T12:00:00Z'))), '2024-09-03T00:00:00.000Z');
});

test('cron with time zones (timeZone field and CRON_TZ=), across DST', () => {
  const s = parseSchedule('0 9 * * *', 'Europe/Berlin');
  assert.equal(iso(s.next(T('2024-01-10T12:00:00Z'))), '2024-01-11T08:00:00.000Z'); // CET = UTC+1
  assert.equal(iso(s.next(T('2024-07-10T12:00:00Z'))), '2024-07-11T07:00:00.000Z'); // CEST = UTC+2
  const ny = parseSchedule('CRON_TZ=America/New_York 30 8 * * *');
  assert.equal(iso(ny.next(T('2024-03-09T14:00:00Z'))), '2024-03-10T12:30:00.000Z'); // after spring forward: EDT
  assert.equal(iso(ny.next(T('2024-03-08T14:00:00Z'))), '2024-03-09T13:30:00.000Z'); // EST
  // 02:30 does not exist on the spring-forward day in New York: it lands after the gap.
  const gap = parseSchedule('30 2 * * *', 'America/New_York');
  const t = gap.next(T('2024-03-10T05:00:00Z'));
  assert.ok(t >= T('2024-03-10T07:00:00Z') && t <= T('2024-03-11T06:30:00Z'), iso(t));
  assert.equal(formatRFC3339In(T('2024-07-11T07:00:00Z'), 'Europe/Berlin'), '2024-07-11T09:00:00+02:00');
  assert.equal(formatRFC3339In(T('2024-07-11T07:00:00Z'), 'UTC'), '2024-07-11T07:00:00Z');
  assert.equal(formatRFC3339In(T('2024-01-11T07:00:00Z'), 'America/New_York'), '2024-01-11T02:00:00-05:00');
});

test('most recent schedule time and the too-many-missed rule', () => {
  const s = parseSchedule('*/1 * * * *');
  assert.deepEqual(mostRecentScheduleTime(s, T('2024-01-01T00:00:10Z'), T('2024-01-01T00:00:50Z')), {
    missed: 0,
    tooMany: false,
  });
  const r = mostRecentScheduleTime(s, T('2024-01-01T00:00:10Z'), T('2024-01-01T00:03:05Z'));
  assert.equal(iso(r.time!), '2024-01-01T00:03:00.000Z');
  assert.equal(r.missed, 3);
  const many = mostRecentScheduleTime(s, T('2024-01-01T00:00:00Z'), T('2024-01-03T10:07:30Z'));
  assert.equal(many.tooMany, true);
  assert.equal(iso(many.time!), '2024-01-03T10:07:00.000Z');
  const hourly = mostRecentScheduleTime(
    parseSchedule('0 * * * *'),
    T('2023-01-01T00:00:00Z'),
    T('2024-01-03T10:07:30Z'),
  );
  assert.equal(iso(hourly.time!), '2024-01-03T10:00:00.000Z');
});

test('cronjob job names and the scheduled-timestamp annotation', () => {
  const scheduled = T('2024-01-01T00:05:00Z');
  assert.equal(jobNameFor('hello', scheduled), `hello-${scheduled / 60000}`);
  const cj = {
    metadata: { name: 'hello', namespace: 'ns', uid: 'u' },
    spec: { jobTemplate: { metadata: { labels: { a: 'b' } }, spec: { template: {} } } },
  };
  const job = jobFromTemplate(cj, scheduled, 'UTC');
  assert.equal(job.metadata.name, 'hello-28401125');
  assert.equal(job.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2024-01-01T00:05:00Z');
  assert.deepEqual(job.metadata.labels, { a: 'b' });
  assert.equal(job.metadata.ownerReferences[0].kind, 'CronJob');
});

test('job back-off doubles from the base up to 6 minutes', () => {
  assert.equal(backoffDelayMs(0), 0);
  assert.equal(backoffDelayMs(1), 10_000);
  assert.equal(backoffDelayMs(2), 20_000);
  assert.equal(backoffDelayMs(3), 40_000);
  assert.equal(backoffDelayMs(6), 320_000);
  assert.equal(backoffDelayMs(7), 360_000);
  assert.equal(backoffDelayMs(100), 360_000);
  assert.equal(backoffDelayMs(3, 100), 400);
});

test('completed indexes use upstream compressed intervals', () => {
  assert.equal(formatIndexes([0, 1, 2, 5, 7, 8]), '0-2,5,7,8');
  assert.equal(formatIndexes([]), '');
  assert.deepEqual([...parseIndexes('0-2,5,7,8')], [0, 1, 2, 5, 7, 8]);
  assert.deepEqual([...parseIndexes('0-9', 3)], [0, 1, 2]);
});

test('ttl-after-finished expiry', () => {
  assert.equal(jobExpiresAt({ spec: {}, status: {} }), undefined);
  const job = {
    spec: { ttlSecondsAfterFinished: 5 },
    status: { completionTime: '2024-01-01T00:00:00Z', conditions: [{ type: 'Complete', status: 'True' }] },
  };
  assert.equal(jobExpiresAt(job), T('2024-01-01T00:00:05Z'));
  const failed = {
    spec: { ttlSecondsAfterFinished: 0 },
    status: { conditions: [{ type: 'Failed', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z' }] },
  };
  assert.equal(jobExpiresAt(failed), T('2024-01-01T00:00:00Z'));
});

test('daemonset eligibility: nodeSelector, affinity, taints and default tolerations', () => {
  const node = (name: string, labels: Record<string, string> = {}, taints: any[] = []) => ({
    metadata: { name, labels },
    spec: { taints },
  });
  const ds = (spec: any) => ({ spec: { template: { spec } } });
  assert.deepEqual(nodeShouldRunDaemonPod(node('a'), ds({})), { shouldRun: true, shouldContinueRunning: true });
  assert.equal(
    nodeShouldRunDaemonPod(node('a', { disk: 'ssd' }), ds({ nodeSelector: { disk: 'ssd' } })).shouldRun,
    true,
  );
  assert.equal(nodeShouldRunDaemonPod(node('a'), ds({ nodeSelector: { disk: 'ssd' } })).shouldRun, false);
  const aff = {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }],
        },
      },
    },
  };
  assert.equal(nodeShouldRunDaemonPod(node('a', { zone: 'z1' }), ds(aff)).shouldRun, true);
  assert.equal(nodeShouldRunDaemonPod(node('a', { zone: 'z2' }), ds(aff)).shouldRun, false);
  // NoSchedule taint: no new pod, an existing one may stay; NoExecute: must go.
  assert.deepEqual(nodeShouldRunDaemonPod(node('a', {}, [{ key: 'k', value: 'v', effect: 'NoSchedule' }]), ds({})), {
    shouldRun: false,
    shouldContinueRunning: true,
  });
  assert.deepEqual(nodeShouldRunDaemonPod(node('a', {}, [{ key: 'k', effect: 'NoExecute' }]), ds({})), {
    shouldRun: false,
    shouldContinueRunning: false,
  });
  assert.equal(
    nodeShouldRunDaemonPod(
      node('a', {}, [{ key: 'k', value: 'v', effect: 'NoSchedule' }]),
      ds({ tolerations: [{ key: 'k', operator: 'Equal', value: 'v' }] }),
    ).shouldRun,
    true,
  );
  assert.equal(
    nodeShouldRunDaemonPod(
      node('a', {}, [{ key: 'k', value: 'v', effect: 'NoExecute' }]),
      ds({ tolerations: [{ operator: 'Exists' }] }),
    ).shouldRun,
    true,
  );
  // The default daemon tolerations: not-ready/unreachable NoExecute, pressure and unschedulable NoSchedule.
  for (const t of [
    { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
  ]) {
    assert.equal(nodeShouldRunDaemonPod(node('a', {}, [t]), ds({})).shouldRun, true, t.key);
  }
  assert.equal(
    nodeShouldRunDaemonPod(
      node('a', {}, [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }]),
      ds({}),
    ).shouldRun,
    false,
  );
  assert.equal(
    nodeShouldRunDaemonPod(
      node('a', {}, [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }]),
      ds({ hostNetwork: true }),
    ).shouldRun,
    true,
  );
  assert.equal(
    addDaemonTolerations({
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 },
      ],
    }).length,
    6,
  );
  // Pods are pinned to their node with a required node affinity.
  const pinned = { spec: { affinity: withNodeAffinity(aff.affinity, 'node-2') } };
  assert.equal(targetNodeOf(pinned), 'node-2');
  assert.deepEqual(
    pinned.spec.affinity.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-2'] }] }],
  );
});
