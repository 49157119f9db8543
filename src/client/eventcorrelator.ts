// What client-go's event correlator (tools/record) decides for each event a component records,
// before anything is sent: keep it as a new Event, bump the count of one already sent, fold it
// into a "combined from similar events" Event, or drop it as spam. The rules and their constants
// are upstream's, so a controller here writes as many Events as its upstream namesake would:
//   - the same event again (same source, object, type, reason and message) is a count bump;
//   - from the tenth distinct message with the same source, object, type and reason within ten
//     minutes, the messages are folded into one aggregate Event whose count grows;
//   - each source may send 25 events about one object, then one more every five minutes.
// A ReplicaSet creating 100 pods therefore writes 25 Events, not 100, as upstream does.
import { LRUCache } from 'lru-cache';

const MAX_REMEMBERED = 4096;
const AGGREGATE_AFTER_DISTINCT_MESSAGES = 10;
const AGGREGATE_WINDOW_MS = 600_000;
const SPAM_BURST = 25;
const SPAM_REFILL_PER_MS = 1 / 300_000;
const AGGREGATE_PREFIX = '(combined from similar events): ';

/** The parts of an event the correlator keys on. */
export interface EventFacts {
  component: string;
  host: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  apiVersion: string;
  fieldPath: string;
  type: string;
  reason: string;
  message: string;
}

/** Send a new Event with this message, or bump the one already sent (`name`) to `count`. */
export type Correlation =
  | { action: 'create'; message: string; key: string; aggregate: boolean }
  | { action: 'bump'; message: string; key: string; name: string; count: number; firstTimestamp: string }
  | { action: 'drop' };

interface Sent {
  name: string;
  count: number;
  firstTimestamp: string;
}

interface Similar {
  messages: Set<string>;
  at: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const join = (parts: (string | undefined)[]) => parts.join('\u0000');

export class EventCorrelator {
  private readonly similar = new LRUCache<string, Similar>({ max: MAX_REMEMBERED });
  private readonly sent = new LRUCache<string, Sent>({ max: MAX_REMEMBERED });
  private readonly buckets = new LRUCache<string, Bucket>({ max: MAX_REMEMBERED });

  constructor(private readonly now: () => number = Date.now) {}

  correlate(e: EventFacts): Correlation {
    const t = this.now();
    const object = [e.component, e.host, e.kind, e.namespace, e.name, e.uid, e.apiVersion];
    // Aggregation: distinct messages about the same object for the same reason.
    const aggregateKey = join([...object, e.type, e.reason]);
    let group = this.similar.get(aggregateKey);
    if (!group || t - group.at > AGGREGATE_WINDOW_MS) group = { messages: new Set(), at: t };
    group.messages.add(e.message);
    group.at = t;
    this.similar.set(aggregateKey, group);
    let key = join([...object, e.fieldPath, e.type, e.reason, e.message]);
    let message = e.message;
    const aggregate = group.messages.size >= AGGREGATE_AFTER_DISTINCT_MESSAGES;
    if (aggregate) {
      // Keep the set one short of the threshold so every further new message aggregates too.
      group.messages.delete(group.messages.values().next().value!);
      key = aggregateKey;
      message = AGGREGATE_PREFIX + e.message;
    }
    // The count says how often it happened, whether or not each occurrence was sent.
    const prior = this.sent.get(key);
    if (prior) prior.count++;
    // Spam filter: upstream counts creates and bumps alike, per source, object and type.
    if (!this.take(join([...object, e.type]), t)) return { action: 'drop' };
    if (prior) return { action: 'bump', message, key, ...prior };
    return { action: 'create', message, key, aggregate };
  }

  /** The server holds `name` with `count` for `key`: the next repeat bumps it. */
  sentAs(key: string, name: string, count: number, firstTimestamp: string): void {
    this.sent.set(key, { name, count, firstTimestamp });
  }

  /** The Event behind `key` is gone (deleted or expired): the next repeat creates a new one. */
  forget(key: string): void {
    this.sent.delete(key);
  }

  private take(key: string, t: number): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: SPAM_BURST, at: t };
    bucket.tokens = Math.min(SPAM_BURST, bucket.tokens + (t - bucket.at) * SPAM_REFILL_PER_MS);
    bucket.at = t;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
