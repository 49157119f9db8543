// Service-account tokens for projected volumes (the kubelet's token manager): each
// serviceAccountToken source of a pod is a TokenRequest bound to the pod, cached and requested
// again once 80% of its lifetime (or 24 h) has passed, so the file in the volume is rewritten
// before the token expires. While the API server can't be reached a token still valid is kept.
import type { TokenRequest } from 'kubernetes-types/authentication/v1.js';
import type { Pod, ServiceAccountTokenProjection } from 'kubernetes-types/core/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/client.js';

const MAX_TTL_MS = 24 * 60 * 60 * 1000;
const DEFAULT_EXPIRATION_SECONDS = 3600;

interface CachedToken {
  token: string;
  issuedMs: number;
  expiresMs: number;
}

/** Whether a cached token is due for renewal at `now`. */
export function requiresRefresh(t: { issuedMs: number; expiresMs: number }, now: number): boolean {
  if (now >= t.expiresMs) return true;
  if (now - t.issuedMs > MAX_TTL_MS) return true;
  return now > t.issuedMs + 0.8 * (t.expiresMs - t.issuedMs);
}

export class ServiceAccountTokens {
  private readonly cache = new Map<string, CachedToken>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The token file's content for a pod's projection source. */
  async get(
    client: Client,
    pod: Pod,
    source: ServiceAccountTokenProjection,
    log?: { warn(o: object, msg: string): void },
  ): Promise<string> {
    const ns = pod.metadata?.namespace ?? 'default';
    const sa = pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default';
    const expirationSeconds = source.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
    const audiences = source.audience ? [source.audience] : [];
    const key = JSON.stringify([ns, sa, pod.metadata?.name, pod.metadata?.uid, audiences, expirationSeconds]);
    const now = this.now();
    this.prune(now);
    const cached = this.cache.get(key);
    if (cached && !requiresRefresh(cached, now)) return cached.token;
    const request = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences,
        expirationSeconds,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
      },
    };
    try {
      const out = (await client.resource(R.serviceaccounts).namespace(ns).createSubresource(sa, 'token', request)) as
        TokenRequest | undefined;
      const token = out?.status?.token;
      if (typeof token !== 'string' || !token) throw new Error('no token in the TokenRequest answer');
      const expiresMs = Date.parse(out?.status?.expirationTimestamp ?? '');
      // As upstream, the issue time is the expiry minus the lifetime asked for (server clock).
      const lifetime = (out?.spec?.expirationSeconds ?? expirationSeconds) * 1000;
      const t: CachedToken = Number.isFinite(expiresMs)
        ? { token, expiresMs, issuedMs: expiresMs - lifetime }
        : { token, issuedMs: now, expiresMs: now + lifetime };
      this.cache.set(key, t);
      return token;
    } catch (e) {
      const msg = `failed to fetch token: ${(e as Error).message}`;
      if (cached && now < cached.expiresMs) {
        log?.warn(
          { pod: `${ns}/${pod.metadata?.name}`, serviceAccount: sa, err: (e as Error).message },
          'token renewal failed, keeping the current token',
        );
        return cached.token;
      }
      throw new Error(msg, { cause: e });
    }
  }

  /** Forget every token of a pod (it is gone). */
  forgetPod(podUID: string): void {
    for (const [k] of this.cache) if ((JSON.parse(k) as unknown[])[3] === podUID) this.cache.delete(k);
  }

  get size(): number {
    return this.cache.size;
  }

  private prune(now: number): void {
    for (const [k, t] of this.cache) if (now >= t.expiresMs) this.cache.delete(k);
  }
}

/** One cache per API client (one per agent). */
const perClient = new WeakMap<Client, ServiceAccountTokens>();

export function tokensFor(client: Client): ServiceAccountTokens {
  let t = perClient.get(client);
  if (!t) perClient.set(client, (t = new ServiceAccountTokens()));
  return t;
}
