// Reading the API objects volumes and environment variables draw from. A missing object is
// reported the way the kubelet's configMap/secret managers report it (`configmap "x" not found`,
// singular resource), which is what users see in pod events.
import type { ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret } from 'kubernetes-types/core/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';

export class SourceNotFoundError extends Error {
  readonly notFound = true;
}

export const isSourceNotFound = (e: unknown): e is SourceNotFoundError => e instanceof SourceNotFoundError;

export const PVCS = R.persistentvolumeclaims;
export const PVS = R.persistentvolumes;

async function getOr404<T>(p: Promise<T>, kind: string, name: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) throw new SourceNotFoundError(`${kind} "${name}" not found`);
    throw e;
  }
}

/** A Secret or ConfigMap reduced to the bytes of each key. */
export interface KeyData {
  /** Text keys (ConfigMap.data); the strings as stored. */
  strings: Map<string, string>;
  /** Every key as bytes: ConfigMap data + binaryData, or Secret data decoded from base64. */
  bytes: Map<string, Buffer>;
}

export function configMapData(cm: ConfigMap): KeyData {
  const strings = new Map(Object.entries(cm.data ?? {}));
  const bytes = new Map<string, Buffer>();
  for (const [k, v] of strings) bytes.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) bytes.set(k, Buffer.from(v, 'base64'));
  return { strings, bytes };
}

export function secretData(s: Secret): KeyData {
  const bytes = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(s.data ?? {})) bytes.set(k, Buffer.from(v, 'base64'));
  // stringData is write-only and merged into data by the API server; honour it if a client handed
  // us an object that never went through the API.
  for (const [k, v] of Object.entries(s.stringData ?? {})) bytes.set(k, Buffer.from(v, 'utf8'));
  const strings = new Map([...bytes].map(([k, v]) => [k, v.toString('utf8')]));
  return { strings, bytes };
}

/** Per-call memo so a pod referencing one object many times reads it once. */
export class SourceReader {
  /** Each key is always read by the same method, so its promise has that method's type. */
  private readonly cache = new Map<string, Promise<unknown>>();
  constructor(private readonly client: Client) {}

  private once<T>(key: string, f: () => Promise<T>): Promise<T> {
    let p = this.cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = f();
      this.cache.set(key, p);
    }
    return p;
  }

  configMap(ns: string, name: string): Promise<ConfigMap> {
    return this.once(`cm/${ns}/${name}`, () =>
      getOr404(this.client.resource<ConfigMap>(R.configmaps).namespace(ns).get(name), 'configmap', name),
    );
  }

  secret(ns: string, name: string): Promise<Secret> {
    return this.once(`secret/${ns}/${name}`, () =>
      getOr404(this.client.resource<Secret>(R.secrets).namespace(ns).get(name), 'secret', name),
    );
  }

  pvc(ns: string, name: string): Promise<PersistentVolumeClaim> {
    return this.once(`pvc/${ns}/${name}`, () =>
      getOr404(
        this.client.resource<PersistentVolumeClaim>(PVCS).namespace(ns).get(name),
        'persistentvolumeclaim',
        name,
      ),
    );
  }

  pv(name: string): Promise<PersistentVolume> {
    return this.once(`pv/${name}`, () =>
      getOr404(this.client.resource<PersistentVolume>(PVS).get(name), 'persistentvolume', name),
    );
  }
}
