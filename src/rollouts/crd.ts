// The rollouts.argoproj.io CustomResourceDefinition as k8ts installs it: Argo's names, short name,
// printer columns and scale/status subresources. The schema types the fields k8ts acts on and keeps
// every other field (Argo's analysis, experiments, other traffic routers) as written, so a
// manifest made for Argo Rollouts is accepted unchanged.
import type { CustomResourceDefinition, JSONSchemaProps } from 'kubernetes-types/apiextensions/v1.js';
import { ROLLOUT_GROUP } from './types.js';

/** kubernetes-types leaves out the x-kubernetes-* extensions. */
type Schema = Omit<JSONSchemaProps, 'items' | 'properties'> & {
  items?: Schema;
  properties?: Record<string, Schema>;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
};

const str: Schema = { type: 'string' };
const bool: Schema = { type: 'boolean' };
const int32: Schema = { type: 'integer', format: 'int32' };
// No empty `properties`: published as OpenAPI, that would read as "no fields allowed".
const open = (properties?: Record<string, Schema>): Schema => ({
  type: 'object',
  ...(properties ? { properties } : {}),
  'x-kubernetes-preserve-unknown-fields': true,
});

const list: Schema = { type: 'array', items: open() };
const analysis = open({
  http: open({ url: str, path: str, port: int32, timeoutSeconds: int32 }),
  job: open({ spec: open() }),
  templates: list,
  args: list,
});

const spec = open({
  replicas: int32,
  selector: open(),
  template: open(),
  workloadRef: open({ apiVersion: str, kind: str, name: str, scaleDown: str }),
  minReadySeconds: int32,
  revisionHistoryLimit: int32,
  paused: bool,
  progressDeadlineSeconds: int32,
  progressDeadlineAbort: bool,
  strategy: open({
    blueGreen: open({
      activeService: str,
      previewService: str,
      previewReplicaCount: int32,
      autoPromotionEnabled: bool,
      autoPromotionSeconds: int32,
      scaleDownDelaySeconds: int32,
      abortScaleDownDelaySeconds: int32,
      prePromotionAnalysis: analysis,
      postPromotionAnalysis: analysis,
    }),
    canary: open({
      canaryService: str,
      stableService: str,
      scaleDownDelaySeconds: int32,
      abortScaleDownDelaySeconds: int32,
      steps: {
        type: 'array',
        items: open({
          setWeight: int32,
          pause: open({ duration: { 'x-kubernetes-int-or-string': true } }),
          analysis: open({ templates: list, args: list }),
        }),
      },
      trafficRouting: open(),
      analysis: open({ templates: list, args: list, startingStep: int32 }),
    }),
  }),
});

export const ROLLOUT_CRD: CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `rollouts.${ROLLOUT_GROUP}`, labels: { 'app.kubernetes.io/managed-by': 'k8ts' } },
  spec: {
    group: ROLLOUT_GROUP,
    scope: 'Namespaced',
    names: { kind: 'Rollout', listKind: 'RolloutList', plural: 'rollouts', singular: 'rollout', shortNames: ['ro'] },
    versions: [
      {
        name: 'v1alpha1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            required: ['spec'],
            properties: {
              apiVersion: str,
              kind: str,
              metadata: { type: 'object' },
              spec,
              status: open(),
            },
          },
        },
        subresources: {
          status: {},
          scale: {
            specReplicasPath: '.spec.replicas',
            statusReplicasPath: '.status.HPAReplicas',
            labelSelectorPath: '.status.selector',
          },
        },
        additionalPrinterColumns: [
          { name: 'Desired', type: 'integer', jsonPath: '.spec.replicas', description: 'Number of desired pods' },
          {
            name: 'Current',
            type: 'integer',
            jsonPath: '.status.replicas',
            description: 'Total number of non-terminated pods targeted by this rollout',
          },
          {
            name: 'Up-to-date',
            type: 'integer',
            jsonPath: '.status.updatedReplicas',
            description:
              'Total number of non-terminated pods targeted by this rollout that have the desired template spec',
          },
          {
            name: 'Available',
            type: 'integer',
            jsonPath: '.status.availableReplicas',
            description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this rollout',
          },
          {
            name: 'Age',
            type: 'date',
            jsonPath: '.metadata.creationTimestamp',
            description: 'Time since resource was created',
          },
        ],
      },
    ],
  },
};

/** Argo's analysis kinds: specs kept as written (the controller reads them), runs with a status subresource. */
function analysisCrd(
  plural: string,
  kind: string,
  scope: 'Namespaced' | 'Cluster',
  shortNames: string[],
  run = false,
): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${ROLLOUT_GROUP}`, labels: { 'app.kubernetes.io/managed-by': 'k8ts' } },
    spec: {
      group: ROLLOUT_GROUP,
      scope,
      names: { kind, listKind: `${kind}List`, plural, singular: plural.replace(/s$/, ''), shortNames },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: str,
                kind: str,
                metadata: { type: 'object' },
                // Metrics and args as written: published with properties, kubectl would refuse
                // every field not listed.
                spec: open({ metrics: list, args: list, ...(run ? { terminate: bool } : {}) }),
                ...(run ? { status: open({ phase: str, message: str }) } : {}),
              },
            },
          },
          ...(run
            ? {
                subresources: { status: {} },
                additionalPrinterColumns: [
                  { name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'AnalysisRun status' },
                  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
                ],
              }
            : {}),
        },
      ],
    },
  };
}

export const ANALYSIS_CRDS: CustomResourceDefinition[] = [
  analysisCrd('analysistemplates', 'AnalysisTemplate', 'Namespaced', ['at']),
  analysisCrd('clusteranalysistemplates', 'ClusterAnalysisTemplate', 'Cluster', ['cat']),
  analysisCrd('analysisruns', 'AnalysisRun', 'Namespaced', ['ar'], true),
];
