// Where objects live in etcd: the layout kube-apiserver uses, so tools made for an upstream
// cluster's etcd (etcdctl get --prefix /registry/pods/, backups, etcdhelper) find them.
//
// k8ts keys are `/<group or core>/<plural>/<namespace>/<name>` (or `/<group>/<plural>/<name>`).
// In etcd they become `<prefix>/<resource prefix>/<namespace>/<name>`, where the resource prefix
// is, as in kube-apiserver's storage factory:
// - the plural alone for the built-in API groups (`/registry/configmaps/…`, `/registry/deployments/…`);
// - upstream's special names for a few of them (`services/specs`, `services/endpoints`, `minions`,
//   `controllers`, `ingress`, `podsecuritypolicy`);
// - `<group>/<plural>` for every other group: custom resources, and the CustomResourceDefinitions
//   and APIServices themselves (`/registry/apiextensions.k8s.io/customresourcedefinitions/…`).

/** API groups served by kube-apiserver itself: their resources are stored under their plural alone. */
const BUILTIN_GROUPS = new Set([
  'core',
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'extensions',
  'admissionregistration.k8s.io',
  'apiserverinternal.k8s.io',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'certificates.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'events.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'internal.apiserver.k8s.io',
  'networking.k8s.io',
  'node.k8s.io',
  'rbac.authorization.k8s.io',
  'resource.k8s.io',
  'scheduling.k8s.io',
  'storage.k8s.io',
  'storagemigration.k8s.io',
]);

/** kube-apiserver's SpecialDefaultResourcePrefixes, keyed `group/plural`. */
const SPECIAL_PREFIXES: Record<string, string> = {
  'core/replicationcontrollers': 'controllers',
  'core/endpoints': 'services/endpoints',
  'core/nodes': 'minions',
  'core/services': 'services/specs',
  'extensions/ingresses': 'ingress',
  'networking.k8s.io/ingresses': 'ingress',
  'extensions/podsecuritypolicies': 'podsecuritypolicy',
  'policy/podsecuritypolicies': 'podsecuritypolicy',
};

export class KeyMapper {
  /** `prefix` is --etcd-prefix, e.g. `/registry`. */
  constructor(readonly prefix: string) {
    this.prefix = prefix.replace(/\/+$/, '');
  }

  /** The etcd key (or key prefix) of a k8ts key (or key prefix naming at least group and plural). */
  toEtcd(key: string): string {
    const m = /^\/([^/]+)\/([^/]+)\/(.*)$/s.exec(key);
    if (!m) throw new Error(`etcd storage: key ${JSON.stringify(key)} names no resource`);
    const [, group, plural, rest] = m;
    const resource =
      SPECIAL_PREFIXES[`${group}/${plural}`] ?? (BUILTIN_GROUPS.has(group) ? plural : `${group}/${plural}`);
    return `${this.prefix}/${resource}/${rest}`;
  }

  /** Every key this cluster writes lies under this prefix. */
  get root(): string {
    return `${this.prefix}/`;
  }
}

/** The end of the range of keys starting with `prefix` (etcd's range_end). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: to the end of the key space.
  return Buffer.from([0]);
}
