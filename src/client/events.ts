// Events as upstream components record them (client-go's record.EventRecorder): core/v1 Events
// with reason, message, involvedObject and source. Whether each is created, counted into one
// already sent, aggregated or dropped is the correlator's call (eventcorrelator.ts), as upstream.
// Recording never throws: events are best effort, as upstream.
import type { Logger } from 'pino';
import type { Event as CoreEvent, ObjectReference } from 'kubernetes-types/core/v1.js';
import { R, spec, type Client } from './client.js';
import type { KubeObject } from './types.js';
import { isNotFound } from './errors.js';
import { rfc3339 } from '../machinery/time.js';
import { markUnshared } from '../machinery/objects.js';
import { EventCorrelator } from './eventcorrelator.js';

export type EventType = 'Normal' | 'Warning';

export interface EventSource {
  /** e.g. 'deployment-controller', 'default-scheduler', 'kubelet'. */
  component: string;
  host?: string;
}

/** A core/v1 Event as client-go sends it: its eventTime is a non-pointer MicroTime, so it goes out as null. */
type RecordedEvent = Omit<CoreEvent, 'eventTime'> & { eventTime: null };
const RECORDED_EVENTS = spec<RecordedEvent>(R.events);

export function objectReference(obj: KubeObject): ObjectReference {
  const ref: ObjectReference = {
    kind: obj.kind,
    name: obj.metadata?.name,
    uid: obj.metadata?.uid,
    apiVersion: obj.apiVersion,
  };
  if (obj.metadata?.namespace) ref.namespace = obj.metadata.namespace;
  if (obj.metadata?.resourceVersion) ref.resourceVersion = obj.metadata.resourceVersion;
  return ref;
}

/**
 * Events waiting to be sent, per recorder, beyond which new ones are dropped: client-go's
 * broadcaster queue (maxQueuedEvents, DropIfChannelFull), so a component that records faster
 * than the API server takes them loses events rather than memory or the server's time.
 */
export const MAX_QUEUED_EVENTS = 1000;

/** An event as recorded: what it is about and when, taken at the call (the object may change later). */
interface Pending {
  involved: ObjectReference;
  type: EventType;
  reason: string;
  message: string;
  at: string;
}

export interface EventRecorderOptions {
  /**
   * Events sent at once (1): client-go's recorder for core/v1 Events sends from one goroutine;
   * its events.k8s.io library, which kube-scheduler records with, from 8 workers.
   */
  workers?: number;
}

export class EventRecorder {
  private readonly correlator = new EventCorrelator();
  /** Queued events from `head` on (a queue without shift()'s copying). */
  private queue: Pending[] = [];
  private head = 0;
  /** Workers sending now. */
  private active = 0;
  private readonly workers: number;
  /** The last write under way per correlation key: a write for the same key waits for it. */
  private readonly writing = new Map<string, Promise<void>>();
  /** Events dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly client: Client,
    readonly source: EventSource,
    private readonly log?: Logger,
    opts: EventRecorderOptions = {},
  ) {
    this.workers = Math.max(1, opts.workers ?? 1);
  }

  /** Record `reason`/`message` about `obj` (a full object with apiVersion, kind and metadata). */
  /** `fieldPath` names the part of the object the event is about (e.g. `spec.containers{web}`), as the kubelet sets it. */
  event(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void {
    if (this.queue.length - this.head >= MAX_QUEUED_EVENTS) {
      if (this.dropped++ % MAX_QUEUED_EVENTS === 0)
        this.log?.warn({ reason, dropped: this.dropped }, 'too many queued events, dropped event');
      return;
    }
    const involved = objectReference(obj);
    if (fieldPath) involved.fieldPath = fieldPath;
    this.queue.push({ involved, type, reason, message, at: rfc3339() });
    if (this.active < this.workers) void this.send();
  }

  eventf(obj: KubeObject, type: EventType, reason: string, format: string, ...args: unknown[]): void {
    let i = 0;
    this.event(
      obj,
      type,
      reason,
      format.replace(/%[sdvq]/g, () => String(args[i++])),
    );
  }

  /**
   * A worker: sends queued events one after another. The correlator sees every event in queue
   * order, and a write for a key (a count bump) waits for the one before it (the create it bumps).
   */
  private async send(): Promise<void> {
    this.active++;
    try {
      while (this.head < this.queue.length) {
        const e = this.queue[this.head++];
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        const write = this.plan(e);
        if (!write) continue;
        const before = this.writing.get(write.key);
        const done = (before ?? Promise.resolve())
          .then(write.run)
          .catch((err) => this.log?.debug({ err, reason: e.reason }, 'event not recorded'));
        this.writing.set(write.key, done);
        await done;
        if (this.writing.get(write.key) === done) this.writing.delete(write.key);
      }
    } finally {
      this.active--;
    }
  }

  /**
   * What sending `e` takes, decided now (in queue order): nothing (dropped by the correlator), a
   * count bump, or a new Event, which the correlator is told of at once so that a repeat queued
   * behind it becomes a bump of it.
   */
  private plan({
    involved,
    type,
    reason,
    message,
    at: t,
  }: Pending): { key: string; run: () => Promise<void> } | undefined {
    // Events about cluster-scoped objects live in the default namespace, as upstream.
    const namespace = involved.namespace ?? 'default';
    const verdict = this.correlator.correlate({
      component: this.source.component,
      host: this.source.host ?? '',
      kind: involved.kind ?? '',
      namespace,
      name: involved.name ?? '',
      uid: involved.uid ?? '',
      apiVersion: involved.apiVersion ?? '',
      fieldPath: involved.fieldPath ?? '',
      type,
      reason,
      message,
    });
    if (verdict.action === 'drop') return undefined;
    const events = this.client.resource(RECORDED_EVENTS).namespace(namespace);
    const create = (count: number, firstTimestamp: string) => {
      const name = `${involved.name}.${(Date.now() * 1e6 + Math.floor(Math.random() * 1e6)).toString(16)}`;
      this.correlator.sentAs(verdict.key, name, count, firstTimestamp);
      // Built here for this call alone: handed over (markUnshared), and its answer is not read.
      const event: RecordedEvent = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: involved,
        reason,
        message: verdict.message,
        type,
        source: this.source.host
          ? { component: this.source.component, host: this.source.host }
          : { component: this.source.component },
        reportingComponent: this.source.component,
        reportingInstance: this.source.host ?? '',
        firstTimestamp,
        lastTimestamp: t,
        eventTime: null,
        count,
      };
      return async () => {
        try {
          await events.create(markUnshared(event), { shared: true });
        } catch (err) {
          this.correlator.forget(verdict.key);
          throw err;
        }
      };
    };
    if (verdict.action === 'create') return { key: verdict.key, run: create(1, t) };
    const bump = { count: verdict.count, lastTimestamp: t, message: verdict.message };
    return {
      key: verdict.key,
      run: async () => {
        try {
          await events.patch(verdict.name, 'merge', markUnshared(bump), { shared: true });
        } catch (err) {
          if (!isNotFound(err)) throw err;
          // The Event is gone (deleted, or expired): a new one takes the count.
          this.correlator.forget(verdict.key);
          await create(verdict.count, verdict.firstTimestamp)();
        }
      },
    };
  }
}
