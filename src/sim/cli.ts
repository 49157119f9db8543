// `k8ts sim --nodes N --kubeconfig F`: simulated nodes against any API server.
import pino from 'pino';
import { Client } from '../client/client.js';
import { simOptionsFromFlags } from './config.js';
import { NodeSimulator } from './simulator.js';

/** Connections the heartbeat client may hold (leases in flight at once). */
const HEARTBEAT_CONNECTIONS = 128;

export interface SimFlags {
  nodes: string;
  kubeconfig?: string;
  context?: string;
  logLevel: string;
  [flag: string]: unknown;
}

export async function runSim(flags: SimFlags): Promise<void> {
  const logger = pino({ level: flags.logLevel, name: 'k8ts-sim', base: {} }, pino.destination(2));
  const n = Number(flags.nodes);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--nodes: invalid count ${JSON.stringify(flags.nodes)}`);
  const opts = simOptionsFromFlags(n, flags);
  const kubeconfig = flags.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('--kubeconfig (or KUBECONFIG) is required');
  // A connection per status writer: fewer, and writes would queue in the client, not the server.
  const client = Client.fromKubeconfig(kubeconfig, {
    fieldManager: 'kubelet',
    context: flags.context,
    maxConnections: opts.workers,
  });
  // Each kubelet renews over a connection of its own; the simulated fleet shares a pool. With the
  // default 32, renewals were capped at 32 per write latency: a server slowed to 100 ms per write
  // got 320 of the 500 renewals/s 5,000 nodes need, and nodes went NotReady.
  const heartbeats = Client.fromKubeconfig(kubeconfig, {
    fieldManager: 'kubelet',
    context: flags.context,
    maxConnections: HEARTBEAT_CONNECTIONS,
  });
  const sim = new NodeSimulator(client, opts, logger, heartbeats);
  await sim.start();
  process.stdout.write(
    `k8ts sim ready: ${n} nodes (${opts.namePrefix}-${opts.startIndex}..${opts.namePrefix}-${opts.startIndex + n - 1})\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await sim.stop().catch(() => undefined);
    await Promise.all([client.close(), heartbeats.close()]).catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
