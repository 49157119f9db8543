// apiregistration.k8s.io/v1 APIService (`kubectl get apiservices`). Stored objects, as in
// kube-aggregator: the API server registers one Local APIService (no spec.service) per group
// version it serves itself and one per served CRD version (apiserver/aggregator/autoregister.ts);
// an APIService with spec.service registers a remote extension API server whose group version
// the API server proxies (apiserver/aggregator/). status.conditions[Available] is kept by the
// availability controller.
import type { APIService } from './types.js';
import type { ResourceDef, TableColumn } from '../../types.js';
import { type FieldError, invalid, path, required } from '../../../machinery/fielderrors.js';
import { isDNS1035Label, isDNS1123Subdomain, isValidPortNum } from '../../../machinery/validation.js';
import { clearStatus } from '../../apps/v1/workload.js';
import { ageColumn, nameColumn } from '../../printing.js';

export type { APIService, APIServiceCondition, ServiceReference } from './types.js';

export const GROUP = 'apiregistration.k8s.io';

/**
 * kube-apiserver's group and version priorities (apiVersionPriorities): the order of groups in
 * discovery. metrics.k8s.io is normally metrics-server's remote APIService, registered at 100.
 */
const PRIORITIES: Record<string, [group: number, version: number]> = {
  v1: [18000, 1],
  'apiregistration.k8s.io/v1': [18000, 15],
  'apps/v1': [17800, 15],
  'events.k8s.io/v1': [17750, 15],
  'authentication.k8s.io/v1': [17700, 15],
  'authorization.k8s.io/v1': [17600, 15],
  'autoscaling/v2': [17500, 30],
  'autoscaling/v1': [17500, 15],
  'batch/v1': [17400, 15],
  'certificates.k8s.io/v1': [17300, 15],
  'networking.k8s.io/v1': [17200, 15],
  'policy/v1': [17100, 15],
  'rbac.authorization.k8s.io/v1': [17000, 15],
  'storage.k8s.io/v1': [16800, 15],
  'apiextensions.k8s.io/v1': [16700, 15],
  'admissionregistration.k8s.io/v1': [16700, 15],
  'admissionregistration.k8s.io/v1beta1': [16700, 12],
  'admissionregistration.k8s.io/v1alpha1': [16700, 9],
  'scheduling.k8s.io/v1': [16600, 15],
  'coordination.k8s.io/v1': [16500, 15],
  'node.k8s.io/v1': [16300, 15],
  'discovery.k8s.io/v1': [16200, 15],
  'flowcontrol.apiserver.k8s.io/v1': [16100, 21],
  'metrics.k8s.io/v1beta1': [100, 100],
};

/** crdregistration's priorities: CRD groups sort after the built-in ones. */
const CRD_PRIORITY: [number, number] = [1000, 100];

/** The priorities the API server gives a group version it serves itself. */
export function localPriorities(group: string, version: string): [group: number, version: number] {
  return PRIORITIES[group ? `${group}/${version}` : version] ?? CRD_PRIORITY;
}

/** An APIService's name: `<version>.<group>` ("v1." for the core group). */
export const apiServiceName = (group: string, version: string) => `${version}.${group}`;

export const AUTOMANAGED_LABEL = 'kube-aggregator.kubernetes.io/automanaged';

/** The Local APIService the API server registers for a group version it serves. */
export function localAPIService(group: string, version: string, automanaged: 'onstart' | 'true'): APIService {
  const [groupPriorityMinimum, versionPriority] = localPriorities(group, version);
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'APIService',
    metadata: { name: apiServiceName(group, version), labels: { [AUTOMANAGED_LABEL]: automanaged } },
    spec: { ...(group ? { group } : {}), version, groupPriorityMinimum, versionPriority },
  };
}

export function availableCondition(o: APIService) {
  return (o.status?.conditions ?? []).find((c) => c.type === 'Available');
}

function available(o: APIService): string {
  // printAPIService: the Available condition's status, with its reason unless True.
  const c = availableCondition(o);
  if (!c) return 'Unknown';
  return c.status !== 'True' && c.reason ? `${c.status} (${c.reason})` : c.status;
}

const columns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Service',
    type: 'string',
    cell: (o: APIService) => (o.spec?.service ? `${o.spec.service.namespace}/${o.spec.service.name}` : 'Local'),
    description: 'The reference to the service that hosts this API endpoint.',
  },
  { name: 'Available', type: 'string', cell: available, description: 'Whether this service is available.' },
  ageColumn(),
];

/** SetDefaults_ServiceReference: port 443. */
function defaults(o: APIService): void {
  if (o.spec?.service && o.spec.service.port === undefined) o.spec.service.port = 443;
}

/** Upstream ValidateAPIService. */
export function validateAPIService(o: APIService): FieldError[] {
  const errs: FieldError[] = [];
  const spec = o.spec ?? ({} as NonNullable<APIService['spec']>);
  const group = spec.group ?? '';
  const version = spec.version ?? '';
  const requiredName = apiServiceName(group, version);
  const name = o.metadata?.name ?? '';
  if (name && name !== requiredName)
    errs.push(invalid(path('metadata', 'name'), name, `must be \`spec.version+"."+spec.group\`: "${requiredName}"`));
  if (!group && version !== 'v1')
    errs.push(required(path('spec', 'group'), 'only v1 may have an empty group and it better be legacy kube'));
  if (group) for (const e of isDNS1123Subdomain(group)) errs.push(invalid(path('spec', 'group'), group, e));
  for (const e of isDNS1035Label(version)) errs.push(invalid(path('spec', 'version'), version, e));
  const gp = spec.groupPriorityMinimum ?? 0;
  if (gp <= 0 || gp > 20000)
    errs.push(invalid(path('spec', 'groupPriorityMinimum'), gp, 'must be positive and less than 20000'));
  const vp = spec.versionPriority ?? 0;
  if (vp <= 0 || vp > 1000)
    errs.push(invalid(path('spec', 'versionPriority'), vp, 'must be positive and less than 1000'));
  const caBundle = spec.caBundle ? Buffer.from(spec.caBundle, 'base64') : undefined;
  if (!spec.service) {
    if (caBundle?.length)
      errs.push(
        invalid(path('spec', 'caBundle'), `${caBundle.length} bytes`, 'local APIServices may not have a caBundle'),
      );
    if (spec.insecureSkipTLSVerify)
      errs.push(
        invalid(path('spec', 'insecureSkipTLSVerify'), true, 'local APIServices may not have insecureSkipTLSVerify'),
      );
    return errs;
  }
  if (!spec.service.namespace) errs.push(required(path('spec', 'service', 'namespace')));
  if (!spec.service.name) errs.push(required(path('spec', 'service', 'name')));
  const port = spec.service.port ?? 443;
  const portErrs = isValidPortNum(port);
  if (portErrs.length)
    errs.push(invalid(path('spec', 'service', 'port'), port, `port is not valid: ${portErrs.join(', ')}`));
  if (spec.insecureSkipTLSVerify && caBundle?.length)
    errs.push(invalid(path('spec', 'insecureSkipTLSVerify'), true, 'may not be true if caBundle is present'));
  return errs;
}

export const apiServices: ResourceDef = {
  group: GROUP,
  versions: [{ name: 'v1' }],
  kind: 'APIService',
  plural: 'apiservices',
  singular: 'apiservice',
  namespaced: false,
  nameRule: 'path-segment',
  categories: ['api-extensions'],
  subresources: { status: true },
  table: columns,
  defaults,
  validate: (o: APIService, ctx) => (ctx.subresource === 'status' ? [] : validateAPIService(o)),
  prepareForCreate: clearStatus,
};

export const resources: ResourceDef[] = [apiServices];
