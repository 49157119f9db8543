// The function map Helm gives templates: Sprig's (without env/expandenv) plus Helm's own
// serialisation functions. include/tpl/required/fail are added per render by the engine.
import type { FuncDef, FuncMap } from '../template/exec.js';
import { isMap } from '../template/values.js';
import { marshalYaml, parseYaml, YamlError } from '../yaml.js';
import { certFuncs } from './certs.js';
import { collectionFuncs } from './collections.js';
import { cryptoFuncs } from './crypto.js';
import { mathFuncs } from './math.js';
import { goJson, miscFuncs, parseGoJson } from './misc.js';
import { stringFuncs } from './strings.js';
import { fromToml, toToml } from './toml.js';

type Fn = (...a: never[]) => unknown;
const f = (fn: Fn, params?: FuncDef['params'], variadic?: FuncDef['variadic']): FuncDef => ({
  fn: fn as FuncDef['fn'],
  params,
  variadic,
});

function goKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (isMap(v)) return 'object';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  return 'null';
}

/** sigs.k8s.io/yaml.Unmarshal into a map or a list, with its error texts. */
function yamlInto(text: string, want: 'map' | 'list'): { value?: unknown; error?: string } {
  let v: unknown;
  try {
    v = parseYaml(text);
  } catch (e) {
    if (e instanceof YamlError) return { error: `error converting YAML to JSON: ${e.message}` };
    throw e;
  }
  return intoTarget(v, want, 'error unmarshaling JSON: while decoding JSON: ');
}

function intoTarget(v: unknown, want: 'map' | 'list', prefix: string): { value?: unknown; error?: string } {
  if (v === null) return { value: want === 'map' ? {} : [] };
  const ok = want === 'map' ? isMap(v) : Array.isArray(v);
  if (ok) return { value: v };
  const target = want === 'map' ? 'map[string]interface {}' : '[]interface {}';
  return { error: `${prefix}json: cannot unmarshal ${goKind(v)} into Go value of type ${target}` };
}

function jsonInto(text: string, want: 'map' | 'list'): { value?: unknown; error?: string } {
  let v: unknown;
  try {
    v = parseGoJson(text);
  } catch (e) {
    return { error: (e as Error).message };
  }
  return intoTarget(v, want, '');
}

const helmFuncs: Record<string, FuncDef> = {
  toYaml: f(
    (v: unknown) => {
      try {
        return marshalYaml(v).replace(/\n$/, '');
      } catch {
        return '';
      }
    },
    ['any'],
  ),
  mustToYaml: f((v: unknown) => marshalYaml(v).replace(/\n$/, ''), ['any']),
  toYamlPretty: f((v: unknown) => marshalYaml(v, { indentSequences: true }).replace(/\n$/, ''), ['any']),
  fromYaml: f(
    (s: string) => {
      const r = yamlInto(s, 'map');
      return r.error !== undefined ? { Error: r.error } : r.value;
    },
    ['string'],
  ),
  fromYamlArray: f(
    (s: string) => {
      const r = yamlInto(s, 'list');
      return r.error !== undefined ? [r.error] : r.value;
    },
    ['string'],
  ),
  fromJson: f(
    (s: string) => {
      const r = jsonInto(s, 'map');
      return r.error !== undefined ? { Error: r.error } : r.value;
    },
    ['string'],
  ),
  fromJsonArray: f(
    (s: string) => {
      const r = jsonInto(s, 'list');
      return r.error !== undefined ? [r.error] : r.value;
    },
    ['string'],
  ),
  toToml: f((v: unknown) => toToml(v), ['any']),
  fromToml: f((s: string) => fromToml(s), ['string']),
  lookup: f(() => ({}), ['string', 'string', 'string', 'string']),
  toJson: f(
    (v: unknown) => {
      try {
        return goJson(v);
      } catch {
        return '';
      }
    },
    ['any'],
  ),
};

/** Sprig's TxtFuncMap minus env/expandenv, overlaid with Helm's functions. */
export function helmFuncMap(): FuncMap {
  return new Map(
    Object.entries({
      ...stringFuncs,
      ...collectionFuncs,
      ...mathFuncs,
      ...miscFuncs,
      ...cryptoFuncs,
      ...certFuncs,
      ...helmFuncs,
    }),
  );
}
