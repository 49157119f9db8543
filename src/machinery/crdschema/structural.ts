// Checks that a CRD version's openAPIV3Schema is structural (upstream
// apiextensions-apiserver/pkg/apiserver/schema ValidateStructural and the v1 CRD schema rules),
// with upstream's field paths (properties[spec].type) and reasons. Also its printer columns.
import { type FieldError, type FieldPath, forbidden, invalid, notSupported, path, required } from '../fielderrors.js';
import { isPlainObject as isObj } from '../objects.js';

const isPlainObject = (v: unknown): v is Record<string, any> => isObj(v);
import { parseJSONPath } from '../jsonpath.js';
import { SchemaValidator, type JSONSchemaProps } from './schema.js';

const TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string'];
const LIST_TYPES = ['atomic', 'map', 'set'];
const MAP_TYPES = ['atomic', 'granular'];

type Level = 'root' | 'field' | 'item';

const EMPTY_TYPE: Record<Level, string> = {
  root: 'must not be empty at the root',
  field: 'must not be empty for specified object fields',
  item: 'must not be empty for specified array items',
};

/** Is this `anyOf`/`allOf` the int-or-string pattern ([{type: integer}, {type: string}])? */
function isIntOrStringPattern(branches: unknown): boolean {
  return (
    Array.isArray(branches) &&
    branches.length === 2 &&
    branches.every(
      (b) => isPlainObject(b) && Object.keys(b).length === 1 && (b.type === 'integer' || b.type === 'string'),
    )
  );
}

function validateNode(s: JSONSchemaProps, p: FieldPath, level: Level, objPath: string[], errs: FieldError[]): void {
  if (!isPlainObject(s)) return;
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  const embedded = s['x-kubernetes-embedded-resource'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'];
  if (s.$ref !== undefined) errs.push(forbidden(p.child('$ref'), '$ref is not supported'));
  if (s.type === undefined || s.type === '') {
    if (!embedded && !intOrString) errs.push(required(p.child('type'), EMPTY_TYPE[level]));
  } else if (!TYPES.includes(s.type)) {
    errs.push(notSupported(p.child('type'), s.type, TYPES));
  }
  if (intOrString && s.type)
    errs.push(invalid(p.child('type'), s.type, 'must be empty if x-kubernetes-int-or-string is true'));
  if (embedded) {
    if (intOrString)
      errs.push(
        forbidden(p.child('x-kubernetes-embedded-resource'), 'must be false if x-kubernetes-int-or-string is true'),
      );
    if (!s.type) errs.push(required(p.child('type'), 'must be object if x-kubernetes-embedded-resource is true'));
    else if (s.type !== 'object')
      errs.push(invalid(p.child('type'), s.type, 'must be object if x-kubernetes-embedded-resource is true'));
  }
  if (preserve !== undefined && preserve !== true)
    errs.push(invalid(p.child('x-kubernetes-preserve-unknown-fields'), preserve, 'must be true or undefined'));
  if (s.type === 'array' && !isPlainObject(s.items)) errs.push(required(p.child('items'), 'must be specified'));
  if (s.items !== undefined && !isPlainObject(s.items))
    errs.push(forbidden(p.child('items'), 'items must be a schema object and not an array'));
  if (s.uniqueItems === true)
    errs.push(
      forbidden(
        p.child('uniqueItems'),
        'uniqueItems cannot be set to true since the runtime complexity becomes quadratic',
      ),
    );
  if (s.additionalProperties === false)
    errs.push(forbidden(p.child('additionalProperties'), 'additionalProperties cannot be set to false'));
  if (isPlainObject(s.properties) && s.additionalProperties !== undefined && s.additionalProperties !== false) {
    errs.push(forbidden(p.child('additionalProperties'), 'additionalProperties and properties are mutual exclusive'));
  }
  if ((isPlainObject(s.properties) || s.additionalProperties !== undefined) && s.type && s.type !== 'object') {
    errs.push(invalid(p.child('type'), s.type, 'must be object if properties or additionalProperties are specified'));
  }
  // List and map extensions.
  const listType = s['x-kubernetes-list-type'];
  const mapKeys = s['x-kubernetes-list-map-keys'];
  if (listType !== undefined) {
    if (!LIST_TYPES.includes(listType))
      errs.push(notSupported(p.child('x-kubernetes-list-type'), listType, LIST_TYPES));
    else if (s.type !== 'array')
      errs.push(invalid(p.child('type'), s.type ?? '', 'must be array if x-kubernetes-list-type is specified'));
    if (listType === 'map') {
      if (!Array.isArray(mapKeys) || mapKeys.length === 0)
        errs.push(
          required(p.child('x-kubernetes-list-map-keys'), 'must not be empty if x-kubernetes-list-type is map'),
        );
      else if (isPlainObject(s.items)) {
        if (s.items.type !== 'object')
          errs.push(
            invalid(p.child('items', 'type'), s.items.type ?? '', 'must be object when x-kubernetes-list-type is map'),
          );
        mapKeys.forEach((k: string, i: number) => {
          const prop = s.items.properties?.[k];
          if (!prop)
            errs.push(
              required(
                p.child('items', 'properties').key(k),
                `entries for x-kubernetes-list-map-keys[${i}] must be defined`,
              ),
            );
          else if (prop.nullable === true)
            errs.push(forbidden(p.child('items', 'properties').key(k).child('nullable'), 'must be false for map keys'));
        });
      }
    } else if (listType === 'set' && isPlainObject(s.items) && s.items.type === 'object') {
      errs.push(invalid(p.child('items', 'type'), 'object', 'must be a scalar type if x-kubernetes-list-type is set'));
    }
  }
  if (mapKeys !== undefined && listType !== 'map')
    errs.push(forbidden(p.child('x-kubernetes-list-map-keys'), 'must be empty if x-kubernetes-list-type is not map'));
  const mapType = s['x-kubernetes-map-type'];
  if (mapType !== undefined && !MAP_TYPES.includes(mapType))
    errs.push(notSupported(p.child('x-kubernetes-map-type'), mapType, MAP_TYPES));
  // Value validations (anyOf/allOf/oneOf/not) may not carry structure.
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    if (s[k] === undefined) continue;
    if (intOrString && isIntOrStringPattern(s[k])) continue;
    if (!Array.isArray(s[k])) continue;
    s[k].forEach((b: JSONSchemaProps, i: number) => validateValueValidation(b, p.child(k).index(i), errs));
  }
  if (s.not !== undefined) validateValueValidation(s.not, p.child('not'), errs);
  // Defaults must validate against their schema.
  if (s.default !== undefined) {
    if (level === 'root') errs.push(forbidden(p.child('default'), 'must not be set at the root'));
    else if (s.default === null && s.nullable !== true)
      errs.push(forbidden(p.child('default'), 'must not be null for non-nullable fields'));
    else {
      const { default: _d, ...rest } = s;
      const found = new SchemaValidator(rest).validate(structuredClone(s.default), objectPath(objPath));
      if (found.length)
        errs.push({ type: 'FieldValueInvalid', field: String(p.child('default')), detail: found[0].detail });
    }
  }
  // Recurse.
  if (isPlainObject(s.properties)) {
    for (const [k, v] of Object.entries(s.properties)) {
      const cp = p.child('properties').key(k);
      if (level === 'root' && k === 'metadata' && isPlainObject(v)) {
        const extra = Object.keys(v.properties ?? {}).filter((x) => x !== 'name' && x !== 'generateName');
        if (v.type !== undefined && v.type !== 'object') errs.push(invalid(cp.child('type'), v.type, 'must be object'));
        if (extra.length)
          errs.push(
            forbidden(
              cp,
              'must not specify anything other than name and generateName, but metadata is implicitly specified',
            ),
          );
        continue;
      }
      validateNode(v as JSONSchemaProps, cp, 'field', [...objPath, k], errs);
    }
  }
  if (isPlainObject(s.additionalProperties))
    validateNode(s.additionalProperties, p.child('additionalProperties'), 'field', [...objPath, '[key]'], errs);
  if (isPlainObject(s.items)) validateNode(s.items, p.child('items'), 'item', [...objPath, '[index]'], errs);
}

function objectPath(parts: string[]): FieldPath {
  // The path inside the custom object the default lands at (spec.replicas), for messages.
  return parts.reduce<FieldPath>(
    (acc, part) => (part.startsWith('[') ? acc.key(part.slice(1, -1)) : acc.child(part)),
    path(),
  );
}

function validateValueValidation(s: JSONSchemaProps, p: FieldPath, errs: FieldError[]): void {
  if (!isPlainObject(s)) return;
  for (const k of [
    'type',
    'default',
    'additionalProperties',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-embedded-resource',
    'x-kubernetes-int-or-string',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
  ]) {
    if (s[k] !== undefined) errs.push(forbidden(p.child(k), 'must be empty to be structural'));
  }
  if (s.nullable !== undefined && s.nullable !== false)
    errs.push(forbidden(p.child('nullable'), 'must be false to be structural'));
  if (isPlainObject(s.properties))
    for (const [k, v] of Object.entries(s.properties))
      validateValueValidation(v as JSONSchemaProps, p.child('properties').key(k), errs);
  if (isPlainObject(s.items)) validateValueValidation(s.items, p.child('items'), errs);
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const)
    if (Array.isArray(s[k]))
      s[k].forEach((b: JSONSchemaProps, i: number) => validateValueValidation(b, p.child(k).index(i), errs));
  if (isPlainObject(s.not)) validateValueValidation(s.not, p.child('not'), errs);
}

/** Errors of a version's openAPIV3Schema (p is the path of openAPIV3Schema). */
export function validateStructuralSchema(schema: JSONSchemaProps, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  validateNode(schema, p, 'root', [], errs);
  return errs;
}

const COLUMN_TYPES = ['boolean', 'date', 'integer', 'number', 'string'];
const COLUMN_FORMATS = ['byte', 'date', 'date-time', 'double', 'float', 'int32', 'int64', 'password'];

/** additionalPrinterColumns of a version (p is that list's path). */
export function validatePrinterColumns(columns: unknown, p: FieldPath): FieldError[] {
  if (!Array.isArray(columns)) return [];
  const errs: FieldError[] = [];
  columns.forEach((c: any, i: number) => {
    const cp = p.index(i);
    if (!c?.name) errs.push(required(cp.child('name')));
    if (!c?.type) errs.push(required(cp.child('type')));
    else if (!COLUMN_TYPES.includes(c.type)) errs.push(notSupported(cp.child('type'), c.type, COLUMN_TYPES));
    if (c?.format && !COLUMN_FORMATS.includes(c.format))
      errs.push(notSupported(cp.child('format'), c.format, COLUMN_FORMATS));
    if (c?.priority !== undefined && (!Number.isInteger(c.priority) || c.priority < 0))
      errs.push(invalid(cp.child('priority'), c.priority, 'must be greater than or equal to 0'));
    if (!c?.jsonPath) errs.push(required(cp.child('jsonPath')));
    else {
      try {
        parseJSONPath(c.jsonPath);
      } catch (err) {
        errs.push(invalid(cp.child('jsonPath'), c.jsonPath, `must be a simple json path: ${(err as Error).message}`));
      }
    }
  });
  return errs;
}
