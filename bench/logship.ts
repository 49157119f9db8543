// Log shipper throughput: 100,000 CRI records in one container log file of the kubelet layout,
// shipped with metadata to a JSON-lines sink (src/agent/logging). Prints lines per second.
//
//   npm run build && node dist/bench/logship.js
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogShipper } from '../src/agent/logging/shipper.js';
import { JsonLinesSink } from '../src/agent/logging/sinks.js';

const LINES = Number(process.env.BENCH_LINES ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'k8ts-shipbench-'));
try {
  const container = join(dir, 'pods', 'default_writer_uid', 'w');
  mkdirSync(container, { recursive: true });
  let text = '';
  for (let i = 1; i <= LINES; i++) text += `2026-12-06T18:00:00.000000001Z stdout F line ${i}\n`;
  writeFileSync(join(container, '0.log'), text);
  const shipper = new LogShipper({
    logDir: dir,
    nodeName: 'node1',
    sinks: [new JsonLinesSink(join(dir, 'out.jsonl'))],
    positionFile: join(dir, 'positions.json'),
    podLabels: () => ({ app: 'writer' }),
  });
  const started = performance.now();
  while (await shipper.once());
  const ms = performance.now() - started;
  console.log(`${shipper.shipped} lines in ${ms.toFixed(0)} ms: ${Math.round((shipper.shipped / ms) * 1000)} lines/s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
