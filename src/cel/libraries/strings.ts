// The parts of cel-go's strings extension (ext.Strings, the version Kubernetes enables) that the
// evaluator does not already provide: charAt, replace, reverse. (lowerAscii, upperAscii, trim,
// indexOf, lastIndexOf, substring, split and join are built in.)
import type { Environment } from '@marcbachmann/cel-js';
import { charge } from '../cost.js';

function replace(s: string, from: string, to: string, n: number): string {
  charge(s.length / 10);
  if (n === 0) return s;
  if (n < 0) return s.split(from).join(to);
  let out = '';
  let rest = s;
  for (let i = 0; i < n; i++) {
    const at = from === '' ? (i === 0 ? 0 : 1) : rest.indexOf(from);
    if (at < 0 || (from === '' && at > rest.length)) break;
    out += rest.slice(0, at) + to;
    rest = rest.slice(at + from.length);
  }
  return out + rest;
}

export function registerStrings(env: Environment): void {
  env
    .registerFunction('string.charAt(int): string', (s: string, i: bigint) => {
      const chars = [...s];
      if (i < 0n || i > BigInt(chars.length)) throw new Error(`index out of range: ${i}`);
      return chars[Number(i)] ?? '';
    })
    .registerFunction('string.replace(string, string): string', (s: string, a: string, b: string) =>
      replace(s, a, b, -1),
    )
    .registerFunction('string.replace(string, string, int): string', (s: string, a: string, b: string, n: bigint) =>
      replace(s, a, b, Number(n)),
    )
    .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''));
}
