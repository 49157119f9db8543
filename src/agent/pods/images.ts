// Image pulls for containers, as the kubelet's image manager: the pull policy (Always for
// `:latest` or untagged images), credentials from the pod's imagePullSecrets or the node's
// registries file, ErrImagePull then ImagePullBackOff with back-off, and the upstream events.
import { R, type Client } from '../../client/client.js';
import type { Secret } from 'kubernetes-types/core/v1.js';
import type { RegistryAuth, Runtime } from '../runtime/types.js';
import { Backoff } from './backoff.js';
import type { AgentPod, PodContainer } from './types.js';
import { errorMessage } from '../errors.js';

/** One registry's entry in a .dockerconfigjson (`auths`) or legacy .dockercfg file. */
interface DockerAuth {
  username?: string;
  password?: string;
  auth?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optionalString = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The registry entries of a parsed docker config: its `auths`, or (.dockercfg) the file itself. */
function dockerAuths(parsed: unknown): Record<string, DockerAuth> {
  const auths = isRecord(parsed) ? (parsed.auths ?? parsed) : {};
  const out: Record<string, DockerAuth> = {};
  if (!isRecord(auths)) return out;
  for (const [server, a] of Object.entries(auths)) {
    if (!isRecord(a)) continue;
    out[server] = {
      username: optionalString(a.username),
      password: optionalString(a.password),
      auth: optionalString(a.auth),
    };
  }
  return out;
}

export type Waiting = { reason: string; message?: string };

export interface ImagePullerDeps {
  client: Client;
  runtime: Runtime;
  /** Credentials from the node's registries file (when no imagePullSecret matches). */
  registryAuth?: (image: string) => RegistryAuth | undefined;
  event(pod: AgentPod, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void;
}

/** The registry host of an image reference (docker.io for short names). */
export function registryHost(image: string): string {
  const first = image.split('/')[0];
  if (!image.includes('/') || (!first.includes('.') && !first.includes(':') && first !== 'localhost'))
    return 'docker.io';
  return first;
}

export class ImagePuller {
  private backoff = new Backoff(10_000, 300_000);

  constructor(private deps: ImagePullerDeps) {}

  /** How long before the next pull attempt of this container's image may start (ms). */
  remaining(key: string): number {
    return this.backoff.remaining(`pull/${key}`, Date.now());
  }

  forgetPod(uid: string): void {
    this.backoff.forgetPrefix(`pull/${uid}/`);
  }

  /**
   * Makes the container's image present by its pull policy. Returns undefined when it is,
   * otherwise why the container waits (ErrImageNeverPull, ErrImagePull, ImagePullBackOff).
   */
  async ensure(
    pod: AgentPod,
    c: PodContainer,
    key: string,
    fieldPath: string,
    current?: Waiting,
  ): Promise<Waiting | undefined> {
    const image = c.image ?? '';
    const ev = (type: 'Normal' | 'Warning', reason: string, message: string) =>
      this.deps.event(pod, type, reason, message, fieldPath);
    const policy =
      c.imagePullPolicy ?? (/:latest$|^[^:@]*$/.test(image.split('/').pop() ?? '') ? 'Always' : 'IfNotPresent');
    const present = policy === 'Always' ? undefined : await this.deps.runtime.imageStatus(image).catch(() => undefined);
    if (present) {
      ev('Normal', 'Pulled', `Container image "${image}" already present on machine`);
      return undefined;
    }
    if (policy === 'Never') {
      const message = `Container image "${image}" is not present with pull policy of Never`;
      ev('Warning', 'ErrImageNeverPull', message);
      return { reason: 'ErrImageNeverPull', message };
    }
    if (this.remaining(key) > 0 && current?.reason?.startsWith('ErrImagePull')) {
      ev('Normal', 'BackOff', `Back-off pulling image "${image}"`);
      return { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` };
    }
    ev('Normal', 'Pulling', `Pulling image "${image}"`);
    const t0 = Date.now();
    try {
      await this.deps.runtime.pullImage(image, await this.auth(pod, image));
    } catch (err) {
      this.backoff.next(`pull/${key}`);
      const message = `Failed to pull image "${image}": ${errorMessage(err)}`;
      ev('Warning', 'Failed', message);
      ev('Warning', 'Failed', 'Error: ErrImagePull');
      return { reason: 'ErrImagePull', message };
    }
    const took = ((Date.now() - t0) / 1000).toFixed(3);
    ev('Normal', 'Pulled', `Successfully pulled image "${image}" in ${took}s (${took}s including waiting)`);
    return undefined;
  }

  /** Credentials for an image from the pod's imagePullSecrets (dockerconfigjson / dockercfg), else from the registries file. */
  private async auth(pod: AgentPod, image: string): Promise<RegistryAuth | undefined> {
    const host = registryHost(image);
    for (const ref of pod.spec?.imagePullSecrets ?? []) {
      if (!ref.name) continue;
      let secret: Secret;
      try {
        secret = await this.deps.client.resource(R.secrets).namespace(pod.metadata.namespace).get(ref.name);
      } catch {
        continue;
      }
      const raw = secret.data?.['.dockerconfigjson'] ?? secret.data?.['.dockercfg'];
      if (!raw) continue;
      try {
        const auths = dockerAuths(JSON.parse(Buffer.from(raw, 'base64').toString('utf8')));
        for (const [server, a] of Object.entries(auths)) {
          const h = server.replace(/^https?:\/\//, '').split('/')[0];
          if (h !== host && !(host === 'docker.io' && /(^|\.)docker\.io$/.test(h))) continue;
          // containerd parses serverAddress as a URL and gives the credentials to that host only.
          return {
            username: a.username,
            password: a.password,
            auth: a.auth,
            serverAddress: `https://${host === 'docker.io' ? 'registry-1.docker.io' : host}`,
          };
        }
      } catch {
        continue;
      }
    }
    return this.deps.registryAuth?.(image);
  }
}
