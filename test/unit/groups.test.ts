// Strategies of the non-core API groups: defaults, validation, update rules, conversions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject, StrategyContext } from '../../src/api/types.js';
import type { FieldError } from '../../src/machinery/fielderrors.js';
import { deploymentResource } from '../../src/api/apps/v1/deployment.js';
import { statefulSetResource } from '../../src/api/apps/v1/statefulset.js';
import { daemonSetResource } from '../../src/api/apps/v1/daemonset.js';
import { jobResource } from '../../src/api/batch/v1/job.js';
import { cronJobResource, parseCronSchedule } from '../../src/api/batch/v1/cronjob.js';
import { horizontalPodAutoscalerResource, hpaV1ToV2, hpaV2ToV1 } from '../../src/api/autoscaling/v2/hpa.js';
import { eventCoreToV1, eventResource, eventV1ToCore } from '../../src/api/events/v1/event.js';
import { roleBindingResource } from '../../src/api/rbac/v1/rolebinding.js';
import { customResourceDefinitionResource } from '../../src/api/apiextensions/v1/customresourcedefinition.js';
import { priorityClassResource } from '../../src/api/scheduling/v1/priorityclass.js';
import { ingressResource } from '../../src/api/networking/v1/ingress.js';
import { validatingWebhookConfigurationResource } from '../../src/api/admissionregistration/v1/validatingwebhookconfiguration.js';
import { storageClassResource } from '../../src/api/storage/v1/storageclass.js';
import { podDisruptionBudgetResource } from '../../src/api/policy/v1/poddisruptionbudget.js';
import { resources as apps } from '../../src/api/apps/v1/index.js';
import { resources as batch } from '../../src/api/batch/v1/index.js';
import { resources as autoscaling } from '../../src/api/autoscaling/v2/index.js';
import { resources as networking } from '../../src/api/networking/v1/index.js';
import { resources as discovery } from '../../src/api/discovery/v1/index.js';
import { resources as coordination } from '../../src/api/coordination/v1/index.js';
import { resources as events } from '../../src/api/events/v1/index.js';
import { resources as policy } from '../../src/api/policy/v1/index.js';
import { resources as rbac } from '../../src/api/rbac/v1/index.js';
import { resources as storage } from '../../src/api/storage/v1/index.js';
import { resources as scheduling } from '../../src/api/scheduling/v1/index.js';
import { resources as admission } from '../../src/api/admissionregistration/v1/index.js';
import { resources as apiextensions } from '../../src/api/apiextensions/v1/index.js';

const ctx = (operation: 'create' | 'update' = 'create', subresource?: string): StrategyContext =>
  ({ operation, subresource, warnings: [], cluster: {}, allocators: {} }) as unknown as StrategyContext;

const fields = (errs: FieldError[]) => errs.map((e) => `${e.field}: ${e.detail}`);

function deployment(): any {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }] },
      },
    },
  };
}

test('every group exports its ResourceDefs with the upstream names', () => {
  const all = [
    ...apps,
    ...batch,
    ...autoscaling,
    ...networking,
    ...discovery,
    ...coordination,
    ...events,
    ...policy,
    ...rbac,
    ...storage,
    ...scheduling,
    ...admission,
    ...apiextensions,
  ];
  assert.equal(all.length, 31);
  const byPlural = new Map(all.map((r) => [`${r.plural}.${r.group}`, r]));
  assert.deepEqual(byPlural.get('deployments.apps')?.shortNames, ['deploy']);
  assert.deepEqual(byPlural.get('cronjobs.batch')?.shortNames, ['cj']);
  assert.deepEqual(
    byPlural.get('horizontalpodautoscalers.autoscaling')?.versions.map((v) => v.name),
    ['v2', 'v1'],
  );
  assert.deepEqual(byPlural.get('customresourcedefinitions.apiextensions.k8s.io')?.shortNames, ['crd', 'crds']);
  assert.equal(byPlural.get('events.events.k8s.io')?.storagePrefix, '/core/events/');
  assert.equal(byPlural.get('storageclasses.storage.k8s.io')?.namespaced, false);
  assert.equal(byPlural.get('validatingadmissionpolicies.admissionregistration.k8s.io')?.subresources?.status, true);
  assert.equal(byPlural.get('validatingadmissionpolicybindings.admissionregistration.k8s.io')?.namespaced, false);
  assert.deepEqual(
    byPlural.get('mutatingadmissionpolicies.admissionregistration.k8s.io')?.versions.map((v) => v.name),
    ['v1beta1', 'v1alpha1'],
  );
  for (const r of all) assert.ok(r.table && r.table.length > 0, `${r.plural} has columns`);
});

test('Deployment defaults and a valid minimal object', () => {
  const d = deployment();
  deploymentResource.defaults!(d);
  assert.equal(d.spec.replicas, 1);
  assert.deepEqual(d.spec.strategy, {
    type: 'RollingUpdate',
    rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' },
  });
  assert.equal(d.spec.revisionHistoryLimit, 10);
  assert.equal(d.spec.progressDeadlineSeconds, 600);
  assert.equal(d.spec.template.spec.restartPolicy, 'Always');
  assert.deepEqual(fields(deploymentResource.validate!(d, ctx())), []);
  assert.equal(deploymentResource.subresources?.scale?.selector?.(d), 'app=web');
});

test('Deployment validation: selector mismatch, missing selector, bad strategy', () => {
  const d = deployment();
  d.spec.template.metadata.labels = { app: 'other' };
  deploymentResource.defaults!(d);
  const errs = deploymentResource.validate!(d, ctx());
  assert.ok(
    errs.some(
      (e) =>
        e.field === 'spec.template.metadata.labels' && e.detail.includes('`selector` does not match template `labels`'),
    ),
    fields(errs).join('\n'),
  );

  const noSel = deployment();
  delete noSel.spec.selector;
  deploymentResource.defaults!(noSel);
  assert.ok(
    deploymentResource.validate!(noSel, ctx()).some(
      (e) => e.field === 'spec.selector' && e.type === 'FieldValueRequired',
    ),
  );

  const zero = deployment();
  zero.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '0%' } };
  deploymentResource.defaults!(zero);
  assert.ok(
    fields(deploymentResource.validate!(zero, ctx())).includes(
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0',
    ),
  );
});

test('Deployment selector is immutable', () => {
  const old = deployment();
  const next = deployment();
  next.spec.selector = { matchLabels: { app: 'web', tier: 'x' } };
  const errs = deploymentResource.validateUpdate!(next, old, ctx('update'));
  assert.equal(errs.length, 1);
  assert.equal(errs[0].field, 'spec.selector');
  assert.match(errs[0].detail, /field is immutable/);
});

test('StatefulSet defaults and forbidden spec updates', () => {
  const s: any = deployment();
  s.kind = 'StatefulSet';
  delete s.spec.strategy;
  statefulSetResource.defaults!(s);
  assert.equal(s.spec.podManagementPolicy, 'OrderedReady');
  assert.deepEqual(s.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
  assert.deepEqual(s.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  assert.deepEqual(fields(statefulSetResource.validate!(s, ctx())), []);
  const next = structuredClone(s);
  next.spec.replicas = 5;
  assert.deepEqual(statefulSetResource.validateUpdate!(next, s, ctx('update')), []);
  next.spec.serviceName = 'other';
  assert.deepEqual(fields(statefulSetResource.validateUpdate!(next, s, ctx('update'))), [
    "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
  ]);
});

test('DaemonSet defaults', () => {
  const d: any = deployment();
  daemonSetResource.defaults!(d);
  assert.deepEqual(d.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  assert.equal(d.spec.revisionHistoryLimit, 10);
  assert.deepEqual(fields(daemonSetResource.validate!(d, ctx())), []);
});

function job(): any {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'default', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'pi', image: 'perl' }] } } },
  };
}

test('Job defaults, generated selector and labels', () => {
  const j = job();
  jobResource.defaults!(j);
  assert.equal(j.spec.parallelism, 1);
  assert.equal(j.spec.completions, 1);
  assert.equal(j.spec.backoffLimit, 6);
  assert.equal(j.spec.completionMode, 'NonIndexed');
  assert.equal(j.spec.suspend, false);
  assert.equal(j.spec.podReplacementPolicy, 'TerminatingOrFailed');
  jobResource.prepareForCreate!(j, ctx());
  const uid = j.metadata.uid;
  assert.deepEqual(j.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
  assert.deepEqual(j.spec.template.metadata.labels, {
    'job-name': 'pi',
    'batch.kubernetes.io/job-name': 'pi',
    'controller-uid': uid,
    'batch.kubernetes.io/controller-uid': uid,
  });
  assert.deepEqual(fields(jobResource.validate!(j, ctx())), []);
  assert.equal(jobResource.fieldSelectors?.['status.successful']?.({ status: { succeeded: 2 } }), '2');

  const par = job();
  par.spec.parallelism = 3;
  jobResource.defaults!(par);
  assert.equal(par.spec.completions, undefined);
  assert.equal(par.spec.parallelism, 3);
});

test('Job template restartPolicy must be OnFailure or Never', () => {
  const j = job();
  delete j.spec.template.spec.restartPolicy;
  jobResource.defaults!(j);
  jobResource.prepareForCreate!(j, ctx());
  const errs = fields(jobResource.validate!(j, ctx()));
  assert.ok(
    errs.includes(
      'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    ),
    errs.join('\n'),
  );
});

test('Job template is immutable unless suspended and never started', () => {
  const old = job();
  jobResource.defaults!(old);
  jobResource.prepareForCreate!(old, ctx());
  const next = structuredClone(old);
  next.spec.template.spec.nodeSelector = { disk: 'ssd' };
  assert.ok(jobResource.validateUpdate!(next, old, ctx('update')).some((e) => e.field === 'spec.template'));
  old.spec.suspend = true;
  assert.deepEqual(fields(jobResource.validateUpdate!(next, old, ctx('update'))), []);
});

function cronJob(schedule: string): any {
  const j = job();
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'hello', namespace: 'default' },
    spec: { schedule, jobTemplate: { spec: { template: j.spec.template } } },
  };
}

test('CronJob defaults', () => {
  const c = cronJob('*/5 * * * *');
  cronJobResource.defaults!(c);
  assert.equal(c.spec.concurrencyPolicy, 'Allow');
  assert.equal(c.spec.suspend, false);
  assert.equal(c.spec.successfulJobsHistoryLimit, 3);
  assert.equal(c.spec.failedJobsHistoryLimit, 1);
  assert.equal(c.spec.jobTemplate.spec.template.spec.dnsPolicy, 'ClusterFirst');
  assert.deepEqual(fields(cronJobResource.validate!(c, ctx())), []);
});

test('CronJob schedule syntax (robfig/cron messages), TZ and timeZone', () => {
  for (const ok of ['@hourly', '@every 1h30m', '0 0 * * MON-FRI', '*/15 9-17 1,15 JAN-jun 0', '? * * * *']) {
    assert.doesNotThrow(() => parseCronSchedule(ok), ok);
  }
  const bad = (s: string) => {
    const c = cronJob(s);
    cronJobResource.defaults!(c);
    return fields(cronJobResource.validate!(c, ctx()));
  };
  assert.deepEqual(bad('* * *'), [
    'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]',
  ]);
  assert.deepEqual(bad('61 * * * *'), [
    'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61',
  ]);
  assert.deepEqual(bad('@fortnightly'), [
    'spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly',
  ]);
  assert.deepEqual(bad('x * * * *'), [
    'spec.schedule: Invalid value: "x * * * *": failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax',
  ]);
  assert.deepEqual(bad('TZ=UTC 0 * * * *'), [
    'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
  ]);
  assert.ok(bad('').includes('spec.schedule: Required value'));

  const tz = cronJob('0 * * * *');
  tz.spec.timeZone = 'Mars/Olympus';
  cronJobResource.defaults!(tz);
  assert.deepEqual(fields(cronJobResource.validate!(tz, ctx())), [
    'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
  ]);
  tz.spec.timeZone = 'Europe/Paris';
  assert.deepEqual(fields(cronJobResource.validate!(tz, ctx())), []);
  tz.spec.timeZone = 'Local';
  assert.equal(cronJobResource.validate!(tz, ctx()).length, 1);

  // A TZ= already in the old schedule stays allowed on update.
  const old = cronJob('TZ=UTC 0 * * * *');
  const next = cronJob('TZ=UTC 5 * * * *');
  cronJobResource.defaults!(old);
  cronJobResource.defaults!(next);
  assert.deepEqual(fields(cronJobResource.validate!(next, ctx('update'))), []);
  assert.deepEqual(fields(cronJobResource.validateUpdate!(next, old, ctx('update'))), []);
  assert.equal(cronJobResource.validateUpdate!(next, cronJob('0 * * * *'), ctx('update')).length, 1);
});

function hpaV2(): any {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default', annotations: { team: 'a' } },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, maxReplicas: 10 },
  };
}

test('HPA defaults: minReplicas, cpu 80% and behavior rules', () => {
  const h = hpaV2();
  horizontalPodAutoscalerResource.defaults!(h);
  assert.equal(h.spec.minReplicas, 1);
  assert.deepEqual(h.spec.metrics, [
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
  ]);
  assert.equal(h.spec.behavior, undefined);
  assert.deepEqual(fields(horizontalPodAutoscalerResource.validate!(h, ctx())), []);

  const b = hpaV2();
  b.spec.behavior = { scaleDown: { stabilizationWindowSeconds: 300 } };
  horizontalPodAutoscalerResource.defaults!(b);
  assert.deepEqual(b.spec.behavior.scaleUp, {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  });
  assert.deepEqual(b.spec.behavior.scaleDown, {
    stabilizationWindowSeconds: 300,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  });
  assert.deepEqual(fields(horizontalPodAutoscalerResource.validate!(b, ctx())), []);

  const bad = hpaV2();
  bad.spec.minReplicas = 5;
  bad.spec.maxReplicas = 2;
  horizontalPodAutoscalerResource.defaults!(bad);
  assert.deepEqual(fields(horizontalPodAutoscalerResource.validate!(bad, ctx())), [
    'spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`',
  ]);
});

test('HPA v1 -> v2 -> v1 round trip', () => {
  const v1: KObject = {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 7,
      targetCPUUtilizationPercentage: 60,
    },
    status: { currentReplicas: 3, desiredReplicas: 4, currentCPUUtilizationPercentage: 55 },
  };
  const v2: any = hpaV1ToV2(v1);
  assert.equal(v2.apiVersion, 'autoscaling/v2');
  assert.deepEqual(v2.spec.metrics, [
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
  ]);
  assert.deepEqual(v2.status.currentMetrics, [
    { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 55 } } },
  ]);
  assert.equal(v2.metadata.annotations, undefined);
  const back: any = hpaV2ToV1(v2);
  assert.equal(back.spec.targetCPUUtilizationPercentage, 60);
  assert.equal(back.status.currentCPUUtilizationPercentage, 55);
  // The current-metrics annotation carries the raw status, as upstream does.
  assert.ok(back.metadata.annotations['autoscaling.alpha.kubernetes.io/current-metrics']);
  assert.deepEqual((hpaV1ToV2(back) as any).spec, v2.spec);
  assert.deepEqual((hpaV1ToV2(back) as any).status, v2.status);

  // No target at all in v1 means the implicit 80% CPU.
  const bare: any = hpaV1ToV2({
    ...v1,
    spec: { scaleTargetRef: (v1 as any).spec.scaleTargetRef, maxReplicas: 3 },
    status: undefined,
  });
  assert.equal(bare.spec.metrics[0].resource.target.averageUtilization, 80);
});

test('HPA v2 -> v1 -> v2 keeps v2-only fields in annotations', () => {
  const v2 = hpaV2();
  v2.spec.minReplicas = 1;
  v2.spec.metrics = [
    { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '500Mi' } } },
    { type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '10' } } },
    {
      type: 'External',
      external: {
        metric: { name: 'queue', selector: { matchLabels: { q: 'jobs' } } },
        target: { type: 'Value', value: '30' },
      },
    },
    {
      type: 'Object',
      object: {
        describedObject: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'main' },
        metric: { name: 'rps' },
        target: { type: 'Value', value: '2k' },
      },
    },
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
  ];
  v2.spec.behavior = {
    scaleDown: {
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Min',
      policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }],
    },
  };
  v2.status = {
    currentReplicas: 2,
    desiredReplicas: 2,
    currentMetrics: [
      { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 40, averageValue: '200m' } } },
    ],
    conditions: [
      { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', lastTransitionTime: '2024-01-01T00:00:00Z' },
    ],
  };
  const v1: any = hpaV2ToV1(v2);
  assert.equal(v1.apiVersion, 'autoscaling/v1');
  assert.equal(v1.spec.targetCPUUtilizationPercentage, 70);
  assert.equal(v1.status.currentCPUUtilizationPercentage, 40);
  const ann = v1.metadata.annotations;
  assert.equal(ann.team, 'a');
  const others = JSON.parse(ann['autoscaling.alpha.kubernetes.io/metrics']);
  assert.deepEqual(others[0], { type: 'Resource', resource: { name: 'memory', targetAverageValue: '500Mi' } });
  assert.deepEqual(others[1], { type: 'Pods', pods: { metricName: 'qps', targetAverageValue: '10' } });
  assert.deepEqual(JSON.parse(ann['autoscaling.alpha.kubernetes.io/behavior']).ScaleDown, {
    StabilizationWindowSeconds: 60,
    SelectPolicy: 'Min',
    Policies: [{ Type: 'Pods', Value: 1, PeriodSeconds: 30 }],
  });
  const again: any = hpaV1ToV2(v1);
  assert.deepEqual(again.spec, v2.spec);
  assert.deepEqual(again.status, v2.status);
  assert.deepEqual(again.metadata.annotations, { team: 'a' });
});

test('events.k8s.io/v1 <-> core/v1 Event conversion round trip', () => {
  const ev: KObject = {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: 'web.17a', namespace: 'default' },
    eventTime: '2024-05-01T10:00:00.000000Z',
    series: { count: 3, lastObservedTime: '2024-05-01T10:05:00.000000Z' },
    reportingController: 'k8ts.io/scheduler',
    reportingInstance: 'scheduler-node1',
    action: 'Binding',
    reason: 'Scheduled',
    regarding: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u1', apiVersion: 'v1' },
    related: { kind: 'Node', name: 'node1' },
    note: 'Successfully assigned default/web-1 to node1',
    type: 'Normal',
  };
  const core: any = eventV1ToCore(ev);
  assert.equal(core.apiVersion, 'v1');
  assert.deepEqual(core.involvedObject, ev.regarding);
  assert.equal(core.message, ev.note);
  assert.equal(core.reportingComponent, 'k8ts.io/scheduler');
  assert.equal(core.regarding, undefined);
  assert.deepEqual(eventCoreToV1(core), ev);
  assert.deepEqual(fields(eventResource.validate!(ev, ctx())), []);
  assert.deepEqual(fields(eventResource.validate!(core, ctx())), []);

  const legacy: KObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'x', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'p', namespace: 'default' },
    reason: 'Pulled',
    message: 'pulled',
    source: { component: 'kubelet', host: 'node1' },
    firstTimestamp: '2024-05-01T10:00:00Z',
    lastTimestamp: '2024-05-01T10:01:00Z',
    count: 2,
    type: 'Normal',
  };
  const asV1: any = eventCoreToV1(legacy);
  assert.deepEqual(asV1.deprecatedSource, { component: 'kubelet', host: 'node1' });
  assert.equal(asV1.deprecatedCount, 2);
  assert.equal(asV1.deprecatedFirstTimestamp, '2024-05-01T10:00:00Z');
  assert.deepEqual(eventV1ToCore(asV1), legacy);
  assert.equal(eventResource.fieldSelectors?.['regarding.name']?.(legacy), 'p');
  assert.equal(eventResource.fieldSelectors?.['involvedObject.kind']?.(ev), 'Pod');

  const bad: any = { ...ev, type: 'Odd', deprecatedCount: 4 };
  delete bad.reportingController;
  const errs = fields(eventResource.validate!(bad, ctx()));
  assert.ok(errs.includes('reportingController: Required value'));
  assert.ok(errs.includes('type: Invalid value: "": has invalid value: Odd'));
  assert.ok(errs.includes('deprecatedCount: Invalid value: "": needs to be unset'));
});

test('RBAC binding defaults and roleRef immutability', () => {
  const rb: any = {
    metadata: { name: 'read', namespace: 'default' },
    roleRef: { kind: 'Role', name: 'reader' },
    subjects: [
      { kind: 'User', name: 'alice' },
      { kind: 'ServiceAccount', name: 'default', namespace: 'default' },
    ],
  };
  roleBindingResource.defaults!(rb);
  assert.equal(rb.roleRef.apiGroup, 'rbac.authorization.k8s.io');
  assert.equal(rb.subjects[0].apiGroup, 'rbac.authorization.k8s.io');
  assert.equal(rb.subjects[1].apiGroup, '');
  assert.deepEqual(roleBindingResource.validate!(rb, ctx()), []);
  const next = structuredClone(rb);
  next.roleRef.name = 'admin';
  assert.match(
    fields(roleBindingResource.validateUpdate!(next, rb, ctx('update')))[0],
    /^roleRef: Invalid value: .*: cannot change roleRef$/,
  );
});

test('CRD defaults and validation', () => {
  const crd: any = {
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { plural: 'widgets', kind: 'Widget' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } }],
    },
  };
  customResourceDefinitionResource.defaults!(crd);
  assert.equal(crd.spec.names.singular, 'widget');
  assert.equal(crd.spec.names.listKind, 'WidgetList');
  assert.deepEqual(crd.spec.conversion, { strategy: 'None' });
  assert.deepEqual(fields(customResourceDefinitionResource.validate!(crd, ctx())), []);
  customResourceDefinitionResource.prepareForCreate!(crd, ctx());
  assert.deepEqual(crd.status.storedVersions, ['v1']);
  const wrong = structuredClone(crd);
  wrong.metadata.name = 'widget.example.com';
  wrong.spec.versions.push({
    name: 'v2',
    served: true,
    storage: true,
    schema: { openAPIV3Schema: { type: 'object' } },
  });
  const errs = fields(customResourceDefinitionResource.validate!(wrong, ctx()));
  assert.ok(
    errs.includes('metadata.name: Invalid value: "widget.example.com": must be spec.names.plural+"."+spec.group'),
  );
  assert.ok(errs.some((e) => e.endsWith('must have exactly one version marked as storage version')));
});

test('PriorityClass, Ingress, webhook and StorageClass rules', () => {
  const pc: any = { metadata: { name: 'system-custom' }, value: 5 };
  priorityClassResource.defaults!(pc);
  assert.equal(pc.preemptionPolicy, 'PreemptLowerPriority');
  assert.match(
    fields(priorityClassResource.validate!(pc, ctx()))[0],
    /^metadata\.name: Forbidden: priority class names with 'system-' prefix are reserved/,
  );
  assert.deepEqual(fields(priorityClassResource.validateUpdate!({ ...pc, value: 6 }, pc, ctx('update'))), [
    'value: Forbidden: may not be changed in an update.',
  ]);

  const ing: any = {
    metadata: { name: 'i', namespace: 'default' },
    spec: {
      rules: [
        {
          host: 'a.example.com',
          http: { paths: [{ path: 'x', backend: { service: { name: 'web', port: { number: 80 } } } }] },
        },
      ],
    },
  };
  const ingErrs = fields(ingressResource.validate!(ing, ctx()));
  assert.deepEqual(ingErrs, ['spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified']);
  ing.spec.rules[0].http.paths[0].pathType = 'Prefix';
  assert.deepEqual(fields(ingressResource.validate!(ing, ctx())), [
    'spec.rules[0].http.paths[0].path: Invalid value: "x": must be an absolute path',
  ]);

  const vwc: any = {
    metadata: { name: 'v' },
    webhooks: [
      {
        name: 'check.example.com',
        clientConfig: { url: 'https://hooks.example.com/check' },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      },
    ],
  };
  validatingWebhookConfigurationResource.defaults!(vwc);
  assert.equal(vwc.webhooks[0].timeoutSeconds, 10);
  assert.equal(vwc.webhooks[0].rules[0].scope, '*');
  assert.deepEqual(fields(validatingWebhookConfigurationResource.validate!(vwc, ctx())), [
    'webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun',
    'webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1',
  ]);

  const sc: any = { metadata: { name: 'fast' }, provisioner: 'k8ts.io/local-path' };
  storageClassResource.defaults!(sc);
  assert.equal(sc.reclaimPolicy, 'Delete');
  assert.equal(sc.volumeBindingMode, 'Immediate');
  assert.deepEqual(storageClassResource.validate!(sc, ctx()), []);
  assert.deepEqual(fields(storageClassResource.validateUpdate!({ ...sc, parameters: { a: 'b' } }, sc, ctx('update'))), [
    'parameters: Forbidden: updates to parameters are forbidden.',
  ]);

  const pdb: any = {
    metadata: { name: 'p', namespace: 'default' },
    spec: { minAvailable: 1, maxUnavailable: '10%', selector: { matchLabels: { a: 'b' } } },
  };
  assert.match(
    fields(podDisruptionBudgetResource.validate!(pdb, ctx()))[0],
    /minAvailable and maxUnavailable cannot be both set/,
  );
});
