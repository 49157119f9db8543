// managedFields of big objects are worked out on a thread of their own, and so are server-side
// applies to them. Comparing a 1.5 MiB object with the live one and encoding its field set
// takes hundreds of milliseconds, which on the event loop every other request would wait for;
// here the event loop only serialises the objects and parses the answer (milliseconds).
import { Worker } from 'node:worker_threads';
import { ApiError } from '../errors.js';
import { nowRFC3339 } from '../time.js';
import { deepCopy, markUnshared, nextTurn } from '../objects.js';
import { applyOperation, recordUpdateOperation, type ApplyOptions, type UpdateOptions } from './manager.js';
import type { FieldManagerJob, FieldManagerResult } from './threadworker.js';

type UpdateJob = FieldManagerJob;
type JobInput = FieldManagerJob extends infer J ? (J extends FieldManagerJob ? Omit<J, 'id'> : never) : never;
type Answer = Omit<Extract<FieldManagerResult, { json: string }>, 'id'>;

/** Pieces of an answer longer than this are parsed in turns of the event loop of their own. */
const PIECE_BYTES = 64 * 1024;

/** The thread stops after this long without work (it holds a heap of its own while it lives). */
const IDLE_STOP_MS = 10_000;

interface Pending {
  job: UpdateJob;
  resolve(answer: Answer): void;
  reject(err: Error): void;
}

/** The thread could not do the job (it stopped, or failed outside the field manager's errors). */
class ThreadFailure extends Error {}

class FieldManagerThread {
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private idleTimer?: NodeJS.Timeout;
  private nextId = 1;

  run(job: JobInput): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const full = { ...job, id };
      this.pending.set(id, { job: full, resolve, reject });
      clearTimeout(this.idleTimer);
      const w = (this.worker ??= this.start());
      w.ref();
      w.postMessage(full);
    });
  }

  private start(): Worker {
    const w = new Worker(new URL('./threadworker.js', import.meta.url));
    w.on('message', (r: FieldManagerResult) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if ('apiError' in r)
        p.reject(new ApiError(r.apiError.code, r.apiError.reason, r.apiError.message, r.apiError.details));
      else if ('error' in r) p.reject(new ThreadFailure(r.error));
      else p.resolve(r);
      this.idle();
    });
    const lost = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on('error', lost);
    w.on('exit', () => lost(new ThreadFailure('the field manager thread stopped')));
    return w;
  }

  private idle(): void {
    if (this.pending.size) return;
    this.worker?.unref();
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      const w = this.worker;
      if (!w || this.pending.size) return;
      this.worker = undefined;
      void w.terminate();
    }, IDLE_STOP_MS);
    this.idleTimer.unref();
  }
}

const thread = new FieldManagerThread();

/**
 * recordUpdateOperation (managedFields of an Update, written into obj) on the field-management
 * thread; the answer is obj's storage form (encodeStored) as the thread made it. `checkStored`
 * sees that form before the managedFields are parsed, and may refuse it (an object too big to
 * store costs no more work). Should the thread fail, the work is done here instead (and the
 * answer is undefined): a write never fails for it.
 */
export async function recordUpdateOffThread(
  obj: any,
  old: any,
  opts: UpdateOptions,
  texts: { oldJson?: string; checkStored?: (json: string) => void } = {},
): Promise<string | undefined> {
  const now = (opts.now ?? nowRFC3339)();
  let answer: Answer;
  try {
    answer = await thread.run({
      op: 'update',
      obj: JSON.stringify(obj),
      old: old === undefined ? undefined : (texts.oldJson ?? JSON.stringify(old)),
      manager: opts.manager,
      apiVersion: opts.apiVersion,
      subresource: opts.subresource,
      statusSubresource: !!opts.statusSubresource,
      type: opts.type,
      now,
    });
  } catch {
    // Only the thread can fail here: recording an Update throws no errors of its own.
    recordUpdateOperation(obj, old, { ...opts, now: () => now });
    return undefined;
  }
  if (answer.stored !== undefined) texts.checkStored?.(answer.stored);
  const managedFields = JSON.parse(answer.json);
  const meta = (obj.metadata ??= {});
  if (managedFields === null) delete meta.managedFields;
  else meta.managedFields = managedFields;
  return answer.stored;
}

/**
 * applyOperation on the field-management thread: the applied object, with its managedFields, or
 * the field manager's error (409 conflicts, 400s) as it would have thrown it. Should the thread
 * fail, the work is done here instead. `live` is left as it is. `texts`: the objects' JSON, when
 * known; a configJson that turns out not to be JSON (YAML in flow style) fails on the thread, so
 * the work is done here.
 */
export async function applyOffThread(
  live: any,
  config: any,
  opts: ApplyOptions,
  texts: { liveJson?: string; configJson?: string } = {},
): Promise<any> {
  const now = (opts.now ?? nowRFC3339)();
  let answer: Answer;
  try {
    answer = await thread.run({
      op: 'apply',
      live: texts.liveJson ?? JSON.stringify(live),
      config: texts.configJson ?? JSON.stringify(config),
      force: opts.force,
      manager: opts.manager,
      apiVersion: opts.apiVersion,
      subresource: opts.subresource,
      statusSubresource: !!opts.statusSubresource,
      type: opts.type,
      now,
    });
  } catch (err) {
    if (!(err instanceof ThreadFailure)) throw err;
    return applyOperation(deepCopy(live), config, { ...opts, now: () => now });
  }
  return markUnshared(await parseInTurns(answer));
}

/**
 * The applied object from the thread's pieces: each big piece (the object, a managedFields entry)
 * parsed in a turn of the event loop of its own, since parsing a 50,000-key map takes tens of
 * milliseconds and together they would hold up every other request.
 */
async function parseInTurns(answer: Answer): Promise<any> {
  const obj = JSON.parse(answer.json);
  if (!answer.managedFields) return obj;
  const entries: unknown[] = [];
  let since = answer.json.length;
  for (const piece of answer.managedFields) {
    if (since + piece.length > PIECE_BYTES) {
      await nextTurn();
      since = 0;
    }
    entries.push(JSON.parse(piece));
    since += piece.length;
  }
  obj.metadata.managedFields = entries;
  return obj;
}
