// Returning the C heap's free pages to the system (storage/sqlite/malloctrim.ts, glibc's
// malloc_trim through SQLite's extension loader), in a child process: in-memory SQLite databases
// fill malloc's main heap, most are closed (their memory is free but stays resident, below blocks
// still in use), and the trim must give it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const glibc =
  process.platform === 'linux' &&
  typeof (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
    ?.glibcVersionRuntime === 'string';

test('the C heap freed below blocks in use is returned by a trim', { skip: !glibc && 'needs Linux with glibc' }, () => {
  const module = fileURLToPath(new URL('../../src/storage/sqlite/malloctrim.js', import.meta.url));
  const script = `
    // A report resolves every socket's peer by a synchronous reverse DNS lookup: the trim must not ask for one.
    process.report.getReport = () => { throw new Error('process.report.getReport called'); };
    const { trimNativeHeap } = await import(${JSON.stringify(module)});
    const { default: Database } = await import('better-sqlite3');
    const { readFileSync } = await import('node:fs');
    // Resident KiB of malloc's main heap ([heap] in smaps).
    const heap = () => {
      let inHeap = false, kib = 0;
      for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
        if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inHeap = line.trim().endsWith('[heap]');
        else if (inHeap && line.startsWith('Rss:')) kib += Number(line.split(/\\s+/)[1]);
      }
      return kib * 1024;
    };
    const dbs = [];
    for (let i = 0; i < 200; i++) {
      const db = new Database(':memory:');
      db.exec('create table t (x)');
      const insert = db.prepare('insert into t values (?)');
      for (let j = 0; j < 300; j++) insert.run('y'.repeat(1000));
      dbs.push(db);
    }
    for (let i = 0; i < dbs.length; i++) if (i % 10 !== 0) dbs[i].close();
    const before = heap();
    const ran = trimNativeHeap();
    console.log(JSON.stringify({ ran, before, after: heap(), again: trimNativeHeap() }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number | boolean>;
  const MiB = 2 ** 20;
  assert.ok((out.before as number) > 50 * MiB, `the heap was filled: ${JSON.stringify(out)}`);
  assert.equal(out.ran, true, JSON.stringify(out));
  assert.equal(out.again, true, `a second trim runs too: ${JSON.stringify(out)}`);
  assert.ok((out.after as number) < (out.before as number) / 3, `free pages returned: ${JSON.stringify(out)}`);
});
