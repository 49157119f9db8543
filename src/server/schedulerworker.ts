// The scheduler's worker thread (started by schedulerthread.ts): a SchedulerRunner over a
// PortTransport to the API server on the main thread. Log lines go to the main thread's logger;
// the metrics registry of this thread is read by the main thread's /metrics on each scrape.
import { readFileSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import pino from 'pino';
import { Client } from '../client/client.js';
import { PortTransport } from '../client/port.js';
import { componentRegistry } from '../machinery/componentmetrics.js';
import { SchedulerRunner } from '../scheduler/runner.js';
import type { SchedulerWorkerData, ToMain, ToWorker } from './schedulerthread.js';

const data = workerData as SchedulerWorkerData;
const control = parentPort!;
const send = (m: ToMain) => control.postMessage(m);

// Each log line is written by the main thread's logger (its level, name and destination).
const toMain: pino.DestinationStream = { write: (line: string) => send({ t: 'log', line }) };
const logger = pino({ level: data.logLevel, base: {} }, toMain);

const port: MessagePort = data.port;
const client = new Client(new PortTransport(port, { fieldManager: data.fieldManager }));
const runner = new SchedulerRunner({ ...data.options, client, logger });
runner.start();

let stopping: Promise<void> | undefined;
control.on('message', (m: ToWorker) => {
  if (m.t === 'metrics') {
    void componentRegistry.getMetricsAsJSON().then(
      (metrics) => send({ t: 'metrics', id: m.id, metrics }),
      () => send({ t: 'metrics', id: m.id, metrics: [] }),
    );
  } else if (m.t === 'stop') {
    stopping ??= runner
      .stop()
      .catch((err: unknown) => logger.error({ err }, 'scheduler stop failed'))
      .then(() => client.close())
      .then(() => {
        send({ t: 'stopped' });
        port.close();
        control.close();
      });
  }
});
/** This thread's task id (the first field of its stat), where /proc has it. */
function taskId(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]) || undefined;
  } catch {
    return undefined;
  }
}
send({ t: 'started', identity: runner.identity, tid: taskId() });
