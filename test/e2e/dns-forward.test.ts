// Names outside the cluster domain, end to end: the cluster DNS forwards them to the resolvers of
// the host's resolv.conf (here the file given with --resolv-conf, naming a dnsmasq this test runs
// on a loopback address, with example.test -> 192.0.2.7), and caches the answers. A process-runtime
// pod resolves example.test through k8ts' DNS listener (the nameserver of its resolv.conf, not
// dnsmasq's); dnsmasq logs the question coming from k8ts; once dnsmasq is gone the name is still
// answered, from the cache.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { importTestImages, startCluster, until, type Cluster, waitForReadyNode } from './harness.js';

const skip =
  process.getuid?.() !== 0
    ? 'binding port 53 on loopback needs root'
    : spawnSync('sh', ['-c', 'command -v dnsmasq'], { stdio: 'ignore' }).status !== 0
      ? 'dnsmasq is not installed (Debian: dnsmasq-base)'
      : false;

// The upstream's own loopback address (127.0.0.0/16 is clear of the agents' listeners; not
// 127.0.0.1 nor systemd-resolved's 127.0.0.53).
const UPSTREAM = `127.0.${2 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
let dir: string;
let dnsmasq: ChildProcess | undefined;
let dnsmasqLog = '';
let c: Cluster | undefined;

/** A resolver asking only `server` (port 53), with a bounded wait. */
function askOnly(server: string): Resolver {
  const r = new Resolver({ timeout: 3_000, tries: 1 });
  r.setServers([server]);
  return r;
}

async function stopDnsmasq(): Promise<void> {
  const p = dnsmasq;
  dnsmasq = undefined;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((res) => p.once('exit', res));
  p.kill('SIGTERM');
  await exited;
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'k8ts-dns-forward-'));
  writeFileSync(join(dir, 'resolv.conf'), `nameserver ${UPSTREAM}\n`);
  dnsmasq = spawn(
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      `--listen-address=${UPSTREAM}`,
      '--bind-interfaces',
      '--port=53',
      '--address=/example.test/192.0.2.7',
      '--local-ttl=300',
      '--log-queries',
      '--log-facility=-',
      '--pid-file=',
      '--user=root',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  dnsmasq.stderr!.on('data', (d) => (dnsmasqLog += d));
  await until(
    'dnsmasq answers on its loopback address',
    async () => (await askOnly(UPSTREAM).resolve4('example.test')).includes('192.0.2.7'),
    { timeoutMs: 60_000, stepMs: 500, diag: () => `dnsmasq: ${dnsmasqLog}` },
  );
  c = await startCluster({ agent: true, args: ['--runtime', 'process', '--resolv-conf', join(dir, 'resolv.conf')] });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox']);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'client' },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: 'k8ts.local/busybox:1.35', command: ['sleep', '3600'] }],
    },
  };
  await c.k(['apply', '-f', '-'], YAML.stringify(pod));
  await c.k(['wait', '--for=condition=Ready', 'pod/client', '--timeout=180s']);
});

after(async () => {
  await stopDnsmasq();
  if (c) await c.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test(
  'a pod resolves example.test through the cluster DNS, which forwards it to the --resolv-conf upstream and caches it',
  { skip, timeout: 240_000 },
  async () => {
    const resolv = await c!.k(['exec', 'client', '--', 'cat', '/etc/resolv.conf']);
    const listener = /^nameserver (\S+)$/m.exec(resolv)?.[1];
    assert.ok(listener && listener !== UPSTREAM, `the pod asks k8ts' listener, not dnsmasq: ${resolv}`);
    const logBefore = dnsmasqLog.length;
    const lookup = await until(
      'nslookup example.test in the pod answers 192.0.2.7',
      async () => {
        const r = await c!.kubectl(['exec', 'client', '--', 'nslookup', 'example.test']);
        if (!r.stdout.includes('192.0.2.7')) throw new Error(`${r.stdout}${r.stderr}`);
        return r.stdout;
      },
      { timeoutMs: 120_000, stepMs: 1_000 },
    );
    assert.match(lookup, /Name:\s+example\.test/);
    // The question reached dnsmasq, and only k8ts' listener can have asked it (the pod knows no other).
    assert.match(dnsmasqLog.slice(logBefore), /query\[A\] example\.test from /);
    // The host asks k8ts' listener directly too; then, with the upstream gone, the cache answers.
    assert.deepEqual(await askOnly(listener).resolve4('example.test'), ['192.0.2.7']);
    await stopDnsmasq();
    assert.deepEqual(await askOnly(listener).resolve4('example.test'), ['192.0.2.7']);
  },
);
