// Several servers on one host for HA tests, each on its own non-loopback address: the
// `kubernetes` Endpoints may not hold loopback addresses, so 127.0.0.x will not do there. The
// addresses (/32 on lo) are routed so that connections between them leave from 127.0.0.1, an
// address every etcd peer certificate names (etcd checks a peer's certificate against the address
// it connects from). Needs root.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, freeOctet, run, startCluster, type Cluster } from './harness.js';
import { freePort } from '../support/ports.js';

/** Adds the addresses to lo; answers why not when it cannot (then nothing is left added). */
export async function addLocalAddresses(ips: string[]): Promise<string | undefined> {
  for (const [i, ip] of ips.entries()) {
    const r = await run('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo'], {});
    if (r.code !== 0) {
      await removeLocalAddresses(ips.slice(0, i));
      return `cannot add ${ip} to lo (root needed): ${r.stderr.trim()}`;
    }
    const route = ['route', 'replace', 'local', ip, 'dev', 'lo', 'table', 'local', 'scope', 'host'];
    await run('ip', [...route, 'src', '127.0.0.1'], {});
  }
  return undefined;
}

export async function removeLocalAddresses(ips: string[]): Promise<void> {
  for (const ip of ips) {
    await run('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo'], {});
    // The replaced route is no longer the address's own: it is not removed with it.
    await run('ip', ['route', 'del', 'local', ip, 'dev', 'lo', 'table', 'local'], {});
  }
}

/** Servers of one cluster on managed etcd, all on one HTTPS port (as real servers are). */
export class HaServers {
  readonly servers: Cluster[] = [];
  private port?: number;
  // Pod and Service ranges of their own, so an agent joining them never shares routes with
  // another cluster on this host.
  private readonly ranges = [
    '--cluster-cidr',
    `10.${freeOctet((n) => `10.${n}.`, 100, 250)}.0.0/16`,
    '--service-cidr',
    `10.${20 + Math.floor(Math.random() * 60)}.${Math.floor(Math.random() * 256)}.0/24`,
  ];

  /** The first server (--cluster-init) when `joinTo` is absent, else one joining it. */
  async start(ip: string, joinTo?: Cluster): Promise<Cluster> {
    this.port ??= await freePort(ip);
    const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-ha-'));
    const token = joinTo && readFileSync(join(joinTo.dataDir, 'server', 'token'), 'utf8').trim();
    const cluster = await startCluster({
      dataDir,
      args: [
        '--bind-address',
        ip,
        '--node-ip',
        ip,
        '--https-listen-port',
        String(this.port),
        '--etcd-client-port',
        String(await freePort(ip)),
        '--etcd-peer-port',
        String(await freePort(ip)),
        ...this.ranges,
        ...(joinTo && token ? ['--server', joinTo.url, '--token', token] : ['--cluster-init']),
      ],
    });
    this.servers.push(cluster);
    return cluster;
  }

  async cleanup(): Promise<void> {
    for (const s of this.servers) {
      await s.stop('SIGKILL');
      await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', s.dataDir], {});
      rmSync(s.dataDir, { recursive: true, force: true });
    }
  }
}
