// ServiceAccount (upstream plugin/pkg/admission/serviceaccount): a new pod runs as a service
// account ("default" unless it names one), which must exist; unless automounting is turned off
// (pod first, then service account), every container and init container gets the projected
// `kube-api-access-xxxxx` volume (a bound token, the cluster CA, the namespace) at
// /var/run/secrets/kubernetes.io/serviceaccount; the service account's imagePullSecrets are
// copied to a pod that has none; a service account annotated
// kubernetes.io/enforce-mountable-secrets=true limits the secrets its pods may reference.
//
// The existence check and the volume need service-account tokens: they are switched on by
// `installServiceAccountTokens` (src/apiserver/serviceaccount), which `k8ts server` calls. An API
// server without a signing key (test fixtures) only gets the service account name defaulted.
import { randomInt } from 'node:crypto';
import { type AdmissionAttributes, type MutatingPlugin, forbiddenFor } from './interfaces.js';

export const DEFAULT_SERVICE_ACCOUNT_NAME = 'default';
export const DEFAULT_API_TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
export const SERVICE_ACCOUNT_VOLUME_NAME = 'kube-api-access';
export const ENFORCE_MOUNTABLE_SECRETS_ANNOTATION = 'kubernetes.io/enforce-mountable-secrets';
const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
/** The kube-api-access token lifetime (see WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS). */
export const TOKEN_EXPIRATION_SECONDS = 3607;

/** upstream utilrand.String: consonants and digits that can't spell words. */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';
export function randomSuffix(n = 5): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHANUMS[randomInt(ALPHANUMS.length)];
  return s;
}

/** The projected volume upstream's plugin adds (every defaulted field set). */
export function tokenVolume(name: string): any {
  return {
    name,
    projected: {
      sources: [
        { serviceAccountToken: { expirationSeconds: TOKEN_EXPIRATION_SECONDS, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
      defaultMode: 0o644,
    },
  };
}

/** Whether a pod gets the token volume: the pod's setting, else the service account's, else yes. */
export function shouldAutomount(sa: any, pod: any): boolean {
  if (typeof pod.spec?.automountServiceAccountToken === 'boolean') return pod.spec.automountServiceAccountToken;
  if (typeof sa?.automountServiceAccountToken === 'boolean') return sa.automountServiceAccountToken;
  return true;
}

/** Adds the token volume and its mounts (mutates `pod`). */
export function mountServiceAccountToken(
  pod: any,
  generateName: () => string = () => `${SERVICE_ACCOUNT_VOLUME_NAME}-${randomSuffix()}`,
): void {
  const spec = pod.spec;
  const volumes: any[] = spec.volumes ?? [];
  // A pod that already has such a volume (e.g. re-created from another pod's spec) keeps it.
  const existing = volumes.find(
    (v) => typeof v?.name === 'string' && v.name.startsWith(`${SERVICE_ACCOUNT_VOLUME_NAME}-`),
  );
  const names = new Set(volumes.map((v) => v?.name));
  let volumeName = existing?.name as string | undefined;
  while (!volumeName || (!existing && names.has(volumeName))) volumeName = generateName();
  let needed = false;
  for (const list of [spec.initContainers, spec.containers]) {
    for (const c of list ?? []) {
      const mounts: any[] = c.volumeMounts ?? [];
      if (mounts.some((m) => m?.mountPath === DEFAULT_API_TOKEN_MOUNT_PATH)) continue;
      c.volumeMounts = [...mounts, { name: volumeName, readOnly: true, mountPath: DEFAULT_API_TOKEN_MOUNT_PATH }];
      needed = true;
    }
  }
  if (needed && !existing) spec.volumes = [...volumes, tokenVolume(volumeName)];
}

/** upstream limitSecretReferences: the error text, or undefined when every reference is allowed. */
export function secretReferenceError(sa: any, pod: any): string | undefined {
  const saName = sa.metadata?.name;
  const mountable = new Set((sa.secrets ?? []).map((s: any) => s?.name));
  const notAllowed = (what: string) =>
    `${what} is not allowed because service account ${saName} does not reference that secret`;
  for (const v of pod.spec?.volumes ?? []) {
    if (v?.secret && !mountable.has(v.secret.secretName))
      return notAllowed(`volume with secret.secretName="${v.secret.secretName}"`);
    for (const s of v?.projected?.sources ?? []) {
      if (s?.secret && !mountable.has(s.secret.name))
        return notAllowed(`projected volume with secret.name="${s.secret.name}"`);
    }
  }
  const containers = [
    ...(pod.spec?.initContainers ?? []).map((c: any) => ['init container', c] as const),
    ...(pod.spec?.containers ?? []).map((c: any) => ['container', c] as const),
  ];
  for (const [kind, c] of containers) {
    for (const e of c.env ?? []) {
      const ref = e?.valueFrom?.secretKeyRef;
      if (ref && !mountable.has(ref.name))
        return notAllowed(`${kind} ${c.name} with envVar ${e.name} referencing secret.secretName="${ref.name}"`);
    }
    for (const e of c.envFrom ?? []) {
      if (e?.secretRef && !mountable.has(e.secretRef.name))
        return notAllowed(`${kind} ${c.name} with envFrom referencing secret.secretName="${e.secretRef.name}"`);
    }
  }
  const pullable = new Set((sa.imagePullSecrets ?? []).map((s: any) => s?.name));
  for (const [i, ref] of (pod.spec?.imagePullSecrets ?? []).entries()) {
    if (!pullable.has(ref?.name))
      return `imagePullSecrets[${i}].name="${ref?.name}" is not allowed because service account ${saName} does not reference that imagePullSecret`;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ServiceAccountAdmission implements MutatingPlugin {
  readonly name = 'ServiceAccount';
  /** Refuse pods whose service account does not exist, mount tokens (set once tokens are served). */
  requireServiceAccount = false;

  /** `getServiceAccount(namespace, name)`: the stored object or undefined. */
  constructor(private readonly getServiceAccount: (namespace: string, name: string) => any) {}

  handles(a: AdmissionAttributes): boolean {
    return a.operation === 'CREATE' && !a.subresource && a.group === '' && a.resource === 'pods' && !!a.object;
  }

  /**
   * The service account, waiting a little for one not there yet: the `default` one of a new
   * namespace is created by a controller moments after the namespace (upstream: 10 attempts).
   */
  private async lookup(ns: string, name: string): Promise<any> {
    const attempts = name === DEFAULT_SERVICE_ACCOUNT_NAME ? 10 : 1;
    const interval = 100 + randomInt(100);
    for (let i = 0; i < attempts; i++) {
      if (i) await sleep(interval);
      const sa = this.getServiceAccount(ns, name);
      if (sa) return sa;
    }
    return undefined;
  }

  async admit(a: AdmissionAttributes): Promise<void> {
    const pod = a.object;
    pod.spec ??= {};
    if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return;
    if (!pod.spec.serviceAccountName)
      pod.spec.serviceAccountName = pod.spec.serviceAccount || DEFAULT_SERVICE_ACCOUNT_NAME;
    if (!this.requireServiceAccount) return;
    const ns = a.namespace || pod.metadata?.namespace;
    const name = pod.spec.serviceAccountName;
    const sa = await this.lookup(ns, name);
    if (!sa)
      throw forbiddenFor(a, `error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`);
    if (shouldAutomount(sa, pod)) mountServiceAccountToken(pod);
    if (!pod.spec.imagePullSecrets?.length && sa.imagePullSecrets?.length)
      pod.spec.imagePullSecrets = structuredClone(sa.imagePullSecrets);
    if (sa.metadata?.annotations?.[ENFORCE_MOUNTABLE_SECRETS_ANNOTATION] === 'true') {
      const why = secretReferenceError(sa, pod);
      if (why) throw forbiddenFor(a, why);
    }
  }
}
