// k8ts as a library, as a user meets it: `npm pack` this checkout, install the tarball into a fresh
// copy of examples/operator (with its own @kubernetes/client-node), then time that project's whole
// `node --test` (runner, test child process, startCluster, CRD, operator, two tests) LIBSTART_RUNS
// times: wall time and the CPU time of the whole process tree (from /usr/bin/time). A probe in the
// same project then times the phases (imports, startCluster, CRD created -> served) with wall and
// CPU of its process (process.cpuUsage), LIBSTART_RUNS times.
//   npm run bench:libstart   (LIBSTART_RUNS, default 7; LIBSTART_KEEP=1 keeps the project)
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pick, repo } from './common.js';

const RUNS = pick('LIBSTART_RUNS', 7, 3);

/** The phases of the example's test, in one process: what the runner's child does. */
const PROBE = `
import { performance } from 'node:perf_hooks';
const marks = [];
let t = performance.now(), c = process.cpuUsage();
const mark = (name) => {
  const now = performance.now(), cpu = process.cpuUsage();
  marks.push({ name, wall: now - t, cpu: (cpu.user - c.user + cpu.system - c.system) / 1000 });
  t = now; c = cpu;
};
const { startCluster } = await import('k8ts');
mark('import k8ts');
const k8s = await import('@kubernetes/client-node');
mark('import @kubernetes/client-node');
const { greetingCRD, GROUP, VERSION, PLURAL } = await import('./operator.js');
const cluster = await startCluster();
mark('startCluster()');
const kc = await cluster.kubeConfig();
await k8s.KubernetesObjectApi.makeApiClient(kc).create(greetingCRD);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
for (;;) {
  try {
    await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL });
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 5));
  }
}
mark('CRD created -> resource served');
await cluster.stop();
mark('stop()');
process.stdout.write(JSON.stringify(marks) + '\\n');
`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs: number[], unit = 's', digits = 2) =>
  `${median(xs).toFixed(digits)} ${unit} median (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
const load = () => loadavg()[0].toFixed(1);

const tmp = mkdtempSync(join(tmpdir(), 'k8ts-libstart-'));
const project = join(tmp, 'project');
try {
  process.stdout.write(`packing ${repo}...\n`);
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], {
      cwd: repo,
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  ) as { filename: string }[];
  const tarball = join(tmp, packed[0].filename);
  cpSync(join(repo, 'examples', 'operator'), project, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  pkg.devDependencies.k8ts = `file:${tarball}`;
  writeFileSync(join(project, 'package.json'), JSON.stringify(pkg, null, 2));
  writeFileSync(join(project, 'probe.mjs'), PROBE);
  process.stdout.write(`installing ${packed[0].filename} into ${project}...\n`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: project,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
  // NODE_TEST_CONTEXT (set when this runs under a test runner) would redirect the inner runner.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;

  const wall: number[] = [];
  const cpu: number[] = [];
  const loads: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    loads.push(load());
    const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S', 'node', '--test'], {
      cwd: project,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const m = /TIME (\S+) (\S+) (\S+)/.exec(r.stderr);
    if (r.status !== 0 || !m || !/# pass 2\n/.test(r.stdout))
      throw new Error(`node --test failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    wall.push(Number(m[1]));
    cpu.push(Number(m[2]) + Number(m[3]));
    process.stdout.write(
      `  node --test #${i + 1}: ${m[1]} s wall, ${(Number(m[2]) + Number(m[3])).toFixed(2)} s CPU\n`,
    );
  }

  const phases = new Map<string, { wall: number[]; cpu: number[] }>();
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync('node', ['probe.mjs'], { cwd: project, env, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`probe failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    for (const m of JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; wall: number; cpu: number }[]) {
      const p = phases.get(m.name) ?? { wall: [], cpu: [] };
      p.wall.push(m.wall / 1000);
      p.cpu.push(m.cpu / 1000);
      phases.set(m.name, p);
    }
  }

  process.stdout.write(
    `\nnode ${process.version}, ${RUNS} runs, load average (1 min) ${loads.join(' ')} .. ${load()}\n`,
  );
  process.stdout.write(`${'example operator: node --test, whole'.padEnd(40)} wall ${fmt(wall)}   CPU ${fmt(cpu)}\n`);
  for (const [name, p] of phases)
    process.stdout.write(`${('  ' + name).padEnd(40)} wall ${fmt(p.wall)}   CPU ${fmt(p.cpu)}\n`);
} finally {
  if (process.env.LIBSTART_KEEP) process.stdout.write(`kept ${tmp}\n`);
  else rmSync(tmp, { recursive: true, force: true });
}
