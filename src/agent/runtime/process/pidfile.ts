// Remembers the process groups this runtime started, so the next agent run can kill leftovers
// (containers are not adopted across restarts). Each entry keeps the process start time, so a
// pid reused by an unrelated process is never signalled.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readStat } from './procstat.js';

interface Entry {
  pid: number;
  starttime: number;
}

export class PidFile {
  private entries = new Map<string, Entry>();

  constructor(private readonly path: string) {}

  add(id: string, pid: number): void {
    const st = readStat(pid);
    if (!st) return;
    this.entries.set(id, { pid, starttime: st.starttime });
    this.save();
  }

  delete(id: string): void {
    if (this.entries.delete(id)) this.save();
  }

  private save(): void {
    writeFileSync(this.path + '.tmp', JSON.stringify(Object.fromEntries(this.entries)));
    renameSync(this.path + '.tmp', this.path);
  }

  /** Kills (SIGKILL) the process groups of a previous run that are still alive; returns how many. */
  killLeftovers(): number {
    let old: Record<string, Entry> = {};
    try {
      old = JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, Entry>; // written by this class
    } catch {
      /* first run */
    }
    let killed = 0;
    for (const e of Object.values(old)) {
      const st = readStat(e.pid);
      if (!st || st.starttime !== e.starttime) continue;
      try {
        process.kill(-e.pid, 'SIGKILL');
        killed++;
      } catch {
        /* gone meanwhile */
      }
    }
    this.entries.clear();
    this.save();
    return killed;
  }
}
