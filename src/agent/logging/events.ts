// The event exporter: every Event of the cluster, as it is recorded or updated, to the log sinks
// (`--log-sink` on `k8ts server`). The newest exported resourceVersion is kept in a position
// file, so a restart re-sends at most the batch in flight and skips what was delivered.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Event as CoreEvent } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { SharedIndexInformer } from '../../client/informer.js';
import { deliver, type LogEntry, type Sink } from './sinks.js';

export interface EventExporterOptions {
  client: Client;
  sinks: Sink[];
  positionFile: string;
  logger?: Logger;
}

export function eventEntry(e: CoreEvent): LogEntry {
  const o = e.involvedObject;
  const time =
    e.eventTime ?? e.lastTimestamp ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? new Date().toISOString();
  return {
    time: String(time),
    log: e.message ?? '',
    kubernetes: {
      namespace_name: e.metadata?.namespace ?? o.namespace ?? '',
      ...(o.kind === 'Pod' ? { pod_name: o.name, pod_id: o.uid } : {}),
      ...(e.source?.host ? { host: e.source.host } : {}),
    },
    event: {
      name: e.metadata?.name,
      reason: e.reason,
      type: e.type,
      count: e.count,
      involvedObject: { kind: o.kind, namespace: o.namespace, name: o.name, uid: o.uid, fieldPath: o.fieldPath },
      source: e.reportingComponent || e.source?.component,
      resourceVersion: e.metadata?.resourceVersion,
    },
  };
}

export class EventExporter {
  private informer?: SharedIndexInformer<CoreEvent>;
  private readonly abort = new AbortController();
  private queue: CoreEvent[] = [];
  private wake?: () => void;
  private loop?: Promise<void>;
  private exported = 0;

  constructor(private readonly o: EventExporterOptions) {
    try {
      this.exported = Number(JSON.parse(readFileSync(o.positionFile, 'utf8')).resourceVersion) || 0;
    } catch {
      // first start
    }
  }

  start(): void {
    this.informer = new SharedIndexInformer<CoreEvent>(this.o.client, R.events, {});
    const take = (e: CoreEvent) => {
      if (Number(e.metadata?.resourceVersion ?? 0) <= this.exported) return;
      this.queue.push(e);
      this.wake?.();
    };
    this.informer.addEventHandler({ add: take, update: (_old, e) => take(e) });
    this.informer.start();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.informer?.stop();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      if (!this.queue.length) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const batch = this.queue.splice(0, 1000);
      const ok = await deliver(this.o.sinks, batch.map(eventEntry), signal, (sink, err) =>
        this.o.logger?.warn({ err, sink: sink.name }, 'event sink failed; retrying'),
      );
      if (!ok) return;
      for (const e of batch) this.exported = Math.max(this.exported, Number(e.metadata?.resourceVersion ?? 0));
      mkdirSync(dirname(this.o.positionFile), { recursive: true });
      writeFileSync(`${this.o.positionFile}.tmp`, JSON.stringify({ resourceVersion: String(this.exported) }));
      renameSync(`${this.o.positionFile}.tmp`, this.o.positionFile);
    }
  }
}
