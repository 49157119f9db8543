// Fields upstream always writes. Go's JSON encoder drops a field tagged `omitempty` when it is
// empty but writes every other field, zero or not, so a DaemonSet kube-apiserver answers with
// carries `"numberReady": 0` even before its controller has run. Official clients depend on it:
// the Python client's generated models raise "Invalid value for `current_number_scheduled`,
// must not be None" when such a field is missing.
//
// The table lists, per served apiVersion and kind, the fields of the object, its spec and its
// status that are tagged without `omitempty` in kubernetes/api (<group>/<version>/types.go) and
// have a scalar zero, or are non-pointer structs (written as `{}` even when tagged `omitempty`:
// Go's encoder never omits a struct), or are metav1.Time/MicroTime values (written as `null` when
// zero), or are lists without `omitempty` (written as `null` when nil, as upstream answers a Role
// created without rules; every such list is also filled on write, at every depth, from the
// generated machinery/protobuf/niltable.ts: here they cover objects stored before that). Fields
// the server's validation always requires (a Deployment's selector, a HPA's maxReplicas) are left
// out: a stored object always has them.
// Reviewed against kubernetes/api at the v1.33 line:
//   apps/v1           DaemonSetStatus, ReplicaSetStatus, StatefulSetStatus, StatefulSetSpec.serviceName
//   autoscaling/v1    HorizontalPodAutoscalerStatus (currentReplicas, desiredReplicas), ScaleStatus
//   autoscaling/v2    HorizontalPodAutoscalerStatus.desiredReplicas (currentReplicas is omitempty there)
//   core/v1           ReplicationControllerStatus.replicas, Event (reportingComponent/reportingInstance,
//                     source, firstTimestamp/lastTimestamp/eventTime), ResourceQuota.spec/status,
//                     LimitRangeSpec.limits
//   events/v1         Event.deprecatedSource, deprecatedFirstTimestamp/deprecatedLastTimestamp
//   coordination/v1   Lease.spec
//   rbac/v1           Role.rules, ClusterRole.rules
//   policy/v1         PodDisruptionBudgetStatus
//   storage/v1        VolumeAttachmentStatus.attached
//   networking/v1     NetworkPolicySpec.podSelector (a struct, not a pointer: `{}` when empty)
//   scheduling/v1     PriorityClass.value
// It is applied once, where stored objects become the served form (apiserver/convert.ts), so
// nothing is stored twice and every read, write answer, list and watch event carries them.

type Zero = number | string | boolean | null | Record<string, never>;

/** `apiVersion` → `kind` → dotted field path → the zero value upstream writes. */
const ZERO_VALUED_FIELDS: Record<string, Record<string, Record<string, Zero>>> = {
  'apps/v1': {
    DaemonSet: {
      'status.currentNumberScheduled': 0,
      'status.numberMisscheduled': 0,
      'status.desiredNumberScheduled': 0,
      'status.numberReady': 0,
    },
    ReplicaSet: { 'status.replicas': 0 },
    StatefulSet: { 'spec.serviceName': '', 'status.replicas': 0, 'status.availableReplicas': 0 },
  },
  'autoscaling/v1': {
    HorizontalPodAutoscaler: { 'status.currentReplicas': 0, 'status.desiredReplicas': 0 },
    Scale: { 'status.replicas': 0 },
  },
  'autoscaling/v2': {
    HorizontalPodAutoscaler: { 'status.desiredReplicas': 0 },
  },
  v1: {
    ReplicationController: { 'status.replicas': 0 },
    Event: {
      reportingComponent: '',
      reportingInstance: '',
      source: {},
      firstTimestamp: null,
      lastTimestamp: null,
      eventTime: null,
    },
    ResourceQuota: { spec: {}, status: {} },
    LimitRange: { 'spec.limits': null },
  },
  'events.k8s.io/v1': {
    Event: { deprecatedSource: {}, deprecatedFirstTimestamp: null, deprecatedLastTimestamp: null },
  },
  'coordination.k8s.io/v1': {
    Lease: { spec: {} },
  },
  'rbac.authorization.k8s.io/v1': {
    Role: { rules: null },
    ClusterRole: { rules: null },
  },
  'policy/v1': {
    PodDisruptionBudget: {
      'status.disruptionsAllowed': 0,
      'status.currentHealthy': 0,
      'status.desiredHealthy': 0,
      'status.expectedPods': 0,
    },
  },
  'storage/v1': {
    VolumeAttachment: { 'status.attached': false },
  },
  'networking.k8s.io/v1': {
    NetworkPolicy: { 'spec.podSelector': {} },
  },
  'scheduling.k8s.io/v1': {
    PriorityClass: { value: 0 },
  },
};

/** Parsed paths per apiVersion/kind, computed once. */
const PATHS = new Map<string, [string[], Zero][]>();
for (const [apiVersion, kinds] of Object.entries(ZERO_VALUED_FIELDS)) {
  for (const [kind, fields] of Object.entries(kinds)) {
    PATHS.set(
      `${apiVersion}/${kind}`,
      Object.entries(fields).map(([path, zero]) => [path.split('.'), zero]),
    );
  }
}

/** Does this served type have fields upstream writes even when zero? */
export function hasZeroValuedFields(apiVersion: string, kind: string): boolean {
  return PATHS.has(`${apiVersion}/${kind}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `obj` with every always-written field of its type present: the same object when nothing is
 * missing, else a copy (the input may be a shared cache entry and is never changed).
 */
export function withZeroValuedFields<T extends { apiVersion?: string; kind?: string }>(obj: T): T {
  const paths = PATHS.get(`${obj.apiVersion}/${obj.kind}`);
  if (!paths) return obj;
  let out: Record<string, unknown> | undefined;
  for (const [path, zero] of paths) {
    let node: unknown = obj;
    for (const seg of path) node = isObject(node) ? node[seg] : undefined;
    if (node !== undefined) continue;
    // Copy the objects along the path (only those), then set the zero.
    out ??= { ...(obj as Record<string, unknown>) };
    let parent = out;
    for (const seg of path.slice(0, -1)) {
      const child = parent[seg];
      // A non-object in the way (never valid for these types): leave the field out.
      if (child !== undefined && !isObject(child)) {
        parent = {};
        break;
      }
      parent[seg] = { ...(child ?? {}) };
      parent = parent[seg] as Record<string, unknown>;
    }
    parent[path.at(-1)!] = isObject(zero) ? {} : zero;
  }
  return (out as T | undefined) ?? obj;
}
