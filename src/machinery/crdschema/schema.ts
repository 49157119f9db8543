// Structural OpenAPI v3 schemas of CustomResourceDefinitions at run time: validation of custom
// objects (ajv, with upstream's error messages and field paths), defaulting, list-type checks,
// and the OpenAPI definitions published for them (also used for pruning unknown fields).
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import {
  type FieldError,
  FieldPath,
  duplicate,
  invalid,
  notSupported,
  path,
  required,
  tooMany,
  typeInvalid,
} from '../fielderrors.js';
import { getDefinition, withoutInheritedProperties, type Definitions, type Schema } from '../openapi/definitions.js';
import { deepEqual, isPlainObject as isObj, ownValue, setOwn } from '../objects.js';

const isPlainObject = (v: unknown): v is Record<string, any> => isObj(v);

const Ajv = ((AjvModule as any).default ?? AjvModule) as typeof AjvModule.default;
const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as typeof addFormatsModule.default;

/** A JSONSchemaProps as found in a CRD (loosely typed: it is user input). */
export type JSONSchemaProps = Record<string, any>;

const KEEP_KEYWORDS = new Set([
  'type',
  'format',
  'enum',
  'pattern',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'required',
]);

/** Formats kube-openapi checks; others are accepted without checks, as upstream. */
const CHECKED_FORMATS = new Set([
  'date',
  'date-time',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uri',
  'uuid',
  'byte',
  'int32',
  'int64',
  'float',
  'double',
  'password',
  'cidr',
  'mac',
  'datetime',
]);

let ajvInstance: InstanceType<typeof Ajv> | undefined;
function ajv(): InstanceType<typeof Ajv> {
  if (ajvInstance) return ajvInstance;
  // The CRD's schema was checked by apiextensions validation when it was written; checking it
  // again against ajv's meta-schema would compile that meta-schema (a fifth of a second).
  const a = new Ajv({
    allErrors: true,
    strict: false,
    validateFormats: true,
    unicodeRegExp: false,
    validateSchema: false,
    // Nor is the meta-schema added (which walks it): nothing here refers to it.
    meta: false,
  });
  addFormats(a, [
    'date',
    'date-time',
    'email',
    'hostname',
    'ipv4',
    'ipv6',
    'uri',
    'uuid',
    'byte',
    'int32',
    'int64',
    'float',
    'double',
    'password',
  ]);
  a.addFormat('datetime', (s: string) => !Number.isNaN(Date.parse(s)));
  a.addFormat('cidr', (s: string) => /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/.test(s));
  a.addFormat('mac', (s: string) => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s));
  ajvInstance = a;
  return a;
}

/** Converts an OpenAPI v3.0 structural schema to a JSON Schema ajv compiles. */
export function toAjvSchema(s: JSONSchemaProps | undefined): any {
  if (!isPlainObject(s)) return {};
  const out: any = {};
  for (const k of KEEP_KEYWORDS) if (s[k] !== undefined) out[k] = structuredClone(s[k]);
  if (out.format !== undefined && !CHECKED_FORMATS.has(out.format)) delete out.format;
  if (typeof out.pattern === 'string') {
    // Go's RE2 syntax mostly matches JS; an invalid one is left unchecked rather than failing.
    try {
      new RegExp(out.pattern);
    } catch {
      delete out.pattern;
    }
  }
  if (s.exclusiveMaximum === true && typeof s.maximum === 'number') {
    out.exclusiveMaximum = s.maximum;
    delete out.maximum;
  }
  if (s.exclusiveMinimum === true && typeof s.minimum === 'number') {
    out.exclusiveMinimum = s.minimum;
    delete out.minimum;
  }
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  if (intOrString) out.type = ['integer', 'string'];
  if (s.nullable === true) {
    if (out.type !== undefined) out.type = [...(Array.isArray(out.type) ? out.type : [out.type]), 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum.push(null);
  }
  if (s['x-kubernetes-embedded-resource'] === true && out.type === undefined) out.type = 'object';
  if (isPlainObject(s.properties)) {
    out.properties = {};
    for (const [k, v] of Object.entries(s.properties)) setOwn(out.properties, k, toAjvSchema(v as JSONSchemaProps));
  }
  if (isPlainObject(s.additionalProperties)) out.additionalProperties = toAjvSchema(s.additionalProperties);
  if (isPlainObject(s.items)) out.items = toAjvSchema(s.items);
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    if (!Array.isArray(s[k])) continue;
    // int-or-string nodes repeat their type as anyOf: [{type: integer}, {type: string}].
    if (
      intOrString &&
      s[k].every((x: any) => isPlainObject(x) && Object.keys(x).every((kk) => kk === 'type' || kk === 'anyOf'))
    )
      continue;
    out[k] = s[k].map((x: JSONSchemaProps) => toAjvSchema(x));
  }
  if (isPlainObject(s.not)) out.not = toAjvSchema(s.not);
  return out;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** An ajv instancePath (/spec/items/0/name) as a field path (spec.items[0].name), given the data. */
function fieldPathOf(instancePath: string, data: unknown, root: FieldPath): { path: FieldPath; value: unknown } {
  let p = root;
  let cur: any = data;
  if (!instancePath) return { path: p, value: cur };
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      p = p.index(Number(seg));
      cur = cur[Number(seg)];
    } else {
      p = p.child(seg);
      cur = cur?.[seg];
    }
  }
  return { path: p, value: cur };
}

const inBody = (p: FieldPath) => `${String(p)} in body`;

function toFieldErrors(errs: ErrorObject[], data: unknown, root: FieldPath): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errs) {
    // Errors inside anyOf/oneOf/not branches are summarised by the branch keyword's own error.
    if (/\/(anyOf|oneOf|not)\//.test(e.schemaPath)) continue;
    const { path: p, value } = fieldPathOf(e.instancePath, data, root);
    const params: any = e.params;
    switch (e.keyword) {
      case 'required':
        out.push(required(p.child(params.missingProperty)));
        break;
      case 'type': {
        const want = (Array.isArray(params.type) ? params.type : String(params.type).split(',')).filter(
          (t: string) => t !== 'null',
        );
        const got = jsonType(value);
        out.push(typeInvalid(p, got, `${inBody(p)} must be of type ${want.join(',')}: ${JSON.stringify(got)}`));
        break;
      }
      case 'enum':
        out.push(
          notSupported(
            p,
            value,
            (params.allowedValues as unknown[])
              .filter((v) => v !== null)
              .map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
          ),
        );
        break;
      case 'maximum':
        out.push(invalid(p, value, `${inBody(p)} should be less than or equal to ${params.limit}`));
        break;
      case 'exclusiveMaximum':
        out.push(invalid(p, value, `${inBody(p)} should be less than ${params.limit}`));
        break;
      case 'minimum':
        out.push(invalid(p, value, `${inBody(p)} should be greater than or equal to ${params.limit}`));
        break;
      case 'exclusiveMinimum':
        out.push(invalid(p, value, `${inBody(p)} should be greater than ${params.limit}`));
        break;
      case 'multipleOf':
        out.push(invalid(p, value, `${inBody(p)} should be a multiple of ${params.multipleOf}`));
        break;
      case 'maxLength':
        out.push({
          type: 'FieldValueTooLong',
          field: String(p),
          detail: `Too long: may not be longer than ${params.limit}`,
        });
        break;
      case 'minLength':
        out.push(invalid(p, value, `${inBody(p)} should be at least ${params.limit} chars long`));
        break;
      case 'pattern':
        out.push(invalid(p, value, `${inBody(p)} should match '${params.pattern}'`));
        break;
      case 'format':
        out.push(typeInvalid(p, value, `${inBody(p)} must be of type ${params.format}: ${JSON.stringify(value)}`));
        break;
      case 'maxItems':
        out.push(tooMany(p, Array.isArray(value) ? value.length : -1, params.limit));
        break;
      case 'minItems':
        out.push(
          invalid(
            p,
            Array.isArray(value) ? value.length : value,
            `${inBody(p)} should have at least ${params.limit} items`,
          ),
        );
        break;
      case 'maxProperties':
        out.push({
          type: 'FieldValueTooMany',
          field: String(p),
          detail: `Too many: ${isPlainObject(value) ? Object.keys(value).length : -1}: must have at most ${params.limit} items`,
        });
        break;
      case 'minProperties':
        out.push(
          invalid(
            p,
            isPlainObject(value) ? Object.keys(value).length : value,
            `${inBody(p)} should have at least ${params.limit} properties`,
          ),
        );
        break;
      case 'uniqueItems':
        out.push(invalid(p, value, `${inBody(p)} shouldn't contain duplicates`));
        break;
      case 'anyOf':
        out.push(invalid(p, value, `${inBody(p)} must validate at least one schema (anyOf)`));
        break;
      case 'oneOf':
        out.push(invalid(p, value, `${inBody(p)} must validate one and only one schema (oneOf)`));
        break;
      case 'not':
        out.push(invalid(p, value, `${inBody(p)} must not validate the schema (not)`));
        break;
      case 'allOf':
        break;
      default:
        out.push(invalid(p, value, `${inBody(p)} ${e.message ?? 'is invalid'}`));
    }
  }
  return out;
}

/** Checks list-type set/map uniqueness and embedded resources, which JSON Schema can't express. */
function extensionErrors(value: unknown, s: JSONSchemaProps | undefined, p: FieldPath, out: FieldError[]): void {
  if (!isPlainObject(s) || value === null || value === undefined) return;
  if (Array.isArray(value)) {
    const listType = s['x-kubernetes-list-type'];
    if (listType === 'set') {
      value.forEach((v, i) => {
        if (value.slice(0, i).some((w) => deepEqual(v, w))) out.push(duplicate(p.index(i), v));
      });
    } else if (listType === 'map') {
      const keys: string[] = Array.isArray(s['x-kubernetes-list-map-keys']) ? s['x-kubernetes-list-map-keys'] : [];
      const seen: Record<string, unknown>[] = [];
      value.forEach((v, i) => {
        if (!isPlainObject(v)) return;
        const k: Record<string, unknown> = {};
        for (const key of keys) if (v[key] !== undefined) k[key] = v[key];
        if (seen.some((x) => deepEqual(x, k))) out.push(duplicate(p.index(i), k));
        seen.push(k);
      });
    }
    value.forEach((v, i) => extensionErrors(v, s.items, p.index(i), out));
    return;
  }
  if (!isPlainObject(value)) return;
  if (s['x-kubernetes-embedded-resource'] === true) {
    if (typeof value.apiVersion !== 'string' || !value.apiVersion)
      out.push(required(p.child('apiVersion'), 'must not be empty'));
    if (typeof value.kind !== 'string' || !value.kind) out.push(required(p.child('kind'), 'must not be empty'));
  }
  for (const [k, v] of Object.entries(value)) {
    const declared = isPlainObject(s.properties) ? ownValue(s.properties, k) : undefined;
    const child = declared ? declared : isPlainObject(s.additionalProperties) ? s.additionalProperties : undefined;
    if (child) extensionErrors(v, child, p.child(k), out);
  }
}

/** The validator of one version's schema. */
export class SchemaValidator {
  private readonly fn: ValidateFunction | undefined;
  private readonly compileError: string | undefined;

  constructor(readonly schema: JSONSchemaProps | undefined) {
    if (!schema) return;
    const s = toAjvSchema(schema);
    // metadata is validated as ObjectMeta by the generic store; only name limits come from here.
    if (s.properties?.metadata) s.properties.metadata = pickMetadata(s.properties.metadata);
    try {
      this.fn = ajv().compile(s);
    } catch (err) {
      this.compileError = String((err as Error).message ?? err);
    }
  }

  validate(obj: unknown, root: FieldPath = path()): FieldError[] {
    if (!this.schema) return [];
    if (this.compileError) return [invalid(root, '', `schema could not be compiled: ${this.compileError}`)];
    const out: FieldError[] = [];
    if (this.fn && !this.fn(obj)) out.push(...toFieldErrors(this.fn.errors ?? [], obj, root));
    extensionErrors(obj, this.schema, root, out);
    return out;
  }
}

function pickMetadata(m: any): any {
  const out: any = { type: 'object' };
  if (m?.properties) {
    out.properties = {};
    for (const k of ['name', 'generateName']) if (m.properties[k]) out.properties[k] = m.properties[k];
  }
  return out;
}

// ---------------------------------------------------------------------------------- defaulting

/**
 * Fills `default`s of the schema into obj (in place), as upstream's structural defaulting:
 * a missing field with a default gets it, then children are defaulted; a null in a
 * non-nullable field is replaced by the default or dropped.
 */
export function applyDefaults(value: unknown, s: JSONSchemaProps | undefined): void {
  if (!isPlainObject(s)) return;
  if (Array.isArray(value)) {
    if (isPlainObject(s.items)) for (const v of value) applyDefaults(v, s.items);
    return;
  }
  if (!isPlainObject(value)) return;
  if (isPlainObject(s.properties)) {
    for (const [k, prop] of Object.entries(s.properties as Record<string, JSONSchemaProps>)) {
      if (!isPlainObject(prop)) continue;
      // Property names are data too (`__proto__`, `constructor`): own members only.
      if (ownValue(value, k) === null && prop.nullable !== true) {
        if (prop.default !== undefined) setOwn(value, k, structuredClone(prop.default));
        else delete value[k];
      }
      if (ownValue(value, k) === undefined && prop.default !== undefined)
        setOwn(value, k, structuredClone(prop.default));
      const child = ownValue(value, k);
      if (child !== undefined) applyDefaults(child, prop);
    }
  } else if (isPlainObject(s.additionalProperties)) {
    for (const k of Object.keys(value)) applyDefaults(value[k], s.additionalProperties);
  }
}

/** Whether any `default` appears in the schema. */
export function hasDefaults(s: unknown): boolean {
  if (Array.isArray(s)) return s.some(hasDefaults);
  if (!isPlainObject(s)) return false;
  if (s.default !== undefined) return true;
  return Object.entries(s).some(
    ([k, v]) => k !== 'default' && k !== 'enum' && k !== 'example' && typeof v === 'object' && hasDefaults(v),
  );
}

// ---------------------------------------------------------------------------------- OpenAPI

/** Upstream's definition name prefix for a group: the domain reversed (stable.example.com → com.example.stable). */
export function definitionPrefix(group: string): string {
  return group.split('.').reverse().join('.');
}

const META_REF = '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const LISTMETA_REF = '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';

function typeMetaDescriptions(): { apiVersion: string; kind: string; metadata: string; listMetadata: string } {
  const dep = getDefinition('io.k8s.api.apps.v1.Deployment');
  const list = getDefinition('io.k8s.api.apps.v1.DeploymentList');
  return {
    apiVersion:
      dep?.properties?.apiVersion?.description ??
      'APIVersion defines the versioned schema of this representation of an object.',
    kind:
      dep?.properties?.kind?.description ??
      'Kind is a string value representing the REST resource this object represents.',
    metadata: dep?.properties?.metadata?.description ?? "Standard object's metadata.",
    listMetadata: list?.properties?.metadata?.description ?? 'Standard list metadata.',
  };
}

/**
 * A CRD schema node as published (and as used for pruning): extensions kept, empty objects that
 * don't preserve unknown fields get `properties: {}` (everything in them is pruned, as upstream),
 * embedded resources get apiVersion/kind/metadata.
 */
function publishNode(s: JSONSchemaProps): Schema {
  const out: any = {};
  for (const [k, v] of Object.entries(s)) {
    if (
      k === 'properties' ||
      k === 'items' ||
      k === 'additionalProperties' ||
      k === 'allOf' ||
      k === 'anyOf' ||
      k === 'oneOf' ||
      k === 'not'
    )
      continue;
    out[k] = structuredClone(v);
  }
  if (isPlainObject(s.properties)) {
    out.properties = {};
    for (const [k, v] of Object.entries(s.properties)) setOwn(out.properties, k, publishNode(v as JSONSchemaProps));
  }
  if (isPlainObject(s.items)) out.items = publishNode(s.items);
  if (isPlainObject(s.additionalProperties)) out.additionalProperties = publishNode(s.additionalProperties);
  else if (s.additionalProperties === true) out.additionalProperties = true;
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) if (Array.isArray(s[k])) out[k] = structuredClone(s[k]);
  if (isPlainObject(s.not)) out.not = structuredClone(s.not);
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (s['x-kubernetes-embedded-resource'] === true) {
    out.type ??= 'object';
    out.properties ??= {};
    const d = typeMetaDescriptions();
    out.properties.apiVersion ??= { type: 'string', description: d.apiVersion };
    out.properties.kind ??= { type: 'string', description: d.kind };
    out.properties.metadata = { $ref: META_REF, description: d.metadata };
  }
  if (s['x-kubernetes-int-or-string'] === true) {
    delete out.type;
  }
  if (out.type === 'object' && !out.properties && out.additionalProperties === undefined && !preserve)
    out.properties = {};
  return out as Schema;
}

export interface PublishedSchema {
  /** Definition name of the kind, e.g. com.example.stable.v1.CronTab. */
  definition: string;
  /** That definition and its list's. */
  definitions: Definitions;
}

/** The OpenAPI (v2-style refs) definitions of one served version of a CRD. */
export function publishedSchema(
  group: string,
  version: string,
  kind: string,
  listKind: string,
  schema: JSONSchemaProps | undefined,
): PublishedSchema {
  const prefix = `${definitionPrefix(group)}.${version}`;
  const definition = `${prefix}.${kind}`;
  const d = typeMetaDescriptions();
  const root: any = schema ? publishNode(schema) : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  root.type ??= 'object';
  root.properties ??= {};
  // Properties in upstream's order: apiVersion, kind, metadata, then the schema's own.
  const own = root.properties;
  root.properties = {
    apiVersion: { type: 'string', description: d.apiVersion },
    kind: { type: 'string', description: d.kind },
    metadata: { $ref: META_REF, description: d.metadata },
  };
  for (const [k, v] of Object.entries(own))
    if (k !== 'apiVersion' && k !== 'kind' && k !== 'metadata') setOwn(root.properties, k, v);
  if (schema && isPlainObject(schema.properties?.metadata)) {
    // Root metadata may only restrict name/generateName; published as ObjectMeta.
  }
  root['x-kubernetes-group-version-kind'] = [{ group, kind, version }];
  const list: Schema = {
    description: `${listKind} is a list of ${kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { type: 'string', description: d.apiVersion },
      items: {
        type: 'array',
        description: `List of ${kind.toLowerCase()}s. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`,
        items: { $ref: `#/definitions/${definition}` },
      },
      kind: { type: 'string', description: d.kind },
      metadata: { $ref: LISTMETA_REF, description: d.listMetadata },
    },
    'x-kubernetes-group-version-kind': [{ group, kind: listKind, version }],
  };
  withoutInheritedProperties(root);
  withoutInheritedProperties(list);
  return { definition, definitions: { [definition]: root, [`${definition}List`]: list } };
}
