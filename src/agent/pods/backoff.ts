// Restart back-off per container, as the kubelet's: the first restart after an exit is immediate,
// then 10 s, 20 s, 40 s ... up to 5 min, measured from the container's exit; a container that ran
// for twice the maximum without exiting starts over.
export class Backoff {
  private entries = new Map<string, { delayMs: number; at: number }>();

  constructor(
    readonly initialMs = 10_000,
    readonly maxMs = 300_000,
  ) {}

  /** The back-off still to wait before a restart of `key` that exited at `exitedAt` (0: may restart now). */
  remaining(key: string, exitedAt: number, now = Date.now()): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    if (now - e.at > 2 * this.maxMs) {
      this.entries.delete(key);
      return 0;
    }
    return Math.max(0, exitedAt + e.delayMs - now);
  }

  /** The current back-off of `key` (for messages). */
  current(key: string): number {
    return this.entries.get(key)?.delayMs ?? this.initialMs;
  }

  /** A restart happened: the next one waits longer. */
  next(key: string, now = Date.now()): void {
    const e = this.entries.get(key);
    this.entries.set(key, { delayMs: e ? Math.min(this.maxMs, e.delayMs * 2) : this.initialMs, at: now });
  }

  forgetPrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}

/** Formats a duration as Go's time.Duration prints whole seconds and minutes ("10s", "1m20s", "5m0s"). */
export function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${s % 60}s`;
}
