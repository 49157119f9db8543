// Golden tests of `k8ts chart template` against Helm's own `helm template` test data
// (../shared/testdata/helm beside the clone: CASES.tsv, output/*.txt, testcharts/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { templateCommand } from '../../src/chart/template-command.js';

const DATA = resolve(process.cwd(), '../shared/testdata/helm');

interface Case {
  name: string;
  argv: string[];
  golden: string;
  expect: 'ok' | 'error';
  runs: number;
}

function readCases(): Case[] {
  const lines = readFileSync(resolve(DATA, 'CASES.tsv'), 'utf8').split('\n').filter(Boolean);
  const header = lines[0].split('\t');
  const col = (name: string) => header.indexOf(name);
  return lines.slice(1).map((line) => {
    const f = line.split('\t');
    return {
      name: f[col('case')],
      argv: JSON.parse(f[col('argv_json')]) as string[],
      golden: f[col('golden')],
      expect: f[col('expect')] as 'ok' | 'error',
      runs: Number(f[col('runs')]),
    };
  });
}

/** What Helm writes for a case: stdout, then "Error: <message>\n" when it fails. */
function run(argv: string[]): string {
  const cwd = process.cwd();
  process.chdir(DATA);
  try {
    const r = templateCommand(argv);
    return r.stdout + (r.error !== undefined ? `Error: ${r.error}\n` : '');
  } finally {
    process.chdir(cwd);
  }
}

const lf = (s: string) => s.replace(/\r\n/g, '\n');

if (!existsSync(DATA)) {
  test('helm golden data', { skip: `${DATA} not present` }, () => {});
} else {
  for (const c of readCases()) {
    test(`helm template golden: ${c.name}`, () => {
      const want = lf(readFileSync(resolve(DATA, c.golden), 'utf8'));
      for (let i = 0; i < c.runs; i++) assert.equal(lf(run(c.argv)), want);
    });
  }

  // The same through the real command line: `k8ts chart template` with Helm's flags.
  test('k8ts chart template CLI matches the golden output and exit status', () => {
    const bin = resolve(process.cwd(), 'bin/k8ts');
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [bin, 'chart', ...args], { cwd: DATA, encoding: 'utf8' });
    const ok = cli(['template', 'testcharts/subchart', '--set', 'service.name=apache']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, lf(readFileSync(resolve(DATA, 'output/template-set.txt'), 'utf8')));
    const bad = cli(['template', 'testcharts/chart-bad-type']);
    assert.equal(bad.status, 1);
    assert.equal(
      bad.stdout + bad.stderr,
      lf(readFileSync(resolve(DATA, 'output/template-chart-bad-type.txt'), 'utf8')),
    );
  });
}
