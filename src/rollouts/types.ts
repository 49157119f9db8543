// argoproj.io/v1alpha1 Rollout (Argo Rollouts' API), the part k8ts implements: the fields users
// write for blue/green and canary updates and the status Argo's controller reports, so manifests
// and tools written for Argo Rollouts work here. See docs/rollouts.md for what differs.
import type { LabelSelector, ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { JobSpec } from 'kubernetes-types/batch/v1.js';
import { spec } from '../client/client.js';

export const ROLLOUT_GROUP = 'argoproj.io';
export const ROLLOUT_API_VERSION = `${ROLLOUT_GROUP}/v1alpha1`;
export const ROLLOUT_KIND = 'Rollout';
/** The label on a Rollout's ReplicaSets and pods, and in its Services' selectors. */
export const POD_HASH_LABEL = 'rollouts-pod-template-hash';
/** When an old ReplicaSet kept after a blue/green switch may be scaled down (RFC 3339). */
export const SCALE_DOWN_DEADLINE_ANNOTATION = 'scale-down-deadline';
export const REVISION_ANNOTATION = 'rollout.argoproj.io/revision';
/** Argo's Gateway API traffic router plugin, which k8ts implements natively. */
export const GATEWAY_PLUGIN = 'argoproj-labs/gatewayAPI';
/** Argo's Contour HTTPProxy traffic router plugin, which k8ts implements natively too. */
export const CONTOUR_PLUGIN = 'argoproj-labs/contour';

export interface ObjectRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  scaleDown?: string;
}

/**
 * k8ts' own simple form of a pre-promotion check (Argo names AnalysisTemplates instead): an HTTP
 * GET that must answer 2xx (to `url`, or `path`/`port` on every ready pod of the new version), or
 * a Job that must complete.
 */
export interface RolloutAnalysis {
  http?: { url?: string; path?: string; port?: number; timeoutSeconds?: number };
  job?: { spec: JobSpec };
  /** Argo's form: AnalysisTemplates (or ClusterAnalysisTemplates) run as one AnalysisRun. */
  templates?: AnalysisTemplateRef[];
  args?: AnalysisRunArgument[];
}

export interface AnalysisTemplateRef {
  templateName: string;
  clusterScope?: boolean;
}

export interface AnalysisRunArgument {
  name: string;
  value?: string;
  valueFrom?: { podTemplateHashValue?: 'Stable' | 'Latest'; fieldRef?: { fieldPath: string } };
}

/** Canary background analysis: runs from `startingStep` until the update completes. */
export interface BackgroundAnalysis {
  templates?: AnalysisTemplateRef[];
  args?: AnalysisRunArgument[];
  startingStep?: number;
}

export interface BlueGreenStrategy {
  activeService: string;
  previewService?: string;
  previewReplicaCount?: number;
  autoPromotionEnabled?: boolean;
  autoPromotionSeconds?: number;
  scaleDownDelaySeconds?: number;
  prePromotionAnalysis?: RolloutAnalysis;
  postPromotionAnalysis?: RolloutAnalysis;
  abortScaleDownDelaySeconds?: number;
}

export interface CanaryStep {
  setWeight?: number;
  pause?: { duration?: number | string };
  analysis?: { templates?: AnalysisTemplateRef[]; args?: AnalysisRunArgument[] };
}

export interface RolloutTrafficRouting {
  nginx?: { stableIngress?: string; stableIngresses?: string[]; annotationPrefix?: string };
  /** Argo's traffic router plugins; k8ts serves `argoproj-labs/gatewayAPI` and `argoproj-labs/contour` itself. */
  plugins?: Record<
    string,
    { httpRoute?: string; httpRoutes?: { name: string }[]; httpProxy?: string; namespace?: string }
  >;
}

export interface CanaryStrategy {
  canaryService?: string;
  stableService?: string;
  steps?: CanaryStep[];
  analysis?: BackgroundAnalysis;
  trafficRouting?: RolloutTrafficRouting;
  scaleDownDelaySeconds?: number;
  abortScaleDownDelaySeconds?: number;
}

export interface RolloutSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplateSpec;
  workloadRef?: ObjectRef;
  minReadySeconds?: number;
  strategy: { blueGreen?: BlueGreenStrategy; canary?: CanaryStrategy };
  revisionHistoryLimit?: number;
  paused?: boolean;
  progressDeadlineSeconds?: number;
  progressDeadlineAbort?: boolean;
}

export type PauseReason = 'CanaryPauseStep' | 'BlueGreenPause' | 'InconclusiveAnalysisRun';
export type RolloutPhase = 'Healthy' | 'Degraded' | 'Progressing' | 'Paused';

export interface PauseCondition {
  reason: PauseReason;
  startTime: string;
}

export interface RolloutCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface WeightDestination {
  weight: number;
  serviceName?: string;
  podTemplateHash?: string;
}

export interface AnalysisRunStatus {
  name: string;
  status: 'Pending' | 'Running' | 'Successful' | 'Failed' | 'Error' | 'Inconclusive';
  message?: string;
}

export interface RolloutStatus {
  abort?: boolean;
  abortedAt?: string;
  pauseConditions?: PauseCondition[];
  controllerPause?: boolean;
  currentPodHash?: string;
  currentStepHash?: string;
  currentStepIndex?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  HPAReplicas?: number;
  selector?: string;
  stableRS?: string;
  observedGeneration?: string;
  conditions?: RolloutCondition[];
  canary?: {
    weights?: { canary: WeightDestination; stable: WeightDestination };
    currentStepAnalysisRunStatus?: AnalysisRunStatus;
    currentBackgroundAnalysisRunStatus?: AnalysisRunStatus;
  };
  blueGreen?: {
    activeSelector?: string;
    previewSelector?: string;
    prePromotionAnalysisRunStatus?: AnalysisRunStatus;
    postPromotionAnalysisRunStatus?: AnalysisRunStatus;
  };
  promoteFull?: boolean;
  phase?: RolloutPhase;
  message?: string;
}

export interface Rollout {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec: RolloutSpec;
  status?: RolloutStatus;
}

export const ROLLOUTS = spec<Rollout>({
  group: ROLLOUT_GROUP,
  version: 'v1alpha1',
  plural: 'rollouts',
  namespaced: true,
  kind: ROLLOUT_KIND,
});
