// The replicas and selector fields a custom resource's scale subresource reads must hold what an
// autoscaling/v1 Scale can carry: upstream validates them on every write (ValidateScaleSpec and
// ValidateScaleStatus), so a CR cannot store replicas: 1e20 and hand controllers a huge number.
import type { ScaleDef } from '../../api/types.js';
import { type FieldError, invalid, path } from '../../machinery/fielderrors.js';

const MAX_INT32 = 2 ** 31 - 1;

export function validateCustomScale(obj: any, scale: ScaleDef): FieldError[] {
  const errs = [...replicasErrors(obj, scale.specReplicasPath), ...replicasErrors(obj, scale.statusReplicasPath)];
  if (scale.labelSelectorPath) {
    const r = nested(obj, scale.labelSelectorPath, 'string');
    if (r.error) errs.push(invalid(path(scale.labelSelectorPath), '', r.error));
  }
  return errs;
}

function replicasErrors(obj: any, at: string): FieldError[] {
  const r = nested(obj, at, 'int64');
  if (r.error) return [invalid(path(at), 0, r.error)];
  const n = (r.value as number | undefined) ?? 0;
  if (n < 0) return [invalid(path(at), n, 'should be a non-negative integer')];
  if (n > MAX_INT32) return [invalid(path(at), n, `should be less than or equal to ${MAX_INT32}`)];
  return [];
}

/** unstructured.NestedInt64 / NestedString: the value at a ".a.b" path, or the accessor error. */
function nested(obj: any, at: string, want: 'int64' | 'string'): { value?: unknown; error?: string } {
  const fields = at.replace(/^\./, '').split('.');
  let cur: any = obj;
  for (let i = 0; i < fields.length; i++) {
    if (cur === undefined || cur === null) return {};
    if (typeof cur !== 'object' || Array.isArray(cur)) {
      return {
        error: `.${fields.slice(0, i).join('.')} accessor error: ${goValue(cur)} is of the type ${goTypeOf(cur)}, expected map[string]interface{}`,
      };
    }
    cur = cur[fields[i]];
  }
  if (cur === undefined || cur === null) return {};
  const ok = want === 'string' ? typeof cur === 'string' : goTypeOf(cur) === 'int64';
  if (!ok)
    return {
      error: `.${fields.join('.')} accessor error: ${goValue(cur)} is of the type ${goTypeOf(cur)}, expected ${want}`,
    };
  return { value: cur };
}

/** The Go type a JSON value decodes to in an unstructured object (integers kept as int64). */
function goTypeOf(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63 ? 'int64' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** Go's %v of such a value: floats as strconv's shortest 'g' (1e+20, 1.5), others plainly. */
function goValue(v: unknown): string {
  if (typeof v === 'number' && goTypeOf(v) === 'float64') return goFloat(v);
  if (typeof v === 'object') return JSON.stringify(v);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects were stringified as JSON above: only primitives reach here
  return String(v);
}

function goFloat(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
  const [mantissa, expText] = v.toExponential().split('e');
  const exp = Number(expText);
  // strconv's shortest 'g': exponent form when the exponent is below -4 or at least 6.
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(v);
}
