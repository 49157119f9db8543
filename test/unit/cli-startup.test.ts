// Light commands start fast: `k8ts --help` and `k8ts chart template` load no server, controller,
// agent or storage code (each command imports what it runs when it runs, src/cli/main.ts).
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
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(register)}`, 'bin/k8ts', ...args],
    { cwd: ROOT, encoding: 'utf8' },
  );
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
  const loaded = modulesLoadedBy(['--help']);
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
  const loaded = modulesLoadedBy(['chart', 'template', 'x', 'examples/chart']);
  assert.ok(loaded.some((u) => u.includes('/dist/src/chart/')));
  assert.deepEqual(
    loaded.filter((u) => heavy.test(u) && !u.includes('/apiserver/encryption/')),
    [],
  );
});
