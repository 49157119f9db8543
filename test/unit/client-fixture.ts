// An API server started inside the test process (SQLite in a temporary directory, HTTPS on a
// free port, an admin kubeconfig), for client, informer and leader election tests.
import type { ApiServer } from '../../src/apiserver/server.js';
import { startCluster } from '../../src/embed/cluster.js';

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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns truthy or the time is up. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
