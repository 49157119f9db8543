/**
 * RFC 7386 JSON Merge Patch: objects merge recursively, `null` removes a key, and anything
 * else (arrays included) replaces the target value.
 */

import { deepCopy } from '../objects.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Returns `obj` with `patch` applied; inputs are not modified and the result shares nothing with them. */
export function mergePatch<T = unknown>(obj: T, patch: unknown): T {
  return apply(obj, patch) as T;
}

function apply(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return deepCopy(patch as Json);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      result[key] = apply(result[key], value);
    }
  }
  // Untouched members are still the caller's objects; copy them so the result is independent.
  for (const key of Object.keys(result)) {
    if (!(key in patch) && result[key] !== null && typeof result[key] === 'object') {
      result[key] = deepCopy(result[key] as Json);
    }
  }
  return result;
}
