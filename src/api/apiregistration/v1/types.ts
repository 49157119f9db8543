// apiregistration.k8s.io/v1 types (kube-aggregator's; kubernetes-types does not carry them).
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

export interface ServiceReference {
  namespace?: string;
  name?: string;
  /** Default 443. */
  port?: number;
}

export interface APIServiceSpec {
  service?: ServiceReference;
  group?: string;
  version?: string;
  insecureSkipTLSVerify?: boolean;
  /** PEM bundle, base64 on the wire. */
  caBundle?: string;
  groupPriorityMinimum: number;
  versionPriority: number;
}

export interface APIServiceCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface APIService {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: APIServiceSpec;
  status?: { conditions?: APIServiceCondition[] };
}
