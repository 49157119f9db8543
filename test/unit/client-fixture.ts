// An API server started inside the test process (SQLite in a temporary directory, HTTPS on a
// free port, an admin kubeconfig), for client, informer and leader election tests.
import type { ApiServer } from '../../src/apiserver/server.js';
import { startCluster } from '../../src/embed/cluster.js';
import { until } from '../support/until.js';

export interface TestApi {
  api: ApiServer;
  /** Path of an admin kubeconfig. */
  kubeconfig: string;
  dir: string;
  stop(): Promise<void>;
}

/** The API server alone: tests start the controllers they exercise themselves. */
export async function startTestApi(): Promise<TestApi> {
  const c = await startCluster({ controllers: false, scheduler: false });
  return { api: c.api, kubeconfig: c.kubeconfigPath, dir: c.dataDir, stop: () => c.stop() };
}

/** `v`, asserted present (a test fails with `what` otherwise): narrows optional API fields. */
export function defined<T>(v: T | undefined | null, what = 'value'): T {
  if (v === undefined || v === null) throw new Error(`${what} is missing`);
  return v;
}

export { sleep } from '../support/until.js';

/** Poll until `fn` returns truthy or the time is up (the unit tests' short defaults). */
export const eventually = <T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 20) =>
  until('condition', fn, timeoutMs, stepMs);
