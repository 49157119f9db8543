// Light commands start fast: `k8ts --help` and `k8ts chart template` load no server, controller,
// agent or storage code (each command imports what it runs when it runs, src/cli/main.ts). And
// `import 'k8ts'` loads no etcd client (gRPC), scheduler, simulator or DNS: a library user's test
// process loads those only when its cluster runs them (src/server/assemble.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

// A module loader hook that names every file the command loads, on stderr.
const hooks = `export async function load(url, context, next) {
  if (url.startsWith('file:')) process.stderr.write('LOADED ' + url + '\\n');
  return next(url, context);
}`;
const register = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`;

function modulesLoadedBy(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('LOADED '))
    .map((l) => l.slice('LOADED '.length));
}

// (apiserver/encryption is small, crypto and YAML only: `k8ts secrets-encrypt` defines its commands with it.)
const heavy =
  /\/dist\/src\/(apiserver|controllers|scheduler|storage|client|ingress|dns|netpol|server)\/|\/agent\/agent\.js/;

test('k8ts --help loads no server code', () => {
  const loaded = modulesLoadedBy(['bin/k8ts', '--help']);
  assert.ok(
    loaded.some((u) => u.endsWith('/dist/src/cli/main.js')),
    'the hook sees the CLI load',
  );
  assert.deepEqual(
    loaded.filter((u) => heavy.test(u) && !u.includes('/apiserver/encryption/')),
    [],
  );
});

test('k8ts chart template loads the chart renderer, not the server', () => {
  const loaded = modulesLoadedBy(['bin/k8ts', 'chart', 'template', 'x', 'examples/chart']);
  assert.ok(loaded.some((u) => u.includes('/dist/src/chart/')));
  assert.deepEqual(
    loaded.filter((u) => heavy.test(u) && !u.includes('/apiserver/encryption/')),
    [],
  );
});

test('import of the library loads the API server but no etcd client, scheduler, simulator or DNS', () => {
  const loaded = modulesLoadedBy(['--input-type=module', '-e', "await import('./dist/src/index.js')"]);
  assert.ok(loaded.some((u) => u.endsWith('/dist/src/apiserver/server.js')));
  assert.deepEqual(
    loaded.filter((u) => /\/dist\/src\/(storage\/etcd|scheduler|sim\/simulator|dns)\/?|@grpc|etcd3/.test(u)),
    [],
  );
});
