// CPU and memory of a container = of its process group, read from /proc (Linux only). The
// process runtime has no cgroups of its own, so a process group is the closest thing to one.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

function getconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

let ticks: number | undefined;
let pageSize: number | undefined;
const clkTck = () => (ticks ??= getconf('CLK_TCK', 100));
const page = () => (pageSize ??= getconf('PAGESIZE', 4096));

export interface ProcStat {
  pid: number;
  pgrp: number;
  utime: number;
  stime: number;
  starttime: number;
  rssPages: number;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parens, so split after the last ")". */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  return {
    pid,
    pgrp: Number(f[2]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    starttime: Number(f[19]),
    rssPages: Number(f[21]),
  };
}

/** Every process of a process group. */
export function groupStats(pgid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s && s.pgrp === pgid) out.push(s);
  }
  return out;
}

/** CPU time (ns) and resident memory (bytes) of a process group. */
export function groupUsage(pgid: number): { cpuNs: number; rssBytes: number } {
  let t = 0;
  let rss = 0;
  for (const s of groupStats(pgid)) {
    t += s.utime + s.stime;
    rss += s.rssPages;
  }
  return { cpuNs: Math.round((t / clkTck()) * 1e9), rssBytes: rss * page() };
}
