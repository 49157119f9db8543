// Kubernetes' CEL regex library (library/regex.go): find and findAll. Patterns are RE2; the
// common subset is what JavaScript's engine runs (named groups are respelled).
import type { Environment } from '@marcbachmann/cel-js';
import { charge } from '../cost.js';

const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 500;

/** A global RegExp for an RE2 pattern (compiled once; a bad pattern throws). */
export function compileRE2(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re) return re;
  const js = pattern.replace(/\(\?P</g, '(?<');
  re = new RegExp(js, 'gu');
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(pattern, re);
  return re;
}

function findAll(s: string, pattern: string, limit: number): string[] {
  charge(s.length / 10);
  const re = compileRE2(pattern);
  re.lastIndex = 0;
  const out: string[] = [];
  for (const m of s.matchAll(re)) {
    if (limit >= 0 && out.length >= limit) break;
    out.push(m[0]);
  }
  return out;
}

export function registerRegex(env: Environment): void {
  env
    .registerFunction('string.find(string): string', (s: string, p: string) => findAll(s, p, 1)[0] ?? '')
    .registerFunction('string.findAll(string): list<string>', (s: string, p: string) => findAll(s, p, -1))
    .registerFunction('string.findAll(string, int): list<string>', (s: string, p: string, n: bigint) =>
      n === 0n ? [] : findAll(s, p, Number(n)),
    );
}
