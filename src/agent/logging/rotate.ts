// The kubelet's container log manager: container logs live in its layout,
//   <logDir>/pods/<namespace>_<pod>_<uid>/<container>/<restartCount>.log
//   <logDir>/containers/<pod>_<namespace>_<container>-<containerID>.log -> the file above
// (what Fluent Bit's and Fluentd's Kubernetes setups tail), and a container's file is rotated
// once it reaches containerLogMaxSize: renamed to <N>.log.<YYYYmmdd-HHMMSS>, the runtime told to
// reopen the path (CRI ReopenContainerLog), and the oldest rotated files removed so at most
// containerLogMaxFiles files (the live one included) remain. Rotated files stay uncompressed so
// log shippers and `kubectl logs --previous`-style readers can read them as they are.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { LABEL, type Runtime } from '../runtime/types.js';

export interface LogRotationOptions {
  /** The folder holding pods/ and containers/ (default <agent dir>/logs). */
  logDir: string;
  /** Rotate a container's log once it reaches this many bytes (kubelet default 10 MiB). */
  maxSizeBytes: number;
  /** Files kept per container, the live one included (kubelet default 5, at least 2). */
  maxFiles: number;
  /** How often the files are looked at (kubelet: 10 s). */
  intervalMs?: number;
  logger?: Logger;
}

export const DEFAULT_CONTAINER_LOG_MAX_SIZE = 10 * 1024 * 1024;
export const DEFAULT_CONTAINER_LOG_MAX_FILES = 5;

/** The kubelet's suffix of a rotated file: the rotation time as YYYYmmdd-HHMMSS (UTC). */
export function rotationSuffix(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
}

/** Rotated siblings of a log file (<file>.<suffix>), oldest first. */
export function rotatedFiles(logPath: string): string[] {
  const dir = dirname(logPath);
  const base = basename(logPath);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(`${base}.`) && !n.endsWith('.tmp'))
    .sort()
    .map((n) => join(dir, n));
}

/** The /var/log/containers name of a container's log. */
export function containerLinkName(pod: string, namespace: string, container: string, id: string): string {
  return `${pod}_${namespace}_${container}-${id}.log`;
}

export class ContainerLogManager {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly runtime: Runtime & { reopenContainerLog?(id: string): Promise<void> },
    private readonly o: LogRotationOptions,
  ) {
    if (o.maxFiles < 2) throw new Error('containerLogMaxFiles must be at least 2');
  }

  start(): void {
    mkdirSync(join(this.o.logDir, 'containers'), { recursive: true });
    const tick = () => {
      this.running = this.once()
        .catch((err) => this.o.logger?.warn({ err }, 'container log rotation failed'))
        .finally(() => (this.timer = setTimeout(tick, this.o.intervalMs ?? 10_000)));
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    clearTimeout(this.timer);
  }

  /** One pass: links for every container, rotation of the running ones' files. */
  async once(): Promise<void> {
    const linksDir = join(this.o.logDir, 'containers');
    const wanted = new Set<string>();
    for (const c of await this.runtime.listContainers()) {
      const status = await this.runtime.containerStatus(c.id).catch(() => undefined);
      if (!status?.logPath) continue;
      const name = containerLinkName(
        c.labels[LABEL.podName] ?? '',
        c.labels[LABEL.podNamespace] ?? '',
        c.labels[LABEL.containerName] ?? c.metadata.name,
        c.id,
      );
      wanted.add(name);
      ensureLink(join(linksDir, name), status.logPath);
      if (c.state === 'CONTAINER_RUNNING') await this.rotateIfNeeded(c.id, status.logPath);
    }
    // Links of containers the runtime no longer has go (as the kubelet's cleanup does).
    for (const name of safeReaddir(linksDir)) if (!wanted.has(name)) safeUnlink(join(linksDir, name));
  }

  private async rotateIfNeeded(id: string, logPath: string): Promise<void> {
    let size: number;
    try {
      size = statSync(logPath).size;
    } catch {
      return;
    }
    if (size < this.o.maxSizeBytes || !this.runtime.reopenContainerLog) return;
    // Make room first: after the rename there are the rotated files plus the new live one.
    const rotated = rotatedFiles(logPath);
    for (const old of rotated.slice(0, Math.max(0, rotated.length - (this.o.maxFiles - 2)))) safeUnlink(old);
    let target = `${logPath}.${rotationSuffix()}`;
    // Two rotations within a second would share a name: the later one gets a counter.
    for (let i = 1; existsSync(target); i++) target = `${logPath}.${rotationSuffix()}.${i}`;
    renameSync(logPath, target);
    try {
      await this.runtime.reopenContainerLog(id);
    } catch (err) {
      // As the kubelet: without a reopened file the container would log into the rotated one.
      renameSync(target, logPath);
      throw err;
    }
    this.o.logger?.debug({ container: id, rotated: target }, 'container log rotated');
  }
}

function ensureLink(link: string, target: string): void {
  try {
    if (lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) return;
    unlinkSync(link);
  } catch {
    // absent
  }
  try {
    symlinkSync(target, link);
  } catch {
    // raced with another pass or the folder went away: the next pass tries again
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
