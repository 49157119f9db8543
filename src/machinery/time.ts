// metav1.Time as the API writes it: RFC 3339 in UTC with whole seconds ("2026-11-22T16:40:05Z").
// Sub-second digits are dropped (truncated), as Go's metav1.Time marshalling does.

/** The metav1.Time text of an instant (milliseconds since the epoch; default now). */
export function rfc3339(ms: number = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

let cachedSecond = NaN;
let cachedText = '';

/** The metav1.Time text of now, formatted once per second: every write stamps a time. */
export function nowRFC3339(): string {
  const sec = Math.floor(Date.now() / 1000);
  if (sec !== cachedSecond) {
    cachedSecond = sec;
    cachedText = rfc3339(sec * 1000);
  }
  return cachedText;
}

/** metav1.MicroTime text: RFC 3339 with six fractional digits (leases; Date has milliseconds). */
export function microTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
