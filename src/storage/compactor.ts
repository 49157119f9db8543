// Periodic compaction: keep at least `retainMs` of history (watches resuming from an older
// resourceVersion get 410 Gone), forget the rest.
import type { Backend } from './interface.js';

export class Compactor {
  private samples: { at: number; rev: number }[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly backend: Backend,
    private readonly retainMs = 10 * 60_000,
    private readonly everyMs = 60_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick().catch(() => {}), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async tick(now = Date.now()): Promise<void> {
    this.samples.push({ at: now, rev: this.backend.currentRevision() });
    let target = 0;
    while (this.samples.length > 1 && now - this.samples[0].at >= this.retainMs) target = this.samples.shift()!.rev;
    if (target > this.backend.compactedRevision()) await this.backend.compact(target);
  }
}
