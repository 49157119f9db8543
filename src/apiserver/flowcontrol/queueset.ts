// One priority level's dispatcher, as upstream's fair queuing queue set
// (k8s.io/apiserver/pkg/util/flowcontrol/fairqueuing/queueset), simplified where the comments say:
// a level runs at most `limit` requests at once (one seat each); beyond that a request waits in
// one of its flow's queues (shuffle sharding: the shortest queue of the flow's hand), and a freed
// seat goes to the non-empty queue with the lowest virtual start time (start-time fair queuing,
// each request one unit of work), so flows get turns in proportion, however long one flow's
// queue is. A request is rejected (429) when its queue is full, when the level does not queue
// (limitResponse Reject), or when it waited longer than the wait limit; one whose client went
// away while it waited leaves its queue at once (upstream: its context is cancelled; both count
// as rejected with reason "time-out") and never takes a seat.
import { Dealer, fnv64a } from './shufflesharding.js';

export type RejectReason = 'queue-full' | 'concurrency-limit' | 'time-out' | 'cancelled';

export class Rejected extends Error {
  constructor(readonly reason: RejectReason) {
    super(`request rejected by flow control: ${reason}`);
  }
}

/** A request waiting for a seat: resolves when it may run; cancel() takes it out of its queue. */
export type Waiting = Promise<void> & { cancel(this: void): void };

const noCancel = () => undefined;

function rejected(reason: RejectReason): Waiting {
  return Object.assign(Promise.reject(new Rejected(reason)), { cancel: noCancel });
}

interface Waiter {
  resolve: () => void;
  reject: (err: Rejected) => void;
  queue: Queue;
  timer?: NodeJS.Timeout;
  done: boolean;
}

class Queue {
  items: Waiter[] = [];
  head = 0;
  /** Virtual time at which this queue's next request starts. */
  virtualStart = 0;
  /** Waiters still waiting (one that timed out or was cancelled stays in `items`, skipped, until reached). */
  length = 0;

  push(w: Waiter): void {
    this.items.push(w);
    this.length++;
  }

  shift(): Waiter | undefined {
    while (this.head < this.items.length) {
      const w = this.items[this.head++];
      if (this.head > 64 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (!w.done) {
        this.length--;
        return w;
      }
    }
    return undefined;
  }
}

export interface QueuingConfig {
  queues: number;
  handSize: number;
  queueLengthLimit: number;
}

/** What a level counts, for the apiserver_flowcontrol_* metrics. */
export interface LevelStats {
  executing: number;
  waiting: number;
}

export class QueueSet implements LevelStats {
  executing = 0;
  waiting = 0;
  private queues: Queue[] = [];
  private dealer?: Dealer;
  private queueLengthLimit = 0;
  private virtualTime = 0;
  /** Hands dealt per flow (the hash is a BigInt computation, done once per flow). */
  private readonly hands = new Map<string, number[]>();

  constructor(
    public limit: number,
    queuing: QueuingConfig | undefined,
    /** Longest time a request may wait in a queue (ms). */
    public waitLimitMs: number,
  ) {
    this.configure(limit, queuing);
  }

  /** New settings (the object changed, or the server's concurrency was split anew). */
  configure(limit: number, queuing: QueuingConfig | undefined): void {
    this.limit = limit;
    const same =
      queuing && this.dealer && this.dealer.deckSize === queuing.queues && this.dealer.handSize === queuing.handSize;
    if (!same) {
      const old = this.queues;
      this.hands.clear();
      this.dealer = queuing ? new Dealer(queuing.queues, queuing.handSize) : undefined;
      this.queues = queuing ? Array.from({ length: queuing.queues }, () => new Queue()) : [];
      // Waiting requests keep their order in the new queues' first one, or are dispatched/rejected.
      for (const q of old) for (let w = q.shift(); w; w = q.shift()) this.requeue(w);
    }
    this.queueLengthLimit = queuing?.queueLengthLimit ?? 0;
    this.dispatch();
  }

  private requeue(w: Waiter): void {
    const q = this.queues[0];
    if (!q) {
      this.waiting--;
      this.finish(w);
      w.reject(new Rejected('concurrency-limit'));
      return;
    }
    w.queue = q;
    q.push(w);
  }

  private handOf(flow: string): number[] {
    let hand = this.hands.get(flow);
    if (!hand) {
      if (this.hands.size >= 10_000) this.hands.clear();
      hand = this.dealer!.deal(fnv64a(flow));
      this.hands.set(flow, hand);
    }
    return hand;
  }

  /**
   * A seat for a request of `flow`: true when it may run now (the caller must release() after),
   * else a promise that resolves when it may run, or rejects with Rejected.
   */
  acquire(flow: string): true | Waiting {
    if (this.executing < this.limit && this.waiting === 0) {
      this.executing++;
      return true;
    }
    if (!this.dealer) return rejected('concurrency-limit');
    let queue = this.queues[0];
    let shortest = Infinity;
    for (const i of this.handOf(flow)) {
      const q = this.queues[i];
      if (q.length < shortest) {
        shortest = q.length;
        queue = q;
      }
    }
    if (queue.length >= this.queueLengthLimit) return rejected('queue-full');
    let w!: Waiter;
    const p = new Promise<void>((resolve, reject) => {
      w = { resolve, reject, queue, done: false };
      if (queue.length === 0) queue.virtualStart = Math.max(queue.virtualStart, this.virtualTime);
      queue.push(w);
      this.waiting++;
      w.timer = setTimeout(() => this.leave(w), this.waitLimitMs);
    });
    return Object.assign(p, { cancel: () => this.leave(w) });
  }

  /** A waiter out of its queue, unserved: it waited too long, or its client went away. */
  private leave(w: Waiter): void {
    if (w.done) return;
    this.finish(w);
    this.waiting--;
    w.queue.length--;
    w.reject(new Rejected('time-out'));
  }

  private finish(w: Waiter): void {
    w.done = true;
    clearTimeout(w.timer);
  }

  release(): void {
    this.executing--;
    this.dispatch();
  }

  /** Hand free seats to waiting requests, the queue with the lowest virtual start first. */
  private dispatch(): void {
    while (this.waiting > 0 && this.executing < this.limit) {
      let best: Queue | undefined;
      for (const q of this.queues) if (q.length > 0 && (!best || q.virtualStart < best.virtualStart)) best = q;
      if (!best) return;
      const w = best.shift();
      if (!w) continue;
      this.virtualTime = best.virtualStart;
      best.virtualStart += 1;
      this.finish(w);
      this.waiting--;
      this.executing++;
      w.resolve();
    }
  }
}
