/**
 * RFC 7386 JSON Merge Patch: objects merge recursively, `null` removes a key, and anything
 * else (arrays included) replaces the target value.
 *
 * Keys are data: members are read and written as own properties only (see ../objects.ts), so
 * `constructor` or `__proto__` in a patch are ordinary members.
 */
import { ownValue, setOwn } from '../objects.js';

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
  // (Spread copies own properties as own properties, `__proto__` included.)
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) {
      delete result[key];
    } else {
      setOwn(result, key, apply(ownValue(result, key), value));
    }
  }
  // Untouched members are still the caller's objects; copy them so the result is independent.
  for (const key of Object.keys(result)) {
    const value = result[key];
    if (value !== null && typeof value === 'object' && !Object.hasOwn(patch, key)) {
      result[key] = deepCopy(value as Json);
    }
  }
  return result;
}
