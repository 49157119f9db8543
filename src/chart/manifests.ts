// Helm's releaseutil: splitting rendered files into YAML documents, separating hooks, and
// ordering by kind for installation.
import { parseYamlHead, YamlError } from './yaml.js';
import { isMap } from './template/values.js';
import { formatValue } from './template/gofmt.js';
import { compareStrings } from '../machinery/order.js';

export const INSTALL_ORDER = [
  'PriorityClass',
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
];

const HOOK_EVENTS = new Set([
  'pre-install',
  'post-install',
  'pre-delete',
  'post-delete',
  'pre-upgrade',
  'post-upgrade',
  'pre-rollback',
  'post-rollback',
  'test',
  'test-success',
]);

export interface Manifest {
  name: string;
  content: string;
  kind: string;
}

export interface Hook extends Manifest {
  events: string[];
  weight: number;
}

/** SplitManifests: documents separated by "---" lines, trimmed, empty ones dropped, in order. */
export function splitManifests(bigFile: string): string[] {
  const docs = bigFile.trim().split(/(?:^|\s*\n)---\s*/);
  return docs.filter((d) => d !== '').map((d) => d.trim());
}

/** Annotation values are strings in a valid manifest; anything else reads as Go's %v would. */
function stringOf(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : formatValue(v);
}

export class ManifestParseError extends Error {}

interface Head {
  kind: string;
  annotations?: Record<string, unknown>;
}

function head(doc: string, path: string): Head {
  let h: ReturnType<typeof parseYamlHead>;
  try {
    h = parseYamlHead(doc);
  } catch (e) {
    if (e instanceof YamlError)
      throw new ManifestParseError(`YAML parse error on ${path}: error converting YAML to JSON: ${e.message}`);
    throw e;
  }
  const v = h.value;
  if (v !== null && !isMap(v)) {
    const kind = Array.isArray(v)
      ? 'array'
      : typeof v === 'string'
        ? 'string'
        : typeof v === 'boolean'
          ? 'bool'
          : 'number';
    throw new ManifestParseError(
      `YAML parse error on ${path}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${kind} into Go value of type releaseutil.SimpleHead`,
    );
  }
  return {
    kind: typeof h.kind === 'string' ? h.kind : '',
    annotations: isMap(h.annotations) ? h.annotations : undefined,
  };
}

function kindLess(a: string, b: string, order: string[]): boolean {
  const ia = order.indexOf(a);
  const ib = order.indexOf(b);
  if (ia < 0 && ib < 0) return a !== b ? a < b : false;
  if (ia < 0) return false;
  if (ib < 0) return true;
  return ia < ib;
}

/** Stable sort by kind (Array.prototype.sort is stable). */
export function sortByKind<T extends { kind: string }>(items: T[], order = INSTALL_ORDER): T[] {
  return [...items].sort((x, y) => (kindLess(x.kind, y.kind, order) ? -1 : kindLess(y.kind, x.kind, order) ? 1 : 0));
}

/** SortManifests: files in path order, documents in file order, hooks split out, both sorted by kind. */
export function sortManifests(files: Map<string, string>): { hooks: Hook[]; manifests: Manifest[] } {
  const hooks: Hook[] = [];
  const manifests: Manifest[] = [];
  const paths = [...files.keys()].sort(compareStrings);
  for (const path of paths) {
    const content = files.get(path)!;
    if (path.split('/').pop()!.startsWith('_')) continue;
    if (content.trim() === '') continue;
    for (const doc of splitManifests(content)) {
      const h = head(doc, path);
      const hookTypes = h.annotations?.['helm.sh/hook'];
      if (!h.annotations || Object.keys(h.annotations).length === 0 || hookTypes === undefined) {
        manifests.push({ name: path, content: doc, kind: h.kind });
        continue;
      }
      const events = stringOf(hookTypes)
        .split(',')
        .map((e) => e.trim().toLowerCase());
      if (events.some((e) => !HOOK_EVENTS.has(e))) continue;
      const weight = Number.parseInt(stringOf(h.annotations['helm.sh/hook-weight']), 10);
      hooks.push({ name: path, content: doc, kind: h.kind, events, weight: Number.isNaN(weight) ? 0 : weight });
    }
  }
  return { hooks: sortByKind(hooks), manifests: sortByKind(manifests) };
}
