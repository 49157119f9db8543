// k3s's CRDs, as its helm-controller and deploy controller register them: helm.cattle.io/v1
// HelmChart and HelmChartConfig, and k3s.cattle.io/v1 Addon (one per auto-deployed manifest file).
// Schemas keep unknown fields, as k3s's generated ones are permissive for spec values too.
import type { CustomResourceDefinition } from 'kubernetes-types/apiextensions/v1.js';
import type { KubeObject } from '../release/kube.js';

function crd(
  group: string,
  kind: string,
  plural: string,
  columns: { name: string; jsonPath: string }[],
): CustomResourceDefinition {
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns.map((c) => ({ ...c, type: 'string' })),
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: { spec: open, status: open },
            },
          },
        },
      ],
    },
  };
}

export const HELM_CRDS: KubeObject[] = [
  crd('helm.cattle.io', 'HelmChart', 'helmcharts', [
    { name: 'Job', jsonPath: '.status.jobName' },
    { name: 'Chart', jsonPath: '.spec.chart' },
    { name: 'TargetNamespace', jsonPath: '.spec.targetNamespace' },
    { name: 'Version', jsonPath: '.spec.version' },
    { name: 'Repo', jsonPath: '.spec.repo' },
    { name: 'Revision', jsonPath: '.status.releaseRevision' },
  ]),
  crd('helm.cattle.io', 'HelmChartConfig', 'helmchartconfigs', []),
  crd('k3s.cattle.io', 'Addon', 'addons', [
    { name: 'Source', jsonPath: '.spec.source' },
    { name: 'Checksum', jsonPath: '.spec.checksum' },
  ]),
] as unknown as KubeObject[];
