// The scheduler's view of pods and nodes, as upstream's framework.PodInfo / framework.NodeInfo:
// everything a plugin needs is computed once per object (requests as integers, parsed affinity
// terms, host ports, taints), so the per-node work of a scheduling cycle is cheap arithmetic.
import type { Node, Pod, PodAffinityTerm, WeightedPodAffinityTerm } from 'kubernetes-types/core/v1.js';
import { podRequests as podRequestAmounts } from '../api/helpers/podresources.js';
import { Quantity, parseQuantityOrNull } from '../machinery/quantity.js';
import { selectorFromLabelSelectorRaw, Selector } from '../machinery/labels.js';

/** Resource amounts: cpu in millicores, everything else in base units. */
export type Resources = Map<string, number>;

export const CPU = 'cpu';
export const MEMORY = 'memory';
export const EPHEMERAL = 'ephemeral-storage';
export const PODS = 'pods';
/** Defaults used for scoring when a container requests nothing (upstream schedutil). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;
export const MAX_NODE_SCORE = 100;

export function quantityValue(name: string, v: unknown): number {
  const q = parseQuantityOrNull(v);
  if (!q) return 0;
  return name === CPU ? q.milliValue() : q.value();
}

export function resourceList(list: Record<string, unknown> | undefined | null): Resources {
  const out: Resources = new Map();
  for (const [k, v] of Object.entries(list ?? {})) out.set(k, quantityValue(k, v));
  return out;
}

/** Scoring assumes this much for a container that requests no cpu or memory (upstream schedutil). */
const NON_ZERO_DEFAULTS = new Map([
  [CPU, Quantity.fromMilli(DEFAULT_MILLI_CPU_REQUEST)],
  [MEMORY, Quantity.fromValue(DEFAULT_MEMORY_REQUEST, 'BinarySI')],
]);

/** resource.PodRequests (api/helpers) in the scheduler's integer units; `nonZero`: with the scoring defaults. */
export function podRequests(pod: Pick<Pod, 'spec'>, nonZero = false): Resources {
  const out: Resources = new Map();
  const amounts = podRequestAmounts(pod, nonZero ? { nonMissingContainerRequests: NON_ZERO_DEFAULTS } : {});
  for (const [k, q] of amounts) out.set(k, k === CPU ? q.milliValue() : q.value());
  return out;
}

export interface ParsedTerm {
  selector: Selector;
  /** Namespaces the term applies to (explicit list or the pod's own). */
  namespaces: Set<string>;
  /** A namespaceSelector (null: none). */
  namespaceSelector: Selector | null;
  topologyKey: string;
  weight: number;
  /** Label pairs any matching pod must carry (for the label index), from matchLabels / single-value In. */
  requiredPairs: string[];
}

function parseTerm(term: PodAffinityTerm, podNamespace: string, weight = 1): ParsedTerm | null {
  let selector: Selector;
  let namespaceSelector: Selector | null = null;
  try {
    selector = selectorFromLabelSelectorRaw(term.labelSelector);
    if (term.namespaceSelector) namespaceSelector = selectorFromLabelSelectorRaw(term.namespaceSelector);
  } catch {
    return null;
  }
  const namespaces = new Set<string>(term.namespaces ?? []);
  if (namespaces.size === 0 && !term.namespaceSelector) namespaces.add(podNamespace);
  const requiredPairs: string[] = [];
  for (const [k, v] of Object.entries(term.labelSelector?.matchLabels ?? {})) requiredPairs.push(`${k}=${v}`);
  for (const e of term.labelSelector?.matchExpressions ?? []) {
    if (e.operator === 'In' && e.values?.length === 1) requiredPairs.push(`${e.key}=${e.values[0]}`);
  }
  return { selector, namespaces, namespaceSelector, topologyKey: term.topologyKey ?? '', weight, requiredPairs };
}

export interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

export function podHostPorts(pod: Pick<Pod, 'spec'>): HostPort[] {
  const out: HostPort[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? [])
      if (p.hostPort && p.hostPort > 0)
        out.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
  }
  for (const c of pod.spec?.initContainers ?? []) {
    if (c.restartPolicy !== 'Always') continue;
    for (const p of c.ports ?? [])
      if (p.hostPort && p.hostPort > 0)
        out.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
  }
  return out;
}

/** A pod as the scheduler sees it (immutable; a changed pod gets a new PodInfo). */
export class PodInfo {
  readonly key: string;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly priority: number;
  readonly requests: Resources;
  /**
   * The requests NodeResourcesFit checks (positive ones, pods aside) as an array: its filter runs
   * for hundreds of nodes per pod, and iterating the Map allocated on every call.
   */
  readonly fitRequests: [name: string, want: number][];
  /** Requests with upstream's non-zero defaults for cpu and memory (scoring). */
  readonly nonZeroCpu: number;
  readonly nonZeroMem: number;
  readonly requiredAffinity: ParsedTerm[];
  readonly requiredAntiAffinity: ParsedTerm[];
  readonly preferredAffinity: ParsedTerm[];
  readonly preferredAntiAffinity: ParsedTerm[];
  readonly hostPorts: HostPort[];
  readonly startTime: number;

  constructor(readonly pod: Pod) {
    const m = pod.metadata ?? {};
    this.namespace = m.namespace ?? '';
    this.name = m.name ?? '';
    this.key = `${this.namespace}/${this.name}`;
    this.uid = m.uid ?? this.key;
    this.labels = m.labels ?? {};
    this.priority = pod.spec?.priority ?? 0;
    this.requests = podRequests(pod);
    this.fitRequests = [...this.requests].filter(([name, want]) => want > 0 && name !== PODS);
    const nz = podRequests(pod, true);
    this.nonZeroCpu = nz.get(CPU) ?? 0;
    this.nonZeroMem = nz.get(MEMORY) ?? 0;
    const aff = pod.spec?.affinity ?? {};
    const parse = (terms: PodAffinityTerm[] | undefined): ParsedTerm[] =>
      (terms ?? []).map((t) => parseTerm(t, this.namespace)).filter((t): t is ParsedTerm => !!t);
    const parseW = (terms: WeightedPodAffinityTerm[] | undefined): ParsedTerm[] =>
      (terms ?? [])
        .map((t) => parseTerm(t.podAffinityTerm ?? { topologyKey: '' }, this.namespace, t.weight ?? 0))
        .filter((t): t is ParsedTerm => !!t);
    this.requiredAffinity = parse(aff.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
    this.requiredAntiAffinity = parse(aff.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
    this.preferredAffinity = parseW(aff.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
    this.preferredAntiAffinity = parseW(aff.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
    this.hostPorts = podHostPorts(pod);
    const st = pod.status?.startTime ?? m.creationTimestamp;
    this.startTime = st ? Date.parse(st) : 0;
  }

  /** Terms that matter when scoring other pods (required affinity, preferred terms). */
  get hasScoringAffinity(): boolean {
    return this.requiredAffinity.length + this.preferredAffinity.length + this.preferredAntiAffinity.length > 0;
  }

  get hasAffinity(): boolean {
    return (
      this.requiredAffinity.length +
        this.requiredAntiAffinity.length +
        this.preferredAffinity.length +
        this.preferredAntiAffinity.length >
      0
    );
  }

  get nodeName(): string {
    return this.pod.spec?.nodeName ?? '';
  }
}

/** Whether `term` (of a pod) matches pod `target`, given namespace labels for namespaceSelector. */
export function termMatches(
  term: ParsedTerm,
  target: PodInfo,
  nsLabels: (ns: string) => Record<string, string> | undefined,
): boolean {
  if (!term.namespaces.has(target.namespace)) {
    if (!term.namespaceSelector) return false;
    if (!term.namespaceSelector.matches(nsLabels(target.namespace) ?? {})) return false;
  }
  return term.selector.matches(target.labels);
}

/** Aggregated state of one node: its pods, what they request, ports in use. */
export class NodeInfo {
  node: Node | null = null;
  name: string;
  labels: Record<string, string> = {};
  allocatable: Resources = new Map();
  allowedPods = 0;
  readonly pods = new Map<string, PodInfo>();
  requested: Resources = new Map();
  nonZeroCpu = 0;
  nonZeroMem = 0;
  /** `protocol/port` → IPs using it. */
  usedPorts = new Map<string, string[]>();
  /** Pods whose terms count when scoring others (required affinity, preferred (anti-)affinity). */
  podsWithAffinity = 0;
  podsWithRequiredAntiAffinity = 0;
  /** Bumped on every change (cache consumers use it to notice changes). */
  generation = 0;

  constructor(name: string) {
    this.name = name;
  }

  setNode(node: Node): void {
    this.node = node;
    this.labels = node.metadata?.labels ?? {};
    this.allocatable = resourceList(node.status?.allocatable ?? node.status?.capacity);
    this.allowedPods = this.allocatable.get(PODS) ?? 0;
    this.generation++;
  }

  addPod(pi: PodInfo): void {
    const old = this.pods.get(pi.uid);
    if (old) this.removePod(old);
    this.pods.set(pi.uid, pi);
    for (const [k, v] of pi.requests) this.requested.set(k, (this.requested.get(k) ?? 0) + v);
    this.nonZeroCpu += pi.nonZeroCpu;
    this.nonZeroMem += pi.nonZeroMem;
    for (const hp of pi.hostPorts) {
      const k = `${hp.protocol}/${hp.port}`;
      const ips = this.usedPorts.get(k);
      if (ips) ips.push(hp.ip);
      else this.usedPorts.set(k, [hp.ip]);
    }
    if (pi.hasScoringAffinity) this.podsWithAffinity++;
    if (pi.requiredAntiAffinity.length) this.podsWithRequiredAntiAffinity++;
    this.generation++;
  }

  removePod(pi: PodInfo): boolean {
    const cur = this.pods.get(pi.uid);
    if (!cur) return false;
    this.pods.delete(pi.uid);
    for (const [k, v] of cur.requests) this.requested.set(k, (this.requested.get(k) ?? 0) - v);
    this.nonZeroCpu -= cur.nonZeroCpu;
    this.nonZeroMem -= cur.nonZeroMem;
    for (const hp of cur.hostPorts) {
      const k = `${hp.protocol}/${hp.port}`;
      const ips = this.usedPorts.get(k);
      if (!ips) continue;
      const i = ips.indexOf(hp.ip);
      if (i >= 0) ips.splice(i, 1);
      if (!ips.length) this.usedPorts.delete(k);
    }
    if (cur.hasScoringAffinity) this.podsWithAffinity--;
    if (cur.requiredAntiAffinity.length) this.podsWithRequiredAntiAffinity--;
    this.generation++;
    return true;
  }

  /** A copy whose pod set can be changed freely (preemption dry runs). */
  clone(): NodeInfo {
    const n = new NodeInfo(this.name);
    n.node = this.node;
    n.labels = this.labels;
    n.allocatable = this.allocatable;
    n.allowedPods = this.allowedPods;
    for (const p of this.pods.values()) n.addPod(p);
    n.generation = this.generation;
    return n;
  }
}

// ---- Statuses -------------------------------------------------------------------------------

export enum Code {
  Success = 0,
  Error = 1,
  Unschedulable = 2,
  UnschedulableAndUnresolvable = 3,
  Skip = 4,
}

export class Status {
  plugin = '';
  constructor(
    readonly code: Code,
    readonly reasons: string[] = [],
  ) {}

  static unschedulable(...reasons: string[]): Status {
    return new Status(Code.Unschedulable, reasons);
  }

  static unresolvable(...reasons: string[]): Status {
    return new Status(Code.UnschedulableAndUnresolvable, reasons);
  }

  static error(msg: string): Status {
    return new Status(Code.Error, [msg]);
  }

  get message(): string {
    return this.reasons.join(', ');
  }

  isSuccess(): boolean {
    return this.code === Code.Success;
  }

  isRejected(): boolean {
    return this.code === Code.Unschedulable || this.code === Code.UnschedulableAndUnresolvable;
  }

  withPlugin(name: string): Status {
    this.plugin = name;
    return this;
  }
}

export const SUCCESS: Status | null = null;
