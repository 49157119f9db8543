// Renewing a serving certificate while its server runs, as kube-apiserver's dynamic serving
// certificate controller and the kubelet's server certificate manager do: at a jittered 70–90 %
// of the current certificate's lifetime a new pair is obtained (`renew`) and handed to the
// listener (`apply`, a TLS secure-context swap: open connections keep their session, new ones
// get the new certificate). Failures are retried with back-off until one succeeds.
import { X509Certificate } from 'node:crypto';

export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

export interface CertificateRenewalOptions {
  /** The certificate in use now. */
  certPem: string;
  /** Obtains the next pair (issues it, writes it where a restart finds it). */
  renew(): Promise<CertificatePair>;
  /** Puts a new pair in service. */
  apply(pair: CertificatePair): void;
  /** Told of each renewal and failure. */
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** In [0, 1): where in the 70–90 % window the renewal falls (default random). */
  random?: () => number;
}

const BACKOFF_INITIAL_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** setTimeout's longest delay (about 24.8 days): longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** When a certificate is due for renewal: notBefore + 70–90 % of its lifetime. */
export function renewalDeadline(certPem: string, random = Math.random()): Date {
  const cert = new X509Certificate(certPem);
  const from = new Date(cert.validFrom).getTime();
  const lifetime = new Date(cert.validTo).getTime() - from;
  return new Date(from + lifetime * (0.7 + 0.2 * random));
}

export class CertificateRenewal {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private current: string;
  /** Renewals done (for status and tests). */
  renewals = 0;

  constructor(private readonly o: CertificateRenewalOptions) {
    this.current = o.certPem;
  }

  start(): this {
    this.schedule(renewalDeadline(this.current, (this.o.random ?? Math.random)()).getTime());
    return this;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(at: number, backoff = BACKOFF_INITIAL_MS): void {
    if (this.stopped) return;
    const wait = at - Date.now();
    if (wait > MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.schedule(at, backoff), MAX_TIMER_MS);
    } else {
      this.timer = setTimeout(() => void this.renew(backoff), Math.max(0, wait));
    }
    this.timer.unref();
  }

  private async renew(backoff: number): Promise<void> {
    try {
      const pair = await this.o.renew();
      if (this.stopped) return;
      this.o.apply(pair);
      this.current = pair.certPem;
      this.renewals++;
      const next = renewalDeadline(pair.certPem, (this.o.random ?? Math.random)());
      this.o.log?.info(
        { notAfter: new X509Certificate(pair.certPem).validTo, next: next.toISOString() },
        'serving certificate renewed',
      );
      // (Never sooner than a second: a certificate that comes back already due must not spin.)
      this.schedule(Math.max(next.getTime(), Date.now() + 1000));
    } catch (err) {
      this.o.log?.warn({ err }, `serving certificate renewal failed; retrying in ${Math.round(backoff / 1000)}s`);
      this.schedule(Date.now() + backoff, Math.min(backoff * 2, BACKOFF_MAX_MS));
    }
  }
}
