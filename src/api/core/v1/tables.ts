// Server-side printer columns (kubectl get) for core/v1, matching upstream's printers.
import type {
  ConfigMap,
  ContainerStatus,
  Endpoints,
  Event,
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodTemplate,
  ReplicationController,
  ResourceQuota,
  Secret,
  Service,
  ServiceAccount,
} from 'kubernetes-types/core/v1.js';
import type { TableColumn } from '../../types.js';
import type { Projection } from '../../../machinery/jsonprojection.js';
import { age } from '../../../machinery/duration.js';
import {
  NONE,
  UNKNOWN,
  UNSET,
  ageColumn,
  containerColumns,
  defaultColumns,
  formatLabels,
  joinHostPort,
  loadBalancerIngress,
  nameColumn,
  quantityString,
} from '../../printing.js';

// ---------------------------------------------------------------------------------------------
// Pods

export interface PodPrintInfo {
  /** `ready/total` containers (restartable init containers count as containers). */
  ready: string;
  /** The STATUS cell: phase, or the most telling container/init container reason. */
  status: string;
  /** The RESTARTS cell: `3` or `3 (2m ago)`. */
  restarts: string;
}

function timeMs(ts: string | undefined): number {
  if (!ts) return 0;
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? 0 : ms;
}

/** Tracks the most recent `lastState.terminated.finishedAt` seen. */
class LatestTime {
  ms = 0;
  text: string | undefined;
  offer(ts: string | undefined): void {
    const ms = timeMs(ts);
    if (ms > this.ms) {
      this.ms = ms;
      this.text = ts;
    }
  }
}

function conditionTrue(pod: Pod, type: string): boolean {
  // Upstream stops at the first condition of the type.
  const c = (pod.status?.conditions ?? []).find((x) => x.type === type);
  return c?.status === 'True';
}

function hasPodReadyCondition(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function lastTerminated(c: ContainerStatus): string | undefined {
  return c.lastState?.terminated?.finishedAt;
}

/** READY, STATUS and RESTARTS of a pod, computed as upstream's printPod does. */
export function podPrintInfo(pod: Pod, now: number): PodPrintInfo {
  const spec = pod.spec;
  const status = pod.status ?? {};
  const phase = status.phase ?? '';
  let reason: string = status.reason ? status.reason : phase;

  for (const c of status.conditions ?? []) {
    if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }

  let totalContainers = spec?.containers?.length ?? 0;
  let readyContainers = 0;
  let restarts = 0;
  let sidecarRestarts = 0;
  let lastRestart = new LatestTime();
  const lastSidecarRestart = new LatestTime();

  const initSpecs = spec?.initContainers ?? [];
  const restartable = new Set<string>();
  for (const ic of initSpecs) {
    if (ic.restartPolicy === 'Always') {
      restartable.add(ic.name);
      totalContainers++;
    }
  }

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i];
    restarts += c.restartCount ?? 0;
    lastRestart.offer(lastTerminated(c));
    const isSidecar = restartable.has(c.name);
    if (isSidecar) {
      sidecarRestarts += c.restartCount ?? 0;
      lastSidecarRestart.offer(lastTerminated(c));
    }
    const terminated = c.state?.terminated;
    const waiting = c.state?.waiting;
    if (terminated && (terminated.exitCode ?? 0) === 0) continue;
    if (isSidecar && c.started === true) {
      if (c.ready) readyContainers++;
      continue;
    }
    if (terminated) {
      // initialization failed
      if (!terminated.reason) {
        reason = terminated.signal ? `Init:Signal:${terminated.signal}` : `Init:ExitCode:${terminated.exitCode ?? 0}`;
      } else {
        reason = `Init:${terminated.reason}`;
      }
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(pod, 'Initialized')) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    // Walk backwards so the first container with something to say wins.
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      restarts += c.restartCount ?? 0;
      lastRestart.offer(lastTerminated(c));
      const waiting = c.state?.waiting;
      const terminated = c.state?.terminated;
      if (waiting?.reason) {
        reason = waiting.reason;
      } else if (terminated?.reason) {
        reason = terminated.reason;
      } else if (terminated) {
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode ?? 0}`;
      } else if (c.ready && c.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A container still running means the pod is not really "Completed".
    if (reason === 'Completed' && hasRunning) {
      reason = hasPodReadyCondition(pod) ? 'Running' : 'NotReady';
    }
  }

  if (pod.metadata?.deletionTimestamp && status.reason === 'NodeLost') {
    reason = 'Unknown';
  } else if (pod.metadata?.deletionTimestamp && phase !== 'Failed' && phase !== 'Succeeded') {
    reason = 'Terminating';
  }

  let restartsText = String(restarts);
  if (restarts !== 0 && lastRestart.ms !== 0) {
    restartsText = `${restarts} (${age(lastRestart.text, now)} ago)`;
  }

  return { ready: `${readyContainers}/${totalContainers}`, status: reason, restarts: restartsText };
}

// Each pod's info is computed once per row even though three cells use it: the cells of a row
// are computed one after the other, so the last pod's is kept (a WeakMap of every pod cost more).
let lastPod: Pod | undefined;
let lastNow = 0;
let lastInfo: PodPrintInfo | undefined;
function cachedPodInfo(pod: Pod, now: number): PodPrintInfo {
  if (pod === lastPod && now === lastNow && lastInfo) return lastInfo;
  lastInfo = podPrintInfo(pod, now);
  lastPod = pod;
  lastNow = now;
  return lastInfo;
}

/** What podPrintInfo reads of a pod (each container only counted). */
const POD_INFO_READS: Projection = {
  metadata: { deletionTimestamp: true },
  spec: { containers: {}, initContainers: true },
  status: true,
};

function podIP(pod: Pod): string {
  return pod.status?.podIPs?.[0]?.ip || pod.status?.podIP || NONE;
}

function readinessGates(pod: Pod): string {
  const gates = pod.spec?.readinessGates ?? [];
  if (!gates.length) return NONE;
  let trueCount = 0;
  for (const g of gates) {
    const c = (pod.status?.conditions ?? []).find((x) => x.type === g.conditionType);
    if (c?.status === 'True') trueCount++;
  }
  return `${trueCount}/${gates.length}`;
}

export const podColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Ready',
    type: 'string',
    description: "How many of the pod's containers are ready.",
    cell: (o: Pod, now) => cachedPodInfo(o, now).ready,
    reads: POD_INFO_READS,
  },
  {
    name: 'Status',
    type: 'string',
    description: 'Summary of the state of the pod and its containers.',
    cell: (o: Pod, now) => cachedPodInfo(o, now).status,
    reads: POD_INFO_READS,
  },
  {
    name: 'Restarts',
    type: 'string',
    description: 'Container restarts in the pod, and how long ago the latest one was.',
    cell: (o: Pod, now) => cachedPodInfo(o, now).restarts,
    reads: POD_INFO_READS,
  },
  ageColumn(),
  {
    name: 'IP',
    type: 'string',
    priority: 1,
    description: "The pod's primary IP address.",
    cell: (o: Pod) => podIP(o),
    reads: { status: { podIPs: true, podIP: true } },
  },
  {
    name: 'Node',
    type: 'string',
    priority: 1,
    description: 'The node the pod is bound to.',
    cell: (o: Pod) => o.spec?.nodeName || NONE,
    reads: { spec: { nodeName: true } },
  },
  {
    name: 'Nominated Node',
    type: 'string',
    priority: 1,
    description: 'The node the scheduler nominated after preempting other pods.',
    cell: (o: Pod) => o.status?.nominatedNodeName || NONE,
    reads: { status: { nominatedNodeName: true } },
  },
  {
    name: 'Readiness Gates',
    type: 'string',
    priority: 1,
    description: "How many of the pod's readiness gates are satisfied.",
    cell: (o: Pod) => readinessGates(o),
    reads: { spec: { readinessGates: true }, status: { conditions: true } },
  },
];

export const podTemplateColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Containers',
    type: 'string',
    description: 'Names of the containers in the template.',
    cell: (o: PodTemplate) => (o.template?.spec?.containers ?? []).map((c) => c.name).join(','),
  },
  {
    name: 'Images',
    type: 'string',
    description: 'Images used by the containers in the template.',
    cell: (o: PodTemplate) => (o.template?.spec?.containers ?? []).map((c) => c.image ?? '').join(','),
  },
  {
    name: 'Pod Labels',
    type: 'string',
    description: 'Labels of the pod template.',
    cell: (o: PodTemplate) => formatLabels(o.template?.metadata?.labels),
  },
];

// ---------------------------------------------------------------------------------------------
// Namespaces, config

export const namespaceColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Status',
    type: 'string',
    description: 'Phase of the namespace.',
    cell: (o: Namespace) => o.status?.phase ?? '',
  },
  ageColumn(),
];

export const configMapColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Data',
    type: 'string',
    description: 'Number of keys in data and binaryData.',
    cell: (o: ConfigMap) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length,
  },
  ageColumn(),
];

export const secretColumns: TableColumn[] = [
  nameColumn(),
  { name: 'Type', type: 'string', description: 'Kind of secret data.', cell: (o: Secret) => o.type ?? '' },
  {
    name: 'Data',
    type: 'string',
    description: 'Number of keys in data.',
    cell: (o: Secret) => Object.keys(o.data ?? {}).length,
  },
  ageColumn(),
];

export const serviceAccountColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Secrets',
    type: 'string',
    description: 'Number of secrets listed for the service account.',
    cell: (o: ServiceAccount) => (o.secrets ?? []).length,
  },
  ageColumn(),
];

// LimitRange has no printer upstream; it gets the default NAME / CREATED AT table.
export const limitRangeColumns: TableColumn[] = defaultColumns();

function resourceQuotaCells(o: ResourceQuota): { request: string; limit: string } {
  const hard = o.status?.hard ?? {};
  const used = o.status?.used ?? {};
  const request: string[] = [];
  const limit: string[] = [];
  for (const name of Object.keys(hard).sort()) {
    const piece = `${name}: ${quantityString(used[name])}/${quantityString(hard[name])}`;
    const parts = name.split('.');
    if (parts.length > 1 && parts[0] === 'limits') limit.push(piece);
    else request.push(piece);
  }
  return { request: request.join(', '), limit: limit.join(', ') };
}

export const resourceQuotaColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Request',
    type: 'string',
    description: 'Used and hard amounts of the non-limit resources.',
    cell: (o: ResourceQuota) => resourceQuotaCells(o).request,
  },
  {
    name: 'Limit',
    type: 'string',
    description: 'Used and hard amounts of the limits.* resources.',
    cell: (o: ResourceQuota) => resourceQuotaCells(o).limit,
  },
  ageColumn(),
];

// ---------------------------------------------------------------------------------------------
// Services and endpoints

/** The EXTERNAL-IP cell of a service. */
export function serviceExternalIP(svc: Service): string {
  const externalIPs = svc.spec?.externalIPs ?? [];
  switch (svc.spec?.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length ? externalIPs.join(',') : NONE;
    case 'LoadBalancer': {
      const lb = loadBalancerIngress(svc.status?.loadBalancer?.ingress);
      if (externalIPs.length) return [...(lb ? lb.split(',') : []), ...externalIPs].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return svc.spec?.externalName ?? '';
  }
  return UNKNOWN;
}

/** The PORT(S) cell: `80/TCP`, `80:30080/TCP`, comma-joined; `<none>` without ports. */
export function servicePorts(svc: Service): string {
  const pieces = (svc.spec?.ports ?? []).map((p) => {
    const proto = p.protocol ?? 'TCP';
    return p.nodePort && p.nodePort > 0 ? `${p.port}:${p.nodePort}/${proto}` : `${p.port}/${proto}`;
  });
  return pieces.length ? pieces.join(',') : NONE;
}

export const serviceColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Type',
    type: 'string',
    description: 'How the service is exposed.',
    cell: (o: Service) => o.spec?.type ?? '',
  },
  {
    name: 'Cluster-IP',
    type: 'string',
    description: 'The virtual IP of the service inside the cluster.',
    cell: (o: Service) => o.spec?.clusterIPs?.[0] || o.spec?.clusterIP || NONE,
  },
  {
    name: 'External-IP',
    type: 'string',
    description: 'Addresses the service is reachable at from outside the cluster.',
    cell: (o: Service) => serviceExternalIP(o),
  },
  { name: 'Port(s)', type: 'string', description: 'Ports the service exposes.', cell: (o: Service) => servicePorts(o) },
  ageColumn(),
  {
    name: 'Selector',
    type: 'string',
    priority: 1,
    description: 'Labels of the pods the service routes to.',
    cell: (o: Service) => formatLabels(o.spec?.selector),
  },
];

/** The ENDPOINTS cell: up to three `ip:port`, then ` + N more...`. */
export function formatEndpoints(ep: Endpoints): string {
  const subsets = ep.subsets ?? [];
  if (!subsets.length) return NONE;
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addresses = ss.addresses ?? [];
    if (!ss.ports?.length) {
      // headless service without ports
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(a.ip);
      }
      continue;
    }
    for (const port of ss.ports) {
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(a.ip, port.port));
      }
    }
  }
  const joined = list.join(',');
  return more ? `${joined} + ${count - max} more...` : joined;
}

export const endpointsColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Endpoints',
    type: 'string',
    description: 'Addresses and ports of the endpoints.',
    cell: (o: Endpoints) => formatEndpoints(o),
  },
  ageColumn(),
];

// ---------------------------------------------------------------------------------------------
// Nodes

/** The STATUS cell of a node: `Ready`, `NotReady`, `Unknown`, plus `,SchedulingDisabled` when cordoned. */
export function nodeStatus(node: Node): string {
  let ready: string | undefined;
  for (const c of node.status?.conditions ?? []) {
    if (c.type === 'Ready') ready = c.status === 'True' ? 'Ready' : 'NotReady';
  }
  const parts = [ready ?? 'Unknown'];
  if (node.spec?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

/** Roles from `node-role.kubernetes.io/<role>` labels and the `kubernetes.io/role` label, sorted. */
export function nodeRoles(node: Node): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) {
      roles.add(v);
    }
  }
  return roles.size ? [...roles].sort().join(',') : NONE;
}

function nodeAddress(node: Node, type: string): string {
  return (node.status?.addresses ?? []).find((a) => a.type === type)?.address ?? NONE;
}

export const nodeColumns: TableColumn[] = [
  nameColumn(),
  { name: 'Status', type: 'string', description: 'Readiness of the node.', cell: (o: Node) => nodeStatus(o) },
  {
    name: 'Roles',
    type: 'string',
    description: 'Roles of the node, from its labels.',
    cell: (o: Node) => nodeRoles(o),
  },
  ageColumn(),
  {
    name: 'Version',
    type: 'string',
    description: 'Version of the node agent (kubelet).',
    cell: (o: Node) => o.status?.nodeInfo?.kubeletVersion ?? '',
  },
  {
    name: 'Internal-IP',
    type: 'string',
    priority: 1,
    description: "The node's first internal address.",
    cell: (o: Node) => nodeAddress(o, 'InternalIP'),
  },
  {
    name: 'External-IP',
    type: 'string',
    priority: 1,
    description: "The node's first external address.",
    cell: (o: Node) => nodeAddress(o, 'ExternalIP'),
  },
  {
    name: 'OS-Image',
    type: 'string',
    priority: 1,
    description: 'Operating system reported by the node.',
    cell: (o: Node) => o.status?.nodeInfo?.osImage || UNKNOWN,
  },
  {
    name: 'Kernel-Version',
    type: 'string',
    priority: 1,
    description: 'Kernel version reported by the node.',
    cell: (o: Node) => o.status?.nodeInfo?.kernelVersion || UNKNOWN,
  },
  {
    name: 'Container-Runtime',
    type: 'string',
    priority: 1,
    description: 'Container runtime and version reported by the node.',
    cell: (o: Node) => o.status?.nodeInfo?.containerRuntimeVersion || UNKNOWN,
  },
];

// ---------------------------------------------------------------------------------------------
// Events

/** The fields the event printer needs, common to core/v1 and events.k8s.io/v1 events. */
export interface EventPrintFields {
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  count?: number;
  series?: { count?: number; lastObservedTime?: string };
  type?: string;
  reason?: string;
  message?: string;
  involvedKind?: string;
  involvedName?: string;
  fieldPath?: string;
  sourceComponent?: string;
  sourceHost?: string;
  reportingController?: string;
  reportingInstance?: string;
}

function timeSince(ts: string | undefined, now: number): string {
  return ts ? age(ts, now) : UNKNOWN;
}

/** Builds the event columns over an accessor that maps either event shape to common fields. */
export function makeEventColumns(fields: (obj: any) => EventPrintFields): TableColumn[] {
  const firstSeen = (e: EventPrintFields, now: number) =>
    e.firstTimestamp ? timeSince(e.firstTimestamp, now) : timeSince(e.eventTime, now);
  const lastSeen = (e: EventPrintFields, now: number) => {
    if (e.series) return timeSince(e.series.lastObservedTime, now);
    return e.lastTimestamp ? timeSince(e.lastTimestamp, now) : firstSeen(e, now);
  };
  const count = (e: EventPrintFields) => (e.series ? (e.series.count ?? 0) : e.count ? e.count : 1);
  const target = (e: EventPrintFields) => {
    const kind = (e.involvedKind ?? '').toLowerCase();
    return e.involvedName ? `${kind}/${e.involvedName}` : kind;
  };
  const source = (e: EventPrintFields) => {
    const component = e.sourceComponent || e.reportingController || '';
    const instance = e.sourceHost || e.reportingInstance || '';
    return instance ? `${component}, ${instance}` : component;
  };
  return [
    {
      name: 'Last Seen',
      type: 'string',
      description: 'Time since the event was last observed.',
      cell: (o, now) => lastSeen(fields(o), now),
    },
    { name: 'Type', type: 'string', description: 'Normal or Warning.', cell: (o) => fields(o).type ?? '' },
    {
      name: 'Reason',
      type: 'string',
      description: 'Short machine-readable cause of the event.',
      cell: (o) => fields(o).reason ?? '',
    },
    { name: 'Object', type: 'string', description: 'The object the event is about.', cell: (o) => target(fields(o)) },
    {
      name: 'Subobject',
      type: 'string',
      priority: 1,
      description: 'Part of the object the event is about (field path).',
      cell: (o) => fields(o).fieldPath ?? '',
    },
    {
      name: 'Source',
      type: 'string',
      priority: 1,
      description: 'Component that reported the event.',
      cell: (o) => source(fields(o)),
    },
    {
      name: 'Message',
      type: 'string',
      description: 'Human-readable description.',
      cell: (o) => (fields(o).message ?? '').trim(),
    },
    {
      name: 'First Seen',
      type: 'string',
      priority: 1,
      description: 'Time since the event was first observed.',
      cell: (o, now) => firstSeen(fields(o), now),
    },
    {
      name: 'Count',
      type: 'string',
      priority: 1,
      description: 'How many times the event occurred.',
      cell: (o) => count(fields(o)),
    },
    {
      name: 'Name',
      type: 'string',
      format: 'name',
      priority: 1,
      description: 'Name of the event object.',
      cell: (o) => o?.metadata?.name ?? '',
    },
  ];
}

export const eventColumns: TableColumn[] = makeEventColumns((e: Event) => ({
  firstTimestamp: e.firstTimestamp,
  lastTimestamp: e.lastTimestamp,
  eventTime: e.eventTime,
  count: e.count,
  series: e.series,
  type: e.type,
  reason: e.reason,
  message: e.message,
  involvedKind: e.involvedObject?.kind,
  involvedName: e.involvedObject?.name,
  fieldPath: e.involvedObject?.fieldPath,
  sourceComponent: e.source?.component,
  sourceHost: e.source?.host,
  reportingController: e.reportingComponent,
  reportingInstance: e.reportingInstance,
}));

// ---------------------------------------------------------------------------------------------
// Replication controllers

export const replicationControllerColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Desired',
    type: 'integer',
    description: 'Requested number of replicas.',
    cell: (o: ReplicationController) => o.spec?.replicas ?? 1,
  },
  {
    name: 'Current',
    type: 'integer',
    description: 'Number of replicas that exist.',
    cell: (o: ReplicationController) => o.status?.replicas ?? 0,
  },
  {
    name: 'Ready',
    type: 'integer',
    description: 'Number of ready replicas.',
    cell: (o: ReplicationController) => o.status?.readyReplicas ?? 0,
  },
  ageColumn(),
  ...containerColumns((o: ReplicationController) => o.spec?.template?.spec?.containers),
  {
    name: 'Selector',
    type: 'string',
    priority: 1,
    description: 'Labels of the pods the controller manages.',
    cell: (o: ReplicationController) => formatLabels(o.spec?.selector),
  },
];

// ---------------------------------------------------------------------------------------------
// Persistent volumes

const ACCESS_MODE_SHORT: [string, string][] = [
  ['ReadWriteOnce', 'RWO'],
  ['ReadOnlyMany', 'ROX'],
  ['ReadWriteMany', 'RWX'],
  ['ReadWriteOncePod', 'RWOP'],
];

/** Access modes as `RWO,ROX,RWX,RWOP` in that fixed order, duplicates removed. */
export function accessModesString(modes: readonly string[] | undefined): string {
  const set = new Set(modes ?? []);
  return ACCESS_MODE_SHORT.filter(([m]) => set.has(m))
    .map(([, s]) => s)
    .join(',');
}

const BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';

function storageClassOf(o: PersistentVolume | PersistentVolumeClaim): string {
  const ann = o.metadata?.annotations;
  if (ann && Object.prototype.hasOwnProperty.call(ann, BETA_STORAGE_CLASS)) return ann[BETA_STORAGE_CLASS];
  return o.spec?.storageClassName ?? '';
}

export const persistentVolumeColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Capacity',
    type: 'string',
    description: 'Storage size of the volume.',
    cell: (o: PersistentVolume) => quantityString(o.spec?.capacity?.storage),
  },
  {
    name: 'Access Modes',
    type: 'string',
    description: 'Ways the volume can be mounted.',
    cell: (o: PersistentVolume) => accessModesString(o.spec?.accessModes),
  },
  {
    name: 'Reclaim Policy',
    type: 'string',
    description: 'What happens to the volume when its claim is released.',
    cell: (o: PersistentVolume) => o.spec?.persistentVolumeReclaimPolicy ?? '',
  },
  {
    name: 'Status',
    type: 'string',
    description: 'Phase of the volume.',
    cell: (o: PersistentVolume) => (o.metadata?.deletionTimestamp ? 'Terminating' : (o.status?.phase ?? '')),
  },
  {
    name: 'Claim',
    type: 'string',
    description: 'The claim bound to the volume, as namespace/name.',
    cell: (o: PersistentVolume) =>
      o.spec?.claimRef ? `${o.spec.claimRef.namespace ?? ''}/${o.spec.claimRef.name ?? ''}` : '',
  },
  {
    name: 'StorageClass',
    type: 'string',
    description: 'Storage class of the volume.',
    cell: (o: PersistentVolume) => storageClassOf(o),
  },
  {
    name: 'VolumeAttributesClass',
    type: 'string',
    description: 'Volume attributes class of the volume.',
    cell: (o: PersistentVolume) => o.spec?.volumeAttributesClassName ?? UNSET,
  },
  {
    name: 'Reason',
    type: 'string',
    description: 'Why the volume is in its current phase.',
    cell: (o: PersistentVolume) => o.status?.reason ?? '',
  },
  ageColumn(),
  {
    name: 'VolumeMode',
    type: 'string',
    priority: 1,
    description: 'Filesystem or Block.',
    cell: (o: PersistentVolume) => o.spec?.volumeMode ?? UNSET,
  },
];

export const persistentVolumeClaimColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Status',
    type: 'string',
    description: 'Phase of the claim.',
    cell: (o: PersistentVolumeClaim) => (o.metadata?.deletionTimestamp ? 'Terminating' : (o.status?.phase ?? '')),
  },
  {
    name: 'Volume',
    type: 'string',
    description: 'The volume bound to the claim.',
    cell: (o: PersistentVolumeClaim) => o.spec?.volumeName ?? '',
  },
  {
    name: 'Capacity',
    type: 'string',
    description: 'Storage size of the bound volume.',
    cell: (o: PersistentVolumeClaim) => (o.spec?.volumeName ? quantityString(o.status?.capacity?.storage) : ''),
  },
  {
    name: 'Access Modes',
    type: 'string',
    description: 'Ways the bound volume can be mounted.',
    cell: (o: PersistentVolumeClaim) => (o.spec?.volumeName ? accessModesString(o.status?.accessModes) : ''),
  },
  {
    name: 'StorageClass',
    type: 'string',
    description: 'Storage class requested by the claim.',
    cell: (o: PersistentVolumeClaim) => storageClassOf(o),
  },
  {
    name: 'VolumeAttributesClass',
    type: 'string',
    description: 'Volume attributes class requested by the claim.',
    cell: (o: PersistentVolumeClaim) => o.spec?.volumeAttributesClassName ?? UNSET,
  },
  ageColumn(),
  {
    name: 'VolumeMode',
    type: 'string',
    priority: 1,
    description: 'Filesystem or Block.',
    cell: (o: PersistentVolumeClaim) => o.spec?.volumeMode ?? UNSET,
  },
];
