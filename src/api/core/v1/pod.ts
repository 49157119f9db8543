// core/v1 Pod: SetDefaults_Pod, ValidatePodCreate/Update/StatusUpdate, the pod registry strategy
// (status on create, QoS class, graceful deletion) and its field selectors.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ResourceDef, StrategyContext } from '../../types.js';
import { type FieldError, type FieldPath, forbidden, invalid, path } from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain, isQualifiedName } from '../../../machinery/validation.js';
import { podColumns } from './tables.js';
import { defaultPodSpec, validatePodSpec, validateTolerations } from './podspec.js';
import { clone, describeDiff, semanticEqual, validateImmutableField } from './helpers.js';
import { setOwn } from '../../../machinery/objects.js';
import { rfc3339 } from '../../../machinery/time.js';
import {
  EPHEMERAL_CONTAINERS_SUBRESOURCE,
  keepOnlyEphemeralContainerChanges,
  validatePodEphemeralContainersUpdate,
} from './ephemeralcontainers.js';
import { podQOSClass } from '../../helpers/podresources.js';

function defaultRequestsFromLimits(containers: any[] | undefined): void {
  for (const c of containers ?? []) {
    const limits = c.resources?.limits;
    if (!limits) continue;
    c.resources.requests ??= {};
    for (const [k, v] of Object.entries(limits))
      if (!Object.hasOwn(c.resources.requests, k)) setOwn(c.resources.requests, k, v);
  }
}

/** SetDefaults_Pod + SetDefaults_PodSpec and everything below. */
export function defaultPod(pod: Pod): void {
  const p = pod as any;
  p.spec ??= {};
  defaultPodSpec(p.spec);
  defaultRequestsFromLimits(p.spec.containers);
  defaultRequestsFromLimits(p.spec.initContainers);
  if (p.spec.enableServiceLinks === undefined || p.spec.enableServiceLinks === null) p.spec.enableServiceLinks = true;
  if (p.spec.hostNetwork) {
    for (const c of [...(p.spec.containers ?? []), ...(p.spec.initContainers ?? [])]) {
      for (const port of c.ports ?? []) if (!port.hostPort) port.hostPort = port.containerPort;
    }
  }
}

/** The pod's QoS class (qos.ComputePodQOS); one implementation in api/helpers. */
export const computeQOSClass = podQOSClass;

const UPDATABLE_POD_SPEC_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

function validateContainerUpdates(
  next: any[] | undefined,
  prev: any[] | undefined,
  p: FieldPath,
): { errs: FieldError[]; stop: boolean } {
  const n = next ?? [];
  const o = prev ?? [];
  if (n.length !== o.length)
    return { errs: [forbidden(p, 'pod updates may not add or remove containers')], stop: true };
  const errs: FieldError[] = [];
  n.forEach((c, i) => {
    if (!c.image)
      errs.push({ type: 'FieldValueRequired', field: String(p.index(i).child('image')), detail: 'Required value' });
    else if (c.image.trim() !== c.image)
      errs.push(invalid(p.index(i).child('image'), c.image, 'must not have leading or trailing whitespace'));
  });
  return { errs, stop: false };
}

function validateOnlyAddedTolerations(next: any[] | undefined, prev: any[] | undefined, p: FieldPath): FieldError[] {
  for (const old of prev ?? []) {
    const found = (next ?? []).some((t) => semanticEqual({ ...old, tolerationSeconds: t.tolerationSeconds }, t));
    if (!found) return [forbidden(p, 'existing toleration can not be modified except its tolerationSeconds')];
  }
  return validateTolerations(next, p);
}

/** ValidatePodUpdate's spec rules (metadata is checked by the API layer). */
export function validatePodSpecUpdate(pod: Pod, old: Pod): FieldError[] {
  const sp = path('spec');
  const ns = (pod.spec ?? {}) as any;
  const os = (old.spec ?? {}) as any;
  const errs: FieldError[] = [];
  let r = validateContainerUpdates(ns.containers, os.containers, sp.child('containers'));
  errs.push(...r.errs);
  if (r.stop) return errs;
  r = validateContainerUpdates(ns.initContainers, os.initContainers, sp.child('initContainers'));
  errs.push(...r.errs);
  if (r.stop) return errs;

  if (ns.activeDeadlineSeconds !== undefined && ns.activeDeadlineSeconds !== null) {
    const v = ns.activeDeadlineSeconds;
    if (v < 0 || v > 2147483647) {
      errs.push(invalid(sp.child('activeDeadlineSeconds'), v, 'must be between 0 and 2147483647, inclusive'));
      return errs;
    }
    if (os.activeDeadlineSeconds !== undefined && os.activeDeadlineSeconds !== null && os.activeDeadlineSeconds < v) {
      errs.push(invalid(sp.child('activeDeadlineSeconds'), v, 'must be less than or equal to previous value'));
      return errs;
    }
  } else if (os.activeDeadlineSeconds !== undefined && os.activeDeadlineSeconds !== null) {
    errs.push(invalid(sp.child('activeDeadlineSeconds'), null, 'must not update from a positive integer to nil value'));
  }

  errs.push(...validateOnlyAddedTolerations(ns.tolerations, os.tolerations, sp.child('tolerations')));

  const oldGates: any[] = os.schedulingGates ?? [];
  (ns.schedulingGates ?? []).forEach((g: any, i: number) => {
    if (!oldGates.some((o) => o.name === g.name)) {
      errs.push(
        forbidden(
          sp.child('schedulingGates').index(i),
          `only deletion is allowed, but found new scheduling gate '${g.name}'`,
        ),
      );
    }
  });

  if (semanticEqual(ns, os)) return errs;

  // Put the updatable fields back to their old values; whatever differs then is forbidden.
  const munged = clone(ns);
  (munged.containers ?? []).forEach((c: any, i: number) => (c.image = os.containers[i].image));
  (munged.initContainers ?? []).forEach((c: any, i: number) => (c.image = os.initContainers[i].image));
  munged.activeDeadlineSeconds = os.activeDeadlineSeconds;
  munged.schedulingGates = os.schedulingGates;
  munged.tolerations = os.tolerations;
  if (
    typeof os.terminationGracePeriodSeconds === 'number' &&
    os.terminationGracePeriodSeconds < 0 &&
    munged.terminationGracePeriodSeconds === 1
  ) {
    munged.terminationGracePeriodSeconds = os.terminationGracePeriodSeconds;
  }
  if (oldGates.length > 0) {
    // Gated pods may gain node selectors and node affinity.
    const oldSel = os.nodeSelector ?? {};
    const newSel = munged.nodeSelector ?? {};
    if (Object.entries(oldSel).every(([k, v]) => newSel[k] === v)) munged.nodeSelector = os.nodeSelector;
    else
      errs.push(
        invalid(
          sp.child('nodeSelector'),
          newSel,
          'only additions to spec.nodeSelector are allowed (no mutations or deletions)',
        ),
      );
    if (!os.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution) {
      if (munged.affinity) munged.affinity.nodeAffinity = os.affinity?.nodeAffinity;
      if (munged.affinity && Object.values(munged.affinity).every((v) => v === undefined))
        munged.affinity = os.affinity;
    }
  }
  if (!semanticEqual(munged, os)) {
    const diff = describeDiff(os, munged);
    errs.push(
      forbidden(
        sp,
        `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(',')}\n  core.PodSpec{\n${diff}\n  }\n`,
      ),
    );
  }
  return errs;
}

/** ValidatePodStatusUpdate, the parts that concern status itself. */
export function validatePodStatusUpdate(pod: Pod, old: Pod): FieldError[] {
  const errs: FieldError[] = [];
  const st = path('status');
  const ns = (pod.status ?? {}) as any;
  const os = (old.status ?? {}) as any;
  if ((pod.spec?.nodeName ?? '') !== (old.spec?.nodeName ?? ''))
    errs.push(forbidden(st.child('nodeName'), 'may not be changed directly'));
  if (ns.nominatedNodeName && ns.nominatedNodeName !== os.nominatedNodeName) {
    for (const m of isDNS1123Subdomain(ns.nominatedNodeName))
      errs.push(invalid(st.child('nominatedNodeName'), ns.nominatedNodeName, m));
  }
  if (os.qosClass) errs.push(...validateImmutableField(ns.qosClass, os.qosClass, st.child('qosClass')));
  (ns.conditions ?? []).forEach((c: any, i: number) => {
    if (
      [
        'PodScheduled',
        'Ready',
        'Initialized',
        'ContainersReady',
        'PodReadyToStartContainers',
        'DisruptionTarget',
      ].includes(c.type)
    )
      return;
    for (const m of isQualifiedName(c.type ?? ''))
      errs.push(invalid(path('metadata', 'conditions').index(i).child('Type'), c.type, m));
  });
  // Containers that must not restart may not leave the terminated state.
  const restartPolicy = old.spec?.restartPolicy;
  if (restartPolicy !== 'Always') {
    (os.containerStatuses ?? []).forEach((o: any, i: number) => {
      if (!o.state?.terminated) return;
      if (o.state.terminated.exitCode !== 0 && restartPolicy === 'OnFailure') return;
      for (const n of ns.containerStatuses ?? []) {
        if (n.name === o.name && !n.state?.terminated) {
          errs.push(
            forbidden(
              st.child('containerStatuses').index(i).child('state'),
              'may not be transitioned to non-terminated state',
            ),
          );
        }
      }
    });
  }
  return errs;
}

function podIPs(pod: any): string[] {
  const ips: string[] = (pod.status?.podIPs ?? []).map((x: any) => x.ip).filter(Boolean);
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

export const pods: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'Pod',
  plural: 'pods',
  singular: 'pod',
  shortNames: ['po'],
  categories: ['all'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  subresources: { status: true, object: [EPHEMERAL_CONTAINERS_SUBRESOURCE] },
  generationTracksSpec: true,
  table: podColumns,
  defaults: defaultPod,

  prepareForCreate(obj: any, _ctx: StrategyContext) {
    obj.spec ??= {};
    // Admission (ServiceAccount, Priority) fills these on a real cluster.
    if (!obj.spec.serviceAccountName) obj.spec.serviceAccountName = obj.spec.serviceAccount || 'default';
    if (!obj.spec.serviceAccount) obj.spec.serviceAccount = obj.spec.serviceAccountName;
    if (obj.spec.priority === undefined && !obj.spec.priorityClassName) obj.spec.priority = 0;
    if (!obj.spec.preemptionPolicy) obj.spec.preemptionPolicy = 'PreemptLowerPriority';
    obj.status = { phase: 'Pending', qosClass: computeQOSClass(obj) };
    // A gated pod says why it waits (upstream applySchedulingGatedCondition): kubectl shows it.
    if (obj.spec.schedulingGates?.length)
      obj.status.conditions = [
        {
          type: 'PodScheduled',
          status: 'False',
          lastProbeTime: null,
          lastTransitionTime: rfc3339(),
          reason: 'SchedulingGated',
          message: 'Scheduling is blocked due to non-empty scheduling gates',
        },
      ];
  },

  prepareForUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') {
      obj.spec = old.spec;
      if (!obj.status) obj.status = {};
      if (old.status?.qosClass && !obj.status.qosClass) obj.status.qosClass = old.status.qosClass;
    } else if (ctx.subresource === EPHEMERAL_CONTAINERS_SUBRESOURCE) {
      keepOnlyEphemeralContainerChanges(obj, old);
    } else if (!ctx.subresource) {
      obj.status = old.status;
    }
  },

  validate(obj: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') return [];
    const errs = validatePodSpec(obj.spec, path('spec'), { isPod: true });
    if (ctx.operation === 'create') {
      if (obj.spec?.ephemeralContainers?.length)
        errs.push(forbidden(path('spec', 'ephemeralContainers'), 'cannot be set on create'));
      if (obj.spec?.nodeName && obj.spec?.schedulingGates?.length) {
        errs.push(forbidden(path('spec', 'nodeName'), 'cannot be set until all schedulingGates have been cleared'));
      }
    }
    return errs;
  },

  validateUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') return validatePodStatusUpdate(obj, old);
    if (ctx.subresource === EPHEMERAL_CONTAINERS_SUBRESOURCE) return validatePodEphemeralContainersUpdate(obj, old);
    if (ctx.subresource) return [];
    return validatePodSpecUpdate(obj, old);
  },

  gracefulDelete(obj: any, requestedGrace: number | undefined) {
    let period = requestedGrace ?? obj.spec?.terminationGracePeriodSeconds ?? 30;
    if (!obj.spec?.nodeName) period = 0;
    const phase = obj.status?.phase;
    if (phase === 'Failed' || phase === 'Succeeded') period = 0;
    if (period < 0) period = 1;
    return period;
  },

  fieldSelectors: {
    'spec.nodeName': (o) => o.spec?.nodeName ?? '',
    // Old v1 clients send spec.host.
    'spec.host': (o) => o.spec?.nodeName ?? '',
    'spec.restartPolicy': (o) => o.spec?.restartPolicy ?? '',
    'spec.schedulerName': (o) => o.spec?.schedulerName ?? '',
    'spec.serviceAccountName': (o) => o.spec?.serviceAccountName ?? '',
    'spec.hostNetwork': (o) => String(o.spec?.hostNetwork === true),
    'status.phase': (o) => o.status?.phase ?? '',
    'status.podIP': (o) => podIPs(o)[0] ?? '',
    'status.podIPs': (o) => podIPs(o).join(','),
    'status.nominatedNodeName': (o) => o.status?.nominatedNodeName ?? '',
  },
};
