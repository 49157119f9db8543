// CRI log files read as `kubectl logs` shows them (src/agent/logs.ts), on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  findTailStart,
  formatTimestamp,
  parseRecord,
  parseTimestamp,
  readLogs,
  sinceOf,
  type LogOptions,
} from '../../src/agent/logs.js';
import { until } from '../support/until.js';

const waitUntil = (cond: () => boolean, ms = 3000) => until('condition', cond, ms, 10);

const dir = mkdtempSync(join(tmpdir(), 'k8ts-logs-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function logFile(content: string): string {
  const p = join(dir, `${fileNo++}.log`);
  writeFileSync(p, content);
  return p;
}

/** A Writable that keeps what it got. */
function sink(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  }) as Writable & { text(): string };
  w.text = () => Buffer.concat(chunks).toString();
  return w;
}

async function read(content: string | { path: string }, opts: LogOptions = {}): Promise<string> {
  const path = typeof content === 'string' ? logFile(content) : content.path;
  const out = sink();
  await readLogs(path, opts, out);
  return out.text();
}

const rec = (t: string, stream: string, tag: string, text: string) => `${t} ${stream} ${tag} ${text}\n`;
const T = (s: number) => `2024-05-01T10:00:${String(s).padStart(2, '0')}.123450000Z`;

test('records: parse, partial tag, timestamps as Go prints them', () => {
  const r = parseRecord(Buffer.from('2024-05-01T10:00:00.100000000+02:00 stderr P:x hello'))!;
  assert.equal(r.stream, 'stderr');
  assert.equal(r.partial, true);
  assert.equal(r.content.toString(), 'hello');
  assert.equal(parseRecord(Buffer.from('2024-05-01T10:00:00Z stdout F hi'))!.content.toString(), 'hi\n');
  assert.equal(parseRecord(Buffer.from('2024-05-01T10:00:00Z stdout F'))!.content.toString(), '\n');
  assert.equal(parseRecord(Buffer.from('garbage line')), undefined);
  assert.equal(parseRecord(Buffer.from('2024-05-01T10:00:00Z other F x')), undefined);
  assert.equal(formatTimestamp('2024-05-01T10:00:00.123450000Z'), '2024-05-01T10:00:00.12345Z');
  assert.equal(formatTimestamp('2024-05-01T10:00:00.000000000+00:00'), '2024-05-01T10:00:00Z');
  assert.equal(formatTimestamp('2024-05-01T10:00:00.5-07:00'), '2024-05-01T10:00:00.5-07:00');
  assert.equal(parseTimestamp('2024-05-01T10:00:00.000000001Z')! - parseTimestamp('2024-05-01T10:00:00Z')!, 1n);
  assert.equal(parseTimestamp('2024-05-01T12:00:00+02:00'), parseTimestamp('2024-05-01T10:00:00Z'));
  // The later of sinceSeconds and sinceTime wins.
  const now = Date.parse('2024-05-01T10:00:10Z');
  assert.equal(sinceOf(5, undefined, now), parseTimestamp('2024-05-01T10:00:05Z'));
  assert.equal(sinceOf(5, '2024-05-01T10:00:08Z', now), parseTimestamp('2024-05-01T10:00:08Z'));
  assert.equal(sinceOf(undefined, undefined, now), undefined);
});

test('partial records are joined into one line; both streams are shown', async () => {
  const content =
    rec(T(1), 'stdout', 'P', 'hel') +
    rec(T(2), 'stdout', 'P', 'lo ') +
    rec(T(3), 'stdout', 'F', 'world') +
    rec(T(4), 'stderr', 'F', 'oops');
  assert.equal(await read(content), 'hello world\noops\n');
  // Timestamps: the first record's, once per line.
  assert.equal(
    await read(content, { timestamps: true }),
    '2024-05-01T10:00:01.12345Z hello world\n2024-05-01T10:00:04.12345Z oops\n',
  );
});

test('a last record without its line break is still shown; garbage is skipped', async () => {
  assert.equal(await read(rec(T(1), 'stdout', 'F', 'a') + 'not a record\n' + `${T(2)} stdout F b`), 'a\nb\n');
});

test('tailLines counts lines, not records', async () => {
  const content =
    rec(T(1), 'stdout', 'F', 'one') +
    rec(T(2), 'stdout', 'P', 'tw') +
    rec(T(3), 'stdout', 'F', 'o') +
    rec(T(4), 'stdout', 'F', 'three');
  assert.equal(await read(content, { tailLines: 2 }), 'two\nthree\n');
  assert.equal(await read(content, { tailLines: 1 }), 'three\n');
  assert.equal(await read(content, { tailLines: 0 }), '');
  assert.equal(await read(content, { tailLines: 10 }), 'one\ntwo\nthree\n');
  // An unfinished last line counts as one.
  assert.equal(await read(content + rec(T(5), 'stdout', 'P', 'fou'), { tailLines: 2 }), 'three\nfou');
});

test('tail of a big file reads from the end, across block boundaries', async () => {
  // Lines of varied length (some partial), so records straddle the 64 KiB blocks.
  let content = '';
  const lines: string[] = [];
  let current = '';
  for (let i = 0; i < 20_000; i++) {
    const text = `line-${i}-${'x'.repeat((i * 37) % 90)}`;
    const partial = i % 7 === 3;
    content += rec(T(i % 60), i % 2 ? 'stderr' : 'stdout', partial ? 'P' : 'F', text);
    current += text;
    if (!partial) {
      lines.push(current);
      current = '';
    }
  }
  const path = logFile(content);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    for (const n of [1, 2, 3, 50, 999, 4321, lines.length - 1]) {
      const start = await findTailStart(fh, size, n);
      const out = sink();
      await readLogs(path, { tailLines: n }, out);
      assert.equal(out.text(), lines.slice(-n).join('\n') + '\n', `tail ${n}`);
      assert.ok(start > 0);
    }
    assert.equal(await findTailStart(fh, size, lines.length + 5), 0);
  } finally {
    await fh.close();
  }
});

test('sinceTime skips older records; limitBytes cuts the output', async () => {
  const content = rec(T(1), 'stdout', 'F', 'old') + rec(T(5), 'stdout', 'F', 'new') + rec(T(9), 'stderr', 'F', 'newer');
  assert.equal(await read(content, { sinceNs: parseTimestamp('2024-05-01T10:00:05Z') }), 'new\nnewer\n');
  assert.equal(await read(content, { limitBytes: 6 }), 'old\nne');
  assert.equal(await read(content, { limitBytes: 41, timestamps: true }), '2024-05-01T10:00:01.12345Z old\n2024-05-01');
  assert.equal(await read(content, { tailLines: 1, limitBytes: 3 }), 'new');
});

test('follow: lines appended later arrive; ends once the container stopped and the file is drained', async () => {
  const path = logFile(rec(T(1), 'stdout', 'F', 'first'));
  const out = sink();
  let running = true;
  const done = readLogs(path, { follow: true }, out, { running: () => running, pollMs: 20 });
  await waitUntil(() => out.text() === 'first\n');
  appendFileSync(path, `${T(2)} stdout F sec`);
  await new Promise((r) => setTimeout(r, 60));
  // An unfinished record is held back until its line break arrives.
  assert.equal(out.text(), 'first\n');
  appendFileSync(path, 'ond\n');
  await waitUntil(() => out.text() === 'first\nsecond\n');
  running = false;
  appendFileSync(path, rec(T(3), 'stdout', 'F', 'last words'));
  await done;
  assert.equal(out.text(), 'first\nsecond\nlast words\n');
});

test('follow: a rotated file is followed at its new incarnation; the client going away ends it', async () => {
  const path = logFile(rec(T(1), 'stdout', 'F', 'a'));
  const out = sink();
  const abort = new AbortController();
  const done = readLogs(path, { follow: true, tailLines: 0 }, out, { signal: abort.signal, pollMs: 20 });
  await new Promise((r) => setTimeout(r, 50));
  appendFileSync(path, rec(T(2), 'stdout', 'F', 'b'));
  await waitUntil(() => out.text() === 'b\n');
  renameSync(path, `${path}.20240501-100000`);
  writeFileSync(path, rec(T(3), 'stdout', 'F', 'c'));
  await waitUntil(() => out.text() === 'b\nc\n');
  abort.abort();
  await done;
  // A destroyed output ends a follow too.
  const out2 = sink();
  const done2 = readLogs(path, { follow: true }, out2, { pollMs: 20 });
  await waitUntil(() => out2.text() === 'c\n');
  out2.destroy();
  await done2;
});
