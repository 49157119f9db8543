// Container logs in the CRI format kubelet reads (`kubectl logs`): one record per line,
// "<RFC3339Nano time> <stdout|stderr> <F|P> <content>\n". "F" ends a line; "P" is a piece of a
// line too long to hold, the rest following in later records (as containerd splits at 16 KiB).
import type { Writable } from 'node:stream';

/** Longest line content written as one record; longer lines are split into P records. */
export const MAX_LINE = 16 * 1024;

// Date has millisecond resolution; anchor the monotonic nanosecond clock to it once so records get
// nanosecond timestamps that never go backwards within this process.
const anchorNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Nanoseconds since the epoch. */
export const nowNs = (): bigint => anchorNs + process.hrtime.bigint();

/** Go's time.RFC3339Nano: fractional seconds with trailing zeros trimmed, UTC "Z". */
export function rfc3339Nano(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  return `${base}${frac ? '.' + frac : ''}Z`;
}

/** Turns a byte stream of one container output stream into CRI log records on `out`. */
export class CriLogStream {
  private pending: Buffer[] = [];
  private pendingLen = 0;

  constructor(
    private readonly out: Writable,
    private readonly stream: 'stdout' | 'stderr',
  ) {}

  private record(tag: 'F' | 'P', content: Buffer): void {
    this.out.write(
      Buffer.concat([Buffer.from(`${rfc3339Nano(nowNs())} ${this.stream} ${tag} `), content, Buffer.from('\n')]),
    );
  }

  write(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      this.append(chunk.subarray(start, nl < 0 ? chunk.length : nl));
      if (nl < 0) break;
      this.flush('F');
      start = nl + 1;
    }
  }

  /** Adds line content; whatever exceeds MAX_LINE is written out as partial records. */
  private append(part: Buffer): void {
    if (!part.length) return;
    this.pending.push(part);
    this.pendingLen += part.length;
    while (this.pendingLen > MAX_LINE) {
      const all = Buffer.concat(this.pending);
      this.record('P', all.subarray(0, MAX_LINE));
      this.pending = [all.subarray(MAX_LINE)];
      this.pendingLen = all.length - MAX_LINE;
    }
  }

  private flush(tag: 'F' | 'P'): void {
    const line = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingLen = 0;
    // A "\r\n" ending belongs to the line terminator, not the content.
    this.record(tag, line.length && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line);
  }

  /** At end of stream: a last line without newline is still a whole line. */
  end(): void {
    if (this.pendingLen > 0) this.flush('F');
  }
}
