// OCI archives: the tar writer/reader, our image builder read back (digests, config), docker
// archives told apart from OCI layouts, and layers applied onto a directory with whiteouts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import { applyLayer } from '../../src/agent/images/extract.js';
import { buildOciArchive, normalizeRef, readImageArchive, sha256, type ImageSpec } from '../../src/agent/images/oci.js';
import { readTar, writeTar } from '../../src/agent/images/tar.js';
import { sharedLibraries } from '../../src/agent/images/testimages.js';
import { parseImageList, parseSize } from '../../src/agent/images/containerd.js';

const longName = 'deep/' + 'very-long-directory-name/'.repeat(8) + 'file-ü.txt';

test('tar: entries round trip, long and non-ASCII names via pax', () => {
  const tar = writeTar([
    { path: 'a', type: 'dir', mode: 0o755 },
    { path: 'a/x.txt', type: 'file', mode: 0o640, data: Buffer.from('hello'), mtime: 1234 },
    { path: 'a/link', type: 'symlink', mode: 0o777, linkname: 'x.txt' },
    { path: longName, type: 'file', mode: 0o600, data: Buffer.alloc(1000, 7) },
  ]);
  assert.equal(tar.length % 512, 0);
  const back = readTar(tar);
  assert.deepEqual(
    back.map((e) => [e.path, e.type, e.mode]),
    [
      ['a', 'dir', 0o755],
      ['a/x.txt', 'file', 0o640],
      ['a/link', 'symlink', 0o777],
      [longName, 'file', 0o600],
    ],
  );
  assert.equal(back[1].data!.toString(), 'hello');
  assert.equal(back[1].mtime, 1234);
  assert.equal(back[2].linkname, 'x.txt');
  assert.equal(back[3].data!.length, 1000);
  // GNU tar must agree with our reading of the archive.
  if (spawnSync('tar', ['--version']).status === 0) {
    const r = spawnSync('tar', ['-tf', '-'], { input: tar, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['a/', 'a/x.txt', 'a/link', longName]);
  }
});

const spec: ImageSpec = {
  ref: 'k8ts.local/test:1',
  files: [
    { path: '/bin/tool', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\necho tool\n') },
    { path: '/bin/alias', type: 'symlink', target: 'tool' },
    { path: '/tmp', type: 'dir', mode: 0o1777 },
  ],
  config: {
    Entrypoint: ['/bin/tool'],
    Cmd: ['--x'],
    Env: ['PATH=/bin', 'A=1'],
    WorkingDir: '/tmp',
    ExposedPorts: { '80/tcp': {} },
  },
};

test('OCI archive: layout, digests and config read back', () => {
  const built = buildOciArchive(spec);
  assert.deepEqual(buildOciArchive(spec).tar, built.tar, 'deterministic');
  const files = new Map(
    readTar(built.tar)
      .filter((e) => e.type === 'file')
      .map((e) => [e.path, e.data!]),
  );
  assert.equal(files.get('oci-layout')!.toString(), '{"imageLayoutVersion":"1.0.0"}');
  // Every blob is stored under its own digest.
  for (const [path, data] of files) {
    if (path.startsWith('blobs/sha256/')) assert.equal(createHash('sha256').update(data).digest('hex'), path.slice(13));
  }
  const index = JSON.parse(files.get('index.json')!.toString());
  assert.equal(index.manifests[0].digest, built.manifestDigest);
  assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'k8ts.local/test:1');
  assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'k8ts.local/test:1');
  const manifest = JSON.parse(files.get(`blobs/sha256/${built.manifestDigest.slice(7)}`)!.toString());
  assert.equal(manifest.config.digest, built.configDigest);
  assert.equal(manifest.layers[0].digest, built.layerDigest);
  const config = JSON.parse(files.get(`blobs/sha256/${built.configDigest.slice(7)}`)!.toString());
  assert.deepEqual(config.config, spec.config);
  assert.equal(config.os, 'linux');
  const layer = gunzipSync(files.get(`blobs/sha256/${built.layerDigest.slice(7)}`)!);
  assert.deepEqual(config.rootfs.diff_ids, [sha256(layer)]);
  assert.deepEqual(
    readTar(layer).map((e) => e.path),
    ['bin', 'bin/alias', 'bin/tool', 'tmp'],
  );

  const { format, images } = readImageArchive(built.tar);
  assert.equal(format, 'oci');
  assert.equal(images.length, 1);
  assert.deepEqual(images[0].refs, ['k8ts.local/test:1']);
  assert.equal(images[0].configDigest, built.configDigest);
  assert.deepEqual(images[0].config.config, spec.config);
  assert.deepEqual(images[0].layers(), [layer]);
});

test('docker-archive tars are recognised', () => {
  const layer = writeTar([{ path: 'etc/motd', type: 'file', mode: 0o644, data: Buffer.from('hi') }]);
  const config = Buffer.from(
    JSON.stringify({ os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }),
  );
  const tar = writeTar([
    { path: 'abc.json', type: 'file', mode: 0o644, data: config },
    { path: 'l1/layer.tar', type: 'file', mode: 0o644, data: layer },
    {
      path: 'manifest.json',
      type: 'file',
      mode: 0o644,
      data: Buffer.from(
        JSON.stringify([{ Config: 'abc.json', RepoTags: ['busybox:latest'], Layers: ['l1/layer.tar'] }]),
      ),
    },
  ]);
  const { format, images } = readImageArchive(tar);
  assert.equal(format, 'docker');
  assert.deepEqual(images[0].refs, ['docker.io/library/busybox:latest']);
  assert.equal(images[0].configDigest, sha256(config));
  assert.deepEqual(images[0].layers(), [layer]);
  assert.throws(() => readImageArchive(writeTar([{ path: 'x', type: 'file', mode: 0o644 }])), /not an image archive/);
});

test('layers apply onto a directory with whiteouts; escapes are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-layer-'));
  try {
    applyLayer(
      dir,
      writeTar([
        { path: 'bin/tool', type: 'file', mode: 0o755, data: Buffer.from('v1') },
        { path: 'bin/alias', type: 'symlink', mode: 0o777, linkname: 'tool' },
        { path: 'etc/a', type: 'file', mode: 0o644, data: Buffer.from('a') },
        { path: 'etc/b', type: 'file', mode: 0o644, data: Buffer.from('b') },
        { path: 'var/lib/x', type: 'file', mode: 0o644, data: Buffer.from('x') },
      ]),
    );
    assert.equal(statSync(join(dir, 'bin/tool')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(dir, 'bin/alias')), 'tool');
    applyLayer(
      dir,
      writeTar([
        { path: 'etc/.wh.a', type: 'file', mode: 0o644 },
        { path: 'var/lib/.wh..wh..opq', type: 'file', mode: 0o644 },
        { path: 'var/lib/y', type: 'file', mode: 0o644, data: Buffer.from('y') },
        { path: 'bin/tool', type: 'file', mode: 0o700, data: Buffer.from('v2') },
      ]),
    );
    assert.ok(!existsSync(join(dir, 'etc/a')));
    assert.ok(existsSync(join(dir, 'etc/b')));
    assert.ok(!existsSync(join(dir, 'var/lib/x')));
    assert.equal(readFileSync(join(dir, 'var/lib/y'), 'utf8'), 'y');
    assert.equal(readFileSync(join(dir, 'bin/tool'), 'utf8'), 'v2');
    mkdirSync(join(dir, 'outside'));
    applyLayer(join(dir, 'bin'), writeTar([{ path: 'up', type: 'symlink', mode: 0o777, linkname: '../outside' }]));
    assert.throws(
      () =>
        applyLayer(
          join(dir, 'bin'),
          writeTar([{ path: 'up/evil', type: 'file', mode: 0o644, data: Buffer.from('!') }]),
        ),
      /symlink/,
    );
    assert.throws(
      () => applyLayer(join(dir, 'bin'), writeTar([{ path: '../evil', type: 'file', mode: 0o644 }])),
      /escapes/,
    );
    assert.ok(!existsSync(join(dir, 'outside/evil')) && !existsSync(join(dir, 'evil')));
    assert.ok(lstatSync(join(dir, 'bin/up')).isSymbolicLink());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('references normalise as runtimes report them', () => {
  assert.equal(normalizeRef('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalizeRef('bitnami/nginx:1'), 'docker.io/bitnami/nginx:1');
  assert.equal(normalizeRef('k8ts.local/busybox:1.35'), 'k8ts.local/busybox:1.35');
  assert.equal(normalizeRef('localhost:5000/x'), 'localhost:5000/x:latest');
});

test('ctr output parsing and ldd', () => {
  assert.equal(parseSize('1.0 MiB'), 1048576);
  const out =
    'REF TYPE DIGEST SIZE PLATFORMS LABELS\nk8ts.local/busybox:1.35 application/vnd.oci.image.manifest.v1+json sha256:94fc 1.0 MiB linux/amd64 io.cri-containerd.image=managed\n';
  assert.deepEqual(parseImageList(out), [{ ref: 'k8ts.local/busybox:1.35', digest: 'sha256:94fc', size: 1048576 }]);
  const libs = sharedLibraries(process.execPath);
  if (libs.length)
    assert.ok(
      libs.some((l) => /ld-linux|ld-musl/.test(l)),
      libs.join(' '),
    );
});
