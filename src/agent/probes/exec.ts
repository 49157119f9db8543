// exec probe: runs a command in the container through the runtime's ExecSync; exit code 0 is
// healthy. The output shown in events is stdout followed by stderr, cut at 10 KiB, as the kubelet
// concatenates the two streams CRI returns. A command that outlives the probe timeout is a failure
// (the ExecProbeTimeout behaviour, on by default upstream since 1.20).

import type { EnvVar, ExecAction } from 'kubernetes-types/core/v1.js';
import { goQuote } from './goerrors.js';
import { MAX_PROBE_OUTPUT, type ProbeContext, type ProbeOutcome } from './types.js';

/**
 * Expands $(VAR) references in a probe command using the container's literal env values only:
 * probes do not see valueFrom/downward-API values (upstream ExpandContainerCommandOnlyStatic).
 * `$$` escapes a dollar; unknown references are left as written.
 */
export function expandStatic(arg: string, env: EnvVar[] | undefined): string {
  if (!arg.includes('$')) return arg;
  const values = new Map<string, string>();
  for (const e of env ?? []) values.set(e.name, e.value ?? '');
  let out = '';
  let i = 0;
  while (i < arg.length) {
    const ch = arg[i];
    if (ch !== '$' || i + 1 >= arg.length) {
      out += ch;
      i += 1;
      continue;
    }
    const next = arg[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = arg.indexOf(')', i + 2);
      if (close < 0) {
        out += arg.slice(i);
        break;
      }
      const name = arg.slice(i + 2, close);
      const value = values.get(name);
      out += value === undefined ? `$(${name})` : value;
      i = close + 1;
    } else {
      out += ch + next;
      i += 2;
    }
  }
  return out;
}

/** Whether an ExecSync rejection means "deadline exceeded" (gRPC code 4 or a timeout error). */
function isTimeoutError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; name?: unknown; timedOut?: unknown };
  return e.code === 4 || e.code === 'ETIMEDOUT' || e.name === 'TimeoutError' || e.timedOut === true;
}

function combinedOutput(stdout: Buffer | undefined, stderr: Buffer | undefined): string {
  const all = Buffer.concat([stdout ?? Buffer.alloc(0), stderr ?? Buffer.alloc(0)]);
  return all.subarray(0, MAX_PROBE_OUTPUT).toString('utf8');
}

export async function runExecProbe(action: ExecAction, ctx: ProbeContext): Promise<ProbeOutcome> {
  const cmd = (action.command ?? []).map((arg) => expandStatic(arg, ctx.container.env));
  const timedOut: ProbeOutcome = { result: 'failure', output: `command ${goQuote(cmd.join(' '))} timed out` };
  const timeoutSeconds = Math.max(1, Math.ceil(ctx.timeoutMs / 1000));
  let timer: NodeJS.Timeout | undefined;
  // The runtime enforces the timeout too; this guard only keeps a stuck runtime call from
  // stalling the worker, so it reports the same message.
  const guard = new Promise<ProbeOutcome>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), ctx.timeoutMs);
  });
  const run = ctx.execSync(cmd, timeoutSeconds).then(
    (res): ProbeOutcome => ({
      result: res.exitCode === 0 ? 'success' : 'failure',
      output: combinedOutput(res.stdout, res.stderr),
    }),
    (err: unknown): ProbeOutcome =>
      isTimeoutError(err) ? timedOut : { result: 'error', output: err instanceof Error ? err.message : String(err) },
  );
  try {
    return await Promise.race([run, guard]);
  } finally {
    clearTimeout(timer);
  }
}
