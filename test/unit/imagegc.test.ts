import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ImageGC } from '../../src/agent/imagegc.js';

const MiB = 1024 * 1024;

function runtimeWith(images: { id: string; tag: string; size: number }[], inUse: string[]) {
  const removed: string[] = [];
  return {
    removed,
    runtime: {
      listContainers: () => Promise.resolve(inUse.map((id, i) => ({ id: `c${i}`, imageRef: id }))),
      listImages: () =>
        Promise.resolve(
          images
            .filter((i) => !removed.includes(i.id))
            .map((i) => ({ id: i.id, repoTags: [i.tag], repoDigests: [], size: i.size })),
        ),
      removeImage: (id: string) => {
        removed.push(id);
        return Promise.resolve();
      },
    } as any,
  };
}

test('image GC removes unused images, least recently used first, down to the low threshold', async () => {
  const images = [
    { id: 'sha256:a', tag: 'a:1', size: 10 * MiB },
    { id: 'sha256:b', tag: 'b:1', size: 10 * MiB },
    { id: 'sha256:c', tag: 'c:1', size: 10 * MiB },
    { id: 'sha256:pause', tag: 'k8ts.local/pause:1.35', size: 1 * MiB },
  ];
  const inUse = ['sha256:b'];
  const { runtime, removed } = runtimeWith(images, inUse);
  // 90 MiB of 100 used: 10 MiB over the 80% low threshold.
  const gc = new ImageGC({
    runtime,
    imageFsPath: '/',
    pinned: ['k8ts.local/pause:1.35'],
    logger: pino({ level: 'silent' }),
    usage: () => ({ totalBytes: 100 * MiB, availableBytes: 10 * MiB }),
  });
  inUse.push('sha256:c');
  await gc.observe(); // c was used recently, a never
  inUse.pop();
  const out = await gc.collect();
  assert.deepEqual(removed, ['sha256:a']);
  assert.deepEqual(out, ['a:1']);
});

test('image GC does nothing under the high threshold', async () => {
  const { runtime, removed } = runtimeWith([{ id: 'sha256:a', tag: 'a:1', size: MiB }], []);
  const gc = new ImageGC({
    runtime,
    imageFsPath: '/',
    pinned: [],
    logger: pino({ level: 'silent' }),
    usage: () => ({ totalBytes: 100 * MiB, availableBytes: 20 * MiB }),
  });
  assert.deepEqual(await gc.collect(), []);
  assert.deepEqual(removed, []);
});
