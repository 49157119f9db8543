// A Compose project as Kubernetes objects (in the manner of kompose and Docker for Mac's compose
// on Kubernetes). Per service: a Deployment (a Job when `restart` is "no" or "on-failure"), a
// Service for its ports and `expose` (the type of published ports chosen by a flag), PVCs for
// named volumes (hostPath for binds, with a warning; emptyDir for anonymous and tmpfs ones),
// ConfigMaps and Secrets for configs and secrets mounted where Compose mounts them, a readiness
// probe from the healthcheck, init containers that wait for depends_on services to answer, and
// one NetworkPolicy per network (pods of a network accept traffic from that network, plus the
// published ports from anywhere). Every object carries the project label, so `down` finds them.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { basename, resolve } from 'node:path';
import type {
  ConfigMap,
  Container,
  EnvVar,
  PersistentVolumeClaim,
  Probe,
  Secret,
  Service as KubeService,
  Volume,
  VolumeMount as KubeVolumeMount,
} from 'kubernetes-types/core/v1.js';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { Project, Service } from './load.js';

export const PROJECT_LABEL = 'k8ts.io/compose-project';
export const SERVICE_LABEL = 'k8ts.io/compose-service';
const NETWORK_LABEL_PREFIX = 'k8ts.io/compose-network-';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

export interface ConvertOptions {
  /** The type of Services with published ports (default ClusterIP). */
  serviceType?: ServiceType;
  /** Set on every namespaced object (default: none, kubectl's current namespace). */
  namespace?: string;
  /** Image of the init containers that wait for depends_on (needs sh and nc). */
  waitImage?: string;
  /** Size of PVCs for named volumes without driver_opts.size (default 1Gi). */
  volumeSize?: string;
}

export type KubeObject = Deployment | Job | KubeService | PersistentVolumeClaim | ConfigMap | Secret | NetworkPolicy;

export interface Conversion {
  objects: KubeObject[];
  warnings: string[];
}

/** A DNS-1123 label from a Compose name (underscores and dots become dashes). */
export function kubeName(s: string): string {
  const n = s
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  return n.slice(0, 63).replace(/-+$/, '') || 'x';
}

/** A Compose duration ("1m30s", "10s", "500ms", "1h") in whole seconds, at least 1. */
export function durationSeconds(d: string | undefined): number | undefined {
  if (d === undefined) return undefined;
  let ms = 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g;
  let m: RegExpExecArray | null;
  let matched = '';
  while ((m = re.exec(d))) {
    const n = Number(m[1]);
    ms += n * { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 }[m[2] as 'h'];
    matched += m[0];
  }
  if (matched !== d) throw new Error(`invalid duration "${d}"`);
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Compose byte values ("512m", "1g", "50M", "1024k", "100b", plain bytes) as a Kubernetes quantity. */
export function memoryQuantity(v: string): string {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(v.trim());
  if (!m) throw new Error(`invalid memory value "${v}"`);
  const unit = m[2].toLowerCase();
  if (!unit || unit === 'b') return m[1];
  return `${m[1]}${unit.toUpperCase()}i`;
}

/** Compose cpus ("0.5", 2) as a Kubernetes quantity ("500m", "2"). */
export function cpuQuantity(v: string): string {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid cpus value "${v}"`);
  return Number.isInteger(n) ? String(n) : `${Math.round(n * 1000)}m`;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export function convertProject(project: Project, opts: ConvertOptions = {}): Conversion {
  const warnings: string[] = [];
  const ns = opts.namespace ? { namespace: opts.namespace } : {};
  const projectLabels = { [PROJECT_LABEL]: project.name };
  const meta = (name: string, extra: Record<string, string> = {}) => ({
    name,
    ...ns,
    labels: { ...projectLabels, ...extra },
  });
  const byName = new Map(project.services.map((s) => [s.name, s]));
  const configMaps: ConfigMap[] = [];
  const secrets: Secret[] = [];
  const claims: PersistentVolumeClaim[] = [];
  const services: KubeService[] = [];
  const workloads: (Deployment | Job)[] = [];
  const policies: NetworkPolicy[] = [];

  // ---- configs and secrets ----
  const fileData = (kind: 'config' | 'secret', name: string): string | undefined => {
    const src = (kind === 'config' ? project.configs : project.secrets)[name];
    if (!src) throw new Error(`${kind} "${name}" is not defined at the top level`);
    if (src.external) return undefined;
    if (src.file !== undefined) return readFileSync(resolve(project.dir, src.file), 'utf8');
    if (src.content !== undefined) return src.content;
    if (src.environment !== undefined) return process.env[src.environment] ?? '';
    throw new Error(`${kind} "${name}" needs file, content or environment`);
  };
  const fileKey = (kind: 'config' | 'secret', name: string) => {
    const src = (kind === 'config' ? project.configs : project.secrets)[name];
    return src?.file ? basename(src.file) : name;
  };
  const objectName = (kind: 'config' | 'secret', name: string) => {
    const src = (kind === 'config' ? project.configs : project.secrets)[name];
    return src?.external ? (src.name ?? name) : kubeName(src?.name ?? name);
  };
  const used = { config: new Set<string>(), secret: new Set<string>() };
  for (const s of project.services) {
    for (const c of s.configs) used.config.add(c.source);
    for (const c of s.secrets) used.secret.add(c.source);
  }
  for (const name of [...used.config].sort()) {
    const data = fileData('config', name);
    if (data === undefined) continue;
    configMaps.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(objectName('config', name)),
      data: { [fileKey('config', name)]: data },
    });
  }
  for (const name of [...used.secret].sort()) {
    const data = fileData('secret', name);
    if (data === undefined) continue;
    secrets.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(objectName('secret', name)),
      type: 'Opaque',
      data: { [fileKey('secret', name)]: Buffer.from(data).toString('base64') },
    });
  }

  // ---- named volumes ----
  const claimNames = new Map<string, string>();
  for (const s of project.services)
    for (const v of s.volumes) {
      if (v.type !== 'volume' || !v.source || claimNames.has(v.source)) continue;
      const decl = project.volumes[v.source];
      if (!decl && !(v.source in project.volumes))
        warnings.push(`volume "${v.source}" of service "${s.name}" is not declared at the top level; made as a PVC`);
      const claimName = decl?.external ? (decl.name ?? v.source) : kubeName(decl?.name ?? v.source);
      claimNames.set(v.source, claimName);
      if (decl?.external) continue;
      claims.push({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: meta(claimName),
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: decl?.size ?? opts.volumeSize ?? '1Gi' } },
        },
      });
    }

  // ---- services ----
  const portsOf = (s: Service) => {
    const ports = new Map<string, { port: number; target: number; protocol: 'TCP' | 'UDP'; published: boolean }>();
    for (const p of s.ports) {
      const port = p.published ?? p.target;
      ports.set(`${port}/${p.protocol}`, {
        port,
        target: p.target,
        protocol: p.protocol,
        published: p.published !== undefined,
      });
    }
    for (const e of s.expose)
      if (![...ports.values()].some((p) => p.target === e && p.protocol === 'TCP'))
        ports.set(`${e}/TCP`, { port: e, target: e, protocol: 'TCP', published: false });
    return [...ports.values()];
  };

  for (const s of project.services) {
    const name = kubeName(s.name);
    if (!s.image) {
      if (s.build) throw new Error(`service "${s.name}" has build but no image: build it and name it with image:`);
      throw new Error(`service "${s.name}" has no image`);
    }
    for (const k of s.ignored) warnings.push(`service "${s.name}": ${k} is not supported and was ignored`);
    const serviceLabels = { [SERVICE_LABEL]: s.name.length <= 63 && LABEL_VALUE.test(s.name) ? s.name : name };
    const userLabels: Record<string, string> = {};
    const userAnnotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.labels)) {
      if (LABEL_KEY.test(k) && v.length <= 63 && LABEL_VALUE.test(v)) userLabels[k] = v;
      else userAnnotations[k] = v;
    }
    const networkLabels = Object.fromEntries(s.networks.map((n) => [`${NETWORK_LABEL_PREFIX}${kubeName(n)}`, 'true']));
    const podLabels = { ...projectLabels, ...serviceLabels, ...userLabels, ...networkLabels };

    // Service
    const ports = portsOf(s);
    if (ports.length) {
      const published = ports.some((p) => p.published);
      const type = published ? (opts.serviceType ?? 'ClusterIP') : 'ClusterIP';
      services.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          ...meta(name, { ...serviceLabels, ...userLabels }),
          ...(Object.keys(userAnnotations).length ? { annotations: userAnnotations } : {}),
        },
        spec: {
          type,
          selector: { ...projectLabels, ...serviceLabels },
          ports: ports.map((p) => ({
            name: `${p.port}-${p.protocol.toLowerCase()}`,
            port: p.port,
            targetPort: p.target,
            protocol: p.protocol,
            // A NodePort Service answers on the published port when it is in the NodePort range.
            ...(type === 'NodePort' && p.published && p.port >= 30000 && p.port <= 32767 ? { nodePort: p.port } : {}),
          })),
        },
      });
    }

    // Volumes
    const volumes: Volume[] = [];
    const mounts: KubeVolumeMount[] = [];
    s.volumes.forEach((v, i) => {
      const volName = `${v.type === 'volume' && v.source ? kubeName(v.source) : `${v.type}-${i}`}`.slice(0, 63);
      if (v.type === 'bind') {
        warnings.push(
          `service "${s.name}": bind mount ${v.source} is a hostPath volume: it exists only on the node the pod runs on`,
        );
        volumes.push({ name: volName, hostPath: { path: v.source ?? '' } });
      } else if (v.type === 'tmpfs') volumes.push({ name: volName, emptyDir: { medium: 'Memory' } });
      else if (!v.source) volumes.push({ name: volName, emptyDir: {} });
      else volumes.push({ name: volName, persistentVolumeClaim: { claimName: claimNames.get(v.source) ?? volName } });
      mounts.push({ name: volName, mountPath: v.target, ...(v.readOnly ? { readOnly: true } : {}) });
    });
    for (const [kind, refs] of [
      ['config', s.configs],
      ['secret', s.secrets],
    ] as const) {
      for (const r of refs) {
        const volName = `${kind}-${kubeName(r.source)}`.slice(0, 63);
        const key = fileKey(kind, r.source);
        // Compose's defaults: configs at /<name>, secrets at /run/secrets/<name>.
        const target = r.target
          ? r.target.startsWith('/')
            ? r.target
            : kind === 'secret'
              ? `/run/secrets/${r.target}`
              : `/${r.target}`
          : kind === 'secret'
            ? `/run/secrets/${r.source}`
            : `/${r.source}`;
        const items = [{ key, path: key, ...(r.mode !== undefined ? { mode: r.mode } : {}) }];
        if (!volumes.some((v) => v.name === volName))
          volumes.push(
            kind === 'config'
              ? { name: volName, configMap: { name: objectName('config', r.source), items } }
              : { name: volName, secret: { secretName: objectName('secret', r.source), items } },
          );
        mounts.push({ name: volName, mountPath: target, subPath: key, readOnly: true });
      }
    }

    // Container
    const env: EnvVar[] = Object.entries(s.environment)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => ({ name: k, value: v }));
    const container: Container = {
      name,
      image: s.image,
      ...(s.entrypoint ? { command: s.entrypoint } : {}),
      ...(s.command ? { args: s.command } : {}),
      ...(env.length ? { env } : {}),
      ...(s.workingDir ? { workingDir: s.workingDir } : {}),
      ...(ports.length ? { ports: ports.map((p) => ({ containerPort: p.target, protocol: p.protocol })) } : {}),
      ...(mounts.length ? { volumeMounts: mounts } : {}),
      ...(s.tty ? { tty: true } : {}),
      ...(s.stdinOpen ? { stdin: true } : {}),
    };
    const resources = resourcesOf(s);
    if (resources) container.resources = resources;
    const probe = probeOf(s);
    if (probe) container.readinessProbe = probe;
    const securityContext = securityOf(s, warnings);
    if (securityContext) container.securityContext = securityContext;

    // depends_on: wait until each dependency's Service answers (a Service routes only to ready pods).
    const initContainers: Container[] = [];
    for (const [dep, d] of Object.entries(s.dependsOn).sort(([a], [b]) => a.localeCompare(b))) {
      const target = byName.get(dep);
      if (!target) throw new Error(`service "${s.name}" depends on undefined service "${dep}"`);
      const depPorts = portsOf(target).filter((p) => p.protocol === 'TCP');
      if (d.condition === 'service_completed_successfully')
        warnings.push(
          `service "${s.name}": depends_on ${dep} with service_completed_successfully waits for it to answer instead`,
        );
      if (!depPorts.length) {
        warnings.push(`service "${s.name}": depends_on ${dep}, which has no ports to wait for; not waited for`);
        continue;
      }
      const depName = kubeName(dep);
      const port = depPorts[0].port;
      initContainers.push({
        name: `wait-for-${depName}`.slice(0, 63),
        image: opts.waitImage ?? 'busybox:1.36',
        command: [
          'sh',
          '-c',
          // Connected: nc stays (killed by timeout) or the server closes (0); refused or no
          // route: nc fails at once. (Busybox's nc may lack -z.)
          `until timeout 5 nc -w 2 ${depName} ${port} </dev/null >/dev/null 2>&1; r=$?; [ $r -eq 0 ] || [ $r -ge 124 ]; do echo waiting for ${depName}:${port}; sleep 1; done`,
        ],
      });
    }

    const podSpec = {
      ...(initContainers.length ? { initContainers } : {}),
      containers: [container],
      ...(volumes.length ? { volumes } : {}),
      ...(s.hostname ? { hostname: kubeName(s.hostname) } : {}),
    };
    const objMeta = {
      ...meta(name, { ...serviceLabels, ...userLabels }),
      ...(Object.keys(userAnnotations).length ? { annotations: userAnnotations } : {}),
    };
    const restart = s.restart ?? 'always';
    if (restart === 'no' || restart.startsWith('on-failure')) {
      const max = /^on-failure:(\d+)$/.exec(restart);
      if (s.replicas !== undefined && s.replicas !== 1)
        warnings.push(`service "${s.name}": a Job runs one pod; replicas ${s.replicas} ignored`);
      workloads.push({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: objMeta,
        spec: {
          backoffLimit: restart === 'no' ? 0 : max ? Number(max[1]) : 6,
          template: {
            metadata: { labels: podLabels },
            spec: { ...podSpec, restartPolicy: restart === 'no' ? 'Never' : 'OnFailure' },
          },
        },
      });
    } else {
      if (restart !== 'always' && restart !== 'unless-stopped')
        warnings.push(`service "${s.name}": restart "${restart}" is not a Compose policy; "always" used`);
      workloads.push({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: objMeta,
        spec: {
          replicas: s.replicas ?? 1,
          selector: { matchLabels: { ...projectLabels, ...serviceLabels } },
          // A volume on one node and a single writer: replace, as Compose recreates a container.
          ...(s.volumes.some((v) => v.type === 'volume' && v.source) ? { strategy: { type: 'Recreate' } } : {}),
          template: { metadata: { labels: podLabels }, spec: podSpec },
        },
      });
    }
  }

  // ---- networks ----
  const networkNames = [...new Set(project.services.flatMap((s) => s.networks))].sort();
  for (const n of networkNames) {
    if (n !== 'default' && !(n in project.networks))
      throw new Error(`a service uses network "${n}", which is not defined at the top level`);
    const label = `${NETWORK_LABEL_PREFIX}${kubeName(n)}`;
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(kubeName(`${project.name}-network-${n}`)),
      spec: {
        podSelector: { matchLabels: { [label]: 'true' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { [label]: 'true' } } }] }],
      },
    });
  }
  // Published ports answer from anywhere, as Docker publishes them on the host.
  for (const s of project.services) {
    const published = s.ports.filter((p) => p.published !== undefined);
    if (!published.length) continue;
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(kubeName(`${s.name}-published`)),
      spec: {
        podSelector: { matchLabels: { ...projectLabels, [SERVICE_LABEL]: s.name } },
        policyTypes: ['Ingress'],
        ingress: [{ ports: published.map((p) => ({ port: p.target, protocol: p.protocol })) }],
      },
    });
  }

  return { objects: [...configMaps, ...secrets, ...claims, ...services, ...workloads, ...policies], warnings };
}

function resourcesOf(s: Service): Container['resources'] | undefined {
  const toList = (r: { cpus?: string; memory?: string } | undefined) => {
    if (!r) return undefined;
    const out: Record<string, string> = {};
    if (r.cpus) out.cpu = cpuQuantity(r.cpus);
    if (r.memory) out.memory = memoryQuantity(r.memory);
    return Object.keys(out).length ? out : undefined;
  };
  const limits = toList(s.resources.limits);
  const requests = toList(s.resources.reservations);
  if (!limits && !requests) return undefined;
  return { ...(limits ? { limits } : {}), ...(requests ? { requests } : {}) };
}

/** The healthcheck as a readiness probe: traffic (and services waiting on this one) follow health. */
function probeOf(s: Service): Probe | undefined {
  const h = s.healthcheck;
  if (!h || h.disable || !h.test?.length || h.test[0] === 'NONE') return undefined;
  const [kind, ...rest] = h.test;
  const command = kind === 'CMD' ? rest : kind === 'CMD-SHELL' ? ['sh', '-c', rest.join(' ')] : h.test;
  return {
    exec: { command },
    ...(h.interval ? { periodSeconds: durationSeconds(h.interval) } : {}),
    ...(h.timeout ? { timeoutSeconds: durationSeconds(h.timeout) } : {}),
    ...(h.retries !== undefined ? { failureThreshold: h.retries } : {}),
    ...(h.start_period ? { initialDelaySeconds: durationSeconds(h.start_period) } : {}),
  };
}

function securityOf(s: Service, warnings: string[]): Container['securityContext'] | undefined {
  const ctx: NonNullable<Container['securityContext']> = {};
  if (s.privileged) ctx.privileged = true;
  if (s.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(s.user);
    if (m) {
      ctx.runAsUser = Number(m[1]);
      if (m[2]) ctx.runAsGroup = Number(m[2]);
    } else warnings.push(`service "${s.name}": user "${s.user}" is not numeric; ignored (Kubernetes takes a uid)`);
  }
  return Object.keys(ctx).length ? ctx : undefined;
}

/** The objects as one multi-document YAML stream, as `compose convert` prints them. */
export function manifestsYaml(objects: KubeObject[]): string {
  return objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join('---\n');
}
