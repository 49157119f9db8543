// Where shipped container log lines and events go (`--log-sink`): a JSON-lines file, an
// Elasticsearch-compatible bulk endpoint, a Loki-compatible push endpoint. A sink either takes a
// whole batch or throws; the caller retries the batch (at-least-once delivery).
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** One shipped record: a container log line or an event, with Kubernetes metadata. */
export interface LogEntry {
  /** RFC 3339 (nanoseconds) time of the line or event. */
  time: string;
  /** The line (without its line break) or the event's message. */
  log: string;
  stream?: 'stdout' | 'stderr';
  /** Fluent Bit's kubernetes filter names, so existing dashboards and queries fit. */
  kubernetes: {
    namespace_name: string;
    pod_name?: string;
    pod_id?: string;
    container_name?: string;
    container_id?: string;
    host?: string;
    labels?: Record<string, string>;
  };
  /** For events: the Event object's fields that matter (reason, type, involvedObject, count). */
  event?: Record<string, unknown>;
}

export interface Sink {
  readonly name: string;
  send(entries: LogEntry[]): Promise<void>;
}

export class JsonLinesSink implements Sink {
  readonly name: string;
  constructor(private readonly path: string) {
    this.name = `jsonl:${path}`;
  }

  async send(entries: LogEntry[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }
}

async function post(url: string, body: string, contentType: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${text.slice(0, 200)}`);
  return text;
}

/** The _bulk API: one create action per entry; any item error fails (and retries) the batch. */
export class ElasticsearchSink implements Sink {
  readonly name: string;
  constructor(
    private readonly base: string,
    private readonly index = 'k8ts-logs',
    private readonly timeoutMs = 30_000,
  ) {
    this.name = `elasticsearch:${base}`;
  }

  async send(entries: LogEntry[]): Promise<void> {
    const action = JSON.stringify({ create: { _index: this.index } });
    const body = entries.map((e) => `${action}\n${JSON.stringify({ '@timestamp': e.time, ...e })}\n`).join('');
    const text = await post(`${this.base.replace(/\/+$/, '')}/_bulk`, body, 'application/x-ndjson', this.timeoutMs);
    const answer = JSON.parse(text) as { errors?: boolean };
    if (answer.errors) throw new Error(`${this.base}/_bulk: some items failed`);
  }
}

/** Loki's push API: one stream per (namespace, pod, container, node, stream) label set. */
export class LokiSink implements Sink {
  readonly name: string;
  constructor(
    private readonly base: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.name = `loki:${base}`;
  }

  async send(entries: LogEntry[]): Promise<void> {
    const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
    for (const e of entries) {
      const k = e.kubernetes;
      const labels: Record<string, string> = {
        namespace: k.namespace_name,
        job: e.event ? 'k8ts/events' : 'k8ts/logs',
      };
      if (k.pod_name) labels.pod = k.pod_name;
      if (k.container_name) labels.container = k.container_name;
      if (k.host) labels.node = k.host;
      if (e.stream) labels.stream = e.stream;
      const key = JSON.stringify(labels);
      let s = streams.get(key);
      if (!s) streams.set(key, (s = { stream: labels, values: [] }));
      s.values.push([String(nanosOf(e.time)), e.event ? JSON.stringify({ ...e.event, message: e.log }) : e.log]);
    }
    await post(
      `${this.base.replace(/\/+$/, '')}/loki/api/v1/push`,
      JSON.stringify({ streams: [...streams.values()] }),
      'application/json',
      this.timeoutMs,
    );
  }
}

/** Nanoseconds since the epoch of an RFC 3339 time (now when unreadable). */
function nanosOf(time: string): bigint {
  const m = /^(.*?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) return BigInt(Date.now()) * 1_000_000n;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** A --log-sink value: jsonl:PATH, elasticsearch:URL (optionally #index), loki:URL. */
export function parseSink(spec: string): Sink {
  const i = spec.indexOf(':');
  const kind = i < 0 ? '' : spec.slice(0, i);
  const rest = spec.slice(i + 1);
  switch (kind) {
    case 'jsonl':
    case 'file':
      if (!rest) break;
      return new JsonLinesSink(rest);
    case 'elasticsearch':
    case 'es': {
      const [url, index] = rest.split('#');
      assertURL(url, spec);
      return new ElasticsearchSink(url, index || undefined);
    }
    case 'loki':
      assertURL(rest, spec);
      return new LokiSink(rest);
  }
  throw new Error(`--log-sink: want jsonl:PATH, elasticsearch:URL[#index] or loki:URL, got ${JSON.stringify(spec)}`);
}

function assertURL(url: string, spec: string): void {
  if (!/^https?:\/\/./.test(url)) throw new Error(`--log-sink ${spec}: not an http(s) URL: ${url}`);
}

/**
 * Hands a batch to every sink, retrying with a growing pause (0.5 s to 30 s) until all took it or
 * the signal ends the wait. Sinks that already took the batch are not sent it again.
 */
export async function deliver(
  sinks: Sink[],
  entries: LogEntry[],
  signal: AbortSignal,
  onRetry?: (sink: Sink, err: unknown) => void,
): Promise<boolean> {
  let pending = sinks;
  let pause = 500;
  while (pending.length) {
    const failed: Sink[] = [];
    await Promise.all(
      pending.map((s) =>
        s.send(entries).catch((err) => {
          failed.push(s);
          onRetry?.(s, err);
        }),
      ),
    );
    pending = failed;
    if (!pending.length) return true;
    if (signal.aborted) return false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pause);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    if (signal.aborted) return false;
    pause = Math.min(pause * 2, 30_000);
  }
  return true;
}
