// An API server started inside the test process (SQLite in a temporary directory, HTTPS on a
// free port, an admin kubeconfig), for client, informer and leader election tests.
import { startEmbeddedApi, type EmbeddedApi } from '../../src/cli/embedded.js';

export type TestApi = EmbeddedApi;

export function startTestApi(): Promise<TestApi> {
  return startEmbeddedApi('k8ts-client-');
}

/** `v`, asserted present (a test fails with `what` otherwise): narrows optional API fields. */
export function defined<T>(v: T | undefined | null, what = 'value'): T {
  if (v === undefined || v === null) throw new Error(`${what} is missing`);
  return v;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns truthy or the time is up; resolves to that (so never null or undefined). */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 20): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>; // truthy, so not null or undefined
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
