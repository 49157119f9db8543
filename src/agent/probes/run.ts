// Runs one probe of any handler type once. This is the only place that knows the four handler
// kinds; the manager and its workers deal in outcomes.

import type { Probe } from 'kubernetes-types/core/v1.js';
import { runExecProbe } from './exec.js';
import { runGrpcProbe } from './grpc.js';
import { runHttpProbe } from './http.js';
import { runTcpProbe } from './tcp.js';
import type { ProbeContext, ProbeOutcome } from './types.js';

export type ProbeRunner = (probe: Probe, ctx: ProbeContext) => Promise<ProbeOutcome>;

export const runProbe: ProbeRunner = async (probe, ctx) => {
  try {
    if (probe.exec) return await runExecProbe(probe.exec, ctx);
    if (probe.httpGet) return await runHttpProbe(probe.httpGet, ctx);
    if (probe.tcpSocket) return await runTcpProbe(probe.tcpSocket, ctx);
    if (probe.grpc) return await runGrpcProbe(probe.grpc, ctx);
    return { result: 'error', output: `missing probe handler for container ${ctx.container.name}` };
  } catch (err) {
    // Runners report problems as outcomes; anything thrown is a bug or a runtime fault, and
    // upstream treats such probe errors as "no result" rather than as a failure.
    return { result: 'error', output: err instanceof Error ? err.message : String(err) };
  }
};
