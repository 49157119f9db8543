// The nftables proxy mode: renders the model with nftables.ts and programs it with `nft -f -`, one
// atomic transaction per sync. The first sync (and any after a failure, or when the table went
// missing) rebuilds the whole table; later ones carry only the Service ports that changed.
import { spawn } from 'node:child_process';
import type { ServicePort } from './model.js';
import { deleteTable, fullSync, partialSync, serviceFragment, type Fragment, type NftConfig } from './nftables.js';
import type { ProxyBackend } from './proxier.js';

/** Runs `nft -f -` with `script` on stdin; rejects with nft's message. */
export function nft(script: string, args: string[] = ['-f', '-']): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', args, { stdio: ['pipe', 'pipe', 'pipe'] });
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
  /** Each installed port's model as JSON: a port whose model is unchanged keeps its fragment unrendered. */
  private rendered = new Map<string, { model: string; fragment: Fragment }>();

  constructor(private cfg: NftConfig) {}

  get table(): string {
    return this.cfg.table;
  }

  async sync(ports: ServicePort[]): Promise<void> {
    const want = new Map<string, Fragment>();
    const rendered = new Map<string, { model: string; fragment: Fragment }>();
    for (const sp of ports) {
      // Rendering hashes every chain name: at 10,000 Services, seconds per sync when done for all.
      const key = `${sp.key}/${sp.protocol}`;
      const model = JSON.stringify(sp);
      const before = this.rendered.get(key);
      const fragment = before?.model === model ? before.fragment : serviceFragment(sp, this.cfg);
      want.set(key, fragment);
      rendered.set(key, { model, fragment });
    }
    this.rendered = rendered;
    let script = this.installed
      ? partialSync(this.cfg, this.installed, reuseUnchanged(this.installed, want))
      : fullSync(this.cfg, want.values());
    // A partial transaction fails by itself when the table is gone (then the next sync is a full
    // one); one with nothing to do must ask. Each nft run reads the table, seconds at 10,000
    // Services, so the question is asked only then.
    if (this.installed && !script && !(await this.tablePresent())) script = fullSync(this.cfg, want.values());
    if (script) {
      try {
        await nft(script);
      } catch (err) {
        this.installed = undefined; // the next sync rebuilds from scratch
        throw err;
      }
    }
    this.installed = want;
  }

  /**
   * Whether our table still exists (someone may have flushed the ruleset). Not by listing: a dump
   * of 10,000 Services takes seconds, and restarts whenever another process changes the ruleset
   * meanwhile. `add chain` of a chain the table always has changes nothing, and fails without it.
   */
  private async tablePresent(): Promise<boolean> {
    return nft(`add chain ip ${this.cfg.table} services\n`).then(
      () => true,
      () => false,
    );
  }

  async cleanup(): Promise<void> {
    await nft(deleteTable(this.cfg.table));
    this.installed = undefined;
  }
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
  const text = (f: Fragment) => JSON.stringify([[...f.chains], [...f.sets], f.elements]);
  return text(a) === text(b);
}
