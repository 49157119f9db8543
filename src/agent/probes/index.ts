// The probes package as the node agent uses it: the manager, the one-shot runner, and the event
// texts. Everything else in this folder is an implementation detail of these.

export { ProbeManager, type ProbeEvents, type ProbeManagerOptions, type ProbeTarget } from './manager.js';
export { runProbe, type ProbeRunner } from './run.js';
export { probeResultEvent, probeKillingEvent, probeKindTitle, type ProbeEventText } from './events.js';
export {
  PROBE_USER_AGENT,
  type ExecSyncFn,
  type ProbeContext,
  type ProbeKind,
  type ProbeOutcome,
  type ProbeResult,
} from './types.js';
