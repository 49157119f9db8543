// Helm's ReadyChecker (pkg/kube/ready.go): when `--wait` considers an object ready. Kinds it
// does not know are ready as soon as they exist.
import type { DaemonSet, Deployment, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { PersistentVolumeClaim, Pod, Service } from 'kubernetes-types/core/v1.js';

export interface Readiness {
  ready: boolean;
  failed?: boolean;
  reason?: string;
}

/** maxUnavailable of a rolling update: an absolute number or a percentage of `replicas` (rounded down). */
function maxUnavailable(v: number | string | undefined, replicas: number): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const pct = /^(\d+)%$/.exec(v);
  return pct ? Math.floor((Number(pct[1]) * replicas) / 100) : Number(v) || 0;
}

const observed = (o: { metadata?: { generation?: number }; status?: { observedGeneration?: number } }) =>
  (o.status?.observedGeneration ?? 0) >= (o.metadata?.generation ?? 0);

function deployment(d: Deployment): Readiness {
  const replicas = d.spec?.replicas ?? 1;
  if (d.spec?.paused) return { ready: true };
  if (!observed(d)) return { ready: false, reason: 'waiting for the controller' };
  const unavailable =
    d.spec?.strategy?.type === 'Recreate'
      ? 0
      : maxUnavailable(d.spec?.strategy?.rollingUpdate?.maxUnavailable ?? '25%', replicas);
  const expected = replicas - unavailable;
  const updated = d.status?.updatedReplicas ?? 0;
  const available = d.status?.availableReplicas ?? 0;
  if (updated < replicas || available < expected)
    return { ready: false, reason: `${available}/${replicas} available, ${updated} updated` };
  return { ready: true };
}

function statefulSet(s: StatefulSet): Readiness {
  const replicas = s.spec?.replicas ?? 1;
  if (!observed(s)) return { ready: false, reason: 'waiting for the controller' };
  const ready = s.status?.readyReplicas ?? 0;
  const updated = s.status?.updatedReplicas ?? 0;
  if (ready < replicas || (s.spec?.updateStrategy?.type !== 'OnDelete' && updated < replicas))
    return { ready: false, reason: `${ready}/${replicas} ready` };
  return { ready: true };
}

function daemonSet(d: DaemonSet): Readiness {
  if (d.spec?.updateStrategy?.type === 'OnDelete') return { ready: true };
  if (!observed(d)) return { ready: false, reason: 'waiting for the controller' };
  const desired = d.status?.desiredNumberScheduled ?? 0;
  const expected = desired - maxUnavailable(d.spec?.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, desired);
  const ready = d.status?.numberReady ?? 0;
  if ((d.status?.updatedNumberScheduled ?? 0) < desired || ready < expected)
    return { ready: false, reason: `${ready}/${desired} ready` };
  return { ready: true };
}

function job(j: Job): Readiness {
  const conditions = j.status?.conditions ?? [];
  if (conditions.some((c) => c.type === 'Failed' && c.status === 'True'))
    return { ready: false, failed: true, reason: conditions.find((c) => c.type === 'Failed')?.message ?? 'job failed' };
  const completions = j.spec?.completions ?? 1;
  const succeeded = j.status?.succeeded ?? 0;
  if (succeeded < completions) return { ready: false, reason: `${succeeded}/${completions} completed` };
  return { ready: true };
}

function pod(p: Pod): Readiness {
  if (p.status?.phase === 'Succeeded') return { ready: true };
  if (p.status?.phase === 'Failed') return { ready: false, failed: true, reason: p.status.message ?? 'pod failed' };
  const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  return ready ? { ready: true } : { ready: false, reason: p.status?.phase ?? 'Pending' };
}

function pvc(p: PersistentVolumeClaim): Readiness {
  return p.status?.phase === 'Bound' ? { ready: true } : { ready: false, reason: p.status?.phase ?? 'Pending' };
}

function service(s: Service): Readiness {
  const spec = s.spec ?? {};
  if (spec.type === 'ExternalName') return { ready: true };
  if (!spec.clusterIP) return { ready: false, reason: 'no cluster IP' };
  if (spec.type === 'LoadBalancer' && !s.status?.loadBalancer?.ingress?.length && !spec.externalIPs?.length)
    return { ready: false, reason: 'no load balancer address' };
  return { ready: true };
}

/** Any object as read from the API (kube.ts's KubeObject fits). */
interface ApiObject {
  apiVersion: string;
  kind: string;
  [field: string]: unknown;
}

export function readiness(o: ApiObject): Readiness {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  switch (`${group}/${o.kind}`) {
    case 'apps/Deployment':
      return deployment(o as unknown as Deployment);
    case 'apps/StatefulSet':
      return statefulSet(o as unknown as StatefulSet);
    case 'apps/DaemonSet':
      return daemonSet(o as unknown as DaemonSet);
    case 'batch/Job':
      return job(o as unknown as Job);
    case '/Pod':
      return pod(o as unknown as Pod);
    case '/PersistentVolumeClaim':
      return pvc(o as unknown as PersistentVolumeClaim);
    case '/Service':
      return service(o as unknown as Service);
    default:
      return { ready: true };
  }
}
