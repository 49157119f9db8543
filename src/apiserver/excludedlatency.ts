// The part of a request's time that upstream's API call latency SLI does not count
// (apiserver_request_sli_duration_seconds): waiting in a priority-and-fairness queue and in
// admission webhooks. Both depend on things outside the server (other tenants' load, a
// webhook's backend); the SLO holds the server to the rest.

export class ExcludedLatency {
  /** Nanoseconds excluded so far. */
  ns = 0n;

  /** Exclude the time from `start` (a process.hrtime.bigint() reading) until now. */
  since(start: bigint): void {
    this.ns += process.hrtime.bigint() - start;
  }
}
