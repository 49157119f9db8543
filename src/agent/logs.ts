// Reading container log files in the CRI format, the way the kubelet serves `kubectl logs`.
//
// containerd writes one record per line: `<RFC3339Nano timestamp> <stdout|stderr> <tag> <content>`,
// where the tag's first part is F (full: the record ends a line) or P (partial: a long line cut
// by the runtime, continued by the next records until an F). The kubelet's options map onto the
// file like this:
//   - tailLines: the file is scanned backwards from its end (block by block, never whole), so a
//     `--tail` on a huge file costs what the tail costs;
//   - sinceTime/sinceSeconds: records older than the instant are skipped;
//   - timestamps: each output line starts with its record's timestamp (as Go's RFC3339Nano
//     prints it: trailing zeros of the fraction dropped, "Z" for UTC);
//   - limitBytes: output stops after that many bytes, mid-line if need be;
//   - follow: at the end of the file the reader waits for it to grow (inotify on the folder, and
//     a poll), reopens it when it was rotated (a new file at the same path), and stops once the
//     container no longer runs and the file is drained, or when the client goes away.
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Writable } from 'node:stream';

export interface LogOptions {
  follow?: boolean;
  timestamps?: boolean;
  /** Only records at or after this instant (nanoseconds since the epoch); see sinceOf. */
  sinceNs?: bigint;
  /** The last N lines (counted as the user sees them: a P…F run is one line). */
  tailLines?: number;
  limitBytes?: number;
}

export interface LogReadControl {
  /** Whether the container may still write; follow ends once it says no and the file is drained. */
  running?: () => boolean | Promise<boolean>;
  /** Aborting ends the read (the client went away). */
  signal?: AbortSignal;
  /** How often follow looks at the file and the container without a file event (ms). */
  pollMs?: number;
}

export interface LogRecord {
  /** The timestamp as written in the file. */
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  /** The content; full records include their trailing newline, partial ones do not. */
  content: Buffer;
}

const NL = 0x0a;
const SP = 0x20;
const READ_CHUNK = 64 * 1024;
/** Bytes enough to hold a record's timestamp, stream and tag. */
const HEADER_BYTES = 128;

/**
 * The instant of `sinceSeconds` / `sinceTime` as the kubelet combines them (the later one wins),
 * in nanoseconds since the epoch; undefined when neither is set.
 */
export function sinceOf(
  sinceSeconds: number | undefined,
  sinceTime: string | Date | undefined,
  nowMs = Date.now(),
): bigint | undefined {
  let since: bigint | undefined;
  if (sinceSeconds !== undefined) since = BigInt(Math.trunc(nowMs) - sinceSeconds * 1000) * 1_000_000n;
  if (sinceTime !== undefined) {
    const t = typeof sinceTime === 'string' ? parseTimestamp(sinceTime) : BigInt(sinceTime.getTime()) * 1_000_000n;
    if (t !== undefined && (since === undefined || t > since)) since = t;
  }
  return since;
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i;

/** An RFC 3339 timestamp (up to nanoseconds) as nanoseconds since the epoch, or undefined. */
export function parseTimestamp(text: string): bigint | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3].toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** How Go's time.Format(RFC3339Nano) prints a parsed timestamp: the kubelet's `--timestamps` prefix. */
export function formatTimestamp(text: string): string {
  const m = TIMESTAMP.exec(text);
  if (!m) return text;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  const zone = m[3] === '+00:00' || m[3] === '-00:00' || m[3] === 'z' ? 'Z' : m[3];
  return `${m[1]}${frac ? `.${frac}` : ''}${zone}`;
}

/** One record of the file (without its line break), or undefined when it is not in CRI format. */
export function parseRecord(line: Buffer): LogRecord | undefined {
  const a = line.indexOf(SP);
  if (a < 0) return undefined;
  const b = line.indexOf(SP, a + 1);
  if (b < 0) return undefined;
  const stream = line.toString('latin1', a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  let c = line.indexOf(SP, b + 1);
  // A record of an empty full line may end right after its tag.
  if (c < 0) c = line.length;
  const time = line.toString('latin1', 0, a);
  if (parseTimestamp(time) === undefined) return undefined;
  // Tags are ':'-separated for forward compatibility; the first says partial or full.
  const tag = line.toString('latin1', b + 1, c).split(':')[0];
  const partial = tag === 'P';
  const body = line.subarray(Math.min(c + 1, line.length));
  return { time, stream, partial, content: partial ? body : Buffer.concat([body, Buffer.from('\n')]) };
}

/** The tag character of the record starting at buf[off] ('F' when unreadable, so it counts as a line). */
function tagAt(buf: Buffer, off: number): string {
  const a = buf.indexOf(SP, off);
  if (a < 0 || a - off > HEADER_BYTES) return 'F';
  const b = buf.indexOf(SP, a + 1);
  if (b < 0) return 'F';
  return String.fromCharCode(buf[b + 1] ?? 0x46);
}

/**
 * The offset where the last `n` lines of the file start, reading backwards in blocks. A line is
 * what the user sees: partial records up to and including a full one; records after the last
 * full one (a line still being written) count as one line too.
 */
export async function findTailStart(fh: FileHandle, size: number, n: number): Promise<number> {
  if (n < 0 || size === 0) return 0;
  if (n === 0) return size;
  const last = Buffer.alloc(1);
  await fh.read(last, 0, 1, size - 1);
  let seen = 0;
  let first = true;
  // Where the record after the one being looked at starts: the answer once enough lines are seen.
  let nextStart = size;
  // Records are considered from the last one backwards.
  const consider = (lineStart: number, tag: string): number | undefined => {
    if (first) {
      first = false;
      // An unfinished last line (P record last, or no line break yet) is a line of its own.
      if (last[0] !== NL || tag !== 'F') {
        seen = 1;
        nextStart = lineStart;
        return undefined;
      }
    }
    if (tag === 'F') {
      if (seen === n) return nextStart;
      seen++;
    }
    nextStart = lineStart;
    return undefined;
  };
  let pos = size;
  let prevHead = Buffer.alloc(0);
  const block = Buffer.allocUnsafe(READ_CHUNK);
  while (pos > 0) {
    const start = Math.max(0, pos - READ_CHUNK);
    const { bytesRead } = await fh.read(block, 0, pos - start, start);
    const chunk = block.subarray(0, bytesRead);
    // The next block's first bytes complete the headers of records starting near this block's end.
    const buf = prevHead.length ? Buffer.concat([chunk, prevHead]) : chunk;
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] !== NL || start + i + 1 >= size) continue;
      const found = consider(start + i + 1, tagAt(buf, i + 1));
      if (found !== undefined) return found;
    }
    prevHead = Buffer.from(chunk.subarray(0, HEADER_BYTES));
    pos = start;
  }
  // The file's first record.
  return consider(0, tagAt(prevHead, 0)) ?? 0;
}

/** Resolves when the stream can take more, or it closed / the read was aborted. */
function drained(out: Writable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Copies a container's log file to `out` as `kubectl logs` shows it, with the kubelet's options.
 * Resolves when done (the end of the file, the byte limit, the container gone while following,
 * or the client gone); does not end `out`.
 */
export async function readLogs(path: string, opts: LogOptions, out: Writable, ctl: LogReadControl = {}): Promise<void> {
  const abort = new AbortController();
  const onOutClose = () => abort.abort();
  out.once('close', onOutClose);
  const onSignal = () => abort.abort();
  ctl.signal?.addEventListener('abort', onSignal, { once: true });
  if (ctl.signal?.aborted) abort.abort();
  const signal = abort.signal;
  let fh = await open(path, 'r');
  let watcher: FSWatcher | undefined;
  try {
    const size = (await fh.stat()).size;
    let pos = 0;
    if (opts.tailLines !== undefined) pos = await findTailStart(fh, size, opts.tailLines);
    // Without follow, the tail is exactly the lines asked for even if the file grows meanwhile.
    let linesLeft = !opts.follow && opts.tailLines !== undefined ? opts.tailLines : Infinity;
    let remain = opts.limitBytes ?? Infinity;
    let atLineStart = true;
    let carry: Buffer = Buffer.alloc(0);
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let containerGone = false;
    let lastRunningCheck = 0;
    let wake: (() => void) | undefined;
    const pollMs = ctl.pollMs ?? 250;
    const name = basename(path);

    // Turns complete records into output; returns false when no more output is wanted.
    const emit = async (records: Buffer[]): Promise<boolean> => {
      const parts: Buffer[] = [];
      let stop = false;
      for (const raw of records) {
        if (linesLeft <= 0 || remain <= 0) {
          stop = true;
          break;
        }
        const rec = parseRecord(raw);
        if (!rec) continue; // as the kubelet: an unparsable record is skipped
        const wasLineStart = atLineStart;
        atLineStart = !rec.partial;
        if (!rec.partial) linesLeft--;
        if (opts.sinceNs !== undefined && parseTimestamp(rec.time)! < opts.sinceNs) continue;
        let piece = rec.content;
        if (opts.timestamps && wasLineStart)
          piece = Buffer.concat([Buffer.from(`${formatTimestamp(rec.time)} `), piece]);
        if (piece.length > remain) piece = piece.subarray(0, remain);
        remain -= piece.length;
        parts.push(piece);
      }
      if (parts.length) {
        if (out.destroyed || signal.aborted) return false;
        if (!out.write(parts.length === 1 ? parts[0] : Buffer.concat(parts))) await drained(out, signal);
      }
      return !stop && linesLeft > 0 && remain > 0 && !signal.aborted && !out.destroyed;
    };

    for (;;) {
      if (signal.aborted || out.destroyed) return;
      const { bytesRead } = await fh.read(chunk, 0, READ_CHUNK, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        const data = carry.length
          ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
          : Buffer.from(chunk.subarray(0, bytesRead));
        const records: Buffer[] = [];
        let from = 0;
        for (let nl = data.indexOf(NL); nl >= 0; nl = data.indexOf(NL, from)) {
          records.push(data.subarray(from, nl));
          from = nl + 1;
        }
        carry = data.subarray(from);
        if (!(await emit(records))) return;
        continue;
      }
      // At the end of the file.
      if (!opts.follow) {
        // A last record without its line break is still shown (the kubelet does the same).
        if (carry.length) await emit([carry]);
        return;
      }
      if (containerGone) return;
      // A rotated log: a new file now sits at the path; the old one is drained, go on with the new.
      const current = await stat(path).catch(() => undefined);
      const mine = await fh.stat();
      if (current && current.ino !== mine.ino) {
        const next = await open(path, 'r').catch(() => undefined);
        if (next) {
          await fh.close();
          fh = next;
          pos = 0;
          carry = Buffer.alloc(0);
          continue;
        }
      }
      // As the kubelet (every second): once the container stopped, drain what is left and end.
      const now = Date.now();
      if (ctl.running && now - lastRunningCheck >= 1000) {
        lastRunningCheck = now;
        if (!(await ctl.running())) {
          containerGone = true;
          continue;
        }
      }
      if (!watcher) {
        try {
          watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
            if (!file || String(file).startsWith(name)) wake?.();
          });
          watcher.on('error', () => undefined);
        } catch {
          // No inotify (or the folder is gone): polling alone will do.
        }
        // The file may have grown between the read and the watch: look again first.
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          signal.removeEventListener('abort', done);
          resolve();
        }
        wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    watcher?.close();
    out.off('close', onOutClose);
    ctl.signal?.removeEventListener('abort', onSignal);
    await fh.close().catch(() => undefined);
  }
}
