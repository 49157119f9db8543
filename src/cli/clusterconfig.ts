// The cluster settings a joined agent takes from its server rather than from its own flags, so
// that a cluster started with --cluster-domain does not need the same flag on every agent.
import { Agent, request } from 'undici';
import type { Logger } from 'pino';
import { CLUSTER_CONFIG_PATH, type ClusterConfig } from '../apiserver/join.js';

/** GET /k8ts/v1/cluster-config with the join token; undefined (with a warning) when the server cannot say. */
export async function fetchClusterConfig(
  server: string,
  caPem: string,
  secret: string,
  log: Logger,
): Promise<Partial<ClusterConfig> | undefined> {
  const dispatcher = new Agent({ connect: { ca: caPem, rejectUnauthorized: true } });
  try {
    const res = await request(`${server}${CLUSTER_CONFIG_PATH}`, {
      method: 'GET',
      dispatcher,
      headers: { accept: 'application/json', authorization: `Bearer ${secret}` },
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      log.warn({ status: res.statusCode }, `${server} gave no cluster settings: using the agent's own`);
      return undefined;
    }
    const body = JSON.parse(text) as Record<string, unknown>;
    return typeof body.clusterDomain === 'string' && body.clusterDomain ? { clusterDomain: body.clusterDomain } : {};
  } catch (err) {
    log.warn({ err }, `cannot read the cluster settings of ${server}: using the agent's own`);
    return undefined;
  } finally {
    await dispatcher.close();
  }
}
