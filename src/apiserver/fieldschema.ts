// Unknown-field handling for built-in kinds, driven by the published OpenAPI definitions: a
// field the schema doesn't know is dropped (as decoding into upstream's Go structs drops it)
// and reported according to fieldValidation.
import { literalAt } from './jsonliteral.js';
import {
  definitionForGVK,
  getDefinition,
  resolveRef,
  type Schema,
  type Definitions,
} from '../machinery/openapi/definitions.js';
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

/** JSON type names as Go's decoder reports them ("number 1.5" when a number is out of range). */
function jsonType(v: unknown, s: Schema): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  // The literal itself is gone after JSON.parse: Go would print "1e308" where this prints "1e+308".
  if (typeof v === 'number') return s.type === 'integer' || s.type === 'number' ? `number ${v}` : 'number';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/**
 * int64: JSON.parse rounds every literal to a double, and the doubles nearest 2^63-1 round up to
 * 2^63, which Go's ParseInt would reject. A double of 2^63 or more is therefore refused (sound:
 * nothing stored that Go clients cannot decode; the price is that literals within 512 of 2^63-1
 * are refused too). -2^63 is exact and valid.
 */
const INT64_MIN = -(2 ** 63);
const INT64_LIMIT = 2 ** 63;

/** Does a number fit an integer field of the given OpenAPI format (as Go's ParseInt + overflow check)? */
export function fitsInteger(v: number, format: string | undefined): boolean {
  if (!Number.isInteger(v)) return false;
  if (format === 'int32') return v >= INT32_MIN && v <= INT32_MAX;
  return v >= INT64_MIN && v < INT64_LIMIT;
}

/** Does a value fit the schema's declared type? (null fits anything: it means "unset".) */
function typeFits(v: unknown, s: Schema): boolean {
  if (v === null || !s.type || isOpaque(s)) return true;
  switch (s.type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && fitsInteger(v, s.format);
    case 'number':
      // JSON.parse turns 1e309 into Infinity; Go's ParseFloat refuses it.
      return typeof v === 'number' && Number.isFinite(v);
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

/** The zero value Go's decoder leaves for a null element of this schema's type (null: none). */
function zeroValue(s: Schema | undefined): unknown {
  if (!s || isOpaque(s)) return null;
  switch (s.type) {
    case 'object':
      return {};
    case 'string':
      return '';
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/** A value whose JSON type or range contradicts the schema: decoding fails upstream with a 400. */
export class TypeMismatch extends Error {
  constructor(
    message: string,
    /** Where the value sits in the body, and the number it parsed to (when it is one). */
    readonly at: (string | number)[] = [],
    readonly number?: number,
  ) {
    super(message);
  }

  /** The message quoting the number as the request body wrote it (Go prints the literal). */
  quoting(body: string): string {
    if (this.number === undefined) return this.message;
    const literal = literalAt(body, this.at);
    if (literal === undefined || Number(literal) !== this.number) return this.message;
    return this.message.replace(
      `cannot unmarshal number ${this.number} into`,
      `cannot unmarshal number ${literal} into`,
    );
  }
}

/** The layout a metav1.Time or MicroTime field's UnmarshalJSON parses with (by its $ref). */
function timeLayoutOf(schema: Schema | undefined): TimeLayout | undefined {
  const ref = schema?.$ref ?? (schema?.allOf?.length === 1 ? schema.allOf[0].$ref : undefined);
  if (ref?.endsWith('/io.k8s.apimachinery.pkg.apis.meta.v1.Time')) return 'RFC3339';
  if (ref?.endsWith('/io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime')) return 'RFC3339Micro';
  return undefined;
}

export function pruneUnknown(
  value: unknown,
  schema: Schema | undefined,
  at: string,
  found: string[],
  extra?: Definitions,
  checkTypes = true,
  rootName = '',
): void {
  new Pruner(found, extra, checkTypes, schema, rootName).walk(value, schema, at ? [at] : []);
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
    private readonly root: Schema | undefined,
    private readonly rootName: string,
  ) {}

  walk(value: unknown, schema: Schema | undefined, path: (string | number)[]): void {
    const s = resolveRef(schema, this.extra);
    // Custom resources decode into unstructured objects: their schema validation reports types.
    if (s && this.checkTypes && !typeFits(value, s)) throw this.mismatch(value, schema!, s, path);
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
        // Go decodes a null list item into the element type's zero value (a null container is
        // an empty Container, for validation to report), never a hole for later code to trip on.
        if (value[i] === null && this.checkTypes) value[i] = zeroValue(resolveRef(items, this.extra));
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

  /**
   * Go's UnmarshalTypeError text: "json: cannot unmarshal <value> into Go struct field
   * <Struct>.<fields> of type <type>", where Struct is the innermost struct holding the field and
   * fields are the struct field names from the root (array indices and map keys are not named).
   */
  private mismatch(value: unknown, schema: Schema, s: Schema, path: (string | number)[]): TypeMismatch {
    const { struct, fields } = this.goFieldContext(path);
    const into = fields.length ? `Go struct field ${struct}.${fields.join('.')}` : 'Go value';
    return new TypeMismatch(
      `json: cannot unmarshal ${jsonType(value, s)} into ${into} of type ${this.goType(schema)}`,
      [...path],
      typeof value === 'number' ? value : undefined,
    );
  }

  /** Re-walks the schema along path (only when reporting) to name the struct and its fields. */
  private goFieldContext(path: (string | number)[]): { struct: string; fields: string[] } {
    let struct = '';
    const fields: string[] = [];
    let schema = this.root;
    let name = this.rootName;
    for (const seg of path) {
      const r = this.resolveNamed(schema, name);
      if (!r.schema) break;
      if (typeof seg === 'number') {
        schema = r.schema.items;
      } else if (r.schema.properties?.[seg]) {
        struct = shortName(r.name);
        fields.push(seg);
        schema = r.schema.properties[seg];
      } else {
        schema = typeof r.schema.additionalProperties === 'object' ? r.schema.additionalProperties : undefined;
      }
      name = '';
    }
    return { struct, fields };
  }

  /** Follows $refs, remembering the last definition's name. */
  private resolveNamed(schema: Schema | undefined, name: string): { schema: Schema | undefined; name: string } {
    let current = schema;
    for (let depth = 0; current && depth < 16; depth++) {
      const ref = current.$ref ?? (current.allOf?.length === 1 ? current.allOf[0].$ref : undefined);
      if (!ref) break;
      name = ref.slice(ref.lastIndexOf('/') + 1);
      current = resolveRef({ $ref: ref }, this.extra);
    }
    return { schema: current, name };
  }

  /** The Go type a schema decodes into, as reflect.Type.String() prints it. */
  private goType(schema: Schema | undefined, depth = 0): string {
    const { schema: s, name } = this.resolveNamed(schema, '');
    if (!s || depth > 8) return 'interface {}';
    if (name && (s.type === 'object' || s.properties)) return goNamedType(name);
    switch (s.type) {
      case 'integer':
        return s.format === 'int32' ? 'int32' : 'int64';
      case 'number':
        return s.format === 'float' ? 'float32' : 'float64';
      case 'boolean':
        return 'bool';
      case 'string':
        return s.format === 'byte' ? '[]uint8' : name ? goNamedType(name) : 'string';
      case 'array':
        return `[]${this.goType(s.items, depth + 1)}`;
      case 'object':
        return typeof s.additionalProperties === 'object'
          ? `map[string]${this.goType(s.additionalProperties, depth + 1)}`
          : 'map[string]interface {}';
      default:
        return 'interface {}';
    }
  }
}

/** io.k8s.api.apps.v1.ReplicaSetSpec -> ReplicaSetSpec. */
function shortName(definition: string): string {
  return definition.slice(definition.lastIndexOf('.') + 1);
}

/** io.k8s.api.apps.v1.ReplicaSetSpec -> v1.ReplicaSetSpec (Go prints package.Type). */
function goNamedType(definition: string): string {
  const parts = definition.split('.');
  return parts.length > 1 ? `${parts[parts.length - 2]}.${parts[parts.length - 1]}` : definition;
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
  typeFor(
    group: string,
    version: string,
    kind: string,
  ): { schema: Schema | undefined; extra?: Definitions } | undefined {
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
    if (!name) return found;
    try {
      pruneUnknown(obj, getDefinition(name), '', found, undefined, true, name);
    } catch (err) {
      // Upstream's transformDecodeError wraps every decoding error this way.
      if (err instanceof TypeMismatch)
        throw new TypeMismatch(
          `${kind} in version "${version}" cannot be handled as a ${kind}: ${err.message}`,
          err.at,
          err.number,
        );
      throw err;
    }
    return found;
  }
}
