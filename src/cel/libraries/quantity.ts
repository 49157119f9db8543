// Kubernetes' CEL quantity library (library/quantity.go): quantity(), isQuantity() and the
// Quantity methods, on the server's own resource.Quantity implementation.
import type { Environment } from '@marcbachmann/cel-js';
import { Quantity, parseQuantityOrNull } from '../../machinery/quantity.js';

/** The CEL value of a quantity (a distinct class: CEL dispatches methods on it). */
export class CelQuantity {
  constructor(readonly q: Quantity) {}
  toString(): string {
    return this.q.toString();
  }
}

const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);

function parse(s: string): CelQuantity {
  const q = parseQuantityOrNull(s);
  if (!q)
    throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  return new CelQuantity(q);
}

function asInteger(c: CelQuantity): bigint {
  const milli = c.q.milliValueBig();
  if (milli % 1000n !== 0n) throw new Error('cannot convert value to integer');
  const v = milli / 1000n;
  if (v > MAX_INT64 || v < MIN_INT64) throw new Error('cannot convert value to integer');
  return v;
}

const cmp = (a: CelQuantity, b: CelQuantity): number => a.q.cmp(b.q);

export function registerQuantity(env: Environment): void {
  env
    .registerType('Quantity', CelQuantity)
    .registerFunction('quantity(string): Quantity', parse)
    .registerFunction('isQuantity(string): bool', (s: string) => parseQuantityOrNull(s) !== null)
    .registerFunction('Quantity.isInteger(): bool', (c: CelQuantity) => c.q.milliValueBig() % 1000n === 0n)
    .registerFunction('Quantity.asInteger(): int', asInteger)
    .registerFunction('Quantity.asApproximateFloat(): double', (c: CelQuantity) => c.q.asNumber())
    .registerFunction('Quantity.sign(): int', (c: CelQuantity) => BigInt(c.q.sign()))
    .registerFunction(
      'Quantity.add(Quantity): Quantity',
      (a: CelQuantity, b: CelQuantity) => new CelQuantity(a.q.add(b.q)),
    )
    .registerFunction(
      'Quantity.add(int): Quantity',
      (a: CelQuantity, n: bigint) => new CelQuantity(a.q.add(Quantity.fromValue(n))),
    )
    .registerFunction(
      'Quantity.sub(Quantity): Quantity',
      (a: CelQuantity, b: CelQuantity) => new CelQuantity(a.q.sub(b.q)),
    )
    .registerFunction(
      'Quantity.sub(int): Quantity',
      (a: CelQuantity, n: bigint) => new CelQuantity(a.q.sub(Quantity.fromValue(n))),
    )
    .registerFunction('Quantity.isGreaterThan(Quantity): bool', (a: CelQuantity, b: CelQuantity) => cmp(a, b) > 0)
    .registerFunction('Quantity.isLessThan(Quantity): bool', (a: CelQuantity, b: CelQuantity) => cmp(a, b) < 0)
    .registerFunction('Quantity.compareTo(Quantity): int', (a: CelQuantity, b: CelQuantity) => BigInt(cmp(a, b)))
    .registerOperator('Quantity == Quantity', (a: CelQuantity, b: CelQuantity) => cmp(a, b) === 0);
}
