// The cluster settings a joined agent takes from its server rather than from its own flags, so
// that a cluster started with --cluster-domain does not need the same flag on every agent, and
// every node uses the server's --flannel-backend (agents have no flag for it, as in k3s).
import type { Logger } from 'pino';
import { CLUSTER_CONFIG_PATH, type ClusterConfig } from '../apiserver/join.js';
import { tokenRequest } from './tokenrequest.js';

/** GET /k8ts/v1/cluster-config with the join token; undefined (with a warning) when the server cannot say. */
export async function fetchClusterConfig(
  server: string,
  caPem: string,
  secret: string,
  log: Logger,
): Promise<Partial<ClusterConfig> | undefined> {
  try {
    const res = await tokenRequest(server, caPem, secret, 'GET', CLUSTER_CONFIG_PATH, undefined, 15_000);
    if (res.status !== 200) {
      log.warn({ status: res.status }, `${server} gave no cluster settings: using the agent's own`);
      return undefined;
    }
    const body = JSON.parse(res.text) as Record<string, unknown>;
    const out: Partial<ClusterConfig> = {};
    if (typeof body.clusterDomain === 'string' && body.clusterDomain) out.clusterDomain = body.clusterDomain;
    if (body.flannelBackend === 'vxlan' || body.flannelBackend === 'host-gw' || body.flannelBackend === 'none')
      out.flannelBackend = body.flannelBackend;
    return out;
  } catch (err) {
    log.warn({ err }, `cannot read the cluster settings of ${server}: using the agent's own`);
    return undefined;
  }
}

/**
 * A server joining a cluster (--server) must carry the pod network backend the cluster runs, as
 * k3s refuses a "critical configuration value mismatch": nodes of one cluster cannot mix backends.
 * A first server that cannot be asked (down while this one restarts) stops nothing.
 */
export async function requireClusterBackend(
  server: string,
  caPem: string,
  secret: string,
  own: NonNullable<ClusterConfig['flannelBackend']>,
  log: Logger,
): Promise<void> {
  const theirs = (await fetchClusterConfig(server, caPem, secret, log))?.flannelBackend;
  if (theirs && theirs !== own)
    throw new Error(
      `--flannel-backend ${own}: the cluster at ${server} runs ${theirs}; every server of a cluster must give the same`,
    );
}
