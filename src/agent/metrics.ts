// The agent's Prometheus endpoints with the kubelet's names: /metrics (kubelet_* and the
// process/Node.js runtime), /metrics/cadvisor (container_* per container, as cAdvisor labels
// them) and /metrics/resource (the resource metrics metrics-server reads). Values come from the
// container runtime's stats (cgroups) and /proc, read at scrape time.
import { cpus } from 'node:os';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { renderWith } from '../machinery/componentmetrics.js';
import { hostCpuNanos, meminfo } from './hostinfo.js';
import { LABEL, type Runtime } from './runtime/types.js';

type Labels = Record<string, string>;

/** One family in the text format; `timestamped` samples carry their time (ms) as the kubelet's do. */
class TextFamily {
  private readonly lines: string[] = [];
  constructor(
    readonly name: string,
    help: string,
    type: 'gauge' | 'counter',
  ) {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  add(labels: Labels, value: number, timestampMs?: number): this {
    const text = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
      .join(',');
    this.lines.push(
      `${this.name}${text ? `{${text}}` : ''} ${value}${timestampMs === undefined ? '' : ` ${Math.round(timestampMs)}`}`,
    );
    return this;
  }

  toString(): string {
    return this.lines.join('\n');
  }
}

interface ContainerSample {
  ns: string;
  pod: string;
  container: string;
  id: string;
  image: string;
  cpuSeconds: number;
  memoryBytes: number;
  timestampMs: number;
  startedSeconds?: number;
}

export class AgentMetrics {
  private readonly registry = new Registry();

  constructor(
    private readonly runtime: Runtime,
    nodeName: string,
  ) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'kubelet_node_name',
      help: "[ALPHA] The node's name. The count is always 1.",
      labelNames: ['node'],
      registers: [this.registry],
    }).set({ node: nodeName }, 1);
    new Gauge({
      name: 'kubelet_running_pods',
      help: '[ALPHA] Number of pods that have a running pod sandbox',
      registers: [this.registry],
      collect: async function (this: Gauge) {
        const sandboxes = await runtime.listPodSandboxes();
        this.set(sandboxes.filter((s) => s.state === 'SANDBOX_READY').length);
      },
    });
    new Gauge({
      name: 'kubelet_running_containers',
      help: '[ALPHA] Number of containers currently running',
      labelNames: ['container_state'],
      registers: [this.registry],
      collect: async function (this: Gauge) {
        const counts: Record<string, number> = { created: 0, running: 0, exited: 0, unknown: 0 };
        for (const c of await runtime.listContainers())
          counts[c.state.replace('CONTAINER_', '').toLowerCase()] =
            (counts[c.state.replace('CONTAINER_', '').toLowerCase()] ?? 0) + 1;
        for (const [state, n] of Object.entries(counts)) this.set({ container_state: state }, n);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The response for a /metrics path, or undefined when the path is not one of them. */
  async render(path: string): Promise<string | undefined> {
    if (path === '/metrics') return renderWith(await this.registry.metrics());
    if (path === '/metrics/cadvisor') return this.cadvisor();
    if (path === '/metrics/resource') return this.resource();
    return undefined;
  }

  private async containers(): Promise<ContainerSample[]> {
    const [stats, list] = await Promise.all([this.runtime.listContainerStats(), this.runtime.listContainers()]);
    const byId = new Map(list.map((c) => [c.id, c]));
    const out: ContainerSample[] = [];
    for (const s of stats) {
      const labels = s.attributes?.labels ?? {};
      const ns = labels[LABEL.podNamespace];
      const pod = labels[LABEL.podName];
      const container = labels[LABEL.containerName] ?? s.attributes?.metadata?.name;
      if (!ns || !pod || !container) continue;
      const c = byId.get(s.attributes.id);
      out.push({
        ns,
        pod,
        container,
        id: s.attributes.id,
        image: c?.image.image ?? '',
        cpuSeconds: Number(s.cpu?.usageCoreNanoSeconds?.value ?? 0) / 1e9,
        memoryBytes: Number(s.memory?.workingSetBytes?.value ?? 0),
        timestampMs: s.cpu?.timestamp ? Number(s.cpu.timestamp) / 1e6 : Date.now(),
        startedSeconds: c?.createdAt ? c.createdAt / 1e9 : undefined,
      });
    }
    return out;
  }

  private async cadvisor(): Promise<string> {
    const samples = await this.containers();
    const cpu = new TextFamily(
      'container_cpu_usage_seconds_total',
      'Cumulative cpu time consumed in seconds.',
      'counter',
    );
    const mem = new TextFamily('container_memory_working_set_bytes', 'Current working set in bytes.', 'gauge');
    const start = new TextFamily(
      'container_start_time_seconds',
      'Start time of the container since unix epoch in seconds.',
      'gauge',
    );
    for (const s of samples) {
      // cAdvisor's labels; id is the cgroup path, which k8ts does not expose, so the container id.
      const labels = { container: s.container, id: s.id, image: s.image, name: s.id, namespace: s.ns, pod: s.pod };
      cpu.add({ ...labels, cpu: 'total' }, s.cpuSeconds, s.timestampMs);
      mem.add(labels, s.memoryBytes, s.timestampMs);
      if (s.startedSeconds !== undefined) start.add(labels, s.startedSeconds, s.timestampMs);
    }
    const machineCores = new TextFamily('machine_cpu_cores', 'Number of logical CPU cores.', 'gauge').add(
      {},
      cpus().length,
    );
    const machineMemory = new TextFamily(
      'machine_memory_bytes',
      'Amount of memory installed on the machine.',
      'gauge',
    ).add({}, meminfo().totalBytes);
    return [cpu, mem, start, machineCores, machineMemory].join('\n') + '\n';
  }

  private async resource(): Promise<string> {
    const now = Date.now();
    const mem = meminfo();
    let scrapeError = 0;
    let samples: ContainerSample[] = [];
    try {
      samples = await this.containers();
    } catch {
      scrapeError = 1;
    }
    const nodeCpu = new TextFamily(
      'node_cpu_usage_seconds_total',
      '[STABLE] Cumulative cpu time consumed by the node in core-seconds',
      'counter',
    ).add({}, hostCpuNanos() / 1e9, now);
    const nodeMem = new TextFamily(
      'node_memory_working_set_bytes',
      '[STABLE] Current working set of the node in bytes',
      'gauge',
    ).add({}, mem.totalBytes - mem.availableBytes, now);
    const cCpu = new TextFamily(
      'container_cpu_usage_seconds_total',
      '[STABLE] Cumulative cpu time consumed by the container in core-seconds',
      'counter',
    );
    const cMem = new TextFamily(
      'container_memory_working_set_bytes',
      '[STABLE] Current working set of the container in bytes',
      'gauge',
    );
    const cStart = new TextFamily(
      'container_start_time_seconds',
      '[STABLE] Start time of the container since unix epoch in seconds',
      'gauge',
    );
    const pods = new Map<string, { ns: string; pod: string; cpu: number; mem: number; at: number }>();
    for (const s of samples) {
      const labels = { container: s.container, namespace: s.ns, pod: s.pod };
      cCpu.add(labels, s.cpuSeconds, s.timestampMs);
      cMem.add(labels, s.memoryBytes, s.timestampMs);
      if (s.startedSeconds !== undefined) cStart.add(labels, s.startedSeconds, s.timestampMs);
      const key = `${s.ns}/${s.pod}`;
      const p = pods.get(key) ?? { ns: s.ns, pod: s.pod, cpu: 0, mem: 0, at: s.timestampMs };
      p.cpu += s.cpuSeconds;
      p.mem += s.memoryBytes;
      p.at = Math.max(p.at, s.timestampMs);
      pods.set(key, p);
    }
    const pCpu = new TextFamily(
      'pod_cpu_usage_seconds_total',
      '[STABLE] Cumulative cpu time consumed by the pod in core-seconds',
      'counter',
    );
    const pMem = new TextFamily(
      'pod_memory_working_set_bytes',
      '[STABLE] Current working set of the pod in bytes',
      'gauge',
    );
    for (const p of pods.values()) {
      pCpu.add({ namespace: p.ns, pod: p.pod }, p.cpu, p.at);
      pMem.add({ namespace: p.ns, pod: p.pod }, p.mem, p.at);
    }
    const err = new TextFamily(
      'scrape_error',
      '[ALPHA] 1 if there was an error while getting container metrics, 0 otherwise',
      'gauge',
    ).add({}, scrapeError);
    return [cCpu, cMem, cStart, nodeCpu, nodeMem, pCpu, pMem, err].join('\n') + '\n';
  }
}
