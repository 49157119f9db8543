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

export class EventRecorder {
  private readonly correlator = new EventCorrelator();
  /** Queued events from `head` on (a queue without shift()'s copying). */
  private queue: Pending[] = [];
  private head = 0;
  private sending = false;
  /** Events dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly client: Client,
    readonly source: EventSource,
    private readonly log?: Logger,
  ) {}

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
    if (!this.sending) void this.send();
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
   * Sends queued events one at a time, as client-go's recorder sends from one goroutine: the
   * correlator sees them in order, and a count bump never races the write it bumps.
   */
  private async send(): Promise<void> {
    this.sending = true;
    try {
      while (this.head < this.queue.length) {
        const e = this.queue[this.head++];
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        await this.record(e).catch((err) => this.log?.debug({ err, reason: e.reason }, 'event not recorded'));
      }
    } finally {
      this.sending = false;
    }
  }

  private async record({ involved, type, reason, message, at: t }: Pending): Promise<void> {
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
    if (verdict.action === 'drop') return;
    const events = this.client.resource(RECORDED_EVENTS).namespace(namespace);
    if (verdict.action === 'bump') {
      try {
        const bump = { count: verdict.count, lastTimestamp: t, message: verdict.message };
        await events.patch(verdict.name, 'merge', markUnshared(bump), { shared: true });
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.correlator.forget(verdict.key);
      }
    }
    const count = verdict.action === 'bump' ? verdict.count : 1;
    const firstTimestamp = verdict.action === 'bump' ? verdict.firstTimestamp : t;
    const name = `${involved.name}.${(Date.now() * 1e6 + Math.floor(Math.random() * 1e6)).toString(16)}`;
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
    await events.create(markUnshared(event), { shared: true });
    this.correlator.sentAs(verdict.key, name, count, firstTimestamp);
  }
}
