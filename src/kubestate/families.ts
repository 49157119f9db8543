// Object metrics with kube-state-metrics' names, labels and help texts (its v2 "stable" and
// common families), so its dashboards and alerts (kube-prometheus' KubePodNotReady,
// KubeDeploymentReplicasMismatch, ...) work against k8ts. Each family turns one object into
// samples; render.ts lists the informers' objects and prints the text format.
import type { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Namespace, Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { parseQuantityOrNull } from '../machinery/quantity.js';

export type Labels = Record<string, string>;
export type Sample = [Labels, number];

export interface Family<T> {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'info' | 'stateset';
  samples(obj: T): Sample[];
}

const seconds = (t: string | undefined): number | undefined => (t ? Date.parse(t) / 1000 : undefined);
const created = (m: ObjectMeta | undefined): Sample[] => {
  const s = seconds(m?.creationTimestamp);
  return s === undefined ? [] : [[{}, s]];
};
const one = (value: number | undefined): Sample[] => [[{}, value ?? 0]];
const bool = (b: boolean): number => (b ? 1 : 0);
/** A condition status as kube-state-metrics spreads it: one sample per true/false/unknown. */
const conditionSamples = (labels: Labels, status: string | undefined): Sample[] =>
  ['true', 'false', 'unknown'].map((s) => [{ ...labels, status: s }, bool((status ?? 'Unknown').toLowerCase() === s)]);

function owner(m: ObjectMeta | undefined): Labels {
  const ref = m?.ownerReferences?.find((r) => r.controller) ?? m?.ownerReferences?.[0];
  return {
    owner_kind: ref?.kind ?? '<none>',
    owner_name: ref?.name ?? '<none>',
    owner_is_controller: ref?.controller ? 'true' : 'false',
  };
}

const POD_PHASES = ['Pending', 'Succeeded', 'Failed', 'Unknown', 'Running'];

export const podFamilies: Family<Pod>[] = [
  {
    name: 'kube_pod_info',
    help: 'Information about pod.',
    type: 'gauge',
    samples: (p) => {
      const ref = p.metadata?.ownerReferences?.find((r) => r.controller);
      return [
        [
          {
            host_ip: p.status?.hostIP ?? '',
            pod_ip: p.status?.podIP ?? '',
            node: p.spec?.nodeName ?? '',
            created_by_kind: ref?.kind ?? '<none>',
            created_by_name: ref?.name ?? '<none>',
            priority_class: p.spec?.priorityClassName ?? '',
            host_network: String(!!p.spec?.hostNetwork),
          },
          1,
        ],
      ];
    },
  },
  { name: 'kube_pod_created', help: 'Unix creation timestamp', type: 'gauge', samples: (p) => created(p.metadata) },
  {
    name: 'kube_pod_owner',
    help: "Information about the Pod's owner.",
    type: 'gauge',
    samples: (p) => [[owner(p.metadata), 1]],
  },
  {
    name: 'kube_pod_status_phase',
    help: 'The pods current phase.',
    type: 'gauge',
    samples: (p) => POD_PHASES.map((phase) => [{ phase }, bool(p.status?.phase === phase)]),
  },
  {
    name: 'kube_pod_status_ready',
    help: 'Describes whether the pod is ready to serve requests.',
    type: 'gauge',
    samples: (p) => {
      const c = p.status?.conditions?.find((x) => x.type === 'Ready');
      return c ? conditionSamples({ condition: '' }, c.status).map(([l, v]) => [{ condition: l.status }, v]) : [];
    },
  },
  {
    name: 'kube_pod_status_scheduled',
    help: 'Describes the status of the scheduling process for the pod.',
    type: 'gauge',
    samples: (p) => {
      const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
      return c ? conditionSamples({}, c.status).map(([l, v]) => [{ condition: l.status }, v]) : [];
    },
  },
  {
    name: 'kube_pod_container_info',
    help: 'Information about a container in a pod.',
    type: 'gauge',
    samples: (p) =>
      (p.status?.containerStatuses ?? []).map((c) => [
        {
          container: c.name,
          image_spec: p.spec?.containers.find((s) => s.name === c.name)?.image ?? c.image,
          image: c.image,
          image_id: c.imageID,
          container_id: c.containerID ?? '',
        },
        1,
      ]),
  },
  {
    name: 'kube_pod_container_status_restarts_total',
    help: 'The number of container restarts per container.',
    type: 'counter',
    samples: (p) => (p.status?.containerStatuses ?? []).map((c) => [{ container: c.name }, c.restartCount]),
  },
  {
    name: 'kube_pod_container_status_running',
    help: 'Describes whether the container is currently in running state.',
    type: 'gauge',
    samples: (p) => (p.status?.containerStatuses ?? []).map((c) => [{ container: c.name }, bool(!!c.state?.running)]),
  },
  {
    name: 'kube_pod_container_status_ready',
    help: 'Describes whether the containers readiness check succeeded.',
    type: 'gauge',
    samples: (p) => (p.status?.containerStatuses ?? []).map((c) => [{ container: c.name }, bool(c.ready)]),
  },
  {
    name: 'kube_pod_container_status_waiting_reason',
    help: 'Describes the reason the container is currently in waiting state.',
    type: 'gauge',
    samples: (p) =>
      (p.status?.containerStatuses ?? [])
        .filter((c) => c.state?.waiting?.reason)
        .map((c) => [{ container: c.name, reason: c.state!.waiting!.reason! }, 1]),
  },
  {
    name: 'kube_pod_container_resource_requests',
    help: 'The number of requested request resource by a container. It is recommended to use the kube_pod_resource_requests metric exposed by kube-scheduler instead, as it is more precise.',
    type: 'gauge',
    samples: (p) => resourceSamples(p, 'requests'),
  },
  {
    name: 'kube_pod_container_resource_limits',
    help: 'The number of requested limit resource by a container. It is recommended to use the kube_pod_resource_limits metric exposed by kube-scheduler instead, as it is more precise.',
    type: 'gauge',
    samples: (p) => resourceSamples(p, 'limits'),
  },
];

function resourceSamples(p: Pod, which: 'requests' | 'limits'): Sample[] {
  const out: Sample[] = [];
  for (const c of p.spec?.containers ?? []) {
    for (const [name, q] of Object.entries(c.resources?.[which] ?? {})) {
      const r = resourceLabels(name, String(q));
      if (r) out.push([{ container: c.name, node: p.spec?.nodeName ?? '', ...r.labels }, r.value]);
    }
  }
  return out;
}

/** kube-state-metrics' resource/unit labels: cpu in cores, memory and storage in bytes. */
function resourceLabels(name: string, quantity: string): { labels: Labels; value: number } | undefined {
  const q = parseQuantityOrNull(quantity);
  if (!q) return undefined;
  const value = q.asNumber();
  const resource = name.replace(/[./]/g, '_');
  if (name === 'cpu') return { labels: { resource, unit: 'core' }, value };
  if (name === 'memory' || name.includes('storage') || name.startsWith('hugepages-'))
    return { labels: { resource, unit: 'byte' }, value };
  return { labels: { resource, unit: 'integer' }, value };
}

export const deploymentFamilies: Family<Deployment>[] = [
  {
    name: 'kube_deployment_created',
    help: 'Unix creation timestamp',
    type: 'gauge',
    samples: (d) => created(d.metadata),
  },
  {
    name: 'kube_deployment_spec_replicas',
    help: 'Number of desired pods for a deployment.',
    type: 'gauge',
    samples: (d) => one(d.spec?.replicas ?? 1),
  },
  {
    name: 'kube_deployment_status_replicas',
    help: 'The number of replicas per deployment.',
    type: 'gauge',
    samples: (d) => one(d.status?.replicas),
  },
  {
    name: 'kube_deployment_status_replicas_ready',
    help: 'The number of ready replicas per deployment.',
    type: 'gauge',
    samples: (d) => one(d.status?.readyReplicas),
  },
  {
    name: 'kube_deployment_status_replicas_available',
    help: 'The number of available replicas per deployment.',
    type: 'gauge',
    samples: (d) => one(d.status?.availableReplicas),
  },
  {
    name: 'kube_deployment_status_replicas_unavailable',
    help: 'The number of unavailable replicas per deployment.',
    type: 'gauge',
    samples: (d) => one(d.status?.unavailableReplicas),
  },
  {
    name: 'kube_deployment_status_replicas_updated',
    help: 'The number of updated replicas per deployment.',
    type: 'gauge',
    samples: (d) => one(d.status?.updatedReplicas),
  },
  {
    name: 'kube_deployment_status_observed_generation',
    help: 'The generation observed by the deployment controller.',
    type: 'gauge',
    samples: (d) => one(d.status?.observedGeneration),
  },
  {
    name: 'kube_deployment_metadata_generation',
    help: 'Sequence number representing a specific generation of the desired state.',
    type: 'gauge',
    samples: (d) => one(d.metadata?.generation),
  },
  {
    name: 'kube_deployment_spec_paused',
    help: 'Whether the deployment is paused and will not be processed by the deployment controller.',
    type: 'gauge',
    samples: (d) => one(bool(!!d.spec?.paused)),
  },
  {
    name: 'kube_deployment_status_condition',
    help: 'The current status conditions of a deployment.',
    type: 'gauge',
    samples: (d) =>
      (d.status?.conditions ?? []).flatMap((c) =>
        conditionSamples({ condition: c.type, reason: c.reason ?? '' }, c.status),
      ),
  },
];

export const replicaSetFamilies: Family<ReplicaSet>[] = [
  {
    name: 'kube_replicaset_created',
    help: 'Unix creation timestamp',
    type: 'gauge',
    samples: (r) => created(r.metadata),
  },
  {
    name: 'kube_replicaset_spec_replicas',
    help: 'Number of desired pods for a ReplicaSet.',
    type: 'gauge',
    samples: (r) => one(r.spec?.replicas ?? 1),
  },
  {
    name: 'kube_replicaset_status_replicas',
    help: 'The number of replicas per ReplicaSet.',
    type: 'gauge',
    samples: (r) => one(r.status?.replicas),
  },
  {
    name: 'kube_replicaset_status_ready_replicas',
    help: 'The number of ready replicas per ReplicaSet.',
    type: 'gauge',
    samples: (r) => one(r.status?.readyReplicas),
  },
  {
    name: 'kube_replicaset_owner',
    help: "Information about the ReplicaSet's owner.",
    type: 'gauge',
    samples: (r) => [[owner(r.metadata), 1]],
  },
];

export const statefulSetFamilies: Family<StatefulSet>[] = [
  {
    name: 'kube_statefulset_replicas',
    help: 'Number of desired pods for a StatefulSet.',
    type: 'gauge',
    samples: (s) => one(s.spec?.replicas ?? 1),
  },
  {
    name: 'kube_statefulset_status_replicas',
    help: 'The number of replicas per StatefulSet.',
    type: 'gauge',
    samples: (s) => one(s.status?.replicas),
  },
  {
    name: 'kube_statefulset_status_replicas_ready',
    help: 'The number of ready replicas per StatefulSet.',
    type: 'gauge',
    samples: (s) => one(s.status?.readyReplicas),
  },
  {
    name: 'kube_statefulset_status_replicas_available',
    help: 'The number of available replicas per StatefulSet.',
    type: 'gauge',
    samples: (s) => one(s.status?.availableReplicas),
  },
];

export const daemonSetFamilies: Family<DaemonSet>[] = [
  {
    name: 'kube_daemonset_status_desired_number_scheduled',
    help: 'The number of nodes that should be running the daemon pod.',
    type: 'gauge',
    samples: (d) => one(d.status?.desiredNumberScheduled),
  },
  {
    name: 'kube_daemonset_status_current_number_scheduled',
    help: 'The number of nodes running at least one daemon pod and are supposed to.',
    type: 'gauge',
    samples: (d) => one(d.status?.currentNumberScheduled),
  },
  {
    name: 'kube_daemonset_status_number_ready',
    help: 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.',
    type: 'gauge',
    samples: (d) => one(d.status?.numberReady),
  },
  {
    name: 'kube_daemonset_status_number_available',
    help: 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available',
    type: 'gauge',
    samples: (d) => one(d.status?.numberAvailable),
  },
  {
    name: 'kube_daemonset_status_number_misscheduled',
    help: 'The number of nodes running a daemon pod but are not supposed to.',
    type: 'gauge',
    samples: (d) => one(d.status?.numberMisscheduled),
  },
];

export const jobFamilies: Family<Job>[] = [
  {
    name: 'kube_job_status_active',
    help: 'The number of actively running pods.',
    type: 'gauge',
    samples: (j) => one(j.status?.active),
  },
  {
    name: 'kube_job_status_succeeded',
    help: 'The number of pods which reached Phase Succeeded.',
    type: 'gauge',
    samples: (j) => one(j.status?.succeeded),
  },
  {
    name: 'kube_job_status_failed',
    help: 'The number of pods which reached Phase Failed and the reason for failure.',
    type: 'gauge',
    samples: (j) => one(j.status?.failed),
  },
  {
    name: 'kube_job_complete',
    help: 'The job has completed its execution.',
    type: 'gauge',
    samples: (j) => {
      const c = j.status?.conditions?.find((x) => x.type === 'Complete');
      return c ? conditionSamples({}, c.status).map(([l, v]) => [{ condition: l.status }, v]) : [];
    },
  },
  {
    name: 'kube_job_owner',
    help: "Information about the Job's owner.",
    type: 'gauge',
    samples: (j) => [[owner(j.metadata), 1]],
  },
];

export const nodeFamilies: Family<Node>[] = [
  {
    name: 'kube_node_info',
    help: 'Information about a cluster node.',
    type: 'gauge',
    samples: (n) => {
      const i = n.status?.nodeInfo;
      return [
        [
          {
            kernel_version: i?.kernelVersion ?? '',
            os_image: i?.osImage ?? '',
            container_runtime_version: i?.containerRuntimeVersion ?? '',
            kubelet_version: i?.kubeletVersion ?? '',
            kubeproxy_version: i?.kubeProxyVersion ?? '',
            provider_id: n.spec?.providerID ?? '',
            pod_cidr: n.spec?.podCIDR ?? '',
            system_uuid: i?.systemUUID ?? '',
            internal_ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
          },
          1,
        ],
      ];
    },
  },
  { name: 'kube_node_created', help: 'Unix creation timestamp', type: 'gauge', samples: (n) => created(n.metadata) },
  {
    name: 'kube_node_spec_unschedulable',
    help: 'Whether a node can schedule new pods.',
    type: 'gauge',
    samples: (n) => one(bool(!!n.spec?.unschedulable)),
  },
  {
    name: 'kube_node_spec_taint',
    help: 'The taint of a cluster node.',
    type: 'gauge',
    samples: (n) => (n.spec?.taints ?? []).map((t) => [{ key: t.key, value: t.value ?? '', effect: t.effect }, 1]),
  },
  {
    name: 'kube_node_status_condition',
    help: 'The condition of a cluster node.',
    type: 'gauge',
    samples: (n) => (n.status?.conditions ?? []).flatMap((c) => conditionSamples({ condition: c.type }, c.status)),
  },
  {
    name: 'kube_node_status_capacity',
    help: 'The capacity for different resources of a node.',
    type: 'gauge',
    samples: (n) => nodeResources(n.status?.capacity),
  },
  {
    name: 'kube_node_status_allocatable',
    help: 'The allocatable for different resources of a node that are available for scheduling.',
    type: 'gauge',
    samples: (n) => nodeResources(n.status?.allocatable),
  },
];

function nodeResources(list: Record<string, string> | undefined): Sample[] {
  const out: Sample[] = [];
  for (const [name, q] of Object.entries(list ?? {})) {
    const r = resourceLabels(name, String(q));
    if (r) out.push([r.labels, r.value]);
  }
  return out;
}

export const namespaceFamilies: Family<Namespace>[] = [
  {
    name: 'kube_namespace_created',
    help: 'Unix creation timestamp',
    type: 'gauge',
    samples: (n) => created(n.metadata),
  },
  {
    name: 'kube_namespace_status_phase',
    help: 'kubernetes namespace status phase.',
    type: 'gauge',
    samples: (n) =>
      ['Active', 'Terminating'].map((phase) => [{ phase }, bool((n.status?.phase ?? 'Active') === phase)]),
  },
];

export const serviceFamilies: Family<Service>[] = [
  {
    name: 'kube_service_info',
    help: 'Information about service.',
    type: 'gauge',
    samples: (s) => [
      [
        {
          cluster_ip: s.spec?.clusterIP ?? '',
          external_name: s.spec?.externalName ?? '',
          load_balancer_ip: s.spec?.loadBalancerIP ?? '',
        },
        1,
      ],
    ],
  },
  { name: 'kube_service_created', help: 'Unix creation timestamp', type: 'gauge', samples: (s) => created(s.metadata) },
  {
    name: 'kube_service_spec_type',
    help: 'Type about service.',
    type: 'gauge',
    samples: (s) => [[{ type: s.spec?.type ?? 'ClusterIP' }, 1]],
  },
];
