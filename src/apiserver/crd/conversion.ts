// Conversion of custom objects between the versions of a CRD: `None` (only apiVersion changes,
// synchronously) and `Webhook` (one ConversionReview POSTed to the CRD's clientConfig for a whole
// batch of objects, asynchronously — the REST flow awaits it without blocking other requests).
// A `service` reference is called at a ready endpoint of the Service (as admission webhooks are),
// its certificate checked as `<service>.<namespace>.svc`.
import { randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import type { KObject } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import { type StoreLookup, resolveService } from '../admission/webhook/service.js';

export interface Converter {
  /**
   * Objects at any version of the CRD → desiredAPIVersion (group/version), in order. Synchronous
   * for `None`; a Promise for a webhook (unless nothing needs converting).
   */
  convert(objs: KObject[], desiredAPIVersion: string): KObject[] | Promise<KObject[]>;
}

export const noneConverter: Converter = {
  convert(objs, desiredAPIVersion) {
    return objs.map((o) => (o.apiVersion === desiredAPIVersion ? o : { ...o, apiVersion: desiredAPIVersion }));
  },
};

export interface WebhookClientConfig {
  url?: string;
  caBundle?: string;
  service?: { namespace: string; name: string; path?: string; port?: number };
}

/** Upstream's timeout for conversion webhooks. */
const WEBHOOK_TIMEOUT_MS = 30_000;
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** The text of a failed HTTP call, as Go's net/http prints it. */
function callError(url: string, err: unknown): string {
  const e = err as { message?: string; code?: string; cause?: { message?: string; code?: string } };
  const cause = e?.cause?.message ?? e?.message ?? String(err);
  if (
    e?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e?.code === 'UND_ERR_BODY_TIMEOUT' ||
    e?.code === 'UND_ERR_CONNECT_TIMEOUT' ||
    (err as Error)?.name === 'TimeoutError'
  ) {
    return `Post "${url}": context deadline exceeded`;
  }
  return `Post "${url}": ${cause}`;
}

/** A Webhook converter for one CRD. */
export function webhookConverter(crdName: string, kind: string, conversion: any, stores?: StoreLookup): Converter {
  const cfg: WebhookClientConfig = conversion?.webhook?.clientConfig ?? {};
  const svc = cfg.url ? undefined : cfg.service;
  /** The service's DNS name: what its certificate is checked as, and what errors show. */
  const serviceHost = svc && `${svc.name}.${svc.namespace}.svc`;
  const servicePath = svc ? (svc.path?.startsWith('/') ? svc.path : `/${svc.path ?? ''}`) : '';
  /** The URL errors show (Go's client quotes the service's DNS name). */
  const shown = svc ? `https://${serviceHost}:${svc.port ?? 443}${servicePath}` : (cfg.url ?? '');
  /** The URL to dial: a service's ready endpoint is resolved at each call. */
  const dialURL = (): string => {
    if (!svc) return shown;
    if (!stores) throw new Error('no service lookup');
    const at = resolveService(stores, svc.namespace, svc.name, svc.port ?? 443);
    return `https://${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}${servicePath}`;
  };
  const reviewVersions: string[] = conversion?.webhook?.conversionReviewVersions ?? ['v1'];
  const reviewVersion = reviewVersions.includes('v1') ? 'v1' : 'v1beta1';
  // Upstream: `conversion webhook for <group/version, Kind=kind> failed: ...`, a 500 InternalError.
  const fail = (gv: string, why: string) => {
    const msg = `conversion webhook for ${gv}, Kind=${kind} failed: ${why}`;
    return new errors.ApiError(500, 'InternalError', `Internal error occurred: ${msg}`, {
      name: crdName,
      causes: [{ reason: 'ConversionFailed', message: msg }],
    });
  };
  // undici is loaded when a webhook is first called (most servers never call one).
  let agent: Promise<Agent> | undefined;
  const agentFor = () =>
    (agent ??= import('undici').then(
      ({ Agent }) =>
        new Agent({
          keepAliveTimeout: 30_000,
          connect: {
            ca: cfg.caBundle ? Buffer.from(cfg.caBundle, 'base64').toString('utf8') : undefined,
            timeout: WEBHOOK_TIMEOUT_MS,
            ...(serviceHost ? { servername: serviceHost } : {}),
          },
          headersTimeout: WEBHOOK_TIMEOUT_MS,
          bodyTimeout: WEBHOOK_TIMEOUT_MS,
        }),
    ));

  const post = async (from: string, body: string): Promise<any> => {
    const url = shown;
    let status: number;
    let text: string;
    try {
      const { request } = await import('undici');
      const res = await request(dialURL(), {
        method: 'POST',
        dispatcher: await agentFor(),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      status = res.statusCode;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of res.body) {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) throw new Error('response too large');
        chunks.push(c as Buffer);
      }
      text = Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      throw fail(from, callError(url, err));
    }
    if (status !== 200) throw fail(from, `conversion webhook returned HTTP ${status}: ${text.slice(0, 512)}`);
    try {
      return JSON.parse(text);
    } catch {
      throw fail(from, 'the response is not a JSON ConversionReview');
    }
  };

  return {
    convert(objs, desired) {
      const pending = objs.filter((o) => o.apiVersion !== desired);
      if (!pending.length) return objs;
      return (async () => {
        const from = pending[0].apiVersion ?? '';
        const uid = randomUUID();
        const review = {
          kind: 'ConversionReview',
          apiVersion: `apiextensions.k8s.io/${reviewVersion}`,
          request: { uid, desiredAPIVersion: desired, objects: pending },
        };
        const parsed = await post(from, JSON.stringify(review));
        const response = parsed?.response;
        if (!response) throw fail(from, 'no response provided');
        if (response.uid !== uid)
          throw fail(from, `expected response.uid=${JSON.stringify(uid)}, got ${JSON.stringify(response.uid)}`);
        if (response.result?.status !== 'Success') throw fail(from, response.result?.message ?? 'conversion failed');
        const converted: KObject[] = response.convertedObjects ?? [];
        if (converted.length !== pending.length)
          throw fail(from, `expected ${pending.length} converted objects, got ${converted.length}`);
        let j = 0;
        return objs.map((o) => {
          if (o.apiVersion === desired) return o;
          const c = converted[j++];
          if (c?.apiVersion !== desired)
            throw fail(from, `invalid converted object: expected apiVersion ${desired}, got ${c?.apiVersion}`);
          if (c.kind !== o.kind) throw fail(from, `invalid converted object: expected kind ${o.kind}, got ${c.kind}`);
          // Metadata changes other than labels and annotations are ignored, as upstream.
          const meta = {
            ...o.metadata,
            labels: c.metadata?.labels ?? o.metadata.labels,
            annotations: c.metadata?.annotations ?? o.metadata.annotations,
          };
          if (meta.labels === undefined) delete meta.labels;
          if (meta.annotations === undefined) delete meta.annotations;
          return { ...c, metadata: meta };
        });
      })();
    },
  };
}

export function converterFor(crd: any, stores?: StoreLookup): Converter {
  const conv = crd?.spec?.conversion;
  if (conv?.strategy === 'Webhook')
    return webhookConverter(crd.metadata?.name ?? '', crd.spec?.names?.kind ?? '', conv, stores);
  return noneConverter;
}
