// The upstream API sources the generators in this folder read (gen-protobuf-table.ts,
// gen-nil-table.ts): which packages of which checkout, and how their protobuf packages are
// named in the generated tables. Roots, in argument order: kubernetes/api,
// kubernetes/apimachinery, kubernetes/apiextensions-apiserver, kubernetes/kube-aggregator,
// kubernetes/metrics.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Root = 0 | 1 | 2 | 3 | 4;

export const ROOT_NAMES = ['API_DIR', 'APIMACHINERY_DIR', 'APIEXTENSIONS_DIR', 'AGGREGATOR_DIR', 'METRICS_DIR'];

/** Stable API packages served by this project, and the API group each belongs to. */
export const SOURCES: { root: Root; dir: string; group?: string; version?: string }[] = [
  { root: 1, dir: 'pkg/runtime' },
  { root: 1, dir: 'pkg/util/intstr' },
  { root: 1, dir: 'pkg/api/resource' },
  { root: 1, dir: 'pkg/apis/meta/v1', group: 'meta.k8s.io', version: 'v1' },
  { root: 2, dir: 'pkg/apis/apiextensions/v1', group: 'apiextensions.k8s.io', version: 'v1' },
  { root: 3, dir: 'pkg/apis/apiregistration/v1', group: 'apiregistration.k8s.io', version: 'v1' },
  { root: 4, dir: 'pkg/apis/metrics/v1beta1', group: 'metrics.k8s.io', version: 'v1beta1' },
];
const API_PACKAGES: [string, string][] = [
  ['core/v1', ''],
  ['apps/v1', 'apps'],
  ['batch/v1', 'batch'],
  ['autoscaling/v1', 'autoscaling'],
  ['autoscaling/v2', 'autoscaling'],
  ['networking/v1', 'networking.k8s.io'],
  ['discovery/v1', 'discovery.k8s.io'],
  ['certificates/v1', 'certificates.k8s.io'],
  ['coordination/v1', 'coordination.k8s.io'],
  ['events/v1', 'events.k8s.io'],
  ['policy/v1', 'policy'],
  ['rbac/v1', 'rbac.authorization.k8s.io'],
  ['storage/v1', 'storage.k8s.io'],
  ['scheduling/v1', 'scheduling.k8s.io'],
  ['node/v1', 'node.k8s.io'],
  ['admissionregistration/v1', 'admissionregistration.k8s.io'],
  ['authentication/v1', 'authentication.k8s.io'],
  ['authorization/v1', 'authorization.k8s.io'],
  ['flowcontrol/v1', 'flowcontrol.apiserver.k8s.io'],
];
for (const [dir, group] of API_PACKAGES) SOURCES.push({ root: 0, dir, group, version: dir.split('/')[1] });

/** Short message names: "k8s.io.api.core.v1.Pod" -> "core.v1.Pod". */
export function shortName(full: string): string {
  return full
    .replace(/^\.?k8s\.io\.api\./, '')
    .replace(/^\.?k8s\.io\.apimachinery\.pkg\.apis\./, '')
    .replace(/^\.?k8s\.io\.apimachinery\.pkg\.(util\.|api\.)?/, '')
    .replace(/^\.?k8s\.io\.apiextensions_apiserver\.pkg\.apis\./, '')
    .replace(/^\.?k8s\.io\.kube_aggregator\.pkg\.apis\./, '')
    .replace(/^\.?k8s\.io\.metrics\.pkg\.apis\./, '');
}

/** The protobuf package a generated.proto declares. */
export function packageOf(dir: string): string {
  return /^package ([\w.]+);/m.exec(readFileSync(join(dir, 'generated.proto'), 'utf8'))![1];
}

/** The Go source files of a package that declare its API types. */
export function isTypeSource(file: string): boolean {
  return file.endsWith('.go') && !file.endsWith('_test.go') && !file.startsWith('zz_') && !file.includes('.pb.');
}
