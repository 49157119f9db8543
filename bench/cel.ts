// CEL validation cost: a typical CRD rule (`self.minReplicas <= self.maxReplicas`) evaluated
// alone (compiled program, converted value) and as a whole CRD validation of one object
// (JSON → CEL conversion of the object plus the rule walk), and a list rule over 100 items.
//   node dist/bench/cel.js   (CEL_ITERATIONS)
import { compile, toCel } from '../src/cel/index.js';
import { SchemaRules } from '../src/cel/schemarules.js';
import { path } from '../src/machinery/fielderrors.js';
import { pick } from './common.js';

const ITERATIONS = pick('CEL_ITERATIONS', 500_000, 100_000);

function measure(name: string, fn: () => unknown): void {
  for (let i = 0; i < Math.min(ITERATIONS, 20_000); i++) fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) fn();
  const us = Number(process.hrtime.bigint() - t) / ITERATIONS / 1000;
  process.stdout.write(`${name.padEnd(58)} ${us.toFixed(2)} µs\n`);
}

const schema = {
  type: 'object',
  properties: {
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      'x-kubernetes-validations': [{ rule: 'self.minReplicas <= self.maxReplicas', message: 'min > max' }],
      properties: {
        minReplicas: { type: 'integer' },
        maxReplicas: { type: 'integer' },
        image: { type: 'string' },
        ports: { type: 'array', items: { type: 'integer' } },
      },
    },
  },
};
const obj = {
  apiVersion: 'example.com/v1',
  kind: 'Scaler',
  metadata: { name: 'a', namespace: 'default', labels: { app: 'a' } },
  spec: { minReplicas: 1, maxReplicas: 3, image: 'nginx', ports: [80, 443] },
};

const rule = compile('self.minReplicas <= self.maxReplicas', { self: 'dyn', oldSelf: 'dyn' });
const spec = toCel(obj.spec, schema.properties.spec);
measure('rule evaluation (compiled, value converted)', () => rule.evaluate({ self: spec }));
const rules = new SchemaRules(schema, path());
measure('CRD object validation (convert + walk + 1 rule)', () => rules.validate(obj, undefined, path()));
measure('CRD object update validation (old and new)', () => rules.validate(obj, obj, path()));
const list = toCel({ items: Array.from({ length: 100 }, (_, i) => ({ name: `n${i}`, port: i })) });
const all = compile('self.items.all(i, i.port >= 0 && i.name.startsWith("n"))', { self: 'dyn' });
measure('all() over 100 items', () => all.evaluate({ self: list }));
