// Resolves a probe's port (a number, or the name of one of the container's ports) the way the
// kubelet does: a name that matches no declared port is still accepted when it is a number written
// as a string, and anything outside 1..65535 is an error. An error means the probe cannot run at
// all; the caller reports it as an "error" outcome, which is never counted as a failure.

import type { Container } from 'kubernetes-types/core/v1.js';

export type PortResolution = { port: number } | { error: string };

export function resolveContainerPort(param: number | string | undefined, container: Container): PortResolution {
  let port: number;
  if (typeof param === 'number') {
    port = param;
  } else if (typeof param === 'string') {
    const named = container.ports?.find((p) => p.name === param);
    if (named) {
      port = named.containerPort;
    } else if (/^[+-]?\d+$/.test(param)) {
      port = Number.parseInt(param, 10);
    } else {
      // Upstream falls through to strconv.Atoi and surfaces its error text.
      return { error: `strconv.Atoi: parsing ${JSON.stringify(param)}: invalid syntax` };
    }
  } else {
    return { error: `IntOrString had no kind: ${String(param)}` };
  }
  if (Number.isInteger(port) && port > 0 && port < 65536) return { port };
  return { error: `invalid port number: ${port}` };
}
