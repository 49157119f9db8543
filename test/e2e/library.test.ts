// The example operator in examples/operator, installed into a fresh project the way a user would
// (`npm install` with k8ts as a file: dependency) and tested with node's test runner against
// startCluster(): the envtest-style flow docs/testing-operators.md describes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './harness.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

test('a fresh project installs k8ts and tests the example operator against it', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-library-'));
  try {
    cpSync(join(ROOT, 'examples', 'operator'), dir, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    pkg.devDependencies.k8ts = `file:${ROOT}`;
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
      timeoutMs: 180_000,
      env: { ...process.env, npm_config_loglevel: 'error' },
      cwd: dir,
    });
    assert.equal(install.code, 0, install.stderr + install.stdout);
    // NODE_TEST_CONTEXT would make the inner runner report to this one instead of printing TAP.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const t = await run('node', ['--test'], { timeoutMs: 60_000, cwd: dir, env });
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /# pass 2\n/);
    assert.match(t.stdout, /# fail 0\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
