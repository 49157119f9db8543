// The node's log shipper (`--log-sink`): tails every container log file of the kubelet layout
// (<logDir>/pods/<ns>_<pod>_<uid>/<container>/<n>.log and its rotated siblings), parses the CRI
// records, attaches Kubernetes metadata and hands batches to the sinks.
//
// Delivery is at least once: a file's read position (by inode, so a rotated file is finished
// where it was left) is saved to the position file only after every sink took the batch, so a
// restart re-sends at most the batch in flight. While a sink is down the shipper retries that
// batch with back-off and reads nothing more (backpressure): the unread lines wait in the log
// files themselves, whose disk use rotation bounds (containerLogMaxSize × containerLogMaxFiles
// per container).
import {
  openSync,
  readSync,
  closeSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
  readFileSync,
  mkdirSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { parseRecord } from '../logs.js';
import { deliver, type LogEntry, type Sink } from './sinks.js';
import { compareStrings } from '../../machinery/order.js';

export interface ShipperOptions {
  /** The folder with pods/ (the kubelet's /var/log). */
  logDir: string;
  nodeName: string;
  sinks: Sink[];
  /** The position file (JSON). */
  positionFile: string;
  /** Labels of a pod, when known (from the agent's pod informer). */
  podLabels?: (namespace: string, name: string) => Record<string, string> | undefined;
  /** Most lines per batch (default 2,000). */
  batchLines?: number;
  /** Pause between looks at the files when there is nothing new (default 500 ms). */
  pollMs?: number;
  logger?: Logger;
}

interface Position {
  path: string;
  offset: number;
}

interface LogFile {
  key: string;
  path: string;
  size: number;
  namespace: string;
  pod: string;
  uid: string;
  container: string;
}

/** Read at most this much of one file per look. */
const CHUNK = 1024 * 1024;

export class LogShipper {
  private positions = new Map<string, Position>();
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  /** Lines handed to every sink since the start (for tests and metrics). */
  shipped = 0;

  constructor(private readonly o: ShipperOptions) {
    try {
      const saved = JSON.parse(readFileSync(o.positionFile, 'utf8')) as Record<string, Position>;
      this.positions = new Map(Object.entries(saved));
    } catch {
      // first start, or an unreadable file: from the beginning of every file
    }
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let more = false;
      try {
        more = await this.once(signal);
      } catch (err) {
        this.o.logger?.warn({ err }, 'log shipping failed');
      }
      if (!more && !signal.aborted) await sleep(this.o.pollMs ?? 500, signal);
    }
  }

  /** One batch; true when there may be more to read at once. */
  async once(signal: AbortSignal = this.abort.signal): Promise<boolean> {
    const max = this.o.batchLines ?? 2000;
    const files = this.discover();
    const entries: LogEntry[] = [];
    const advanced = new Map<string, Position>();
    let full = false;
    for (const f of files) {
      const pos = this.positions.get(f.key);
      // A shorter file than the position: a new file on a reused inode, or truncated.
      let offset = pos && pos.offset <= f.size ? pos.offset : 0;
      while (offset < f.size && entries.length < max) {
        const next = this.read(f, offset, entries, max);
        if (next === offset) break;
        offset = next;
      }
      if (offset !== (pos?.offset ?? -1)) advanced.set(f.key, { path: f.path, offset });
      if (entries.length >= max) {
        full = true;
        break;
      }
    }
    // Files gone (rotated away and removed) need no position.
    const present = new Set(files.map((f) => f.key));
    let forgot = false;
    for (const key of this.positions.keys())
      if (!present.has(key)) {
        this.positions.delete(key);
        forgot = true;
      }
    if (entries.length) {
      const ok = await deliver(this.o.sinks, entries, signal, (sink, err) =>
        this.o.logger?.warn({ err, sink: sink.name }, 'log sink failed; retrying'),
      );
      if (!ok) return false;
      this.shipped += entries.length;
    }
    if (advanced.size || forgot) {
      for (const [k, p] of advanced) this.positions.set(k, p);
      this.save();
    }
    return full;
  }

  /** Parses whole records from `offset` into entries; returns the offset after the last one used. */
  private read(f: LogFile, offset: number, out: LogEntry[], max: number): number {
    const fd = openSync(f.path, 'r');
    let buf: Buffer;
    try {
      buf = Buffer.alloc(Math.min(CHUNK, f.size - offset));
      const n = readSync(fd, buf, 0, buf.length, offset);
      buf = buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
    const labels = this.o.podLabels?.(f.namespace, f.pod);
    const meta: LogEntry['kubernetes'] = {
      namespace_name: f.namespace,
      pod_name: f.pod,
      pod_id: f.uid,
      container_name: f.container,
      host: this.o.nodeName,
      ...(labels ? { labels } : {}),
    };
    let pos = 0;
    let used = 0;
    // A long line the runtime cut into partial (P) records is shipped once, whole.
    let partial: Buffer[] = [];
    while (pos < buf.length && out.length < max) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) break;
      const rec = parseRecord(buf.subarray(pos, nl));
      pos = nl + 1;
      if (!rec) {
        used = pos;
        continue;
      }
      if (rec.partial) {
        partial.push(rec.content);
        continue;
      }
      const content = partial.length ? Buffer.concat([...partial, rec.content]) : rec.content;
      partial = [];
      out.push({
        time: rec.time,
        stream: rec.stream,
        log: content.toString('utf8').replace(/\n$/, ''),
        kubernetes: meta,
      });
      used = pos;
    }
    // An unfinished run of partial records longer than a chunk would never complete: ship it.
    if (used === 0 && partial.length && buf.length >= CHUNK) return offset + pos;
    return offset + used;
  }

  /** Every container log file, per container its rotated files (oldest first) before the live one. */
  private discover(): LogFile[] {
    const podsDir = join(this.o.logDir, 'pods');
    const out: LogFile[] = [];
    for (const podDir of list(podsDir)) {
      const [namespace, pod, uid] = podDir.split('_');
      if (!uid) continue;
      for (const container of list(join(podsDir, podDir))) {
        const dir = join(podsDir, podDir, container);
        // n.log.<suffix> sorts after n.log: order by attempt, then rotated before live.
        const names = list(dir)
          .filter((n) => /^\d+\.log(\..+)?$/.test(n) && !n.endsWith('.gz') && !n.endsWith('.tmp'))
          .sort((a, b) => {
            const [na, ra] = [parseInt(a, 10), a.length > a.indexOf('.log') + 4];
            const [nb, rb] = [parseInt(b, 10), b.length > b.indexOf('.log') + 4];
            if (na !== nb) return na - nb;
            if (ra !== rb) return ra ? -1 : 1;
            return compareStrings(a, b);
          });
        for (const name of names) {
          const path = join(dir, name);
          try {
            const st = statSync(path);
            out.push({ key: `${st.dev}:${st.ino}`, path, size: st.size, namespace, pod, uid, container });
          } catch {
            // removed meanwhile
          }
        }
      }
    }
    return out;
  }

  private save(): void {
    const file = this.o.positionFile;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(Object.fromEntries(this.positions)));
    renameSync(`${file}.tmp`, file);
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
