/**
 * REST paths and operations of served resources, described once in a version-neutral form that
 * documents.ts renders as Swagger 2.0 or OpenAPI 3.0.
 *
 * Clients read these: `kubectl explain` finds a resource's GVK through the
 * x-kubernetes-group-version-kind of the operations on its paths, and kubectl's field
 * validation check looks for a `fieldValidation` query parameter on the PATCH operation of the
 * resource's GVK, so every write operation declares dryRun / fieldManager / fieldValidation.
 */
import type { GroupVersionKind } from './definitions.js';

/** A served resource, as the API server's registry knows it. */
export interface OpenAPIResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  verbs: string[];
  subresources: string[];
  /** Definition name of the kind; CRDs pass their own schema via extraDefinitions. */
  definition?: string;
  /**
   * Whether PATCH takes strategic merge patches: only kinds with Go types upstream (custom
   * resources do not), and kubectl apply sends one wherever the document offers it.
   */
  strategicMerge: boolean;
}

export type ParamType = 'string' | 'boolean' | 'integer';

export interface Param {
  name: string;
  in: 'path' | 'query';
  description: string;
  type: ParamType;
  required?: boolean;
}

export type Action = 'get' | 'list' | 'watch' | 'put' | 'post' | 'patch' | 'delete' | 'deletecollection' | 'connect';

export interface Operation {
  method: 'get' | 'put' | 'post' | 'patch' | 'delete' | 'head' | 'options';
  operationId: string;
  description: string;
  action: Action;
  gvk?: GroupVersionKind;
  params: Param[];
  /** Definition name of the request body, if any. */
  body?: string;
  /** Content types of the request body (default: any). */
  consumes?: readonly string[];
  /** Definition name of the 200/201 response; undefined means a plain string. */
  response?: string;
  /** Creating operations also answer 201 (and 202 for deletes). */
  created?: boolean;
  accepted?: boolean;
}

export interface PathItem {
  path: string;
  params: Param[];
  operations: Operation[];
}

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
export const PATCH_DEFINITION = `${META}.Patch`;
export const STATUS_DEFINITION = `${META}.Status`;
export const DELETE_OPTIONS_DEFINITION = `${META}.DeleteOptions`;
export const WATCH_EVENT_DEFINITION = `${META}.WatchEvent`;
export const API_RESOURCE_LIST_DEFINITION = `${META}.APIResourceList`;

/** Content types accepted by PATCH operations (custom resources: all but strategic merge). */
export const PATCH_CONTENT_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
] as const;
const CUSTOM_PATCH_CONTENT_TYPES = PATCH_CONTENT_TYPES.filter((t) => !t.includes('strategic'));

const q = (name: string, type: ParamType, description: string): Param => ({ name, in: 'query', type, description });

const PRETTY = q('pretty', 'string', "If 'true', the output is pretty printed.");
const NAMESPACE: Param = {
  name: 'namespace',
  in: 'path',
  type: 'string',
  required: true,
  description: 'object name and auth scope, such as for teams and projects',
};
const DRY_RUN = q(
  'dryRun',
  'string',
  'When present, the request is validated and processed but not persisted. The only valid value is All.',
);
const FIELD_MANAGER = q(
  'fieldManager',
  'string',
  'Name of the actor making the change, used to track field ownership. Required for apply patches.',
);
const FIELD_VALIDATION = q(
  'fieldValidation',
  'string',
  'How to treat unknown or duplicate fields in the request body: Ignore (drop them silently), Warn (drop them and return a warning header for each), or Strict (reject the request).',
);
const FORCE = q(
  'force',
  'boolean',
  'Force an apply request to take ownership of fields owned by other managers. Must be unset for other patch types.',
);

const LIST_PARAMS: Param[] = [
  q('allowWatchBookmarks', 'boolean', 'Request watch events of type BOOKMARK; ignored when not watching.'),
  q('continue', 'string', 'Continue token from a previous paginated list response.'),
  q('fieldSelector', 'string', 'Restrict the returned objects by their fields.'),
  q('labelSelector', 'string', 'Restrict the returned objects by their labels.'),
  q('limit', 'integer', 'Maximum number of items to return; a continue token is returned when more exist.'),
  q('resourceVersion', 'string', 'Constrains which resource versions the request may be served from.'),
  q('resourceVersionMatch', 'string', 'How resourceVersion applies to list calls: Exact or NotOlderThan.'),
  q(
    'sendInitialEvents',
    'boolean',
    'With watch=true, start the watch with synthetic ADDED events for the current state.',
  ),
  q('timeoutSeconds', 'integer', 'Timeout for the list or watch call, regardless of activity.'),
  q('watch', 'boolean', 'Watch for changes to the described resources and return them as a stream of events.'),
];

const DELETE_PARAMS: Param[] = [
  DRY_RUN,
  q('gracePeriodSeconds', 'integer', 'Seconds before the object is deleted; zero means immediately.'),
  q('orphanDependents', 'boolean', 'Deprecated: use propagationPolicy. Whether dependents are orphaned.'),
  q('propagationPolicy', 'string', 'Garbage collection policy for dependents: Orphan, Background or Foreground.'),
];

/** Operation-id prefix of a group version: "" v1 -> CoreV1, rbac.authorization.k8s.io -> RbacAuthorizationV1. */
export function groupVersionId(group: string, version: string): string {
  const base = group === '' ? 'core' : group.replace(/\.k8s\.io$/, '');
  const parts = base.split(/[.-]/).filter((p) => p !== '');
  return parts.map(capitalize).join('') + capitalize(version);
}

/** Tag of a group version: core_v1, apps_v1, rbacAuthorization_v1. */
export function groupVersionTag(group: string, version: string): string {
  const base = group === '' ? 'core' : group.replace(/\.k8s\.io$/, '');
  const parts = base.split(/[.-]/).filter((p) => p !== '');
  return parts.map((p, i) => (i === 0 ? p : capitalize(p))).join('') + '_' + version;
}

function capitalize(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}

/** "/api/v1" or "/apis/<group>/<version>". */
export function groupVersionRoot(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** Key of a group version in the /openapi/v3 index: "api/v1" or "apis/<group>/<version>". */
export function groupVersionPath(group: string, version: string): string {
  return groupVersionRoot(group, version).slice(1);
}

interface SubresourceShape {
  /** Kind served by the subresource; undefined = the parent's kind. */
  gvk?: GroupVersionKind;
  definition?: string;
  /** Operations offered: read/replace/patch like status, create only, or streaming connect. */
  style: 'object' | 'create' | 'log' | 'connect';
}

/** How the well-known subresources behave; unknown ones are treated like status. */
const SUBRESOURCES: Readonly<Record<string, SubresourceShape>> = {
  status: { style: 'object' },
  ephemeralcontainers: { style: 'object' },
  resize: { style: 'object' },
  approval: { style: 'object' },
  scale: {
    style: 'object',
    gvk: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
    definition: 'io.k8s.api.autoscaling.v1.Scale',
  },
  binding: {
    style: 'create',
    gvk: { group: '', version: 'v1', kind: 'Binding' },
    definition: 'io.k8s.api.core.v1.Binding',
  },
  eviction: {
    style: 'create',
    gvk: { group: 'policy', version: 'v1', kind: 'Eviction' },
    definition: 'io.k8s.api.policy.v1.Eviction',
  },
  token: {
    style: 'create',
    gvk: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' },
    definition: 'io.k8s.api.authentication.v1.TokenRequest',
  },
  log: { style: 'log' },
  exec: { style: 'connect' },
  attach: { style: 'connect' },
  portforward: { style: 'connect' },
  proxy: { style: 'connect' },
};

/** All path items of one resource. */
export function resourcePaths(r: OpenAPIResource): PathItem[] {
  const root = groupVersionRoot(r.group, r.version);
  const gvId = groupVersionId(r.group, r.version);
  const scope = r.namespaced ? 'Namespaced' : '';
  const kindGVK: GroupVersionKind = { group: r.group, version: r.version, kind: r.kind };
  const verbs = new Set(r.verbs);
  const collection = r.namespaced ? `${root}/namespaces/{namespace}/${r.plural}` : `${root}/${r.plural}`;
  const scopeParams = r.namespaced ? [NAMESPACE] : [];
  const listDefinition = r.definition ? `${r.definition}List` : undefined;
  const nameParam: Param = {
    name: 'name',
    in: 'path',
    type: 'string',
    required: true,
    description: `name of the ${r.kind}`,
  };
  const items: PathItem[] = [];

  const collectionOps: Operation[] = [];
  if (verbs.has('list')) {
    collectionOps.push({
      method: 'get',
      operationId: `list${gvId}${scope}${r.kind}`,
      description: `list or watch objects of kind ${r.kind}`,
      action: 'list',
      gvk: kindGVK,
      params: LIST_PARAMS,
      response: listDefinition,
    });
  }
  if (verbs.has('create')) {
    collectionOps.push({
      method: 'post',
      operationId: `create${gvId}${scope}${r.kind}`,
      description: `create a ${r.kind}`,
      action: 'post',
      gvk: kindGVK,
      params: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
      body: r.definition,
      response: r.definition,
      created: true,
      accepted: true,
    });
  }
  if (verbs.has('deletecollection')) {
    collectionOps.push({
      method: 'delete',
      operationId: `deletecollection${gvId}${scope}${r.kind}`,
      description: `delete collection of ${r.kind}`,
      action: 'deletecollection',
      gvk: kindGVK,
      params: [...DELETE_PARAMS, ...LIST_PARAMS.filter((p) => p.name !== 'watch' && p.name !== 'allowWatchBookmarks')],
      body: DELETE_OPTIONS_DEFINITION,
      response: STATUS_DEFINITION,
    });
  }
  if (collectionOps.length > 0)
    items.push({ path: collection, params: [...scopeParams, PRETTY], operations: collectionOps });

  if (r.namespaced && verbs.has('list')) {
    items.push({
      path: `${root}/${r.plural}`,
      params: [PRETTY],
      operations: [
        {
          method: 'get',
          operationId: `list${gvId}${r.kind}ForAllNamespaces`,
          description: `list or watch objects of kind ${r.kind}`,
          action: 'list',
          gvk: kindGVK,
          params: LIST_PARAMS,
          response: listDefinition,
        },
      ],
    });
  }

  const itemOps = objectOperations(r, gvId, scope, '', kindGVK, r.definition, verbs);
  if (verbs.has('delete')) {
    itemOps.push({
      method: 'delete',
      operationId: `delete${gvId}${scope}${r.kind}`,
      description: `delete a ${r.kind}`,
      action: 'delete',
      gvk: kindGVK,
      params: DELETE_PARAMS,
      body: DELETE_OPTIONS_DEFINITION,
      response: r.definition ?? STATUS_DEFINITION,
      accepted: true,
    });
  }
  const itemPath = `${collection}/{name}`;
  if (itemOps.length > 0)
    items.push({ path: itemPath, params: [nameParam, ...scopeParams, PRETTY], operations: itemOps });

  for (const sub of r.subresources) {
    const shape = SUBRESOURCES[sub] ?? { style: 'object' };
    const gvk = shape.gvk ?? kindGVK;
    const definition = shape.definition ?? r.definition;
    const suffix = capitalize(sub);
    let ops: Operation[];
    switch (shape.style) {
      case 'object':
        ops = objectOperations(r, gvId, scope, suffix, gvk, definition, new Set(['get', 'update', 'patch']));
        break;
      case 'create':
        ops = [
          {
            method: 'post',
            operationId: `create${gvId}${scope}${r.kind}${suffix}`,
            description: `create ${sub} of a ${r.kind}`,
            action: 'post',
            gvk,
            params: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
            body: definition,
            response: definition,
            created: true,
            accepted: true,
          },
        ];
        break;
      case 'log':
        ops = [
          {
            method: 'get',
            operationId: `read${gvId}${scope}${r.kind}Log`,
            description: `read log of the specified ${r.kind}`,
            action: 'get',
            gvk,
            params: [
              q('container', 'string', 'The container for which to stream logs.'),
              q('follow', 'boolean', 'Follow the log stream.'),
              q('limitBytes', 'integer', 'Maximum number of bytes to return.'),
              q('previous', 'boolean', 'Return logs of the previous, terminated container.'),
              q('sinceSeconds', 'integer', 'Only logs newer than this many seconds.'),
              q('tailLines', 'integer', 'Number of lines from the end of the log to show.'),
              q('timestamps', 'boolean', 'Prefix every line with an RFC3339 timestamp.'),
            ],
          },
        ];
        break;
      case 'connect':
        ops = (['get', 'post'] as const).map((method) => ({
          method,
          operationId: `connect${capitalize(method)}${gvId}${scope}${r.kind}${suffix}`,
          description: `connect ${method.toUpperCase()} requests to ${sub} of ${r.kind}`,
          action: 'connect' as const,
          gvk: {
            group: r.group,
            version: r.version,
            kind: `${r.kind}${capitalize(sub === 'portforward' ? 'PortForward' : sub)}Options`,
          },
          params: [],
        }));
        break;
    }
    items.push({ path: `${itemPath}/${sub}`, params: [nameParam, ...scopeParams, PRETTY], operations: ops });
  }
  return items;
}

/** get / put / patch on an object or an object-like subresource (status, scale). */
function objectOperations(
  r: OpenAPIResource,
  gvId: string,
  scope: string,
  suffix: string,
  gvk: GroupVersionKind,
  definition: string | undefined,
  verbs: Set<string>,
): Operation[] {
  const what = suffix ? `${suffix.toLowerCase()} of the specified ${r.kind}` : `the specified ${r.kind}`;
  const ops: Operation[] = [];
  if (verbs.has('get')) {
    ops.push({
      method: 'get',
      operationId: `read${gvId}${scope}${r.kind}${suffix}`,
      description: `read ${what}`,
      action: 'get',
      gvk,
      params: [],
      response: definition,
    });
  }
  if (verbs.has('update')) {
    ops.push({
      method: 'put',
      operationId: `replace${gvId}${scope}${r.kind}${suffix}`,
      description: `replace ${what}`,
      action: 'put',
      gvk,
      params: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
      body: definition,
      response: definition,
      created: true,
    });
  }
  if (verbs.has('patch')) {
    ops.push({
      method: 'patch',
      operationId: `patch${gvId}${scope}${r.kind}${suffix}`,
      description: `partially update ${what}`,
      action: 'patch',
      gvk,
      params: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE],
      body: PATCH_DEFINITION,
      consumes: r.strategicMerge ? PATCH_CONTENT_TYPES : CUSTOM_PATCH_CONTENT_TYPES,
      response: definition,
      created: true,
    });
  }
  return ops;
}

/** The discovery path of a group version (GET /api/v1/, /apis/apps/v1/). */
export function discoveryPath(group: string, version: string): PathItem {
  return {
    path: `${groupVersionRoot(group, version)}/`,
    params: [],
    operations: [
      {
        method: 'get',
        operationId: `get${groupVersionId(group, version)}APIResources`,
        description: 'get available resources',
        action: 'get',
        params: [],
        response: API_RESOURCE_LIST_DEFINITION,
      },
    ],
  };
}
