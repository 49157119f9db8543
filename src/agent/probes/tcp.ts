// tcpSocket probe: healthy when a TCP connection can be opened within the timeout. Nothing is
// sent; the connection is closed as soon as it is established, as the kubelet does.

import { connect } from 'node:net';
import type { TCPSocketAction } from 'kubernetes-types/core/v1.js';
import { dialErrorMessage, dialTimeoutMessage } from './goerrors.js';
import { resolveContainerPort } from './port.js';
import type { ProbeContext, ProbeOutcome } from './types.js';

/** Opens (and immediately closes) one TCP connection to host:port. */
export function dialTcp(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (outcome: ProbeOutcome): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      // Keep a no-op handler: a reset racing with destroy() must not become an uncaught error.
      socket.on('error', () => {});
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ result: 'failure', output: dialTimeoutMessage(host, port) }), timeoutMs);
    socket.once('connect', () => finish({ result: 'success', output: '' }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish({ result: 'failure', output: dialErrorMessage(host, port, err) }),
    );
  });
}

export async function runTcpProbe(action: TCPSocketAction, ctx: ProbeContext): Promise<ProbeOutcome> {
  const resolved = resolveContainerPort(action.port, ctx.container);
  if ('error' in resolved) return { result: 'error', output: resolved.error };
  return dialTcp(action.host || ctx.podIP, resolved.port, ctx.timeoutMs);
}
