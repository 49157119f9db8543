// Kubernetes' CEL JSONPatch library (mutating admission policies): `jsonpatch.escapeKey(k)`
// escapes a map key for use in a JSON Pointer path ("/" as "~1", "~" as "~0").
import type { Environment } from '@marcbachmann/cel-js';

/** The receiver `jsonpatch` is bound to; the evaluator has no namespaced functions. */
export class JsonPatchLibrary {}

export const JSONPATCH_LIBRARY_TYPE = 'JSONPatchLibrary';

/** RFC 6901 escaping of one JSON Pointer segment. */
export const escapeJsonPointerKey = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

export function registerJsonPatch(env: Environment): void {
  env.registerType(JSONPATCH_LIBRARY_TYPE, JsonPatchLibrary);
  env.registerFunction(`${JSONPATCH_LIBRARY_TYPE}.escapeKey(string): string`, (_lib: JsonPatchLibrary, key: string) =>
    escapeJsonPointerKey(key),
  );
}
