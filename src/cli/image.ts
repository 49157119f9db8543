// `k8ts image import|ls|rm`: the images of this machine's node agent. With the containerd
// runtime they live in the agent's own containerd (reached through its socket, so the server must
// be running); with the process runtime they are a directory the agent reads, usable offline.
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as containerd from '../agent/images/containerd.js';
import { normalizeRef } from '../agent/images/oci.js';
import { ProcessImageStore } from '../agent/runtime/process/imagestore.js';
import { defaultDataDir } from './datadir.js';

type Target = { kind: 'containerd'; socket: string } | { kind: 'process'; store: ProcessImageStore };

/** Where the agent keeps its containerd socket, under the server's data dir. */
export const containerdSocket = (dataDir: string) => join(dataDir, 'agent', 'containerd', 'containerd.sock');

/** Which runtime the data dir's agent uses: the file `agent/runtime` says "process" or not. */
function target(dataDirFlag: string | undefined): Target {
  const dataDir = resolve(dataDirFlag ?? process.env.K8TS_DATA_DIR ?? defaultDataDir());
  let runtime = '';
  try {
    runtime = readFileSync(join(dataDir, 'agent', 'runtime'), 'utf8').trim();
  } catch {
    /* containerd by default */
  }
  if (runtime === 'process')
    return { kind: 'process', store: new ProcessImageStore(join(dataDir, 'agent', 'process', 'images')) };
  const socket = containerdSocket(dataDir);
  if (!existsSync(socket)) {
    throw new Error(
      `the k8ts server (with its agent) must be running to manage images: no containerd socket at ${socket}` +
        (dataDirFlag ? '' : ' (use --data-dir if the server runs with another data dir)'),
    );
  }
  return { kind: 'containerd', socket };
}

/** Decimal units, as crictl and docker print image sizes. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toPrecision(3)}${units[i]}`;
}

/** Left-aligned columns separated by three spaces, as kubectl and crictl print them. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** Progress on a terminal: one rewritten status line on stderr; nothing when not a TTY. */
function progress(): { update: (line: string) => void; done: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, done: () => {} };
  let shown = false;
  let last = 0;
  return {
    update(line) {
      // At most ten redraws a second: byte counters fire for every chunk read.
      if (Date.now() - last < 100) return;
      last = Date.now();
      const width = (process.stderr.columns || 80) - 1;
      process.stderr.write(`\r\x1b[K${line.slice(0, width)}`);
      shown = true;
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

interface Row {
  ref: string;
  id: string;
  size: number;
}

async function listRows(t: Target): Promise<Row[]> {
  if (t.kind === 'process') {
    return t.store
      .list()
      .flatMap((i) => (i.repoTags.length ? i.repoTags : ['<none>']).map((ref) => ({ ref, id: i.id, size: i.size })));
  }
  const images = await containerd.listImages(t.socket);
  // The CRI plugin adds a "sha256:<id>" ref per image: show it only for images without a name.
  const named = new Set(images.filter((i) => !i.ref.startsWith('sha256:')).map((i) => i.id ?? i.digest));
  return images
    .filter((i) => !i.ref.startsWith('sha256:') || !named.has(i.id ?? i.digest))
    .map((i) => ({ ref: i.ref.startsWith('sha256:') ? '<none>' : i.ref, id: i.id ?? i.digest, size: i.size }));
}

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description("Manage the images of this machine's node agent");

  image
    .command('import')
    .description('Import images from OCI image-layout or docker-archive tar files')
    .argument(
      '<file...>',
      'image archives (e.g. from scripts/build-test-images, `docker save` or `skopeo copy ... oci-archive:`)',
    )
    .option('--data-dir <dir>', 'data dir of the k8ts server (default /var/lib/k8ts as root, ~/.k8ts otherwise)')
    .action(async (files: string[], opts: { dataDir?: string }) => {
      for (const f of files) if (!existsSync(f)) throw new Error(`no such file: ${f}`);
      const t = target(opts.dataDir);
      for (const f of files) {
        const p = progress();
        p.update(`importing ${f}...`);
        try {
          const refs =
            t.kind === 'process'
              ? t.store.import(readFileSync(f), p.update)
              : await containerd.importImage(t.socket, resolve(f), { onProgress: p.update });
          p.done();
          for (const r of refs) process.stdout.write(`imported ${r}\n`);
        } catch (e) {
          p.done();
          throw new Error(`${f}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
      }
    });

  image
    .command('ls')
    .alias('list')
    .description('List images')
    .option('--data-dir <dir>', 'data dir of the k8ts server')
    .option('-q, --quiet', 'print only image references')
    .action(async (opts: { dataDir?: string; quiet?: boolean }) => {
      const rows = (await listRows(target(opts.dataDir))).sort((a, b) => a.ref.localeCompare(b.ref));
      if (opts.quiet) {
        for (const r of rows) process.stdout.write(`${r.ref}\n`);
        return;
      }
      process.stdout.write(
        table([
          ['IMAGE', 'ID', 'SIZE'],
          ...rows.map((r) => [r.ref, r.id.replace(/^sha256:/, '').slice(0, 13), humanSize(r.size)]),
        ]),
      );
    });

  image
    .command('rm')
    .alias('remove')
    .description('Remove images by reference or ID')
    .argument('<ref...>', 'image references or IDs')
    .option('--data-dir <dir>', 'data dir of the k8ts server')
    .action(async (refs: string[], opts: { dataDir?: string }) => {
      const t = target(opts.dataDir);
      let failed = 0;
      for (const ref of refs) {
        try {
          if (t.kind === 'process') {
            if (!t.store.remove(ref)) throw new Error(`image ${ref} not found`);
          } else {
            for (const r of await containerdRefs(t.socket, ref)) await containerd.removeImage(t.socket, r);
          }
          process.stdout.write(`deleted ${ref}\n`);
        } catch (e) {
          failed++;
          process.stderr.write(`k8ts: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });
}

/**
 * The containerd refs to delete for what `image ls` shows: a name (short names are normalised)
 * or a short/full ID. The CRI plugin's "sha256:<id>" ref goes with the image's last name, so the
 * content becomes garbage and is collected.
 */
async function containerdRefs(socket: string, ref: string): Promise<string[]> {
  const images = await containerd.listImages(socket);
  const isId = /^(sha256:)?[0-9a-f]{6,64}$/.test(ref);
  let hits = images.filter((i) => i.ref === ref || i.ref === normalizeRef(ref));
  if (!hits.length && isId) {
    const ids = new Set(images.filter((i) => i.id?.slice(7).startsWith(ref.replace(/^sha256:/, ''))).map((i) => i.id));
    if (ids.size > 1) throw new Error(`${ref} is ambiguous: it prefixes ${ids.size} image IDs`);
    hits = images.filter((i) => ids.has(i.id));
  }
  if (!hits.length) throw new Error(`image ${ref} not found`);
  const id = hits[0].id;
  const otherNames = images.filter((i) => i.id === id && !i.ref.startsWith('sha256:') && !hits.includes(i));
  if (!otherNames.length)
    hits.push(...images.filter((i) => i.id === id && i.ref.startsWith('sha256:') && !hits.includes(i)));
  return hits.map((i) => i.ref);
}
