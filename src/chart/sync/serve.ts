// The worker side of SyncBridge: answers each request with the handler's result (or its error's
// message), then wakes the waiting thread.
import { workerData } from 'node:worker_threads';
import type { BridgeWorkerData } from './bridge.js';

export function serveSync<D, Req, Res>(handler: (request: Req, data: D) => Promise<Res> | Res): void {
  const { port, signal, data } = workerData as BridgeWorkerData<D>;
  port.on('message', ({ id, request }: { id: number; request: Req }) => {
    void (async () => {
      let answer: { id: number; value: Res } | { id: number; error: string };
      try {
        answer = { id, value: await handler(request, data) };
      } catch (e) {
        answer = { id, error: e instanceof Error ? e.message : String(e) };
      }
      port.postMessage(answer);
      Atomics.add(signal, 0, 1);
      Atomics.notify(signal, 0);
    })();
  });
}
