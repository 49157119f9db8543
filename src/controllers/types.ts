// What every controller gets from the controller manager, and what it gives back.
import type { Secret, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import type { SharedInformerFactory } from '../client/informer.js';

export interface ControllerContext {
  client: Client;
  informers: SharedInformerFactory;
  logger: Logger;
  /** Settings from the command line that some controllers need (see ControllerOptions). */
  options?: ControllerOptions;
}

/** Cluster-wide controller settings (upstream kube-controller-manager flags). */
export interface ControllerOptions {
  /** --cluster-cidr: pod IP range node IPAM allocates node podCIDRs from (default 10.42.0.0/16). */
  clusterCIDR?: string;
  /** --node-cidr-mask-size (default 24). */
  nodeCIDRMaskSize?: number;
  /** --node-monitor-grace-period: a node whose lease is older is NotReady/Unknown (default 40 s). */
  nodeMonitorGracePeriodMs?: number;
  /** --node-monitor-period: how often node health is checked (default 5 s). */
  nodeMonitorPeriodMs?: number;
  /** --node-startup-grace-period: grace for a node that never reported (default 60 s). */
  nodeStartupGracePeriodMs?: number;
  /** The cluster CA (PEM) the root-ca-cert-publisher puts in every namespace's kube-root-ca.crt. */
  rootCA?: string;
  /** --concurrent-replicaset-syncs: ReplicaSets synced at once (default 5; ReplicationControllers keep 5, upstream's --concurrent-rc-syncs). */
  concurrentReplicaSetSyncs?: number;
  /** --concurrent-deployment-syncs: Deployments synced at once (default 5). */
  concurrentDeploymentSyncs?: number;
  /** --terminated-pod-gc-threshold (default 12500; 0 disables). */
  terminatedPodGCThreshold?: number;
  /** --lb-address-pool: CIDRs LoadBalancer Services get their address from (else: the nodes'). */
  lbAddressPools?: string[];
  /**
   * Signs legacy service-account tokens for kubernetes.io/service-account-token Secrets (upstream:
   * --service-account-private-key-file); without it the serviceaccount-token controller is off.
   */
  legacyServiceAccountToken?: LegacyTokenGenerator;
  [option: string]: unknown;
}

/** A signed legacy token for a service account and its token Secret. */
export type LegacyTokenGenerator = (sa: ServiceAccount, secret: Secret) => Promise<string>;

export interface Controller {
  readonly name: string;
  /** Start workers (informers are started and synced by the manager before this). */
  start(): void;
  stop(): Promise<void>;
}

/** A controller, or undefined when what it needs is not configured (it then does not run). */
export type ControllerInit = (ctx: ControllerContext) => Controller | undefined;
