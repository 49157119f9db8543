// The rollout's latency probe, in a process of its own (started by scaleprobes.startLatencyProbe
// with its ProbeTarget as argument): it calls until the parent says "stop", then sends back the
// summaries and exits.
import { Pool } from 'undici';
import { clientTLS } from './common.js';
import { probeLatency, type ProbeTarget } from './scaleprobes.js';

const target = JSON.parse(process.argv[2]) as ProbeTarget;
const pool = new Pool(target.url, {
  connections: 1,
  pipelining: 1,
  connect: { ...clientTLS(target.kubeconfig), servername: 'localhost', timeout: 120_000 },
});
// The connection is made (TLS handshake) before the first timed call, as the parent's pool had it.
await (await pool.request({ method: 'GET', path: '/version' })).body.text();
let running = true;
process.once('message', () => (running = false));
const summaries = await probeLatency(pool, target, () => running);
process.send!(summaries, () => {
  void pool.close().finally(() => process.exit(0));
});
