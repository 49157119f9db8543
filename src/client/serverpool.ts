// The servers a client may talk to, as k3s's agent load balancer keeps them: the one it was
// given plus every API server the `kubernetes` Endpoints list. It stays on one server until a
// connection to it fails, then moves to the next (watches resume there from their last
// resourceVersion, as after any dropped watch). The list is kept in a file, so an agent
// restarted while its first server is down still finds the others.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { R, type Client } from './client.js';

export class ServerPool {
  private servers: string[];
  private index = 0;

  /**
   * `given`: the server named on the command line (always kept); `stateFile`: where the list
   * learned from the Endpoints is kept between runs.
   */
  constructor(
    private readonly given: string,
    private readonly stateFile?: string,
    private readonly onSwitch?: (from: string, to: string) => void,
  ) {
    this.servers = [given, ...this.load().filter((s) => s !== given)];
  }

  /** The server requests go to now. */
  get current(): string {
    return this.servers[this.index];
  }

  get all(): readonly string[] {
    return this.servers;
  }

  /** A connection to `server` failed: the next request goes to the next one. */
  failed(server: string): void {
    if (server !== this.current || this.servers.length < 2) return;
    this.index = (this.index + 1) % this.servers.length;
    this.onSwitch?.(server, this.current);
  }

  /** The live servers now (from the Endpoints): kept in this order after the given one. */
  update(learned: string[]): void {
    const current = this.current;
    const next = [this.given, ...[...new Set(learned)].filter((s) => s !== this.given).sort()];
    if (next.join() === this.servers.join()) return;
    this.servers = next;
    // Stay where we are when it is still listed (k3s's balancer is sticky too).
    this.index = Math.max(0, next.indexOf(current));
    this.save();
  }

  private load(): string[] {
    if (!this.stateFile) return [];
    try {
      const parsed = JSON.parse(readFileSync(this.stateFile, 'utf8')) as { servers?: unknown };
      return Array.isArray(parsed.servers) ? parsed.servers.filter((s): s is string => typeof s === 'string') : [];
    } catch {
      return [];
    }
  }

  private save(): void {
    if (!this.stateFile) return;
    mkdirSync(dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ servers: this.servers }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }
}

/** `https://ip:port` of every ready address of the `kubernetes` EndpointSlices. */
export function serverURLs(slices: EndpointSlice[]): string[] {
  const out: string[] = [];
  for (const slice of slices) {
    const port = slice.ports?.find((p) => p.name === 'https')?.port ?? slice.ports?.[0]?.port;
    if (!port) continue;
    for (const e of slice.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      for (const ip of e.addresses) out.push(`https://${ip.includes(':') ? `[${ip}]` : ip}:${port}`);
    }
  }
  return out;
}

/**
 * Keeps `pool` up to date with the `kubernetes` EndpointSlices (read every `intervalMs`, through
 * the pool itself); answers a function that stops it.
 */
export function followApiServers(client: Client, pool: ServerPool, logger: Logger, intervalMs = 10_000): () => void {
  const slices = client.resource(R.endpointslices).namespace('default');
  const refresh = async () => {
    try {
      const list = await slices.list({ labelSelector: 'kubernetes.io/service-name=kubernetes' });
      const learned = serverURLs(list.items);
      // An empty list (every server stopping) says nothing about where to go next.
      if (learned.length) pool.update(learned);
    } catch (err) {
      logger.debug({ err }, 'reading the API servers from the kubernetes EndpointSlices failed');
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
