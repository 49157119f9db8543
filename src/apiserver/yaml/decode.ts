// YAML request bodies are parsed on a thread of their own. The parser's time grows much faster
// than its input on some shapes (a few hundred bytes of nested `? ` keys take over half a
// second) and it recurses per level: on the event loop either would stall every other request.
// The thread has a deep stack, the body's nesting is bounded before it gets there
// (machinery/nesting.ts), and a parse that runs past its time is stopped with the thread.
import { Worker } from 'node:worker_threads';
import type { YAMLJob, YAMLResult } from './worker.js';

/** A parse that takes longer than this is abandoned (the client gets a 400). */
export const YAML_PARSE_TIMEOUT_MS = 5_000;

/**
 * The thread stops after this long without work: most clients send JSON, and a thread that
 * parsed a large body keeps its grown heap (tens of MiB) for as long as it lives.
 */
const IDLE_STOP_MS = 10_000;

export class YAMLDecodeError extends Error {}

interface Pending {
  job: YAMLJob;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** One parser thread, started on first use, restarted after a timeout; jobs run in order. */
class YAMLThread {
  private worker?: Worker;
  private readonly queue: Pending[] = [];
  private current?: Pending;
  private timer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private nextId = 1;

  parse(text: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, text }, resolve, reject });
      this.pump();
    });
  }

  private start(): Worker {
    const w = new Worker(new URL('./worker.js', import.meta.url), {
      // A deep stack so that bounded nesting can never exhaust it (exhaustion inside V8's
      // regular-expression compiler aborts the whole process instead of throwing).
      resourceLimits: { stackSizeMb: 64, maxOldGenerationSizeMb: 512 },
    });
    w.on('message', (r: YAMLResult) => this.finish(r));
    w.on('error', (e) => this.fail(w, new YAMLDecodeError(`the YAML parser failed: ${e.message}`)));
    w.on('exit', () => this.fail(w, new YAMLDecodeError('the YAML parser stopped')));
    return w;
  }

  private pump(): void {
    if (this.current) return;
    clearTimeout(this.idleTimer);
    if (!this.queue.length) {
      this.idleTimer = setTimeout(() => this.stopIdle(), IDLE_STOP_MS);
      this.idleTimer.unref();
      return;
    }
    this.current = this.queue.shift()!;
    this.worker ??= this.start();
    // Held (ref'd) while it has work, so a caller awaiting it keeps the process alive.
    this.worker.ref();
    this.worker.postMessage(this.current.job);
    const w = this.worker;
    this.timer = setTimeout(() => {
      this.fail(w, new YAMLDecodeError(`the YAML body took longer than ${YAML_PARSE_TIMEOUT_MS / 1000}s to decode`));
      void w.terminate();
    }, YAML_PARSE_TIMEOUT_MS);
    this.timer.unref();
  }

  private finish(r: YAMLResult): void {
    const p = this.current;
    if (!p || p.job.id !== r.id) return;
    this.settle();
    if ('error' in r) p.reject(new YAMLDecodeError(r.error));
    else p.resolve(r.value);
    this.pump();
  }

  /** The thread is gone or stuck: the job in hand fails, the next job gets a new thread. */
  private fail(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    const p = this.current;
    this.settle();
    p?.reject(err);
    this.pump();
  }

  private stopIdle(): void {
    const w = this.worker;
    if (!w || this.current || this.queue.length) return;
    this.worker = undefined;
    void w.terminate();
  }

  private settle(): void {
    clearTimeout(this.timer);
    this.current = undefined;
    this.worker?.unref();
  }
}

const thread = new YAMLThread();

/** Parse a YAML text (one document) off the event loop. Rejects with YAMLDecodeError. */
export function parseYAMLOffThread(text: string): Promise<unknown> {
  return thread.parse(text);
}
