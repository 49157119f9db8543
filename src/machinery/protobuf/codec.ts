// Kubernetes objects as JSON <-> protobuf messages, driven by the generated wire table.
//
// Encoding mirrors upstream's generated marshallers byte for byte: fields in number order, Go
// value fields (non-pointers) always written even when zero, pointers/bytes/lists/maps only when
// set, map entries sorted by key. Decoding mirrors what upstream's JSON of the decoded Go struct
// looks like: value fields appear unless `omitempty` and zero, pointers appear exactly when sent
// (so `replicas: 0` survives), empty lists and maps are absent (the wire cannot tell them from
// unset), or null where Go's JSON writes a nil one as null (no omitempty: niltable.ts). Fields of unknown numbers are dropped, as upstream's unmarshallers drop them.
import protobufMinimal from 'protobufjs/minimal.js';
import { MESSAGES, PACKAGES } from './wiretable.js';
import { NIL_FIELDS } from './niltable.js';
import type { FieldRow } from './types.js';
import { ProtobufError, WireReader, WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT } from './wire.js';
import { formatGoDuration, parseGoDuration } from './goduration.js';

const { Writer } = protobufMinimal;
export type Writer = protobufMinimal.Writer;

/** Upstream has no nesting limit on the wire; this bounds recursion well above any real object. */
export const MAX_DEPTH = 256;

export const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"

type Scalar =
  | 'string'
  | 'bytes'
  | 'bool'
  | 'int32'
  | 'int64'
  | 'uint32'
  | 'uint64'
  | 'sint32'
  | 'sint64'
  | 'double'
  | 'float'
  | 'fixed32'
  | 'fixed64'
  | 'sfixed32'
  | 'sfixed64';

const WIRE_OF: Record<Scalar, number> = {
  string: WIRE_BYTES,
  bytes: WIRE_BYTES,
  bool: WIRE_VARINT,
  int32: WIRE_VARINT,
  int64: WIRE_VARINT,
  uint32: WIRE_VARINT,
  uint64: WIRE_VARINT,
  sint32: WIRE_VARINT,
  sint64: WIRE_VARINT,
  double: WIRE_FIXED64,
  float: WIRE_FIXED32,
  fixed32: WIRE_FIXED32,
  fixed64: WIRE_FIXED64,
  sfixed32: WIRE_FIXED32,
  sfixed64: WIRE_FIXED64,
};

/** A field's value type: a scalar or a message. */
interface ValueType {
  scalar?: Scalar;
  message?: string;
}

interface Field extends ValueType {
  json: string;
  num: number;
  /** The key written before the value: number << 3 | wire type. */
  tag: number;
  repeated: boolean;
  /** Written only when set; present zero values survive. */
  pointer: boolean;
  omitEmpty: boolean;
  /** Go writes it as null when unset (niltable.ts): a list, map or pointer without omitempty. */
  nil: boolean;
  /** Fields of this message appear in the parent's JSON object. */
  inline: boolean;
  map?: { key: Scalar; value: ValueType };
}

interface Message {
  name: string;
  /** In JSON (Go struct) order. */
  fields: Field[];
  /** In wire (field number) order. */
  wireOrder: Field[];
  /** Field number -> index into `fields` (undefined for numbers this message lacks). */
  slots: (number | undefined)[];
  /** Time, Quantity, IntOrString...: JSON not made of its fields (see the special cases). */
  special: boolean;
  /** A named slice type: JSON is the bare array of the `items` field. */
  wrapper: boolean;
}

const compiled = new Map<string, Message>();

function valueType(t: string): ValueType {
  return t in WIRE_OF ? { scalar: t as Scalar } : { message: t };
}

export function hasMessage(name: string): boolean {
  return Object.hasOwn(MESSAGES, name);
}

function message(name: string): Message {
  let m = compiled.get(name);
  if (m) return m;
  if (!hasMessage(name)) throw new ProtobufError(`no protobuf message ${name}`);
  const row = MESSAGES[name];
  const fields = row.f.map((r: FieldRow): Field => {
    const [json, num, type, flags] = r;
    const mapMatch = /^map<(\w+),(.+)>$/.exec(type);
    const vt: ValueType = mapMatch ? {} : valueType(type);
    return {
      json,
      num,
      tag: (num << 3) | (mapMatch || vt.message ? WIRE_BYTES : WIRE_OF[vt.scalar!]),
      repeated: flags.includes('r'),
      pointer: flags.includes('p'),
      omitEmpty: flags.includes('o') || flags.includes('z'),
      nil: Object.hasOwn(NIL_FIELDS, name) && Object.hasOwn(NIL_FIELDS[name], json),
      inline: flags.includes('i'),
      map: mapMatch ? { key: mapMatch[1] as Scalar, value: valueType(mapMatch[2]) } : undefined,
      ...vt,
    };
  });
  m = {
    name,
    fields,
    wireOrder: [...fields].sort((a, b) => a.num - b.num),
    slots: fields.reduce<(number | undefined)[]>((slots, f, i) => ((slots[f.num] = i), slots), []),
    special: SPECIAL.has(name),
    wrapper: row.w === 1,
  };
  compiled.set(name, m);
  return m;
}

// ---- special types: their JSON is not the JSON of their fields ----------------------------------

const TIME = 'meta.v1.Time';
const MICRO_TIME = 'meta.v1.MicroTime';
const DURATION = 'meta.v1.Duration';
const QUANTITY = 'resource.Quantity';
const INT_OR_STRING = 'intstr.IntOrString';
const RAW_EXTENSION = 'runtime.RawExtension';
const FIELDS_V1 = 'meta.v1.FieldsV1';
const SCHEMA_JSON = 'apiextensions.v1.JSON';
const SCHEMA_OR_ARRAY = 'apiextensions.v1.JSONSchemaPropsOrArray';
const SCHEMA_OR_BOOL = 'apiextensions.v1.JSONSchemaPropsOrBool';
const SCHEMA_OR_STRINGS = 'apiextensions.v1.JSONSchemaPropsOrStringArray';
const SCHEMA = 'apiextensions.v1.JSONSchemaProps';
const SPECIAL = new Set([
  TIME,
  MICRO_TIME,
  DURATION,
  QUANTITY,
  INT_OR_STRING,
  RAW_EXTENSION,
  FIELDS_V1,
  SCHEMA_JSON,
  SCHEMA_OR_ARRAY,
  SCHEMA_OR_BOOL,
  SCHEMA_OR_STRINGS,
]);

// Objects repeat their timestamps (creation, managedFields, conditions): the last one is kept.
let lastTimeText = '';
let lastTime: [number, number] = [0, 0];

/** RFC 3339 text to [seconds, nanoseconds]; undefined for no time. */
function parseTime(value: unknown, ctx: string): [number, number] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value === lastTimeText) return lastTime;
  const t = parseTimeText(value, ctx);
  lastTimeText = value as string;
  lastTime = t;
  return t;
}

function parseTimeText(value: unknown, ctx: string): [number, number] {
  if (typeof value !== 'string') throw new ProtobufError(`${ctx}: a time must be a string`);
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(value);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (Number.isNaN(ms)) throw new ProtobufError(`${ctx}: invalid time ${JSON.stringify(value)}`);
  const nanos = m![2] ? Number(m![2].slice(0, 9).padEnd(9, '0')) : 0;
  return [Math.floor(ms / 1000), nanos];
}

// Objects repeat their timestamps (creation, managedFields, conditions): the last one is kept.
let lastSeconds = NaN;
let lastBase = '';

function formatTime(seconds: number, nanos: number, micro: boolean): string {
  if (seconds !== lastSeconds) {
    const d = new Date(seconds * 1000);
    if (Number.isNaN(d.getTime())) throw new ProtobufError(`time out of range: ${seconds}`);
    lastBase = d.toISOString().slice(0, 19);
    lastSeconds = seconds;
  }
  const base = lastBase;
  if (!micro) return `${base}Z`;
  return `${base}.${String(Math.floor(Math.max(0, nanos) / 1000) % 1e6).padStart(6, '0')}Z`;
}

/** JSON of a raw-bytes field (RawExtension, FieldsV1, JSON): embedded protobuf objects included. */
function parseRaw(raw: Buffer, depth: number): unknown {
  if (raw.length >= 4 && raw[0] === 0x6b && raw[1] === 0x38 && raw[2] === 0x73 && raw[3] === 0)
    return decodeEnvelope(raw, undefined, depth + 1);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ProtobufError(`invalid JSON in raw field: ${(e as Error).message}`);
  }
}

function rawBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

// ---- encoding --------------------------------------------------------------------------------

function isZeroScalar(v: unknown): boolean {
  return v === '' || v === 0 || v === false;
}

function writeScalar(w: Writer, t: Scalar, v: any, ctx: string): void {
  switch (t) {
    case 'string':
      if (typeof v !== 'string') throw new ProtobufError(`${ctx}: expected a string`);
      w.string(v);
      return;
    case 'bytes':
      if (typeof v !== 'string') throw new ProtobufError(`${ctx}: expected base64 text`);
      w.bytes(Buffer.from(v, 'base64'));
      return;
    case 'bool':
      w.bool(!!v);
      return;
    case 'double':
      w.double(Number(v));
      return;
    case 'float':
      w.float(Number(v));
      return;
  }
  const n = Number(v);
  if (typeof v !== 'number' && typeof v !== 'string') throw new ProtobufError(`${ctx}: expected a number`);
  if (!Number.isFinite(n)) throw new ProtobufError(`${ctx}: expected a number`);
  switch (t) {
    case 'int32':
      w.int32(n);
      return;
    case 'uint32':
      w.uint32(n);
      return;
    case 'sint32':
      w.sint32(n);
      return;
    case 'int64':
      w.int64(n);
      return;
    case 'uint64':
      w.uint64(n);
      return;
    case 'sint64':
      w.sint64(n);
      return;
    case 'fixed32':
      w.fixed32(n);
      return;
    case 'sfixed32':
      w.sfixed32(n);
      return;
    case 'fixed64':
      w.fixed64(n);
      return;
    case 'sfixed64':
      w.sfixed64(n);
      return;
  }
}

function zeroOf(t: Scalar): unknown {
  return t === 'string' ? '' : t === 'bool' ? false : t === 'bytes' ? undefined : 0;
}

/** Write one value of a field (tag included). */
function writeValue(w: Writer, tag: number, vt: ValueType, v: unknown, depth: number, ctx: string): void {
  w.uint32(tag);
  if (vt.scalar) return writeScalar(w, vt.scalar, v, ctx);
  w.fork();
  writeMessageBody(w, vt.message!, v, depth + 1, ctx);
  w.ldelim();
}

/** The fields of one message (no length prefix). `value` undefined means the Go zero value. */
export function writeMessageBody(w: Writer, name: string, value: any, depth: number, ctx = name): void {
  if (depth > MAX_DEPTH) throw new ProtobufError('object nesting exceeds the limit');
  const m = message(name);
  if (m.special) return writeSpecial(w, name, value, depth, ctx);
  if (m.wrapper) {
    if (Array.isArray(value)) writeField(w, m.fields[0], value, depth, ctx);
    return;
  }
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    if (value === null) value = undefined;
    else throw new ProtobufError(`${ctx}: expected an object`);
  }
  for (const f of m.wireOrder) writeField(w, f, f.inline ? value : value?.[f.json], depth, ctx);
}

/** Types whose JSON is not the JSON of their fields. */
function writeSpecial(w: Writer, name: string, value: any, depth: number, ctx: string): void {
  switch (name) {
    case TIME:
    case MICRO_TIME: {
      const t = parseTime(value, ctx);
      if (!t) return;
      w.uint32(0x08).int64(t[0]);
      w.uint32(0x10).int32(name === TIME ? 0 : Math.floor(t[1] / 1000) * 1000);
      return;
    }
    case DURATION: {
      let ns = 0;
      if (value !== undefined && value !== null) {
        if (typeof value !== 'string') throw new ProtobufError(`${ctx}: a duration must be a string`);
        try {
          ns = parseGoDuration(value);
        } catch (e) {
          throw new ProtobufError(`${ctx}: ${(e as Error).message}`);
        }
      }
      w.uint32(0x08).int64(ns);
      return;
    }
    case QUANTITY:
      w.uint32(0x0a).string(value === undefined || value === null ? '0' : String(value));
      return;
    case INT_OR_STRING: {
      const isString = typeof value === 'string';
      w.uint32(0x08).int64(isString ? 1 : 0);
      w.uint32(0x10).int32(isString ? 0 : Number(value ?? 0));
      w.uint32(0x1a).string(isString ? value : '');
      return;
    }
    case RAW_EXTENSION:
    case FIELDS_V1:
    case SCHEMA_JSON:
      if (value !== undefined) w.uint32(0x0a).bytes(rawBytes(value));
      return;
    case SCHEMA_OR_ARRAY:
      if (Array.isArray(value)) for (const s of value) writeValue(w, 0x12, { message: SCHEMA }, s, depth, ctx);
      else if (value !== undefined && value !== null) writeValue(w, 0x0a, { message: SCHEMA }, value, depth, ctx);
      return;
    case SCHEMA_OR_BOOL:
      // Go writes `allows` always; a schema means allowed.
      w.uint32(0x08).bool(typeof value === 'boolean' ? value : value !== undefined && value !== null);
      if (value !== null && typeof value === 'object') writeValue(w, 0x12, { message: SCHEMA }, value, depth, ctx);
      return;
    case SCHEMA_OR_STRINGS:
      if (Array.isArray(value)) for (const s of value) w.uint32(0x12).string(String(s));
      else if (value !== undefined && value !== null) writeValue(w, 0x0a, { message: SCHEMA }, value, depth, ctx);
      return;
  }
}

function writeField(w: Writer, f: Field, v: any, depth: number, ctx: string): void {
  if (f.inline) {
    w.uint32(f.tag).fork();
    writeMessageBody(w, f.message!, v, depth + 1, ctx);
    w.ldelim();
    return;
  }
  if (f.map) {
    if (v === undefined || v === null) return;
    if (typeof v !== 'object' || Array.isArray(v)) throw new ProtobufError(`${ctx}.${f.json}: expected an object`);
    const keys = Object.keys(v).sort();
    const keyTag = (1 << 3) | WIRE_OF[f.map.key];
    const valueTag = (2 << 3) | (f.map.value.message ? WIRE_BYTES : WIRE_OF[f.map.value.scalar!]);
    for (const k of keys) {
      w.uint32(f.tag).fork();
      w.uint32(keyTag);
      writeScalar(w, f.map.key, f.map.key === 'string' ? k : Number(k), ctx);
      const item = v[k];
      // Go writes nil []byte map values as nothing; every other value is written.
      if (!(f.map.value.scalar === 'bytes' && (item === null || item === undefined))) {
        writeValue(w, valueTag, f.map.value, item, depth, `${ctx}.${f.json}`);
      }
      w.ldelim();
    }
    return;
  }
  if (f.repeated) {
    if (v === undefined || v === null) return;
    if (!Array.isArray(v)) throw new ProtobufError(`${ctx}.${f.json}: expected a list`);
    for (const item of v) writeValue(w, f.tag, f, item, depth, `${ctx}.${f.json}`);
    return;
  }
  if (v === undefined || v === null) {
    // Go value fields are always written; pointers and bytes only when set.
    if (f.pointer || f.scalar === 'bytes') return;
    if (f.scalar) return writeValue(w, f.tag, f, zeroOf(f.scalar), depth, ctx);
    return writeValue(w, f.tag, f, undefined, depth, ctx);
  }
  writeValue(w, f.tag, f, v, depth, `${ctx}.${f.json}`);
}

/** A message's bytes (no envelope). */
export function encodeMessage(name: string, value: unknown): Uint8Array {
  const w = Writer.create();
  writeMessageBody(w, name, value, 0);
  return w.finish();
}

// ---- decoding --------------------------------------------------------------------------------

function readScalar(r: WireReader, t: Scalar): unknown {
  switch (t) {
    case 'string':
      return r.string();
    case 'bytes':
      return r.bytes().toString('base64');
    case 'bool':
      return r.bool();
    case 'int32':
      return r.int32();
    case 'int64':
      return r.int64();
    case 'uint32':
      return r.uint64() >>> 0;
    case 'uint64':
      return r.uint64();
    case 'sint32':
    case 'sint64':
      return r.sint64();
    case 'double':
      return r.double();
    case 'float':
      return r.float();
    case 'fixed32':
      return r.fixed32();
    case 'sfixed32':
      return r.fixed32() | 0;
    case 'fixed64':
    case 'sfixed64':
      return r.fixed64();
  }
}

function checkWire(actual: number, expected: number, ctx: string): void {
  if (actual !== expected) throw new ProtobufError(`proto: wrong wireType = ${actual} for field ${ctx}`);
}

function readValue(r: WireReader, wire: number, vt: ValueType, depth: number, ctx: string): unknown {
  if (vt.scalar) {
    checkWire(wire, WIRE_OF[vt.scalar], ctx);
    return readScalar(r, vt.scalar);
  }
  checkWire(wire, WIRE_BYTES, ctx);
  const [s, e] = r.delimited();
  return decodeMessageBody(r.buf, s, e, vt.message!, depth + 1);
}

/** Reads a map entry: [key, value]. An absent value is the value type's zero. */
function readMapEntry(r: WireReader, f: Field, depth: number): [string, unknown] {
  const [s, e] = r.delimited();
  const er = new WireReader(r.buf, s, e);
  let key: unknown = zeroOf(f.map!.key);
  let value: unknown;
  let hasValue = false;
  while (!er.done()) {
    const tag = er.uint32();
    const num = tag >>> 3;
    const wire = tag & 7;
    if (num === 1) {
      checkWire(wire, WIRE_OF[f.map!.key], `${f.json} key`);
      key = readScalar(er, f.map!.key);
    } else if (num === 2) {
      value = readValue(er, wire, f.map!.value, depth, `${f.json} value`);
      hasValue = true;
    } else er.skip(wire);
  }
  if (!hasValue) {
    const vt = f.map!.value;
    value = vt.scalar
      ? vt.scalar === 'bytes'
        ? ''
        : zeroOf(vt.scalar)
      : decodeMessageBody(r.buf, 0, 0, vt.message!, depth + 1);
  }
  return [String(key), value];
}

/** Messages whose zero value has no JSON (Go emits null; we leave the field out). */
function zeroIsAbsent(name: string | undefined, v: unknown): boolean {
  return v === undefined || ((name === TIME || name === MICRO_TIME) && v === null);
}

/** One message's JSON from buf[start, end). */
export function decodeMessageBody(buf: Buffer, start: number, end: number, name: string, depth: number): any {
  if (depth > MAX_DEPTH) throw new ProtobufError('object nesting exceeds the limit');
  const m = message(name);
  if (m.special) return decodeSpecial(buf, start, end, name, depth);
  const r = new WireReader(buf, start, end);
  // Values per field, in the order fields were met; lists and maps accumulate.
  const values: unknown[] = new Array(m.fields.length);
  while (!r.done()) {
    const tag = r.uint32();
    const num = tag >>> 3;
    const wire = tag & 7;
    if (num === 0) throw new ProtobufError(`proto: ${name}: illegal tag 0 (wire type ${wire})`);
    const i = m.slots[num];
    if (i === undefined) {
      r.skip(wire);
      continue;
    }
    const f = m.fields[i];
    if (f.map) {
      checkWire(wire, WIRE_BYTES, f.json);
      const [k, v] = readMapEntry(r, f, depth);
      const obj = (values[i] ??= {}) as Record<string, unknown>;
      // "__proto__" is an ordinary key in JSON: kept as one, not as the prototype.
      if (k === '__proto__')
        Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[k] = v;
    } else if (f.repeated) {
      const list = (values[i] ??= []) as unknown[];
      if (f.scalar && wire === WIRE_BYTES && WIRE_OF[f.scalar] !== WIRE_BYTES) {
        // Packed numbers: accepted as proto2 parsers accept them.
        const [s, e] = r.delimited();
        const pr = new WireReader(buf, s, e);
        while (!pr.done()) list.push(readScalar(pr, f.scalar));
      } else list.push(readValue(r, wire, f, depth, f.json));
    } else {
      values[i] = readValue(r, wire, f, depth, f.json);
    }
  }
  if (m.wrapper) return values[0] ?? [];
  const out: Record<string, unknown> = {};
  for (let i = 0; i < m.fields.length; i++) {
    const f = m.fields[i];
    let v = values[i];
    if (f.inline) {
      Object.assign(out, v ?? decodeMessageBody(buf, 0, 0, f.message!, depth + 1));
      continue;
    }
    if (f.map || f.repeated) {
      // The wire has no empty list: Go decodes nil, which its JSON writes as null unless omitempty.
      if (v !== undefined) out[f.json] = v;
      else if (f.nil) out[f.json] = null;
      continue;
    }
    if (f.pointer || f.scalar === 'bytes') {
      // A pointer to a zero Time or an empty RawExtension is null in Go's JSON: left out here
      // unless the field has no omitempty (Go writes the null then).
      if (v !== undefined && v !== null) out[f.json] = v;
      else if (f.nil) out[f.json] = null;
      continue;
    }
    if (f.scalar) {
      if (v === undefined) v = zeroOf(f.scalar);
      if (f.omitEmpty && isZeroScalar(v)) continue;
      out[f.json] = v;
      continue;
    }
    // A Go value struct: present in JSON even when empty (omitempty does not omit structs).
    if (v === undefined) v = decodeMessageBody(buf, 0, 0, f.message!, depth + 1);
    if (zeroIsAbsent(f.message, v)) continue;
    out[f.json] = v;
  }
  return out;
}

/** Types whose JSON is not the JSON of their fields. */
function decodeSpecial(buf: Buffer, start: number, end: number, name: string, depth: number): unknown {
  const r = new WireReader(buf, start, end);
  switch (name) {
    case TIME:
    case MICRO_TIME: {
      if (start === end) return null;
      let seconds = 0;
      let nanos = 0;
      while (!r.done()) {
        const tag = r.uint32();
        if (tag === 0x08) seconds = r.int64();
        else if (tag === 0x10) nanos = r.int32();
        else r.skip(tag & 7);
      }
      return formatTime(seconds, nanos, name === MICRO_TIME);
    }
    case DURATION: {
      let ns = 0;
      while (!r.done()) {
        const tag = r.uint32();
        if (tag === 0x08) ns = r.int64();
        else r.skip(tag & 7);
      }
      return formatGoDuration(ns);
    }
    case QUANTITY: {
      let s = '';
      while (!r.done()) {
        const tag = r.uint32();
        if (tag === 0x0a) s = r.string();
        else r.skip(tag & 7);
      }
      return s === '' ? '0' : s;
    }
    case INT_OR_STRING: {
      let type = 0;
      let intVal = 0;
      let strVal = '';
      while (!r.done()) {
        const tag = r.uint32();
        if (tag === 0x08) type = r.int64();
        else if (tag === 0x10) intVal = r.int32();
        else if (tag === 0x1a) strVal = r.string();
        else r.skip(tag & 7);
      }
      return type === 1 ? strVal : intVal;
    }
    case RAW_EXTENSION:
    case FIELDS_V1:
    case SCHEMA_JSON: {
      let raw: Buffer | undefined;
      while (!r.done()) {
        const tag = r.uint32();
        if (tag === 0x0a) raw = r.bytes();
        else r.skip(tag & 7);
      }
      return raw && raw.length ? parseRaw(raw, depth) : undefined;
    }
    case SCHEMA_OR_ARRAY:
    case SCHEMA_OR_BOOL:
    case SCHEMA_OR_STRINGS: {
      let schema: unknown;
      let allows = false;
      const list: unknown[] = [];
      while (!r.done()) {
        const tag = r.uint32();
        const num = tag >>> 3;
        if (name === SCHEMA_OR_BOOL && num === 1) {
          checkWire(tag & 7, WIRE_VARINT, 'allows');
          allows = r.bool();
        } else if (name === SCHEMA_OR_BOOL ? num === 2 : num === 1)
          schema = readValue(r, tag & 7, { message: SCHEMA }, depth, 'schema');
        else if (num === 2 && name === SCHEMA_OR_ARRAY)
          list.push(readValue(r, tag & 7, { message: SCHEMA }, depth, 'jSONSchemas'));
        else if (num === 2 && name === SCHEMA_OR_STRINGS)
          list.push(readValue(r, tag & 7, { scalar: 'string' }, depth, 'property'));
        else r.skip(tag & 7);
      }
      if (schema !== undefined) return schema;
      if (name === SCHEMA_OR_BOOL) return allows;
      return list.length ? list : undefined;
    }
  }
  return undefined;
}

/** A message's JSON from its bytes (no envelope). */
export function decodeMessage(name: string, bytes: Uint8Array): any {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decodeMessageBody(buf, 0, buf.length, name, 0);
}

// ---- the envelope: "k8s\0" + runtime.Unknown -------------------------------------------------

export interface TypeMeta {
  apiVersion?: string;
  kind?: string;
}

/** Kinds of meta.k8s.io/v1 that every group version also answers with (upstream AddToGroupVersion). */
const META_KINDS = new Set([
  'Status',
  'WatchEvent',
  'DeleteOptions',
  'ListOptions',
  'GetOptions',
  'CreateOptions',
  'UpdateOptions',
  'PatchOptions',
]);

/**
 * The message of a built-in (apiVersion, kind); undefined when it has no protobuf form (custom
 * resources, groups served only as JSON, Table).
 */
export function messageFor(apiVersion: string, kind: string): string | undefined {
  const pkg = Object.hasOwn(PACKAGES, apiVersion) ? PACKAGES[apiVersion] : sameWirePackage(apiVersion, kind);
  if (pkg === undefined)
    return META_KINDS.has(kind) && Object.hasOwn(SAME_WIRE, apiVersion) ? `meta.v1.${kind}` : undefined;
  const own = `${pkg}.${kind}`;
  if (hasMessage(own) && !MESSAGES[own].w) return own;
  if (META_KINDS.has(kind)) return `meta.v1.${kind}`;
  return undefined;
}

/**
 * Versions the generated table has no package for, whose served kinds are identical on the wire
 * to another version's messages (every field number compared with upstream's generated.proto):
 * MutatingAdmissionPolicy and its binding at v1alpha1 and v1beta1 are v1's messages.
 */
const SAME_WIRE: Record<string, { pkg: string; kinds: ReadonlySet<string> }> = Object.fromEntries(
  ['admissionregistration.k8s.io/v1alpha1', 'admissionregistration.k8s.io/v1beta1'].map((v) => [
    v,
    {
      pkg: 'admissionregistration.v1',
      kinds: new Set([
        'MutatingAdmissionPolicy',
        'MutatingAdmissionPolicyList',
        'MutatingAdmissionPolicyBinding',
        'MutatingAdmissionPolicyBindingList',
      ]),
    },
  ]),
);

function sameWirePackage(apiVersion: string, kind: string): string | undefined {
  const alias = Object.hasOwn(SAME_WIRE, apiVersion) ? SAME_WIRE[apiVersion] : undefined;
  return alias?.kinds.has(kind) ? alias.pkg : undefined;
}

/** The message of (apiVersion, kind), or a ProtobufError naming the type. */
export function requireMessage(apiVersion: string, kind: string): string {
  const name = messageFor(apiVersion, kind);
  if (!name) throw new ProtobufError(`object ${apiVersion}, Kind=${kind} has no protobuf encoding`);
  return name;
}

/** Magic, then Unknown{typeMeta, raw, contentEncoding, contentType} around a message's bytes. */
export function envelope(apiVersion: string, kind: string, raw: Uint8Array): Buffer {
  const w = Writer.create();
  w.uint32(0x0a).fork();
  w.uint32(0x0a).string(apiVersion);
  w.uint32(0x12).string(kind);
  w.ldelim();
  w.uint32(0x12).uint32(raw.length);
  const head = w.finish();
  return Buffer.concat([MAGIC, head, raw, UNKNOWN_TAIL], MAGIC.length + head.length + raw.length + UNKNOWN_TAIL.length);
}

/** Unknown's contentEncoding and contentType: both empty, both written (Go value fields). */
const UNKNOWN_TAIL = Buffer.from([0x1a, 0x00, 0x22, 0x00]);

/** Bytes a varint takes. */
function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function putVarint(buf: Buffer, pos: number, n: number): number {
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/**
 * A list with its envelope, from message bytes encoded before (ListMeta and each item), written
 * into one buffer sized up front: large lists cost one allocation and one copy per item.
 */
export function encodeListEnvelope(
  apiVersion: string,
  listKind: string,
  meta: Uint8Array,
  items: Uint8Array[],
): Buffer {
  const listName = requireMessage(apiVersion, listKind);
  const metaTag = (fieldNumber(listName, 'metadata') << 3) | WIRE_BYTES;
  const itemsTag = (fieldNumber(listName, 'items') << 3) | WIRE_BYTES;
  let rawLength = varintSize(metaTag) + varintSize(meta.length) + meta.length;
  const itemTagSize = varintSize(itemsTag);
  for (const item of items) rawLength += itemTagSize + varintSize(item.length) + item.length;
  const w = Writer.create();
  w.uint32(0x0a).fork();
  w.uint32(0x0a).string(apiVersion);
  w.uint32(0x12).string(listKind);
  w.ldelim();
  w.uint32(0x12).uint32(rawLength);
  const head = w.finish();
  const out = Buffer.allocUnsafe(MAGIC.length + head.length + rawLength + UNKNOWN_TAIL.length);
  MAGIC.copy(out, 0);
  out.set(head, MAGIC.length);
  let pos = MAGIC.length + head.length;
  pos = putVarint(out, pos, metaTag);
  pos = putVarint(out, pos, meta.length);
  out.set(meta, pos);
  pos += meta.length;
  for (const item of items) {
    pos = putVarint(out, pos, itemsTag);
    pos = putVarint(out, pos, item.length);
    out.set(item, pos);
    pos += item.length;
  }
  UNKNOWN_TAIL.copy(out, pos);
  return out;
}

/** A whole object with its envelope. */
export function encodeEnvelope(obj: any, typeMeta: TypeMeta = obj): Buffer {
  const apiVersion = typeMeta.apiVersion ?? '';
  const kind = typeMeta.kind ?? '';
  return envelope(apiVersion, kind, encodeMessage(requireMessage(apiVersion, kind), obj));
}

/** The number of a message's field with this JSON name (list `items`, `metadata`). */
export function fieldNumber(name: string, json: string): number {
  const f = message(name).fields.find((x) => x.json === json);
  if (!f) throw new ProtobufError(`${name} has no field ${json}`);
  return f.num;
}

/** Object JSON from an envelope. `defaults` fill a missing apiVersion or kind (as upstream does). */
export function decodeEnvelope(buf: Buffer, defaults?: TypeMeta, depth = 0): any {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC))
    throw new ProtobufError('provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]');
  const r = new WireReader(buf, 4);
  let apiVersion = '';
  let kind = '';
  let raw: [number, number] | undefined;
  let contentType = '';
  let contentEncoding = '';
  while (!r.done()) {
    const tag = r.uint32();
    if (tag === 0x0a) {
      const [s, e] = r.delimited();
      const tr = new WireReader(buf, s, e);
      while (!tr.done()) {
        const t = tr.uint32();
        if (t === 0x0a) apiVersion = tr.string();
        else if (t === 0x12) kind = tr.string();
        else tr.skip(t & 7);
      }
    } else if (tag === 0x12) raw = r.delimited();
    else if (tag === 0x1a) contentEncoding = r.string();
    else if (tag === 0x22) contentType = r.string();
    else r.skip(tag & 7);
  }
  if (contentEncoding) throw new ProtobufError(`unsupported content encoding ${JSON.stringify(contentEncoding)}`);
  if (contentType && contentType !== 'application/vnd.kubernetes.protobuf')
    throw new ProtobufError(`unsupported content type ${JSON.stringify(contentType)}`);
  apiVersion ||= defaults?.apiVersion ?? '';
  kind ||= defaults?.kind ?? '';
  if (!kind) throw new ProtobufError("Object 'Kind' is missing in protobuf message");
  const name = messageFor(apiVersion, kind);
  if (!name) throw new ProtobufError(`no kind "${kind}" is registered for version "${apiVersion}"`);
  const body = raw
    ? decodeMessageBody(buf, raw[0], raw[1], name, depth + 1)
    : decodeMessageBody(buf, 0, 0, name, depth + 1);
  return { apiVersion, kind, ...body };
}
