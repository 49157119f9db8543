// Conversion of custom objects between the versions of a CRD: `None` (only apiVersion changes)
// and `Webhook` (a ConversionReview POSTed to the CRD's clientConfig). The REST flow converts
// synchronously, so the webhook call runs in a worker thread the caller blocks on (bounded by
// the webhook timeout); service references are refused until services route.
import { randomUUID } from 'node:crypto';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { KObject } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';

export interface Converter {
  /** Objects at any version of the CRD → desiredAPIVersion (group/version). */
  convert(objs: KObject[], desiredAPIVersion: string): KObject[];
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

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const https = require('node:https');
const http = require('node:http');
parentPort.on('message', (m) => {
  const flag = new Int32Array(m.flag);
  const done = (result) => {
    m.port.postMessage(result);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  };
  try {
    const u = new URL(m.url);
    const mod = u.protocol === 'http:' ? http : https;
    const req = mod.request(u, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(m.body) },
      ca: m.ca || undefined,
      timeout: m.timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => done({ error: String(e && e.message || e) }));
    });
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
    req.on('error', (e) => done({ error: String(e && e.message || e) }));
    req.end(m.body);
  } catch (e) {
    done({ error: String(e && e.message || e) });
  }
});
`;

let worker: Worker | undefined;

function callSync(url: string, ca: string | undefined, body: string, timeoutMs: number): { status?: number; body?: string; error?: string } {
  if (!worker) {
    worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('error', () => (worker = undefined));
  }
  const flag = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  try {
    worker.postMessage({ flag, port: port2, url, ca, body, timeoutMs }, [port2 as MessagePort]);
    const r = Atomics.wait(new Int32Array(flag), 0, 0, timeoutMs + 2000);
    const msg = receiveMessageOnPort(port1)?.message;
    if (!msg) return { error: r === 'timed-out' ? 'context deadline exceeded' : 'no response from the conversion worker' };
    return msg;
  } finally {
    port1.close();
  }
}

/** A Webhook converter for one CRD. */
export function webhookConverter(crdName: string, kind: string, conversion: any): Converter {
  const cfg: WebhookClientConfig = conversion?.webhook?.clientConfig ?? {};
  const reviewVersions: string[] = conversion?.webhook?.conversionReviewVersions ?? ['v1'];
  const reviewVersion = reviewVersions.includes('v1') ? 'v1' : 'v1beta1';
  const fail = (gv: string, why: string) =>
    new errors.ApiError(500, 'InternalError', `conversion webhook for ${gv}, Kind=${kind} failed: ${why}`, { name: crdName, causes: [{ reason: 'ConversionFailed', message: why }] });
  return {
    convert(objs, desired) {
      const pending = objs.filter((o) => o.apiVersion !== desired);
      if (!pending.length) return objs;
      const from = pending[0].apiVersion ?? '';
      if (!cfg.url) {
        const s = cfg.service;
        throw fail(from, `service reference ${s?.namespace ?? ''}/${s?.name ?? ''} cannot be reached yet (services do not route); use clientConfig.url`);
      }
      const uid = randomUUID();
      const review = { kind: 'ConversionReview', apiVersion: `apiextensions.k8s.io/${reviewVersion}`, request: { uid, desiredAPIVersion: desired, objects: pending } };
      const ca = cfg.caBundle ? Buffer.from(cfg.caBundle, 'base64').toString('utf8') : undefined;
      const res = callSync(cfg.url, ca, JSON.stringify(review), 30_000);
      if (res.error) throw fail(from, `Post "${cfg.url}": ${res.error}`);
      if (res.status !== 200) throw fail(from, `conversion webhook returned HTTP ${res.status}: ${(res.body ?? '').slice(0, 512)}`);
      let parsed: any;
      try {
        parsed = JSON.parse(res.body ?? '');
      } catch {
        throw fail(from, 'the response is not a JSON ConversionReview');
      }
      const response = parsed?.response;
      if (!response) throw fail(from, 'no response provided');
      if (response.uid !== uid) throw fail(from, `expected response.uid=${JSON.stringify(uid)}, got ${JSON.stringify(response.uid)}`);
      if (response.result?.status !== 'Success') throw fail(from, response.result?.message ?? 'conversion failed');
      const converted: KObject[] = response.convertedObjects ?? [];
      if (converted.length !== pending.length) throw fail(from, `expected ${pending.length} converted objects, got ${converted.length}`);
      let j = 0;
      return objs.map((o) => {
        if (o.apiVersion === desired) return o;
        const c = converted[j++];
        if (c?.apiVersion !== desired) throw fail(from, `invalid converted object: expected apiVersion ${desired}, got ${c?.apiVersion}`);
        if (c.kind !== o.kind) throw fail(from, `invalid converted object: expected kind ${o.kind}, got ${c.kind}`);
        // Metadata changes other than labels and annotations are ignored, as upstream.
        const meta = { ...o.metadata, labels: c.metadata?.labels ?? o.metadata.labels, annotations: c.metadata?.annotations ?? o.metadata.annotations };
        if (meta.labels === undefined) delete meta.labels;
        if (meta.annotations === undefined) delete meta.annotations;
        return { ...c, metadata: meta };
      });
    },
  };
}

export function converterFor(crd: any): Converter {
  const conv = crd?.spec?.conversion;
  if (conv?.strategy === 'Webhook') return webhookConverter(crd.metadata?.name ?? '', crd.spec?.names?.kind ?? '', conv);
  return noneConverter;
}
