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

export class EventRecorder {
  private readonly correlator = new EventCorrelator();

  constructor(
    private readonly client: Client,
    readonly source: EventSource,
    private readonly log?: Logger,
  ) {}

  /** Record `reason`/`message` about `obj` (a full object with apiVersion, kind and metadata). */
  /** `fieldPath` names the part of the object the event is about (e.g. `spec.containers{web}`), as the kubelet sets it. */
  event(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void {
    void this.record(obj, type, reason, message, fieldPath).catch((err) =>
      this.log?.debug({ err, reason }, 'event not recorded'),
    );
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

  private async record(
    obj: KubeObject,
    type: EventType,
    reason: string,
    message: string,
    fieldPath?: string,
  ): Promise<void> {
    const involved = objectReference(obj);
    if (fieldPath) involved.fieldPath = fieldPath;
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
    const t = rfc3339();
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
