// A CustomResourceDefinition → a ResourceDef: the strategy the generic REST flow serves a custom
// resource with (versions, names, scope, subresources, printer columns, conversion, schema
// validation and defaulting). Pruning of unknown fields goes through the server's field schema
// with the definitions from publishedSchema().
import type { KObject, ResourceDef, ScaleDef, TableColumn, VersionDef } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import { age } from '../../machinery/duration.js';
import { path } from '../../machinery/fielderrors.js';
import { JSONPath, formatValue } from '../../machinery/jsonpath.js';
import { getDefinition } from '../../machinery/openapi/definitions.js';
import { compareVersions } from '../resources.js';
import { isPromise } from '../convert.js';
import { type Converter, converterFor } from './conversion.js';
import type { StoreLookup } from '../admission/webhook/service.js';
import { validateCustomScale } from './scalevalidation.js';
import { SchemaRules } from '../../cel/schemarules.js';
import {
  type JSONSchemaProps,
  type PublishedSchema,
  SchemaValidator,
  applyDefaults,
  hasDefaults,
  publishedSchema,
} from '../../machinery/crdschema/schema.js';

export interface BuiltResource {
  def: ResourceDef;
  /** Published OpenAPI definitions per served version. */
  schemas: { version: string; schema: PublishedSchema }[];
}

export interface BuildOptions {
  /** True while the CRD is being deleted: creates are refused. */
  terminating?: () => boolean;
  converter?: Converter;
  /** Stores to resolve a conversion webhook's `service` reference with. */
  stores?: StoreLookup;
}

function metaDescription(field: string): string {
  return getDefinition('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta')?.properties?.[field]?.description ?? '';
}

/** One additionalPrinterColumn as a table column (upstream tableconvertor semantics). */
export function printerColumn(c: any): TableColumn {
  const jp = new JSONPath(c.jsonPath);
  const type = c.type as TableColumn['type'];
  return {
    name: c.name,
    type,
    format: c.format ?? '',
    description: c.description ?? '',
    priority: c.priority ?? 0,
    cell(obj, now) {
      let found: unknown[];
      try {
        found = jp.find(obj);
      } catch {
        found = [];
      }
      // No value: a nil cell, which kubectl prints as <none>.
      if (!found.length || found[0] === undefined) return type === 'string' ? '<none>' : null;
      const v = found[0];
      switch (type) {
        case 'string':
          return formatValue(v);
        case 'integer':
          return typeof v === 'number' ? Math.trunc(v) : null;
        case 'number':
          return typeof v === 'number' ? v : null;
        case 'boolean':
          return typeof v === 'boolean' ? v : null;
        case 'date':
          if (typeof v !== 'string') return null;
          return Number.isNaN(Date.parse(v)) ? '<invalid>' : age(v, now);
      }
      return null;
    },
  };
}

/** The table of one version: NAME, its printer columns (or AGE when it has none). */
export function tableFor(columns: any[] | undefined): TableColumn[] {
  const name: TableColumn = {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: metaDescription('name'),
    priority: 0,
    cell: (o) => o.metadata?.name,
  };
  const cols = columns?.length
    ? columns
    : [
        {
          name: 'Age',
          type: 'date',
          jsonPath: '.metadata.creationTimestamp',
          description: metaDescription('creationTimestamp'),
        },
      ];
  return [name, ...cols.map(printerColumn)];
}

function scaleOf(s: any): ScaleDef | undefined {
  if (!s || typeof s !== 'object' || !s.specReplicasPath || !s.statusReplicasPath) return undefined;
  const out: ScaleDef = { specReplicasPath: s.specReplicasPath, statusReplicasPath: s.statusReplicasPath };
  if (s.labelSelectorPath) out.labelSelectorPath = s.labelSelectorPath;
  return out;
}

/** Builds the served resource of a CRD (its spec is assumed valid). */
export function buildResource(crd: any, opts: BuildOptions = {}): BuiltResource {
  const spec = crd.spec;
  const group: string = spec.group;
  const names = spec.names;
  const kind: string = names.kind;
  const listKind: string = names.listKind ?? `${kind}List`;
  const converter = opts.converter ?? converterFor(crd, opts.stores);
  const webhook = spec.conversion?.strategy === 'Webhook';
  const crdVersions: any[] = [...(spec.versions ?? [])].sort((a, b) => compareVersions(a.name, b.name));
  const storage = crdVersions.find((v) => v.storage) ?? crdVersions[0];
  const storageApiVersion = `${group}/${storage.name}`;
  const validators = new Map<string, SchemaValidator>();
  const schemaOf = (v: string): JSONSchemaProps | undefined =>
    crdVersions.find((x) => x.name === v)?.schema?.openAPIV3Schema;
  for (const v of crdVersions) validators.set(v.name, new SchemaValidator(schemaOf(v.name)));
  const storageSchema = schemaOf(storage.name);

  const invalidObject = (obj: KObject, errs: ReturnType<SchemaValidator['validate']>) =>
    errors.invalid(group, kind, obj.metadata?.name ?? obj.metadata?.generateName ?? '', errs);

  const versions: VersionDef[] = crdVersions.map((v) => {
    const apiVersion = `${group}/${v.name}`;
    const schema = schemaOf(v.name);
    const isStorage = v.name === storage.name;
    const vd: VersionDef = { name: v.name, served: v.served !== false, table: tableFor(v.additionalPrinterColumns) };
    if (v.deprecated) {
      vd.deprecated = true;
      vd.deprecationWarning = v.deprecationWarning ?? `${apiVersion} ${kind} is deprecated`;
    }
    vd.toStorage = (obj) => {
      applyDefaults(obj, schema);
      if (isStorage) return obj;
      const errs = validators.get(v.name)!.validate(obj);
      if (errs.length) throw invalidObject(obj, errs);
      obj.apiVersion = apiVersion;
      const out = converter.convert([obj], storageApiVersion);
      return isPromise(out) ? out.then((r) => r[0]) : out[0];
    };
    // Objects may sit in storage at an earlier storage version (status.storedVersions).
    const mixed = (crd.status?.storedVersions ?? []).length > 1;
    if (!isStorage || webhook || mixed || hasDefaults(schema)) {
      const finish = (out: KObject[]): KObject[] => {
        for (const o of out) {
          o.apiVersion = apiVersion;
          applyDefaults(o, schema);
        }
        return out;
      };
      // One conversion (one ConversionReview for a webhook) for a whole batch of objects.
      vd.fromStorageMany = (objs) => {
        const out = converter.convert(objs, apiVersion);
        return isPromise(out) ? out.then(finish) : finish(out);
      };
      vd.fromStorage = (obj) => {
        const out = vd.fromStorageMany!([obj]);
        return isPromise(out) ? out.then((r) => r[0]) : out[0];
      };
    }
    return vd;
  });

  // Preferred (discovery) order: served versions by Kubernetes version priority.
  const status = crdVersions.some((v) => v.subresources?.status !== undefined && v.subresources?.status !== null);
  const scale =
    scaleOf(storage.subresources?.scale) ?? crdVersions.map((v) => scaleOf(v.subresources?.scale)).find(Boolean);
  const storageValidator = validators.get(storage.name)!;
  // x-kubernetes-validations, compiled once per CRD (re)build; objects are validated in the
  // storage version, as the structural schema is.
  const storageRules = new SchemaRules(storageSchema, path());
  const celErrors = (obj: KObject, old: KObject | undefined) =>
    storageRules.empty ? [] : storageRules.validate(obj, old, path());
  const def: ResourceDef = {
    group,
    versions,
    storageVersion: storage.name,
    kind,
    listKind,
    plural: names.plural,
    singular: names.singular ?? kind.toLowerCase(),
    shortNames: names.shortNames?.length ? [...names.shortNames] : undefined,
    categories: names.categories?.length ? [...names.categories] : undefined,
    namespaced: spec.scope !== 'Cluster',
    generationTracksSpec: true,
    subresources: status || scale ? { ...(status ? { status: true } : {}), ...(scale ? { scale } : {}) } : undefined,
    table: versions.find((v) => v.name === storage.name)?.table,
    defaults(obj) {
      applyDefaults(obj, storageSchema);
    },
    prepareForCreate(obj) {
      if (opts.terminating?.()) {
        throw errors.methodNotSupported({ group, resource: names.plural }, 'create');
      }
      if (status) delete obj.status;
    },
    validate(obj, ctx) {
      const errs = storageValidator.validate(obj, path());
      // On update the rules run in validateUpdate, where oldSelf is known.
      if (ctx.operation !== 'update') errs.push(...celErrors(obj, undefined));
      return scale ? [...errs, ...validateCustomScale(obj, scale)] : errs;
    },
    validateUpdate(obj, old) {
      return celErrors(obj, old);
    },
  };
  if (!def.shortNames) delete def.shortNames;
  if (!def.categories) delete def.categories;
  if (!def.subresources) delete def.subresources;

  const schemas = crdVersions
    .filter((v) => v.served !== false)
    .map((v) => ({ version: v.name, schema: publishedSchema(group, v.name, kind, listKind, schemaOf(v.name)) }));
  return { def, schemas };
}
