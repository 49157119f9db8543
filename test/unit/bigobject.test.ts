// Work per request must grow linearly with the body: a quadratic step turns a 3 MiB body into
// seconds or minutes on the event loop, which every other request waits for. Each test measures
// an algorithm's CPU time on n and 8n items (best of three, so that a busy machine matters less)
// and allows a generous factor: linear work grows about 8x, quadratic 64x.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody } from '../../src/apiserver/http.js';
import { parseYAMLText } from '../../src/apiserver/yaml/worker.js';
import { strategicMergePatch } from '../../src/machinery/patch/strategic.js';
import { deepCopy } from '../../src/machinery/objects.js';

function bestOf3(f: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = process.cpuUsage();
    f();
    const used = process.cpuUsage(t0);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

/** Asserts that `work(8n)` takes less than 32x the CPU time of `work(n)` (garbage collection and caches make big inputs somewhat slower per item). */
function assertLinear(name: string, n: number, work: (n: number) => () => void): void {
  const small = work(n);
  const big = work(8 * n);
  small(); // warm up
  const ratio = bestOf3(big) / Math.max(bestOf3(small), 1);
  assert.ok(ratio < 32, `${name}: 8x the items took ${ratio.toFixed(1)}x the time`);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('YAML bodies: duplicate keys are checked in linear time', () => {
  // Block style: the YAML parser (what its thread runs), with the key check done by k8ts.
  assertLinear('YAML map', 2000, (n) => {
    const text = range(n)
      .map((i) => `k${i}: v`)
      .join('\n');
    return () => parseYAMLText(text);
  });
  // JSON sent as YAML (kubectl's server-side apply does): parsed as JSON, on the event loop.
  assertLinear('JSON as YAML', 10000, (n) => {
    const text = JSON.stringify(Object.fromEntries(range(n).map((i) => [`k${i}`, 'v'])));
    return () => void decodeBody(text, 'application/yaml'); // timed as called; the result is not needed
  });
});

test('YAML bodies: duplicate keys are still refused, whether the YAML is JSON or not', async () => {
  await assert.rejects(
    decodeBody('a: 1\nb:\n  c: 1\n  c: 2\n', 'application/yaml'),
    /Map keys must be unique at line 4, column 3/,
  );
  await assert.rejects(decodeBody('{"a":1,"b":{"c":1,"c":2}}', 'application/yaml'), /Map keys must be unique/);
  await assert.rejects(decodeBody('[{"a":1,"a":2}]', 'application/yaml'), /Map keys must be unique/);
  // Same keys in different maps are fine; so are JSON with YAML comments and flow YAML.
  assert.deepEqual(await decodeBody('{"a":{"x":1},"b":{"x":2}}', 'application/yaml'), { a: { x: 1 }, b: { x: 2 } });
  assert.deepEqual(await decodeBody('{a: 1, b: [x, y]} # flow style', 'application/yaml'), { a: 1, b: ['x', 'y'] });
  assert.deepEqual(await decodeBody('a: 1\nb:\n- {c: 1}\n- {c: 2}\n', 'application/yaml'), {
    a: 1,
    b: [{ c: 1 }, { c: 2 }],
  });
});

const containers = (n: number, image: string) => range(n).map((i) => ({ name: `c${i}`, image }));

test('strategic merge patch: keyed lists merge in linear time', () => {
  assertLinear('merge by key', 2000, (n) => {
    const pod = { spec: { containers: containers(n, 'a') } };
    // Patch every element, in reverse order, with a $setElementOrder list and a deletion.
    const patch = {
      spec: {
        containers: [...containers(n, 'b').reverse(), { $patch: 'delete', name: 'c0' }],
        '$setElementOrder/containers': range(n).map((i) => ({ name: `c${n - 1 - i}` })),
      },
    };
    return () => strategicMergePatch(pod, patch, 'io.k8s.api.core.v1.Pod');
  });
});

test('strategic merge patch: keyed list results (order, several deletions, new elements)', () => {
  const pod = { spec: { containers: containers(5, 'a') } };
  const out = strategicMergePatch<any>(
    pod,
    {
      spec: {
        containers: [
          { name: 'c3', image: 'b' },
          { $patch: 'delete', name: 'c1' },
          { name: 'new', image: 'n' },
          { $patch: 'delete', name: 'c4' },
          { name: 'c0', image: 'z' },
        ],
      },
    },
    'io.k8s.api.core.v1.Pod',
  );
  // Patched elements in patch order, the untouched c2 placed by its live position (before c3), as
  // upstream's mergeSortedSlice does.
  assert.deepEqual(
    out.spec.containers.map((c: any) => `${c.name}=${c.image}`),
    ['c2=a', 'c3=b', 'new=n', 'c0=z'],
  );
  // A patch element naming a key twice merges into the same element both times.
  const twice = strategicMergePatch<any>(
    pod,
    {
      spec: {
        containers: [
          { name: 'x', image: '1' },
          { name: 'x', command: ['c'] },
        ],
      },
    },
    'io.k8s.api.core.v1.Pod',
  );
  assert.deepEqual(
    twice.spec.containers.find((c: any) => c.name === 'x'),
    { name: 'x', image: '1', command: ['c'] },
  );
  assert.equal(twice.spec.containers.filter((c: any) => c.name === 'x').length, 1);
});

test('deepCopy: a faithful copy of JSON data, own "__proto__" keys stay data', () => {
  const value = JSON.parse('{"a":[1,{"b":null,"c":"s"}],"__proto__":{"polluted":true},"d":{"e":[[]]}}');
  const copy = deepCopy(value);
  assert.deepEqual(copy, structuredClone(value));
  assert.notEqual(copy.a, value.a);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.ok(Object.prototype.hasOwnProperty.call(copy, '__proto__'));
  assert.equal(({} as any).polluted, undefined);
  assert.deepEqual(Object.keys(deepCopy({ a: undefined, b: 1 })), ['b']);
  const when = new Date(0);
  assert.deepEqual(deepCopy({ when }), { when });
});
