// Unknown-field handling for built-in kinds, driven by the published OpenAPI definitions: a
// field the schema doesn't know is dropped (as decoding into upstream's Go structs drops it)
// and reported according to fieldValidation.
import { definitionForGVK, getDefinition, resolveRef, type Schema, type Definitions } from '../machinery/openapi/definitions.js';
import { goTimeParseError, type TimeLayout } from '../machinery/gotime.js';

export interface FieldSchema {
  /** Drop fields the schema doesn't know from obj (in place); return their paths. */
  prune(group: string, version: string, kind: string, obj: any): string[];
  /** The OpenAPI definition name of a kind, for strategic merge patch. */
  definitionFor(group: string, version: string, kind: string): string | undefined;
  /** The schema of a kind (with the definitions its $refs need), for server-side apply. */
  typeFor?(group: string, version: string, kind: string): SchemaType | undefined;
}

/** A schema and the extra (non built-in) definitions it refers to. */
export interface SchemaType {
  schema: Schema | undefined;
  extra?: Definitions;
}


/** Schemas that accept anything: free-form values must never be pruned. */
function isOpaque(s: Schema): boolean {
  return (
    s['x-kubernetes-preserve-unknown-fields'] === true ||
    s['x-kubernetes-int-or-string'] === true ||
    s.format === 'int-or-string' ||
    (s.type === 'object' && !s.properties && s.additionalProperties === undefined) ||
    (!s.type && !s.properties && !s.items && !s.additionalProperties)
  );
}

/** JSON type names as Go's decoder reports them. */
function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

/** Does a value fit the schema's declared type? (null fits anything: it means "unset".) */
function typeFits(v: unknown, s: Schema): boolean {
  if (v === null || !s.type || isOpaque(s)) return true;
  switch (s.type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return typeof v === 'object' && !Array.isArray(v);
    default:
      return true;
  }
}

/** A value whose JSON type contradicts the schema: decoding fails upstream with a 400. */
export class TypeMismatch extends Error {}

/** The layout a metav1.Time or MicroTime field's UnmarshalJSON parses with (by its $ref). */
function timeLayoutOf(schema: Schema | undefined): TimeLayout | undefined {
  const ref = schema?.$ref ?? (schema?.allOf?.length === 1 ? schema.allOf[0]!.$ref : undefined);
  if (ref?.endsWith('/io.k8s.apimachinery.pkg.apis.meta.v1.Time')) return 'RFC3339';
  if (ref?.endsWith('/io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime')) return 'RFC3339Micro';
  return undefined;
}

export function pruneUnknown(value: unknown, schema: Schema | undefined, at: string, found: string[], extra?: Definitions, checkTypes = true): void {
  new Pruner(found, extra, checkTypes).walk(value, schema, at ? [at] : []);
}

/**
 * The walk behind pruneUnknown. Every request body goes through it, so the path of a field is
 * kept as a stack of segments and only joined into text when something is reported.
 */
class Pruner {
  constructor(
    private readonly found: string[],
    private readonly extra: Definitions | undefined,
    private readonly checkTypes: boolean,
  ) {}

  walk(value: unknown, schema: Schema | undefined, path: (string | number)[]): void {
    const s = resolveRef(schema, this.extra);
    // Custom resources decode into unstructured objects: their schema validation reports types.
    if (s && this.checkTypes && !typeFits(value, s)) {
      const type = s.type === 'integer' ? (s.format === 'int64' ? 'int64' : 'int32') : s.type === 'object' ? 'object' : s.type;
      throw new TypeMismatch(`json: cannot unmarshal ${jsonType(value)} into Go struct field ${pathText(path) || '.'} of type ${type}`);
    }
    // metav1.Time and MicroTime parse their text while decoding: a malformed one fails the request.
    const timeLayout = this.checkTypes && typeof value === 'string' ? timeLayoutOf(schema) : undefined;
    if (timeLayout) {
      const problem = goTimeParseError(timeLayout, value as string);
      if (problem) throw new TypeMismatch(problem);
    }
    if (!s || value === null || typeof value !== 'object' || isOpaque(s)) return;
    if (Array.isArray(value)) {
      const items = s.items;
      if (!items) return;
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        this.walk(value[i], items, path);
        path.pop();
      }
      return;
    }
    const obj = value as Record<string, unknown>;
    if (s.properties) {
      for (const key of Object.keys(obj)) {
        const prop = s.properties[key];
        if (!prop) {
          // apiVersion/kind are always known for top-level objects.
          if (!path.length && (key === 'apiVersion' || key === 'kind')) continue;
          path.push(key);
          this.found.push(pathText(path));
          path.pop();
          delete obj[key];
        } else {
          path.push(key);
          this.walk(obj[key], prop, path);
          path.pop();
        }
      }
    } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      for (const key of Object.keys(obj)) {
        path.push(key);
        this.walk(obj[key], s.additionalProperties, path);
        path.pop();
      }
    }
  }
}

/** `spec.containers[0].name`: names joined with dots, indices (numbers) in brackets. */
function pathText(path: (string | number)[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

export class BuiltinFieldSchema implements FieldSchema {
  /** Extra definitions and GVK lookups for kinds not built in (custom resources register here). */
  private custom = new Map<string, { definition: string; extra: Definitions }>();

  register(group: string, version: string, kind: string, definition: string, extra: Definitions): void {
    this.custom.set(`${group}/${version}/${kind}`, { definition, extra });
  }

  unregister(group: string, version: string, kind: string): void {
    this.custom.delete(`${group}/${version}/${kind}`);
  }

  definitionFor(group: string, version: string, kind: string): string | undefined {
    return definitionForGVK(group, version, kind);
  }

  /** The schema of a kind for server-side apply: a custom kind's own, else the built-in one. */
  typeFor(group: string, version: string, kind: string): { schema: Schema | undefined; extra?: Definitions } | undefined {
    const custom = this.custom.get(`${group}/${version}/${kind}`);
    if (custom) return { schema: custom.extra[custom.definition], extra: custom.extra };
    const name = definitionForGVK(group, version, kind);
    return name ? { schema: getDefinition(name) } : undefined;
  }

  prune(group: string, version: string, kind: string, obj: any): string[] {
    const found: string[] = [];
    const custom = this.custom.get(`${group}/${version}/${kind}`);
    if (custom) {
      pruneUnknown(obj, custom.extra[custom.definition], '', found, custom.extra, false);
      return found;
    }
    const name = definitionForGVK(group, version, kind);
    if (name) pruneUnknown(obj, getDefinition(name), '', found);
    return found;
  }
}
