// values.schema.json validation (Helm's chartutil.ValidateAgainstSchema): the top chart's schema
// against all values, each subchart's against its section, errors collected per chart. ajv does the
// checking; its messages differ from Helm's jsonschema library, the structure is Helm's.
import AjvModule from 'ajv';
import Ajv2019Module from 'ajv/dist/2019.js';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { Chart } from './chart.js';
import { isMap, goTypeName, type GoMap } from './template/values.js';

type AjvClass = typeof AjvModule.default;
// ajv ships CommonJS: the class is the module's default export or the module itself.
const load = (m: unknown) => ((m as { default?: AjvClass }).default ?? m) as AjvClass;
const Ajv = load(AjvModule);
const Ajv2019 = load(Ajv2019Module);
const Ajv2020 = load(Ajv2020Module);

/** JSON view of values for the validator (int64 as numbers). */
function jsonView(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(jsonView);
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonView(x)]));
  return v;
}

function validateSingle(values: GoMap, schemaText: string): string | undefined {
  let schema: Record<string, unknown>;
  try {
    schema = JSON.parse(schemaText) as Record<string, unknown>;
  } catch (e) {
    return `${(e as Error).message}\n`;
  }
  const draft = typeof schema.$schema === 'string' ? schema.$schema : '';
  const Cls = draft.includes('2020-12') ? Ajv2020 : draft.includes('2019-09') ? Ajv2019 : Ajv;
  let validate;
  try {
    const ajv = new Cls({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
    validate = ajv.compile(schema);
  } catch {
    // A schema ajv cannot compile (remote $refs, unknown dialects) is not held against the chart.
    return undefined;
  }
  if (validate(jsonView(values))) return undefined;
  return (validate.errors ?? []).map((e) => `- at '${e.instancePath}': ${e.message ?? 'invalid'}\n`).join('');
}

function validateChart(chart: Chart, values: GoMap): string {
  let out = '';
  if (chart.schema !== undefined) {
    const err = validateSingle(values, chart.schema);
    if (err) out += `${chart.metadata.name}:\n${err}`;
  }
  for (const sub of chart.dependencies) {
    const raw = values[sub.metadata.name];
    if (raw === undefined || raw === null) continue;
    if (!isMap(raw)) {
      out += `${sub.metadata.name}:\ninvalid type for values: expected object (map), got ${goTypeName(raw)}\n`;
      continue;
    }
    out += validateChart(sub, raw);
  }
  return out;
}

/** Throws Helm's "values don't meet the specifications..." error when a schema rejects the values. */
export function validateAgainstSchema(chart: Chart, values: GoMap): void {
  const errs = validateChart(chart, values);
  if (errs)
    throw new Error(`values don't meet the specifications of the schema(s) in the following chart(s):\n${errs}`);
}
