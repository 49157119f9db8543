// The process runtime against the real busybox: images imported from our own OCI archives,
// an httpd serving a page, exit codes, CRI log lines, execSync and stats.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTestImage } from '../../src/agent/images/testimages.js';
import { ProcessRuntime } from '../../src/agent/runtime/process/runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../../src/agent/runtime/types.js';
import { until } from '../support/until.js';
import { freePort } from '../support/ports.js';

const haveBusybox = existsSync('/bin/busybox');
const CRI_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (stdout|stderr) [FP] .*$/;

function sandboxConfig(logDirectory: string, name = 'web'): PodSandboxConfig {
  return {
    metadata: { name, uid: `uid-${name}`, namespace: 'default', attempt: 0 },
    hostname: name,
    logDirectory,
    portMappings: [],
    labels: {},
    annotations: {},
    linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

function containerConfig(name: string, image: string, command: string[], args: string[] = []): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command,
    args,
    workingDir: '',
    envs: [{ key: 'GREETING', value: 'hello' }],
    mounts: [],
    devices: [],
    labels: {},
    annotations: {},
    logPath: `${name}/0.log`,
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: { resources: {}, securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

for (const mode of ['auto', 'host'] as const) {
  describe(`process runtime (${mode} mode)`, { skip: !haveBusybox && 'needs /bin/busybox (busybox-static)' }, () => {
    let dir: string;
    let rt: ProcessRuntime;
    let sb: string;
    let sbc: PodSandboxConfig;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'k8ts-procrt-'));
      rt = new ProcessRuntime(join(dir, 'state'), { mode });
      for (const name of ['httpd', 'busybox'] as const) rt.images.import(buildTestImage(name).tar);
    });
    after(async () => {
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('images are listed, pull only finds present ones', async () => {
      const images = await rt.listImages();
      assert.deepEqual(images.flatMap((i) => i.repoTags).sort(), ['k8ts.local/busybox:1.35', 'k8ts.local/httpd:1.35']);
      assert.equal(await rt.pullImage('k8ts.local/httpd:1.35'), (await rt.imageStatus('k8ts.local/httpd:1.35'))!.id);
      await assert.rejects(rt.pullImage('nginx'), /cannot pull from registries/);
    });

    test('httpd serves its page, logs in CRI format, stops on SIGTERM', async () => {
      sbc = sandboxConfig(join(dir, 'logs'));
      sb = await rt.runPodSandbox(sbc);
      assert.equal((await rt.podSandboxStatus(sb))!.state, 'SANDBOX_READY');
      // Both modes share the host's network: a free port, not a fixed one another process may hold.
      const port = await freePort();
      // Host mode does not remap absolute paths (only the working dir maps into the rootfs).
      const www = rt.mode === 'chroot' ? '/www' : 'www';
      const id = await rt.createContainer(
        sb,
        containerConfig('httpd', 'k8ts.local/httpd:1.35', [], ['httpd', '-f', '-v', '-p', String(port), '-h', www]),
        sbc,
      );
      await rt.startContainer(id);
      assert.equal((await rt.containerStatus(id))!.state, 'CONTAINER_RUNNING');
      const body = await until('httpd', async () => {
        const r = await fetch(`http://127.0.0.1:${port}/`);
        return r.ok ? r.text() : undefined;
      });
      assert.match(body, /It works!/);
      const stats = await rt.listContainerStats();
      assert.equal(stats.length, 1);
      assert.ok(stats[0].memory!.workingSetBytes!.value > 0);
      const ex = await rt.execSync(id, ['sh', '-c', 'echo $GREETING; exit 4'], 5);
      assert.equal(ex.stdout.toString(), 'hello\n');
      assert.equal(ex.exitCode, 4);
      if (rt.mode === 'chroot') {
        const cat = await rt.execSync(id, ['cat', '/www/index.html'], 5);
        assert.match(cat.stdout.toString(), /It works!/);
      }
      await rt.stopContainer(id, 5);
      const st = (await rt.containerStatus(id))!;
      assert.equal(st.state, 'CONTAINER_EXITED');
      assert.equal(st.exitCode, 143);
      assert.equal(st.reason, 'Error');
      assert.ok(st.finishedAt >= st.startedAt && st.startedAt > 0);
      const lines = readFileSync(st.logPath, 'utf8').trimEnd().split('\n');
      assert.ok(lines.length > 0 && lines.every((l) => CRI_LINE.test(l)), lines.join('\n'));
    });

    test('exit codes, reasons and stdout/stderr records', async () => {
      const fail = await rt.createContainer(
        sb,
        containerConfig('fail', 'k8ts.local/busybox:1.35', ['sh', '-c', 'exit 3']),
        sbc,
      );
      await rt.startContainer(fail);
      const st = await until('exit', async () => {
        const s = await rt.containerStatus(fail);
        return s?.state === 'CONTAINER_EXITED' ? s : undefined;
      });
      assert.equal(st.exitCode, 3);
      assert.equal(st.reason, 'Error');

      const ok = await rt.createContainer(
        sb,
        containerConfig('ok', 'k8ts.local/busybox:1.35', ['sh', '-c', 'echo out; echo err >&2; printf tail']),
        sbc,
      );
      await rt.startContainer(ok);
      const st2 = await until('exit', async () => {
        const s = await rt.containerStatus(ok);
        return s?.state === 'CONTAINER_EXITED' ? s : undefined;
      });
      assert.equal(st2.exitCode, 0);
      assert.equal(st2.reason, 'Completed');
      const log = await until('log', () => {
        const t = readFileSync(st2.logPath, 'utf8');
        return t.includes('tail') ? t : undefined;
      });
      const recs = log
        .trimEnd()
        .split('\n')
        .map((l) => l.split(' ').slice(1).join(' '))
        .sort();
      assert.deepEqual(recs, ['stderr F err', 'stdout F out', 'stdout F tail']);

      await rt.stopPodSandbox(sb);
      await rt.removePodSandbox(sb);
      assert.equal((await rt.listContainers()).length, 0);
      assert.equal(await rt.podSandboxStatus(sb), undefined);
    });
  });
}

test('CRI log records: full lines, partial pieces of long lines, a last line without newline', async () => {
  const { CriLogStream, MAX_LINE, rfc3339Nano } = await import('../../src/agent/runtime/process/crilog.js');
  const { PassThrough } = await import('node:stream');
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (b: Buffer) => chunks.push(b));
  const s = new CriLogStream(out, 'stdout');
  s.write(Buffer.from('one\ntw'));
  s.write(Buffer.from('o\r\n' + 'x'.repeat(MAX_LINE + 10) + '\nlast'));
  s.end();
  const recs = Buffer.concat(chunks).toString().trimEnd().split('\n');
  assert.ok(recs.every((l) => CRI_LINE.test(l)));
  assert.deepEqual(
    recs.map((l) => l.split(' ').slice(1, 3).join(' ') + ' ' + l.split(' ')[3].length),
    ['stdout F 3', 'stdout F 3', `stdout P ${MAX_LINE}`, 'stdout F 10', 'stdout F 4'],
  );
  assert.equal(rfc3339Nano(1_700_000_000_120_000_000n), '2023-11-14T22:13:20.12Z');
  assert.equal(rfc3339Nano(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
});
