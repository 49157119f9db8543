// Helm's `lookup` against the cluster (pkg/engine/lookup_func.go): the live object as a map, the
// list (a map with `items`) when the name is "", an empty map when not found; other errors fail
// the render.
//
// Go templates execute synchronously while API calls are asynchronous, so a chart that looks up
// is rendered in passes (renderWithLookups): a pass answers every lookup it has an answer for and
// records the ones it has not (answering those with an empty map); the recorded ones are then
// fetched and the chart rendered again, until a pass asks nothing new. The last pass has seen the
// cluster's answer to every lookup it made, so its output is what one render with a synchronous
// client gives (Helm's); a lookup whose arguments depend on an earlier one's answer costs one
// more pass. The same Client the command or controller already has answers, under its identity:
// the CLI's kubeconfig user, the HelmChart controller's in-process helm-controller identity.
// (ClusterLookup, which needs the API client, is in clusterlookup.ts: an offline `chart template`
// loads this file without the client.)
import type { GoMap } from '../template/values.js';

export interface LookupRequest {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export type LookupFunction = (apiVersion: string, kind: string, namespace: string, name: string) => GoMap;

/** A chart whose lookups keep asking for something new past this many passes fails. */
export const MAX_LOOKUP_PASSES = 20;

/** Where the passes' lookups are answered (a ClusterLookup, clusterlookup.ts). */
export interface LookupSource {
  get(req: LookupRequest): Promise<GoMap>;
}

/**
 * Runs `render` (a whole, repeatable render taking the lookup function to use) until a pass makes
 * no lookup without an answer, and returns (or throws) that pass's result. Without `cluster` it
 * renders once with no lookup function (empty maps, as offline).
 */
export async function renderWithLookups<T>(
  cluster: LookupSource | undefined,
  render: (lookup?: LookupFunction) => T,
): Promise<T> {
  if (!cluster) return render();
  const answers = new Map<string, GoMap | Error>();
  for (let pass = 1; ; pass++) {
    const asked = new Map<string, LookupRequest>();
    const lookup: LookupFunction = (apiVersion, kind, namespace, name) => {
      const key = JSON.stringify([apiVersion, kind, namespace, name]);
      const known = answers.get(key);
      if (known instanceof Error) throw new Error(known.message);
      // A fresh copy each time: a template may change the map it got.
      if (known) return structuredClone(known);
      asked.set(key, { apiVersion, kind, namespace, name });
      return {};
    };
    let result: T | undefined;
    let failure: unknown;
    let failed = false;
    try {
      result = render(lookup);
    } catch (e) {
      failure = e;
      failed = true;
    }
    if (asked.size === 0) {
      if (failed) throw failure;
      return result as T;
    }
    if (pass >= MAX_LOOKUP_PASSES)
      throw new Error(`lookup: the templates still asked for new objects after ${MAX_LOOKUP_PASSES} renders`);
    await Promise.all(
      [...asked].map(async ([key, req]) => {
        try {
          answers.set(key, await cluster.get(req));
        } catch (e) {
          answers.set(key, e instanceof Error ? e : new Error(String(e)));
        }
      }),
    );
  }
}
