// .Capabilities for client-only rendering: Helm's fallback Kubernetes version (v1.20.0) and the
// API group/versions client-go's scheme knows, plus --api-versions.
import { parseSemver } from './semver.js';
import { GoStruct } from './template/values.js';

export interface KubeVersion {
  version: string;
  major: string;
  minor: string;
}

export const DEFAULT_KUBE_VERSION: KubeVersion = { version: 'v1.20.0', major: '1', minor: '20' };

/** chartutil.ParseKubeVersion: "1.16" / "v1.16.0" → v1.16.0. */
export function parseKubeVersion(v: string): KubeVersion {
  const sv = parseSemver(v.startsWith('v') ? v : 'v' + v);
  const pre = sv.prerelease ? '-' + sv.prerelease : '';
  const meta = sv.metadata ? '+' + sv.metadata : '';
  return {
    version: `v${sv.major}.${sv.minor}.${sv.patch}${pre}${meta}`,
    major: String(sv.major),
    minor: String(sv.minor),
  };
}

const DEFAULT_API_VERSIONS = [
  'v1',
  'admissionregistration.k8s.io/v1',
  'admissionregistration.k8s.io/v1alpha1',
  'admissionregistration.k8s.io/v1beta1',
  'apiextensions.k8s.io/v1',
  'apiextensions.k8s.io/v1beta1',
  'apps/v1',
  'apps/v1beta1',
  'apps/v1beta2',
  'authentication.k8s.io/v1',
  'authentication.k8s.io/v1alpha1',
  'authentication.k8s.io/v1beta1',
  'authorization.k8s.io/v1',
  'authorization.k8s.io/v1beta1',
  'autoscaling/v1',
  'autoscaling/v2',
  'autoscaling/v2beta1',
  'autoscaling/v2beta2',
  'batch/v1',
  'batch/v1beta1',
  'certificates.k8s.io/v1',
  'certificates.k8s.io/v1alpha1',
  'certificates.k8s.io/v1beta1',
  'coordination.k8s.io/v1',
  'coordination.k8s.io/v1alpha2',
  'coordination.k8s.io/v1beta1',
  'discovery.k8s.io/v1',
  'discovery.k8s.io/v1beta1',
  'events.k8s.io/v1',
  'events.k8s.io/v1beta1',
  'extensions/v1beta1',
  'flowcontrol.apiserver.k8s.io/v1',
  'flowcontrol.apiserver.k8s.io/v1beta1',
  'flowcontrol.apiserver.k8s.io/v1beta2',
  'flowcontrol.apiserver.k8s.io/v1beta3',
  'internal.apiserver.k8s.io/v1alpha1',
  'networking.k8s.io/v1',
  'networking.k8s.io/v1beta1',
  'node.k8s.io/v1',
  'node.k8s.io/v1alpha1',
  'node.k8s.io/v1beta1',
  'policy/v1',
  'policy/v1beta1',
  'rbac.authorization.k8s.io/v1',
  'rbac.authorization.k8s.io/v1alpha1',
  'rbac.authorization.k8s.io/v1beta1',
  'resource.k8s.io/v1',
  'resource.k8s.io/v1alpha3',
  'resource.k8s.io/v1beta1',
  'resource.k8s.io/v1beta2',
  'scheduling.k8s.io/v1',
  'scheduling.k8s.io/v1alpha1',
  'scheduling.k8s.io/v1beta1',
  'storage.k8s.io/v1',
  'storage.k8s.io/v1alpha1',
  'storage.k8s.io/v1beta1',
  'storagemigration.k8s.io/v1alpha1',
];

export function capabilitiesObject(kube: KubeVersion, extraApiVersions: string[]): GoStruct {
  const versions = [...DEFAULT_API_VERSIONS, ...extraApiVersions];
  const apiVersions = new GoStruct(
    'chartutil.VersionSet',
    {},
    { Has: (v: unknown) => versions.includes(String(v)) },
    () => '[' + versions.join(' ') + ']',
    () => versions,
  );
  const kubeVersion = new GoStruct(
    'chartutil.KubeVersion',
    { Version: kube.version, Major: kube.major, Minor: kube.minor },
    { String: () => kube.version, GitVersion: () => kube.version },
    () => kube.version,
    () => ({ Version: kube.version, Major: kube.major, Minor: kube.minor }),
  );
  const helmVersion = new GoStruct('helmversion.BuildInfo', {
    Version: 'v3.21',
    GitCommit: '',
    GitTreeState: '',
    GoVersion: '',
  });
  return new GoStruct('chartutil.Capabilities', {
    APIVersions: apiVersions,
    KubeVersion: kubeVersion,
    HelmVersion: helmVersion,
  });
}

export function kubeVersionString(c: GoStruct): string {
  return ((c.fields.KubeVersion as GoStruct).fields.Version as string) ?? '';
}
