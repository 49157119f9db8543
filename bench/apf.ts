// API Priority and Fairness on the request path: the CPU time of classifying a request, estimating
// its seats and admitting and releasing it (src/apiserver/flowcontrol/), in process, without I/O,
// for a user of the global-default level (the admin is exempt and skips most of it). Not a test:
// it prints nanoseconds of CPU per request for a GET, a LIST, a create and an update.
//
//   npx tsc -p tsconfig.json && node dist/bench/apf.js
//
// Environment (all optional):
//   BENCH_OPS   requests measured per verb (300000)
import { FlowControl } from '../src/apiserver/flowcontrol/index.js';
import type { Attributes } from '../src/apiserver/authz/types.js';
import { userNamed } from '../src/server/identities.js';

const ops = Number(process.env.BENCH_OPS ?? 300_000);
const fc = new FlowControl(
  {
    store: () => {
      throw new Error('not used');
    },
    log: undefined as never,
    // Lists of a resource of 350 objects: 4 seats.
    objectCount: () => 350,
  },
  600,
  60_000,
);
const user = userNamed('alice');
const request = (verb: string, name = ''): Attributes => ({
  user,
  verb,
  resourceRequest: true,
  namespace: 'default',
  apiGroup: '',
  apiVersion: 'v1',
  resource: 'configmaps',
  subresource: '',
  name,
  path: '',
});
// What an informer's first list asks for.
const query = new URLSearchParams('limit=500&resourceVersion=0');
const cases: [string, Attributes][] = [
  ['get', request('get', 'x')],
  ['list', request('list')],
  ['create', request('create')],
  ['update', request('update', 'x')],
];
console.log(`APF classify + estimate + admit + release, ${ops} requests each (global-default level):`);
for (const [verb, a] of cases) {
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const c = fc.classify(a);
      const t = fc.admit(c, fc.estimate(c, a, query));
      if (t instanceof Promise) throw new Error('a request waited: the level is idle');
      t.release();
    }
  };
  run(20_000);
  const before = process.cpuUsage();
  run(ops);
  const used = process.cpuUsage(before);
  console.log(`  ${verb.padEnd(6)} ${(((used.user + used.system) * 1000) / ops).toFixed(0)} ns CPU/request`);
}
