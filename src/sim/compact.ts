// How the simulator keeps the pods it runs: thousands of simulated kubelets share one process, so
// each pod's copy is made small. Parts that many pods have alike (a Deployment's pod template:
// containers, tolerations, security context, labels, owner references; conditions written in the
// same second) are kept once and shared, frozen so that no holder can change them for the others.
// The object stays a whole Pod (everything but metadata.managedFields, which the informer drops):
// a status update still sends the pod as the kubelet has it.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Stored } from '../client/types.js';
import { deepFreeze } from '../machinery/objects.js';

/** Distinct shared values kept at most (a bound for clusters whose pods have nothing alike). */
const MAX_SHARED = 20_000;

/**
 * JSON values kept once: the first value seen with a given JSON text is handed out for every
 * later equal one. When the table is full it starts over (values already shared stay shared).
 */
export class Interner {
  private readonly table = new Map<string, unknown>();

  constructor(private readonly max = MAX_SHARED) {}

  get size(): number {
    return this.table.size;
  }

  intern<T>(value: T): T {
    if (typeof value !== 'object' || value === null) return value;
    const key = JSON.stringify(value);
    const have = this.table.get(key);
    if (have !== undefined) return have as T;
    if (this.table.size >= this.max) this.table.clear();
    this.table.set(key, deepFreeze(value));
    return value;
  }

  /** An object whose object-valued properties are interned (the object itself is new). */
  internFields<T extends object>(obj: T | undefined): T | undefined {
    if (!obj) return obj;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = typeof v === 'object' && v !== null ? this.intern(v) : v;
    return out as T;
  }

  /** An array whose elements are interned (the array itself is new). */
  internEach<T>(list: T[] | undefined): T[] | undefined {
    return list ? list.map((v) => this.intern(v)) : list;
  }
}

/**
 * The pod as the simulator keeps it: the same JSON (apart from metadata.managedFields), with the
 * parts pods have alike shared. The input is not changed (over the in-process transport it may
 * be the watch cache's own).
 */
export function compactPod(pod: Stored<Pod>, shared: Interner): Stored<Pod> {
  if (!pod?.metadata) return pod;
  const { managedFields: _dropped, ...meta } = pod.metadata;
  const metadata = { ...meta };
  if (metadata.labels) metadata.labels = shared.intern(metadata.labels);
  if (metadata.annotations) metadata.annotations = shared.intern(metadata.annotations);
  if (metadata.ownerReferences) metadata.ownerReferences = shared.intern(metadata.ownerReferences);
  if (metadata.finalizers) metadata.finalizers = shared.intern(metadata.finalizers);
  const out: Stored<Pod> = { ...pod, metadata };
  if (pod.spec) out.spec = shared.internFields(pod.spec);
  if (!pod.status) return out;
  const status = { ...pod.status };
  if (status.conditions) status.conditions = shared.internEach(status.conditions);
  if (status.hostIPs) status.hostIPs = shared.intern(status.hostIPs);
  return { ...out, status };
}
