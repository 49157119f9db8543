// IPVS's scheduling algorithms (ipvsadm(8), net/netfilter/ipvs/ip_vs_*.c) for the userspace proxy.
// Each picks one backend for a new connection from what the proxy knows: the backends' weights and
// their active (open) and inactive (recently closed) connection counts, and the client and
// destination addresses for the hashing ones.
import { createHash } from 'node:crypto';
import type { Scheduler } from './model.js';

export interface Backend {
  /** ip:port */
  id: string;
  weight: number;
  active: number;
  inactive: number;
}

export interface Pick {
  (backends: Backend[], client: string, destination: string): Backend | undefined;
}

const usable = (bs: Backend[]) => bs.filter((b) => b.weight > 0);
const hash32 = (s: string) => createHash('md5').update(s).digest().readUInt32BE(0);

/** IPVS's overhead of a backend for the lc/wlc family: active connections weigh 256 inactive ones. */
const overhead = (b: Backend) => b.active * 256 + b.inactive;

/** The backend minimising `cost`; ties go to the first (IPVS scans its list in order). */
function minBy(bs: Backend[], cost: (b: Backend) => number): Backend | undefined {
  let best: Backend | undefined;
  let bestCost = Infinity;
  for (const b of bs) {
    const c = cost(b);
    if (c < bestCost) {
      best = b;
      bestCost = c;
    }
  }
  return best;
}

/** A scheduler with its own state (round-robin positions). */
export function makeScheduler(name: Scheduler): Pick {
  switch (name) {
    case 'rr': {
      let next = 0;
      return (bs) => {
        const u = usable(bs);
        if (!u.length) return undefined;
        const b = u[next % u.length];
        next = (next + 1) % u.length;
        return b;
      };
    }
    case 'wrr': {
      // Interleaved weighted round robin (IPVS's: the current weight steps down by the gcd).
      let i = -1;
      let cw = 0;
      return (bs) => {
        const u = usable(bs);
        if (!u.length) return undefined;
        const max = Math.max(...u.map((b) => b.weight));
        const g = u.map((b) => b.weight).reduce(gcd);
        for (;;) {
          i = (i + 1) % u.length;
          if (i === 0) {
            cw -= g;
            if (cw <= 0) cw = max;
          }
          if (u[i].weight >= cw) return u[i];
        }
      };
    }
    case 'lc':
      return (bs) => minBy(usable(bs), overhead);
    case 'wlc':
      return (bs) => minBy(usable(bs), (b) => overhead(b) / b.weight);
    case 'sed':
      // Shortest expected delay: (active + 1) / weight.
      return (bs) => minBy(usable(bs), (b) => (b.active + 1) / b.weight);
    case 'nq':
      // Never queue: an idle backend if there is one, else the shortest expected delay.
      return (bs) => usable(bs).find((b) => b.active === 0) ?? minBy(usable(bs), (b) => (b.active + 1) / b.weight);
    case 'sh':
      // Source hashing: a client always lands on the same backend while the set is unchanged.
      return (bs, client) => {
        const u = usable(bs);
        return u.length ? u[hash32(client) % u.length] : undefined;
      };
    case 'dh':
      // Destination hashing: the same destination address always goes to the same backend.
      return (bs, _client, destination) => {
        const u = usable(bs);
        return u.length ? u[hash32(destination) % u.length] : undefined;
      };
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
