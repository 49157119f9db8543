// The TTL-after-finished controller (upstream pkg/controller/ttlafterfinished): a Job with
// spec.ttlSecondsAfterFinished is deleted (foreground, so its pods go first) that many seconds
// after it finished (completionTime, or the Complete/Failed condition's transition time).
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Logger } from 'pino';
import type { Stored } from '../../client/types.js';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import { keyOf, splitKey, type SharedIndexInformer } from '../../client/informer.js';
import type { Controller, ControllerContext } from '../types.js';
import { parseTime } from '../statefulset/common.js';
import { isJobFinished, jobCondition, type JobView } from './util.js';

/** When a finished Job with a TTL expires (ms since epoch), or undefined. */
export function jobExpiresAt(job: JobView): number | undefined {
  const ttl = job?.spec?.ttlSecondsAfterFinished;
  if (ttl === undefined || ttl === null) return undefined;
  const finished = isJobFinished(job);
  if (!finished) return undefined;
  const at = parseTime(job?.status?.completionTime) ?? parseTime(jobCondition(job, finished)?.lastTransitionTime);
  if (at === undefined) return undefined;
  return at + ttl * 1000;
}

export class TTLAfterFinishedController implements Controller {
  readonly name = 'ttl-after-finished';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly jobs: SharedIndexInformer<Job>;
  private readonly runner: ControllerRunner;
  private readonly now: () => number;

  constructor(ctx: ControllerContext, opts: { workers?: number; now?: () => number } = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'ttl-after-finished' });
    this.now = opts.now ?? Date.now;
    this.jobs = ctx.informers.forResource(R.jobs);
    this.runner = new ControllerRunner({
      name: 'ttl-after-finished',
      workers: opts.workers ?? 2,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    const enqueue = (j: Stored<Job>) => {
      if (
        j?.spec?.ttlSecondsAfterFinished !== undefined &&
        j?.spec?.ttlSecondsAfterFinished !== null &&
        !j.metadata?.deletionTimestamp &&
        isJobFinished(j)
      )
        this.runner.enqueue(keyOf(j));
    };
    this.jobs.addEventHandler({ add: enqueue, update: (_o, j) => enqueue(j) });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const cached = this.jobs.store.get(key);
    if (!cached || cached.metadata.deletionTimestamp) return;
    let expires = jobExpiresAt(cached);
    if (expires === undefined) return;
    const now = this.now();
    if (expires > now) return { requeueAfterMs: expires - now + 10 };
    // Check the fresh object: the TTL may have been changed meanwhile.
    const { namespace, name } = splitKey(key);
    const jobs = this.client.resource(R.jobs).namespace(namespace);
    let fresh: Stored<Job>;
    try {
      fresh = await jobs.get(name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    expires = jobExpiresAt(fresh);
    if (expires === undefined || fresh.metadata.deletionTimestamp) return;
    if (expires > now) return { requeueAfterMs: expires - now + 10 };
    try {
      await jobs.delete(name, {
        propagationPolicy: 'Foreground',
        preconditions: { uid: fresh.metadata.uid, resourceVersion: fresh.metadata.resourceVersion },
      });
      this.log.debug({ job: key }, 'deleted finished job after its TTL');
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err)) throw err;
      throw err;
    }
  }
}
