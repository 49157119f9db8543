/**
 * Build step: bundles the library entry (`import { startCluster } from 'k8ts'`) into
 * dist/lib/k8ts.js with esbuild, so a test process loads one file instead of ~700 modules
 * (Node 20 has no module compile cache; loading them was most of a library cluster's start).
 * The CLI and the tests keep running the unbundled dist/src tree.
 *
 * Worker threads are started from files next to the module that starts them
 * (`new URL('./writer.js', import.meta.url)`), so each worker is bundled beside the library under
 * the same name. Native and peer packages stay external: better-sqlite3 (a native addon) and
 * @kubernetes/client-node (the caller's own copy is used).
 */
import { build, type BuildOptions } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { basename, join } from 'node:path';
import { rmSync } from 'node:fs';

const DIST = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(DIST, 'lib');

/** Worker entry points started by the library, as compiled by tsc. */
const WORKERS = [
  'storage/sqlite/writer.js',
  'machinery/ssa/threadworker.js',
  'apiserver/yaml/worker.js',
  'server/schedulerworker.js',
];

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', '@kubernetes/client-node'],
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __k8tsRequire } from 'node:module'; const require = __k8tsRequire(import.meta.url);",
  },
  logLevel: 'warning',
  legalComments: 'none',
};

const started = Date.now();
// Chunk names carry content hashes: a previous build's chunks would otherwise stay beside these.
rmSync(OUT, { recursive: true, force: true });
// Split at dynamic imports: what a library cluster does not start (the scheduler without nodes,
// etcd, the chart controller, webhooks' HTTP client...) stays in chunks that are never compiled.
await build({
  ...common,
  entryPoints: { k8ts: join(DIST, 'src', 'index.js') },
  outdir: OUT,
  splitting: true,
  chunkNames: '[name]-[hash]',
});
for (const worker of WORKERS) {
  await build({ ...common, entryPoints: [join(DIST, 'src', worker)], outfile: join(OUT, basename(worker)) });
}
process.stdout.write(`bundled the library into ${OUT} in ${Date.now() - started} ms\n`);
