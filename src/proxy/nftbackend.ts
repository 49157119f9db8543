// The nftables proxy mode: renders the model with nftables.ts and programs it with `nft -f -`, one
// atomic transaction per sync. The first sync (and any after a failure, or when the table went
// missing) rebuilds the whole table; later ones carry only the Service ports that changed.
import { spawn } from 'node:child_process';
import type { ServicePort } from './model.js';
import {
  deleteTable,
  endpointUse,
  fullSync,
  partialSync,
  serviceFragment,
  type Fragment,
  type NftConfig,
} from './nftables.js';
import type { ProxyBackend } from './proxier.js';

/**
 * Runs `nft -f -` with `script` on stdin; rejects with nft's message. `command` is how nft is
 * run (tests run it in a network namespace of their own: `ip netns exec NAME nft`).
 */
export function nft(script: string, args: string[] = ['-f', '-'], command: string[] = ['nft']): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], [...command.slice(1), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`nft failed (${code}): ${err.trim().slice(0, 2000)}`)),
    );
    // nft may exit without reading stdin (listings, early errors): that is no error of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(script);
  });
}

export class NftablesBackend implements ProxyBackend {
  readonly mode = 'nftables';
  private installed?: Map<string, Fragment>;
  /** How many installed ports use each endpoint address (partialSync's hairpin bookkeeping). */
  private endpointUse = new Map<string, number>();
  /**
   * Each installed port's model (the object, and as JSON): a port given as the same object
   * (ModelTracker keeps unchanged ports' objects), or an equal one, keeps its fragment unrendered.
   */
  private rendered = new Map<string, Rendered>();

  /** `command`: how nft is run (default `nft`; see nft()). */
  constructor(
    private cfg: NftConfig,
    private command: string[] = ['nft'],
  ) {}

  get table(): string {
    return this.cfg.table;
  }

  async sync(ports: ServicePort[]): Promise<void> {
    const want = new Map<string, Fragment>();
    const rendered = new Map<string, Rendered>();
    for (const sp of ports) {
      // Rendering hashes every chain name: at 10,000 Services, seconds per sync when done for all.
      const key = `${sp.key}/${sp.protocol}`;
      const before = this.rendered.get(key);
      let r: Rendered;
      if (before?.port === sp) r = before;
      else {
        const model = JSON.stringify(sp);
        r = { port: sp, model, fragment: before?.model === model ? before.fragment : serviceFragment(sp, this.cfg) };
      }
      want.set(key, r.fragment);
      rendered.set(key, r);
    }
    this.rendered = rendered;
    const installed = this.installed;
    // partialSync updates the endpoint counts in place: work on a copy until nft has taken it.
    const use = new Map(installed ? this.endpointUse : []);
    let script = installed
      ? partialSync(this.cfg, installed, reuseUnchanged(installed, want), use)
      : fullSync(this.cfg, want.values());
    // A partial transaction fails by itself when the table is gone (then the next sync is a full
    // one); one with nothing to do must ask. Each nft run reads the table, seconds at 10,000
    // Services, so the question is asked only then.
    if (installed && !script && !(await this.tablePresent())) script = fullSync(this.cfg, want.values());
    if (script) {
      try {
        await nft(script, undefined, this.command);
      } catch (err) {
        this.installed = undefined; // the next sync rebuilds from scratch
        throw err;
      }
    }
    this.installed = want;
    this.endpointUse = installed ? use : endpointUse(want.values());
  }

  /**
   * Whether our table still exists (someone may have flushed the ruleset). Not by listing: a dump
   * of 10,000 Services takes seconds, and restarts whenever another process changes the ruleset
   * meanwhile. `add chain` of a chain the table always has changes nothing, and fails without it.
   */
  private async tablePresent(): Promise<boolean> {
    return nft(`add chain ip ${this.cfg.table} services\n`, undefined, this.command).then(
      () => true,
      () => false,
    );
  }

  async cleanup(): Promise<void> {
    await nft(deleteTable(this.cfg.table), undefined, this.command);
    this.installed = undefined;
  }
}

interface Rendered {
  port: ServicePort;
  model: string;
  fragment: Fragment;
}

/** Keeps the installed Fragment object for ports whose rendering did not change (partialSync skips identical objects). */
function reuseUnchanged(installed: Map<string, Fragment>, want: Map<string, Fragment>): Map<string, Fragment> {
  for (const [key, f] of want) {
    const old = installed.get(key);
    if (old && old !== f && sameFragment(old, f)) want.set(key, old);
  }
  return want;
}

function sameFragment(a: Fragment, b: Fragment): boolean {
  const text = (f: Fragment) => JSON.stringify([[...f.chains], [...f.sets], f.elements, f.endpointIPs]);
  return text(a) === text(b);
}
