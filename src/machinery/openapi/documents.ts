/**
 * The OpenAPI documents the API server serves:
 *   /openapi/v2                 Swagger 2.0, every served resource (buildV2)
 *   /openapi/v3                 index of group versions with content-hashed URLs (buildV3Index)
 *   /openapi/v3/apis/<g>/<v>    OpenAPI 3.0 for one group version (buildV3GroupVersion)
 *
 * Definitions come from the build-time definitions.json plus `extraDefinitions` (CRD schemas,
 * keyed by definition name, in v2 form with `#/definitions/` refs). Each document carries only
 * the definitions reachable from its paths. The documents are large (megabytes), so
 * OpenAPIDocumentCache builds each one on first request and keeps the serialised bytes and an
 * ETag; the v3 index hashes the inputs of each group version instead of building them.
 */
import { createHash } from 'node:crypto';
import { loadDefinitions, refName, type Definitions, type Schema } from './definitions.js';
import { setOwn } from '../objects.js';
import {
  discoveryPath,
  groupVersionPath,
  groupVersionTag,
  resourcePaths,
  type OpenAPIResource,
  type Operation,
  type Param,
  type PathItem,
} from './paths.js';
import { compareStrings } from '../order.js';

export type { OpenAPIResource } from './paths.js';

export interface DocumentInfo {
  title?: string;
  /** Server version shown in info.version, e.g. v1.30.0. */
  version?: string;
}

type Json = Record<string, unknown>;

const V2_PREFIX = '#/definitions/';
const V3_PREFIX = '#/components/schemas/';
const RESPONSE_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
/** Always published: clients look these up even when no path references them. */
const ALWAYS = [
  'io.k8s.apimachinery.pkg.apis.meta.v1.Status',
  'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
  'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent',
];

function gvKey(group: string, version: string): string {
  return `${group}/${version}`;
}

function lookup(name: string, builtin: Definitions, extra: Definitions | undefined): Schema | undefined {
  return extra?.[name] ?? builtin[name];
}

/** Names of all definitions reachable from `roots` through $ref. */
function reachableDefinitions(roots: Iterable<string>, extra: Definitions | undefined): string[] {
  const builtin = loadDefinitions();
  const seen = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (seen.has(name)) continue;
    const def = lookup(name, builtin, extra);
    if (!def) continue;
    seen.add(name);
    collectRefs(def, pending);
  }
  return [...seen].sort();
}

function collectRefs(value: unknown, out: string[]): void {
  if (Array.isArray(value)) {
    for (const v of value) collectRefs(v, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(refName(v));
      else collectRefs(v, out);
    }
  }
}

function operationDefinitions(items: PathItem[]): string[] {
  const names: string[] = [];
  for (const item of items) {
    for (const op of item.operations) {
      if (op.body) names.push(op.body);
      if (op.response) names.push(op.response);
    }
  }
  return names;
}

function resourceRoots(resources: readonly OpenAPIResource[]): string[] {
  const roots = [...ALWAYS];
  for (const r of resources) {
    if (r.definition) roots.push(r.definition, `${r.definition}List`);
  }
  return roots;
}

function pathsOf(resources: readonly OpenAPIResource[]): PathItem[] {
  const items: PathItem[] = [];
  const groupVersions = new Map<string, { group: string; version: string }>();
  for (const r of resources) groupVersions.set(gvKey(r.group, r.version), { group: r.group, version: r.version });
  for (const { group, version } of groupVersions.values()) items.push(discoveryPath(group, version));
  for (const r of resources) items.push(...resourcePaths(r));
  // A path may be contributed twice (e.g. a subresource listed twice); the first wins.
  const unique = new Map<string, PathItem>();
  for (const item of items) if (!unique.has(item.path)) unique.set(item.path, item);
  return [...unique.values()].sort((a, b) => compareStrings(a.path, b.path));
}

function tagOf(op: Operation, path: string): string {
  const m = /^\/apis?\/(?:([^/]+)\/)?(v[^/]*)/.exec(path);
  if (op.gvk) return groupVersionTag(op.gvk.group, op.gvk.version);
  return m ? groupVersionTag(path.startsWith('/api/') ? '' : (m[1] ?? ''), m[2]) : 'core';
}

function gvkExtension(op: Operation): Json {
  return op.gvk
    ? { 'x-kubernetes-group-version-kind': { group: op.gvk.group, kind: op.gvk.kind, version: op.gvk.version } }
    : {};
}

// ---------------------------------------------------------------------------------- Swagger 2.0

function v2Param(p: Param): Json {
  const out: Json = { uniqueItems: true, type: p.type, description: p.description, name: p.name, in: p.in };
  if (p.required) out.required = true;
  return out;
}

function v2Ref(definition: string | undefined): Json {
  return definition ? { $ref: V2_PREFIX + definition } : { type: 'string' };
}

function v2Operation(op: Operation, path: string): Json {
  const params = op.params.map(v2Param);
  if (op.body) params.unshift({ name: 'body', in: 'body', required: true, schema: v2Ref(op.body) });
  const responses: Json = { '200': { description: 'OK', schema: v2Ref(op.response) } };
  if (op.created) responses['201'] = { description: 'Created', schema: v2Ref(op.response) };
  if (op.accepted) responses['202'] = { description: 'Accepted', schema: v2Ref(op.response) };
  responses['401'] = { description: 'Unauthorized' };
  const out: Json = {
    description: op.description,
    consumes: [...(op.consumes ?? ['*/*'])],
    produces: op.response ? RESPONSE_TYPES : ['text/plain', 'application/json', 'application/yaml'],
    schemes: ['https'],
    tags: [tagOf(op, path)],
    operationId: op.operationId,
    responses,
    'x-kubernetes-action': op.action,
    ...gvkExtension(op),
  };
  if (params.length > 0) out.parameters = params;
  return out;
}

/** The Swagger 2.0 document served at /openapi/v2. */
export function buildV2(
  resources: readonly OpenAPIResource[],
  extraDefinitions?: Definitions,
  info: DocumentInfo = {},
): Json {
  const items = pathsOf(resources);
  const paths: Json = {};
  for (const item of items) {
    const pathItem: Json = {};
    for (const op of item.operations) pathItem[op.method] = v2Operation(op, item.path);
    if (item.params.length > 0) pathItem.parameters = item.params.map(v2Param);
    paths[item.path] = pathItem;
  }
  const builtin = loadDefinitions();
  const definitions: Json = {};
  const roots = [...resourceRoots(resources), ...operationDefinitions(items)];
  for (const name of reachableDefinitions(roots, extraDefinitions)) {
    definitions[name] = lookup(name, builtin, extraDefinitions);
  }
  return {
    swagger: '2.0',
    info: { title: info.title ?? 'Kubernetes', version: info.version ?? 'unversioned' },
    paths,
    definitions,
    securityDefinitions: {
      BearerToken: { description: 'Bearer Token authentication', type: 'apiKey', name: 'authorization', in: 'header' },
    },
    security: [{ BearerToken: [] }],
  };
}

// ---------------------------------------------------------------------------------- OpenAPI 3.0

function v3Param(p: Param): Json {
  const out: Json = { name: p.name, in: p.in, description: p.description, schema: { type: p.type, uniqueItems: true } };
  if (p.required) out.required = true;
  return out;
}

function v3Content(definition: string | undefined, types: readonly string[]): Json {
  const schema: Json = definition ? { $ref: V3_PREFIX + definition } : { type: 'string' };
  const content: Json = {};
  for (const t of types) content[t] = { schema };
  return content;
}

function v3Operation(op: Operation, path: string): Json {
  const responseTypes = op.response ? RESPONSE_TYPES : ['text/plain'];
  const responses: Json = { '200': { description: 'OK', content: v3Content(op.response, responseTypes) } };
  if (op.created) responses['201'] = { description: 'Created', content: v3Content(op.response, responseTypes) };
  if (op.accepted) responses['202'] = { description: 'Accepted', content: v3Content(op.response, responseTypes) };
  responses['401'] = { description: 'Unauthorized' };
  const out: Json = { tags: [tagOf(op, path)], description: op.description, operationId: op.operationId };
  if (op.params.length > 0) out.parameters = op.params.map(v3Param);
  if (op.body) {
    out.requestBody = {
      content: v3Content(op.body, op.consumes ?? ['*/*']),
      required: true,
    };
  }
  out.responses = responses;
  out['x-kubernetes-action'] = op.action;
  Object.assign(out, gvkExtension(op));
  return out;
}

/**
 * Converts a v2 schema to v3: refs move to #/components/schemas/, and a $ref with siblings
 * (a described property) becomes `allOf: [{$ref}]`, since v3 ignores siblings of $ref. Clients
 * (kubectl explain, PatchMetaFromOpenAPIV3) read both shapes.
 */
function toV3Schema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toV3Schema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Json = {};
  let ref: string | undefined;
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref' && typeof v === 'string') ref = V3_PREFIX + refName(v);
    else if (k === 'properties' || k === 'definitions' || k === 'patternProperties') {
      // Maps of schemas: keys are names, not keywords.
      const m: Json = {};
      for (const [name, sub] of Object.entries(v as Json)) setOwn(m, name, toV3Schema(sub));
      out[k] = m;
    } else out[k] = toV3Schema(v);
  }
  if (ref === undefined) return out;
  if (Object.keys(out).length === 0) return { $ref: ref };
  return { ...out, allOf: [{ $ref: ref }] };
}

/** v3 publishes the two scalar-or-string types as oneOf, as upstream does. */
function v3Definition(name: string, def: Schema): unknown {
  if (name === INT_OR_STRING) {
    return { description: def.description, format: 'int-or-string', oneOf: [{ type: 'integer' }, { type: 'string' }] };
  }
  if (name === QUANTITY) return { description: def.description, oneOf: [{ type: 'string' }, { type: 'number' }] };
  return toV3Schema(def);
}

/** The OpenAPI 3.0 document of one group version (/openapi/v3/api/v1, /openapi/v3/apis/apps/v1). */
export function buildV3GroupVersion(
  group: string,
  version: string,
  resources: readonly OpenAPIResource[],
  extraDefinitions?: Definitions,
  info: DocumentInfo = {},
): Json {
  const served = resources.filter((r) => r.group === group && r.version === version);
  const items = pathsOf(served);
  if (items.length === 0) items.push(discoveryPath(group, version));
  const paths: Json = {};
  for (const item of items) {
    const pathItem: Json = {};
    for (const op of item.operations) pathItem[op.method] = v3Operation(op, item.path);
    if (item.params.length > 0) pathItem.parameters = item.params.map(v3Param);
    paths[item.path] = pathItem;
  }
  const builtin = loadDefinitions();
  const schemas: Json = {};
  const roots = [...resourceRoots(served), ...operationDefinitions(items)];
  for (const name of reachableDefinitions(roots, extraDefinitions)) {
    schemas[name] = v3Definition(name, lookup(name, builtin, extraDefinitions)!);
  }
  return {
    openapi: '3.0.0',
    info: { title: info.title ?? 'Kubernetes', version: info.version ?? 'unversioned' },
    paths,
    components: {
      schemas,
      securitySchemes: {
        BearerToken: {
          type: 'apiKey',
          description: 'Bearer Token authentication',
          name: 'authorization',
          in: 'header',
        },
      },
    },
    security: [{ BearerToken: [] }],
  };
}

/**
 * Hash of everything a group version's v3 document is built from: its resources, the extra
 * definitions it may reference and the built-in definitions (fixed per build, so their count
 * and name set stand in for them). Equal inputs give equal documents, so the hash can label
 * the document's URL without building it.
 */
export function groupVersionHash(
  group: string,
  version: string,
  resources: readonly OpenAPIResource[],
  extraDefinitions?: Definitions,
): string {
  const served = resources.filter((r) => r.group === group && r.version === version);
  const h = createHash('sha512');
  h.update(JSON.stringify(served));
  const extraNames = Object.keys(extraDefinitions ?? {}).sort();
  for (const name of extraNames) h.update(name).update(JSON.stringify(extraDefinitions![name]));
  h.update(String(Object.keys(loadDefinitions()).length));
  return h.digest('hex').slice(0, 128).toUpperCase();
}

/** The /openapi/v3 index: one entry per served group version. */
export function buildV3Index(resources: readonly OpenAPIResource[], extraDefinitions?: Definitions): Json {
  const groupVersions = new Map<string, { group: string; version: string }>();
  for (const r of resources) groupVersions.set(gvKey(r.group, r.version), { group: r.group, version: r.version });
  const paths: Json = {};
  const keys = [...groupVersions.values()].sort((a, b) =>
    groupVersionPath(a.group, a.version) < groupVersionPath(b.group, b.version) ? -1 : 1,
  );
  for (const { group, version } of keys) {
    const path = groupVersionPath(group, version);
    const hash = groupVersionHash(group, version, resources, extraDefinitions);
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
  }
  return { paths };
}

// ---------------------------------------------------------------------------------- caching

/** A document ready to send: serialised once, with a strong ETag. */
export interface ServedDocument {
  readonly json: string;
  readonly etag: string;
  /** Content hash (hex), also used in the v3 index URLs. */
  readonly hash: string;
}

function serve(doc: unknown, hash?: string): ServedDocument {
  const json = JSON.stringify(doc);
  const digest = hash ?? createHash('sha512').update(json).digest('hex').slice(0, 128).toUpperCase();
  return { json, etag: `"${digest}"`, hash: digest };
}

/** What the documents describe: the served resources and the CRD schemas' extra definitions. */
export interface OpenAPISource {
  resources: readonly OpenAPIResource[];
  extra?: Definitions;
}

/**
 * Lazily built, cached documents for one set of served resources. Call `update` (or `invalidate`)
 * whenever resources or CRD schemas change; documents are rebuilt on their next request only.
 */
export class OpenAPIDocumentCache {
  private resources: readonly OpenAPIResource[] = [];
  private extra: Definitions | undefined;
  private pending: (() => OpenAPISource) | undefined;
  private v2Doc: ServedDocument | undefined;
  private v3IndexDoc: ServedDocument | undefined;
  private readonly v3Docs = new Map<string, ServedDocument>();

  constructor(
    resources: readonly OpenAPIResource[] = [],
    extraDefinitions?: Definitions,
    private readonly info: DocumentInfo = {},
  ) {
    this.update(resources, extraDefinitions);
  }

  update(resources: readonly OpenAPIResource[], extraDefinitions?: Definitions): void {
    this.invalidate(() => ({ resources, extra: extraDefinitions }));
  }

  /**
   * Marks the documents stale and reads `source` only at the next request: a server registers
   * some seventy resources one by one as it starts, and listing them all after each one made
   * the start quadratic.
   */
  invalidate(source: () => OpenAPISource): void {
    this.pending = source;
    this.v2Doc = undefined;
    this.v3IndexDoc = undefined;
    this.v3Docs.clear();
  }

  private sync(): void {
    if (!this.pending) return;
    const { resources, extra } = this.pending();
    this.pending = undefined;
    this.resources = [...resources];
    this.extra = extra;
  }

  v2(): ServedDocument {
    this.sync();
    this.v2Doc ??= serve(buildV2(this.resources, this.extra, this.info));
    return this.v2Doc;
  }

  v3Index(): ServedDocument {
    this.sync();
    this.v3IndexDoc ??= serve(buildV3Index(this.resources, this.extra));
    return this.v3IndexDoc;
  }

  /**
   * The v3 document at `path` ("api/v1", "apis/apps/v1"), or undefined when no such group
   * version is served. Its ETag is the hash used in the index URL, so a client holding
   * `?hash=H` can be told the document is immutable.
   */
  v3(path: string): ServedDocument | undefined {
    this.sync();
    const cached = this.v3Docs.get(path);
    if (cached) return cached;
    const gv = this.parseGroupVersion(path);
    if (!gv) return undefined;
    const hash = groupVersionHash(gv.group, gv.version, this.resources, this.extra);
    const doc = serve(buildV3GroupVersion(gv.group, gv.version, this.resources, this.extra, this.info), hash);
    this.v3Docs.set(path, doc);
    return doc;
  }

  private parseGroupVersion(path: string): { group: string; version: string } | undefined {
    const clean = path.replace(/^\/+/, '').replace(/\/+$/, '');
    for (const r of this.resources) {
      if (groupVersionPath(r.group, r.version) === clean) return { group: r.group, version: r.version };
    }
    return undefined;
  }
}
