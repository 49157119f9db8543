// A synchronous call into a worker thread (the synckit pattern). Template functions run inside
// Go-template execution, which is synchronous, yet some (Helm's `lookup`) need an HTTP request:
// the calling thread posts the request on a MessagePort and sleeps in Atomics.wait until the
// worker, which runs its own event loop, has posted the answer and bumped a shared counter.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

/** What a worker started by SyncBridge receives as workerData. */
export interface BridgeWorkerData<D> {
  port: MessagePort;
  signal: Int32Array;
  data: D;
}

type Answer<R> = { id: number; value: R } | { id: number; error: string };

export class SyncBridgeError extends Error {}

export class SyncBridge<Req, Res> {
  private worker?: Worker;
  private port?: MessagePort;
  private signal?: Int32Array;
  private nextId = 1;

  /**
   * `module` is a worker module calling `serveSync`; the thread starts at the first call and
   * each call waits at most `timeoutMs` (then the thread is stopped and the call throws).
   */
  constructor(
    private readonly module: URL,
    private readonly data: unknown,
    private readonly timeoutMs = 60_000,
  ) {}

  private start(): { port: MessagePort; signal: Int32Array } {
    if (this.port && this.signal) return { port: this.port, signal: this.signal };
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const workerData: BridgeWorkerData<unknown> = { port: port2, signal, data: this.data };
    const worker = new Worker(this.module, { workerData, transferList: [port2] });
    // Neither keeps the process alive: the answers are read synchronously, never by an event.
    worker.unref();
    port1.unref();
    worker.on('error', () => undefined);
    this.worker = worker;
    this.port = port1;
    this.signal = signal;
    return { port: port1, signal };
  }

  /** Sends `request` to the worker and blocks until its answer (or its error, thrown here). */
  call(request: Req): Res {
    const { port, signal } = this.start();
    const id = this.nextId++;
    port.postMessage({ id, request });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      // The worker posts its answer, then bumps the counter: reading the counter before looking
      // for the answer means an answer missed here makes the wait below return at once.
      const seen = Atomics.load(signal, 0);
      const got = receiveMessageOnPort(port);
      if (got) {
        // Answers to calls that timed out cannot arrive: the thread was stopped then.
        const answer = got.message as Answer<Res>;
        if (answer.id !== id) continue;
        if ('error' in answer) throw new SyncBridgeError(answer.error);
        return answer.value;
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(signal, 0, seen, left) === 'timed-out') {
        void this.close();
        throw new SyncBridgeError(`no answer from the worker thread within ${this.timeoutMs} ms`);
      }
    }
  }

  /** Stops the thread (started again by the next call). */
  async close(): Promise<void> {
    const w = this.worker;
    this.port?.close();
    this.worker = this.port = this.signal = undefined;
    if (w) await w.terminate();
  }
}
