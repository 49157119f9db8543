// Helm's `lookup` against the cluster (pkg/engine/lookup_func.go): the live object as a map, the
// list (a map with `items`) when the name is "", an empty map when not found; other errors fail
// the render. The engine is synchronous, so the requests run on a worker thread (lookupworker.ts)
// over a connection of the same kubeconfig and context the release commands use.
import { SyncBridge } from '../sync/bridge.js';
import type { GoMap } from '../template/values.js';

export interface LookupRequest {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface LookupTarget {
  kubeconfig: string;
  context?: string;
}

export type LookupFunction = (apiVersion: string, kind: string, namespace: string, name: string) => GoMap;

export class ClusterLookup {
  private readonly bridge: SyncBridge<LookupRequest, GoMap>;

  constructor(target: LookupTarget, timeoutMs = 60_000) {
    this.bridge = new SyncBridge(new URL('./lookupworker.js', import.meta.url), target, timeoutMs);
  }

  readonly lookup: LookupFunction = (apiVersion, kind, namespace, name) =>
    this.bridge.call({ apiVersion, kind, namespace, name });

  close(): Promise<void> {
    return this.bridge.close();
  }
}
