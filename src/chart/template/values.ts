import { compareStrings } from '../../machinery/order.js';
// How Go values are represented here, and the Go rules templates apply to them.
//
// Go type        JS value
// string         string
// bool           boolean
// int / int64    bigint (template integer constants, len, Sprig arithmetic, --set numbers)
// float64        number (every number parsed from YAML or JSON, as sigs.k8s.io/yaml yields float64)
// []byte         Uint8Array
// []interface{}  unknown[]
// map[string]... plain object
// nil            null; a missing map entry (Go's invalid reflect.Value) is undefined
// struct         GoStruct (fields and methods by name, e.g. .Chart, .Files, .Capabilities)

export type GoMap = Record<string, unknown>;

/** A Go struct (or a named type with methods) reachable from a template. */
export class GoStruct {
  constructor(
    readonly typeName: string,
    readonly fields: Record<string, unknown>,
    readonly methods: Record<string, (...args: unknown[]) => unknown> = {},
    /** What fmt prints (a String() method), if any. */
    readonly stringer?: () => string,
    /** What encoding/json produces (for toYaml/toJson). */
    readonly json?: () => unknown,
    /** Entries for `index` when the named type is a map (e.g. .Files). */
    readonly entries?: Record<string, unknown>,
  ) {}
}

export function isMap(v: unknown): v is GoMap {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof GoStruct)
  );
}

/** reflect.Kind's name of a value (Sprig's kindOf): scalars by type, collections as slice or map. */
export function goKind(v: unknown): string {
  if (v === null || v === undefined) return 'invalid';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float64';
    case 'function':
      return 'func';
  }
  if (Array.isArray(v) || v instanceof Uint8Array) return 'slice';
  if (v instanceof GoStruct) return 'struct';
  return 'map';
}

/** Go's type name of a value, as error messages and %T print it. */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (v instanceof Uint8Array) return '[]uint8';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof GoStruct) return v.typeName;
  // A scalar's kind is its type's name.
  const kind = goKind(v);
  return kind === 'map' ? 'map[string]interface {}' : kind;
}

/** Go template truth: zero values, empty collections and nil are false. */
export function isTrue(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'boolean':
      return v;
    case 'bigint':
      return v !== 0n;
    case 'number':
      return v !== 0;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Uint8Array) return v.length > 0;
  if (v instanceof GoStruct) return true;
  if (typeof v === 'function') return true;
  return Object.keys(v).length > 0;
}

/** Sorted keys, as Go's fmt and range order map keys. */
export function sortedKeys(m: GoMap): string[] {
  return Object.keys(m).sort(compareStrings);
}
