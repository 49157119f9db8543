// Kubernetes' CEL list library (k8s.io/apiserver/pkg/cel/library/lists.go): isSorted, sum, min,
// max, indexOf, lastIndexOf. Elements compare as CEL orders them (numbers across int/double,
// strings by code point, bools, timestamps, durations).
import type { Environment } from '@marcbachmann/cel-js';
import { charge } from '../cost.js';

/** Negative, zero or positive; throws for values CEL cannot order. */
export function compareCel(a: unknown, b: unknown): number {
  const na = typeof a === 'bigint' || typeof a === 'number';
  const nb = typeof b === 'bigint' || typeof b === 'number';
  if (na && nb) {
    if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
    return Number(a) - Number(b);
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && a.constructor === b.constructor) {
    const va = (a as { valueOf(): unknown }).valueOf();
    const vb = (b as { valueOf(): unknown }).valueOf();
    if (va !== a && vb !== b) return compareCel(va, vb);
  }
  throw new Error('no such overload');
}

function equalsCel(a: unknown, b: unknown): boolean {
  try {
    return compareCel(a, b) === 0;
  } catch {
    return a === b;
  }
}

function extreme(list: unknown[], sign: 1 | -1, name: string): unknown {
  if (list.length === 0) throw new Error(`${name}(list) called on empty list`);
  charge(list.length);
  let best = list[0];
  for (const v of list) if (compareCel(v, best) * sign > 0) best = v;
  return best;
}

function sum(list: unknown[]): unknown {
  charge(list.length);
  if (list.length === 0) return 0n;
  if (list.every((v) => typeof v === 'bigint')) return list.reduce((a, b) => a + b, 0n);
  if (list.every((v) => typeof v === 'number')) return list.reduce((a, b) => a + b, 0);
  throw new Error('no such overload: sum() of mixed or non-numeric elements');
}

export function registerLists(env: Environment): void {
  env
    .registerFunction('list.isSorted(): bool', (list: unknown[]) => {
      charge(list.length);
      for (let i = 1; i < list.length; i++) if (compareCel(list[i - 1], list[i]) > 0) return false;
      return true;
    })
    .registerFunction('list.sum(): dyn', sum)
    .registerFunction('list.min(): dyn', (list: unknown[]) => extreme(list, -1, 'min'))
    .registerFunction('list.max(): dyn', (list: unknown[]) => extreme(list, 1, 'max'))
    .registerFunction('list.indexOf(dyn): int', (list: unknown[], v: unknown) => {
      charge(list.length);
      return BigInt(list.findIndex((x) => equalsCel(x, v)));
    })
    .registerFunction('list.lastIndexOf(dyn): int', (list: unknown[], v: unknown) => {
      charge(list.length);
      for (let i = list.length - 1; i >= 0; i--) if (equalsCel(list[i], v)) return BigInt(i);
      return -1n;
    });
}
