// The run-time table of served resources. Built-in definitions are added at start; custom
// resources are added and removed while serving. Discovery and routing read only this.
import type { ResourceDef, VersionDef } from '../api/types.js';
import { ALL_VERBS } from '../api/types.js';
import { localPriorities } from '../api/apiregistration/v1/index.js';
import { byName } from '../machinery/order.js';

export interface Served {
  def: ResourceDef;
  version: VersionDef;
}

export const storagePrefixOf = (def: ResourceDef) => def.storagePrefix ?? `/${def.group || 'core'}/${def.plural}/`;
export const verbsOf = (def: ResourceDef) => def.verbs ?? ALL_VERBS;
export const storageVersionOf = (def: ResourceDef) => def.storageVersion ?? def.versions[0].name;
export const apiVersionOf = (group: string, version: string) => (group ? `${group}/${version}` : version);

export interface GroupInfo {
  name: string;
  /** Served versions, preferred first. */
  versions: string[];
}

export class ResourceRegistry {
  private defs: ResourceDef[] = [];
  private byPath = new Map<string, Served>();
  private listeners = new Set<() => void>();
  private generation = 0;

  add(def: ResourceDef): void {
    this.defs.push(def);
    this.reindex();
  }

  remove(def: ResourceDef): void {
    this.defs = this.defs.filter((d) => d !== def);
    this.reindex();
  }

  replace(old: ResourceDef, next: ResourceDef): void {
    this.defs = this.defs.map((d) => (d === old ? next : d));
    this.reindex();
  }

  private reindex() {
    this.byPath.clear();
    for (const def of this.defs) {
      for (const v of def.versions) {
        if (v.served === false) continue;
        this.byPath.set(`${def.group}/${v.name}/${def.plural}`, { def, version: v });
      }
    }
    this.generation++;
    for (const l of this.listeners) l();
  }

  /** Bumped on every change; discovery documents are cached against it. */
  get version(): number {
    return this.generation;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  lookup(group: string, version: string, plural: string): Served | undefined {
    return this.byPath.get(`${group}/${version}/${plural}`);
  }

  all(): readonly ResourceDef[] {
    return this.defs;
  }

  byKind(group: string, kind: string): ResourceDef | undefined {
    return this.defs.find((d) => d.group === group && d.kind === kind);
  }

  /** Resources served at group/version. */
  inGroupVersion(group: string, version: string): Served[] {
    const out: Served[] = [];
    for (const def of this.defs) {
      if (def.group !== group) continue;
      const v = def.versions.find((x) => x.name === version && x.served !== false);
      if (v) out.push({ def, version: v });
    }
    return out;
  }

  groups(): GroupInfo[] {
    const map = new Map<string, string[]>();
    for (const def of this.defs) {
      const versions = map.get(def.group) ?? [];
      for (const v of def.versions) if (v.served !== false && !versions.includes(v.name)) versions.push(v.name);
      map.set(def.group, versions);
    }
    // Discovery order is the APIServices' (kube-aggregator): groups by the highest
    // groupPriorityMinimum of their versions, then by name; versions by versionPriority, then
    // kube-aware version order. CRD groups (1000) come after the built-in ones.
    const groupPriority = (name: string, versions: string[]) =>
      Math.max(...versions.map((v) => localPriorities(name, v)[0]));
    return [...map.entries()]
      .filter(([, versions]) => versions.length > 0)
      .map(([name, versions]) => ({
        name,
        versions: [...versions].sort(
          (a, b) => localPriorities(name, b)[1] - localPriorities(name, a)[1] || compareVersions(a, b),
        ),
        priority: groupPriority(name, versions),
      }))
      .sort((a, b) => b.priority - a.priority || byName(a, b))
      .map(({ name, versions }) => ({ name, versions }));
  }
}

/** Kubernetes version priority: GA > beta > alpha, higher numbers first (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others). */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return { kube: false, major: 0, stage: 0, minor: 0 };
    return { kube: true, major: +m[1], stage: m[2] === 'alpha' ? 1 : m[2] === 'beta' ? 2 : 3, minor: m[3] ? +m[3] : 0 };
  };
  const x = parse(a);
  const y = parse(b);
  if (x.kube !== y.kube) return x.kube ? -1 : 1;
  if (!x.kube) return a.localeCompare(b);
  if (x.stage !== y.stage) return y.stage - x.stage;
  if (x.major !== y.major) return y.major - x.major;
  return y.minor - x.minor;
}

export function sortVersions(versions: string[]): string[] {
  return [...versions].sort(compareVersions);
}
