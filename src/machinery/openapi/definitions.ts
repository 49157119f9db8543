/**
 * Runtime access to the OpenAPI v2 definitions generated at build time
 * (tools/gen-openapi.ts -> dist/openapi/definitions.json).
 *
 * The file is loaded lazily on first use and never mutated afterwards: callers get shared,
 * frozen-by-convention objects and must copy before changing anything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The subset of an OpenAPI (v2 / v3) schema object this code base reads. */
export interface Schema {
  description?: string;
  type?: string;
  format?: string;
  $ref?: string;
  allOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  required?: string[];
  'x-kubernetes-group-version-kind'?: GroupVersionKind[];
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-patch-merge-key'?: string;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  [extension: string]: unknown;
}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export type Definitions = Readonly<Record<string, Schema>>;

// The JSON is dist/openapi/definitions.json. This module is either dist/src/machinery/openapi/
// definitions.js (the CLI and tests) or part of the library bundle dist/lib/k8ts.js.
const DEFINITIONS_URLS = [
  new URL('../../../openapi/definitions.json', import.meta.url),
  new URL('../openapi/definitions.json', import.meta.url),
];

let definitions: Definitions | undefined;
let gvkIndex: Map<string, string> | undefined;

/** All built-in definitions. Throws a clear error when the build step did not run. */
export function loadDefinitions(): Definitions {
  if (definitions) return definitions;
  const candidates = DEFINITIONS_URLS.map((url) => fileURLToPath(url));
  const file = candidates.find((f) => existsSync(f)) ?? candidates[0];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `OpenAPI definitions not found at ${file} (run "npm run build", which runs tools/gen-openapi): ${String(err)}`,
      { cause: err },
    );
  }
  const parsed = JSON.parse(text) as Record<string, Schema>;
  for (const name of Object.keys(parsed)) withoutInheritedProperties(parsed[name]);
  definitions = Object.setPrototypeOf(parsed, null) as Definitions;
  return definitions;
}

/**
 * Makes every `properties` map of a schema tree prototype-less (in place), once, when the schema
 * is loaded or published. Those maps are indexed with keys from request data
 * (`properties[key]`), and with a prototype a key such as `constructor` or `__proto__` would
 * find a member of Object.prototype and pass for a declared field (the unknown-field pruner
 * would then keep it).
 */
export function withoutInheritedProperties(schema: unknown): void {
  if (schema === null || typeof schema !== 'object') return;
  if (Array.isArray(schema)) {
    for (const item of schema) withoutInheritedProperties(item);
    return;
  }
  const s = schema as Record<string, unknown>;
  const props = s.properties;
  if (props !== null && typeof props === 'object' && !Array.isArray(props)) {
    Object.setPrototypeOf(props, null);
    for (const key of Object.keys(props)) withoutInheritedProperties((props as Record<string, unknown>)[key]);
  }
  for (const key of ['items', 'additionalProperties', 'allOf', 'anyOf', 'oneOf', 'not'])
    withoutInheritedProperties(s[key]);
}

export function getDefinition(name: string): Schema | undefined {
  return loadDefinitions()[name];
}

function gvkKey(group: string, version: string, kind: string): string {
  return `${group}/${version}/${kind}`;
}

/** The definition name published for a kind, e.g. ('apps','v1','Deployment') -> io.k8s.api.apps.v1.Deployment. */
export function definitionForGVK(group: string, version: string, kind: string): string | undefined {
  if (!gvkIndex) {
    const index = new Map<string, string>();
    for (const [name, def] of Object.entries(loadDefinitions())) {
      for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
        index.set(gvkKey(gvk.group, gvk.version, gvk.kind), name);
      }
    }
    gvkIndex = index;
  }
  return gvkIndex.get(gvkKey(group, version, kind));
}

/** The definition name a `$ref` points at (v2 `#/definitions/` or v3 `#/components/schemas/`). */
export function refName(ref: string): string {
  const slash = ref.lastIndexOf('/');
  return slash < 0 ? ref : ref.slice(slash + 1);
}

/**
 * Follows `$ref` (directly or through a single-element `allOf`, the v3 wrapping) until a schema
 * with content is reached. `extra` supplies definitions not built in (e.g. CRD schemas).
 * Returns undefined for a dangling reference.
 */
export function resolveRef(schema: Schema | undefined, extra?: Definitions): Schema | undefined {
  let current = schema;
  for (let depth = 0; current && depth < 16; depth++) {
    const ref = current.$ref ?? (current.allOf?.length === 1 ? current.allOf[0].$ref : undefined);
    if (!ref) return current;
    const name = refName(ref);
    current = extra?.[name] ?? getDefinition(name);
  }
  return current;
}

/**
 * The schema of one child of an object or map value: a declared property, else the map's
 * additionalProperties. Resolved, so the result has no top-level $ref.
 */
export function childSchema(schema: Schema | undefined, key: string, extra?: Definitions): Schema | undefined {
  const resolved = resolveRef(schema, extra);
  if (!resolved) return undefined;
  // Own properties only: extra definitions (CRD schemas) have ordinary objects as `properties`.
  const props = resolved.properties;
  const prop = props && Object.hasOwn(props, key) ? props[key] : undefined;
  if (prop) return prop;
  const additional = resolved.additionalProperties;
  return typeof additional === 'object' ? additional : undefined;
}

/** The element schema of an array schema (resolved), or undefined. */
export function itemsSchema(schema: Schema | undefined, extra?: Definitions): Schema | undefined {
  const resolved = resolveRef(schema, extra);
  return resolved?.items ? resolveRef(resolved.items, extra) : undefined;
}

/**
 * Walks a property path from a definition: each segment is a property / map key, or a number
 * (or numeric string) to step into array items. Follows $ref, items and additionalProperties.
 * Returns the (unresolved) schema at the end of the path so field-level extensions such as
 * x-kubernetes-patch-strategy stay visible, or undefined when the path leaves the schema.
 */
export function schemaAtPath(
  definitionName: string,
  path: readonly (string | number)[],
  extra?: Definitions,
): Schema | undefined {
  let current: Schema | undefined = extra?.[definitionName] ?? getDefinition(definitionName);
  for (const segment of path) {
    if (!current) return undefined;
    const resolved = resolveRef(current, extra);
    if (resolved?.type === 'array' && (typeof segment === 'number' || /^\d+$/.test(segment))) {
      current = resolved.items;
    } else {
      current = childSchema(resolved, String(segment), extra);
    }
  }
  return current;
}

/** Test hook: forget cached definitions (e.g. after regenerating the file). */
export function resetDefinitionsCache(): void {
  definitions = undefined;
  gvkIndex = undefined;
}
