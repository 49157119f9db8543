// A kube-state-metrics served by k8ts itself: the families of families.ts over shared informers,
// in the Prometheus text format. The informers start on the first scrape, so a cluster nobody
// scrapes pays nothing for it; the first scrape waits (bounded) for them to sync.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { ResourceSpec } from '../client/types.js';
import { R, type Client } from '../client/client.js';
import { SharedInformerFactory, type SharedIndexInformer } from '../client/informer.js';
import {
  daemonSetFamilies,
  deploymentFamilies,
  jobFamilies,
  namespaceFamilies,
  nodeFamilies,
  podFamilies,
  replicaSetFamilies,
  serviceFamilies,
  statefulSetFamilies,
  type Family,
  type Labels,
} from './families.js';

export const KUBE_STATE_PATH = '/metrics/kube-state';

/** The identity labels kube-state-metrics puts first on every sample of a kind. */
type IdentityOf = (m: ObjectMeta) => Labels;

interface Kind<T> {
  spec: ResourceSpec<T>;
  identity: IdentityOf;
  families: Family<T>[];
}

const namespaced =
  (label: string, uid = false): IdentityOf =>
  (m) =>
    uid
      ? { namespace: m.namespace ?? '', [label]: m.name ?? '', uid: m.uid ?? '' }
      : { namespace: m.namespace ?? '', [label]: m.name ?? '' };

function kind<T>(spec: ResourceSpec<T>, identity: IdentityOf, families: Family<T>[]): Kind<unknown> {
  return { spec, identity, families };
}

const KINDS: Kind<unknown>[] = [
  kind(R.pods, namespaced('pod', true), podFamilies),
  kind(R.deployments, namespaced('deployment'), deploymentFamilies),
  kind(R.replicasets, namespaced('replicaset'), replicaSetFamilies),
  kind(R.statefulsets, namespaced('statefulset'), statefulSetFamilies),
  kind(R.daemonsets, namespaced('daemonset'), daemonSetFamilies),
  kind(R.jobs, namespaced('job_name'), jobFamilies),
  kind(R.services, namespaced('service', true), serviceFamilies),
  kind(R.nodes, (m) => ({ node: m.name ?? '' }), nodeFamilies),
  kind(R.namespaces, (m) => ({ namespace: m.name ?? '' }), namespaceFamilies),
];

/** A label value in the text format: backslash, quote and line break escaped. */
function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Every family of the kinds over these objects, in the text format (exposition 0.0.4). */
export function renderFamilies(objects: (kind: Kind<unknown>) => unknown[], kinds = KINDS): string {
  const out: string[] = [];
  for (const k of kinds) {
    const items = objects(k);
    for (const f of k.families) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type === 'counter' ? 'counter' : 'gauge'}`);
      for (const obj of items) {
        const id = k.identity((obj as { metadata?: ObjectMeta }).metadata ?? {});
        for (const [labels, value] of f.samples(obj)) {
          const all = { ...id, ...labels };
          const text = Object.entries(all)
            .map(([n, v]) => `${n}="${escape(v)}"`)
            .join(',');
          out.push(`${f.name}{${text}} ${formatValue(value)}`);
        }
      }
    }
  }
  return out.join('\n') + '\n';
}

export class KubeStateMetrics {
  private factory?: SharedInformerFactory;
  private informers = new Map<Kind<unknown>, SharedIndexInformer<unknown>>();
  private synced?: Promise<boolean>;

  constructor(private readonly client: Client) {}

  /** The metrics text; starts the informers on first use and waits up to syncMs for them. */
  async render(syncMs = 30_000): Promise<string> {
    if (!this.factory) {
      this.factory = new SharedInformerFactory(this.client);
      for (const k of KINDS) this.informers.set(k, this.factory.forResource(k.spec));
      this.factory.start();
      this.synced = this.factory.waitForCacheSync(syncMs);
    }
    await this.synced;
    return renderFamilies((k) => this.informers.get(k)?.store.list() ?? []);
  }

  async stop(): Promise<void> {
    await this.factory?.shutdown();
  }
}
