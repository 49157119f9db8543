// The audit log backend: JSON lines appended to a file (or stdout for `-`), written in batches so
// a request never waits on the disk, and rotated as upstream's lumberjack.Logger does: past
// maxsize MB the file is renamed to `name-<UTC time>.ext`, then backups beyond maxbackup or older
// than maxage days are removed.
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

export interface LogRotation {
  /** --audit-log-maxsize: megabytes before rotation (0: lumberjack's default, 100). */
  maxSizeMB?: number;
  /** --audit-log-maxbackup: old files kept (0: all). */
  maxBackups?: number;
  /** --audit-log-maxage: days old files are kept (0: forever). */
  maxAgeDays?: number;
}

export interface LineSink {
  write(line: string): void;
  flush(): void;
  close(): void;
}

const MB = 1024 * 1024;
/** Buffered lines are written once this much is waiting, or on the next tick of the flush timer. */
const FLUSH_BYTES = 256 * 1024;
const FLUSH_INTERVAL_MS = 50;

/** lumberjack's backup time format, 2006-01-02T15-04-05.000, in UTC. */
export function backupTimestamp(d: Date): string {
  return d.toISOString().replace(/:/g, '-').replace(/Z$/, '');
}

const BACKUP_TIME = /^(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})$/;

function parseBackupTime(s: string): number | undefined {
  if (!BACKUP_TIME.test(s)) return undefined;
  const [date, time] = s.split('T');
  return Date.parse(`${date}T${time.replace(/-/g, ':')}Z`);
}

/** Appends lines to a file, rotating it by size; all writes synchronous, called from a batch. */
export class RotatingFile {
  private fd: number;
  private size: number;
  private readonly maxBytes: number;

  constructor(
    readonly path: string,
    private readonly rotation: LogRotation = {},
    private readonly now: () => Date = () => new Date(),
  ) {
    this.maxBytes = (rotation.maxSizeMB || 100) * MB;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'a', 0o600);
    this.size = statSync(path).size;
  }

  write(data: string): void {
    const bytes = Buffer.byteLength(data);
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    writeSync(this.fd, data);
    this.size += bytes;
  }

  private rotate(): void {
    closeSync(this.fd);
    const ext = extname(this.path);
    const prefix = basename(this.path, ext);
    renameSync(this.path, join(dirname(this.path), `${prefix}-${backupTimestamp(this.now())}${ext}`));
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = 0;
    this.removeOldBackups();
  }

  /** The rotated files of this log, newest first. */
  backups(): { file: string; time: number }[] {
    const dir = dirname(this.path);
    const ext = extname(this.path);
    const prefix = `${basename(this.path, ext)}-`;
    const out: { file: string; time: number }[] = [];
    for (const f of readdirSync(dir)) {
      if (!f.startsWith(prefix) || !f.endsWith(ext)) continue;
      const time = parseBackupTime(f.slice(prefix.length, f.length - ext.length));
      if (time !== undefined) out.push({ file: join(dir, f), time });
    }
    return out.sort((a, b) => b.time - a.time);
  }

  private removeOldBackups(): void {
    const { maxBackups = 0, maxAgeDays = 0 } = this.rotation;
    if (!maxBackups && !maxAgeDays) return;
    const cutoff = this.now().getTime() - maxAgeDays * 24 * 3600 * 1000;
    this.backups().forEach((b, i) => {
      if ((maxBackups && i >= maxBackups) || (maxAgeDays && b.time < cutoff)) {
        try {
          unlinkSync(b.file);
        } catch {
          // already gone
        }
      }
    });
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Collects lines and hands them to `out` in batches, off the request path. */
export class BatchingSink implements LineSink {
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly out: { write(data: string): void; close?(): void }) {}

  write(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS).unref();
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.length) return;
    const data = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.out.write(data);
  }

  close(): void {
    this.flush();
    this.out.close?.();
  }
}

/** --audit-log-path: `-` is stdout, anything else a rotating file. */
export function openAuditLog(path: string, rotation: LogRotation): LineSink {
  if (path === '-') return new BatchingSink({ write: (d) => void process.stdout.write(d) });
  return new BatchingSink(new RotatingFile(path, rotation));
}
