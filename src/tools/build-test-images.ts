// Writes the k8ts test images (busybox, httpd, pause, node) as OCI image-layout tars, so they can
// be imported into a containerd (or the process runtime) without any registry.
// Usage: build-test-images [--busybox PATH] [--node PATH] [DIR] [NAME...]
import { resolve } from 'node:path';
import { TEST_IMAGES, writeTestImages, type TestImageName } from '../agent/images/testimages.js';

function main(argv: string[]): void {
  let dir = 'build/images';
  const names: TestImageName[] = [];
  const opts: { busybox?: string; node?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--busybox' || a === '--node') opts[a.slice(2) as 'busybox' | 'node'] = argv[++i];
    else if (a === '-h' || a === '--help') {
      process.stdout.write(
        `usage: build-test-images [--busybox PATH] [--node PATH] [DIR] [${Object.keys(TEST_IMAGES).join('|')}...]\n`,
      );
      return;
    } else if (a in TEST_IMAGES) names.push(a as TestImageName);
    else dir = a;
  }
  const out = resolve(dir);
  const written = writeTestImages(out, names.length ? names : undefined, opts);
  for (const w of written)
    process.stdout.write(`${w.ref.padEnd(26)} ${w.path} (${(w.size / 1048576).toFixed(1)} MiB)\n`);
  process.stdout.write(
    `\nImport them into a running k8ts server's agent with:\n  k8ts image import ${written.map((w) => w.path).join(' ')}\n` +
      `or into any containerd with:\n  ctr --address /run/containerd/containerd.sock -n k8s.io images import FILE\n`,
  );
}

main(process.argv.slice(2));
