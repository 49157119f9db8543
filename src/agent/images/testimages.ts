// The images k8ts builds itself from binaries already on the machine, so clusters and tests run
// without a registry or internet: a busybox userland, an httpd, the pod sandbox ("pause") image
// and a node image. Busybox must be a static binary (Debian's busybox-static), so one file is a
// whole userland; the node image carries the host's node plus the shared libraries it loads.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOciArchive, type BuiltImage, type ImageFile, type ImageSpec } from './oci.js';

export const TEST_IMAGES = {
  busybox: 'k8ts.local/busybox:1.35',
  httpd: 'k8ts.local/httpd:1.35',
  pause: 'k8ts.local/pause:1.35',
  node: 'k8ts.local/node:20',
} as const;
export type TestImageName = keyof typeof TEST_IMAGES;

/** The sandbox image the agent's containerd is configured with (sandbox_image). */
export const PAUSE_IMAGE = TEST_IMAGES.pause;

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface TestImageOptions {
  /** Static busybox binary to package (default /bin/busybox). */
  busybox?: string;
  /** Node binary for the node image (default: the running one). */
  node?: string;
}

/** The skeleton every image gets: the usual top-level directories and a root/nobody passwd. */
function baseFiles(): ImageFile[] {
  return [
    ...['/dev', '/proc', '/sys', '/etc', '/root', '/var', '/usr/bin', '/usr/sbin', '/bin', '/sbin'].map(
      (path): ImageFile => ({ path, type: 'dir' }),
    ),
    { path: '/tmp', type: 'dir', mode: 0o1777 },
    {
      path: '/etc/passwd',
      type: 'file',
      data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'),
    },
    { path: '/etc/group', type: 'file', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
  ];
}

/** Relative link from `from` (absolute path of the link) to `to`, so it resolves in any root. */
function relativeLink(from: string, to: string): string {
  const depth = from.split('/').filter(Boolean).length - 1;
  return '../'.repeat(depth) + to.replace(/^\/+/, '');
}

/** Applet names as paths ("/bin/sh", "/usr/bin/wget", ...) from `busybox --list-full`. */
function busyboxApplets(busybox: string): string[] {
  const out = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => '/' + l.replace(/^\/+/, ''));
}

function busyboxFiles(busybox: string, applets?: string[]): ImageFile[] {
  const files: ImageFile[] = [
    ...baseFiles(),
    { path: '/bin/busybox', type: 'file', mode: 0o755, data: readFileSync(busybox) },
  ];
  for (const a of applets ?? busyboxApplets(busybox)) {
    if (a === '/bin/busybox') continue;
    files.push({ path: a, type: 'symlink', target: relativeLink(a, '/bin/busybox') });
  }
  return files;
}

/** Shared libraries (and the ELF interpreter) `ldd` reports for a binary, as absolute paths. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  } catch {
    return []; // "not a dynamic executable": a static binary needs nothing
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

function nodeFiles(node: string): ImageFile[] {
  const files: ImageFile[] = [
    ...baseFiles(),
    { path: '/usr/local/bin/node', type: 'file', mode: 0o755, data: readFileSync(realpathSync(node)) },
  ];
  // Each library goes where the loader looks for it (the path ldd printed), with the content of
  // whatever that path resolves to on the host; host-side symlinks such as /lib -> usr/lib are
  // irrelevant inside the image.
  for (const lib of sharedLibraries(node))
    files.push({ path: lib, type: 'file', mode: 0o755, data: readFileSync(realpathSync(lib)) });
  return files;
}

/** The pause process: waits forever, exits 0 at once on SIGTERM/SIGINT (it runs as PID 1). */
const PAUSE_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done";

const INDEX_HTML =
  '<!DOCTYPE html>\n<html><head><title>k8ts httpd</title></head><body><h1>It works!</h1><p>Served by busybox httpd in k8ts.local/httpd:1.35.</p></body></html>\n';

/** The image definition (files + config) for one test image. */
export function testImageSpec(name: TestImageName, opts: TestImageOptions = {}): ImageSpec {
  const busybox = opts.busybox ?? '/bin/busybox';
  switch (name) {
    case 'busybox':
      return { ref: TEST_IMAGES.busybox, files: busyboxFiles(busybox), config: { Cmd: ['sh'], Env: [PATH_ENV] } };
    case 'httpd':
      return {
        ref: TEST_IMAGES.httpd,
        files: [...busyboxFiles(busybox), { path: '/www/index.html', type: 'file', data: Buffer.from(INDEX_HTML) }],
        // busybox httpd as PID 1 would ignore SIGTERM and every delete would wait out the grace
        // period: a shell that exits on TERM runs it instead.
        config: {
          Cmd: ['sh', '-c', "trap 'exit 0' TERM INT; httpd -f -v -p 8080 -h /www & wait"],
          Env: [PATH_ENV],
          ExposedPorts: { '8080/tcp': {} },
        },
      };
    case 'pause':
      return {
        ref: TEST_IMAGES.pause,
        files: busyboxFiles(busybox, ['/bin/sh', '/bin/sleep']),
        config: { Entrypoint: ['/bin/sh', '-c', PAUSE_SCRIPT], Env: [PATH_ENV], WorkingDir: '/' },
      };
    case 'node':
      return {
        ref: TEST_IMAGES.node,
        files: nodeFiles(opts.node ?? process.execPath),
        config: { Cmd: ['node'], Env: [PATH_ENV] },
      };
  }
}

/** Builds one test image as an OCI image-layout tar. */
export function buildTestImage(name: TestImageName, opts: TestImageOptions = {}): BuiltImage {
  return buildOciArchive(testImageSpec(name, opts));
}

/** File name of a test image's archive, e.g. "busybox-1.35.tar". */
export const testImageFile = (name: TestImageName) => `${name}-${TEST_IMAGES[name].split(':')[1]}.tar`;

/** Writes the chosen test images into `dir`, returning the paths written. */
export function writeTestImages(
  dir: string,
  names: TestImageName[] = Object.keys(TEST_IMAGES) as TestImageName[],
  opts: TestImageOptions = {},
): { name: TestImageName; ref: string; path: string; size: number }[] {
  mkdirSync(dir, { recursive: true });
  return names.map((name) => {
    const { tar } = buildTestImage(name, opts);
    const path = join(dir, testImageFile(name));
    writeFileSync(path, tar);
    return { name, ref: TEST_IMAGES[name], path, size: tar.length };
  });
}
