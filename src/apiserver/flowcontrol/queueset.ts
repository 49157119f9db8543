// One priority level's dispatcher, as upstream's fair queuing queue set
// (k8s.io/apiserver/pkg/util/flowcontrol/fairqueuing/queueset), simplified where the comments say:
// a level has `limit` seats and a request takes as many as its work estimate says (its maximum of
// initial and final seats; one most of the time); a request wider than the whole level runs
// alone. Beyond that a request waits in one of its flow's queues (shuffle sharding: the queue of
// the flow's hand with the least work waiting), and freed seats go to the non-empty queue whose
// next request would finish first in virtual time (start-time fair queuing, a request's work its
// seats times the estimated service time plus its final seats times their extra time), if they
// are enough for it; so flows get turns in proportion to the work they ask for, however long one
// flow's queue is. A request is rejected (429) when every seat is taken and its queue is full,
// when the level does not queue (limitResponse Reject) and its seats are taken, or when it waited
// longer than the wait limit; one whose client went away while it waited leaves its queue at once
// (upstream: its context is cancelled; both count as rejected with reason "time-out") and never
// takes a seat. A request with final seats keeps its seats for its additional latency after it
// is done (the watch notifications it caused). Simplified: the virtual clock advances by the
// work dispatched, not with real time.
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
  seats: number;
  work: number;
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
  /** The work of the waiters still waiting. */
  work = 0;

  push(w: Waiter): void {
    this.items.push(w);
    this.length++;
    this.work += w.work;
  }

  /** A waiter leaves without being served. */
  drop(w: Waiter): void {
    this.length--;
    this.work -= w.work;
  }

  /** The oldest waiter still waiting. */
  peek(): Waiter | undefined {
    while (this.head < this.items.length) {
      const w = this.items[this.head];
      if (!w.done) return w;
      this.head++;
    }
    if (this.head > 0) {
      this.items = [];
      this.head = 0;
    }
    return undefined;
  }

  shift(): Waiter | undefined {
    const w = this.peek();
    if (!w) return undefined;
    this.head++;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.length--;
    this.work -= w.work;
    return w;
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
  /** Requests running. */
  executing = 0;
  /** Seats they take (and, for their additional latency, requests just done). */
  seatsInUse = 0;
  waiting = 0;
  /** Seats the waiting requests ask for. */
  seatsWaiting = 0;
  /** The highest demand (seats in use plus waiting) since the last look (borrowing.ts). */
  peakDemand = 0;
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

  /** Another number of seats (borrowing moved some): waiting requests get those now free. */
  setLimit(limit: number): void {
    if (limit === this.limit) return;
    this.limit = limit;
    this.dispatch();
  }

  private requeue(w: Waiter): void {
    const q = this.queues[0];
    if (!q) {
      this.waiting--;
      this.seatsWaiting -= w.seats;
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

  /** Can `seats` more run now? A request wider than the level runs when nothing else does (upstream's rule). */
  private fits(seats: number): boolean {
    return seats > this.limit ? this.executing === 0 : this.seatsInUse + seats <= this.limit;
  }

  /**
   * Seats for a request of `flow` (`seats`: its maximum of initial and final seats; `work`: its
   * work in seat-service-times, for fair queuing): true when it may run now (the caller must
   * release() after), else a promise that resolves when it may run, or rejects with Rejected.
   */
  acquire(flow: string, seats = 1, work = seats): true | Waiting {
    return this.tryAcquire(seats) || this.enqueue(flow, seats, work);
  }

  /** Seats at once if nobody waits and they are free (the common case: no flow needed). */
  tryAcquire(seats: number): boolean {
    if (this.waiting !== 0 || !this.fits(seats)) return false;
    this.executing++;
    this.seatsInUse += seats;
    if (this.seatsInUse > this.peakDemand) this.peakDemand = this.seatsInUse;
    return true;
  }

  /** A request that could not run at once: into a queue of its flow's hand (see acquire). */
  enqueue(flow: string, seats: number, work: number): Waiting {
    if (!this.dealer) return rejected('concurrency-limit');
    let queue = this.queues[0];
    let least = Infinity;
    for (const i of this.handOf(flow)) {
      const q = this.queues[i];
      if (q.work < least) {
        least = q.work;
        queue = q;
      }
    }
    if (this.seatsInUse >= this.limit && queue.length >= this.queueLengthLimit) return rejected('queue-full');
    let w!: Waiter;
    const p = new Promise<void>((resolve, reject) => {
      w = { seats, work, resolve, reject, queue, done: false };
      if (queue.length === 0) queue.virtualStart = Math.max(queue.virtualStart, this.virtualTime);
      queue.push(w);
      this.waiting++;
      this.seatsWaiting += seats;
      if (this.seatsInUse + this.seatsWaiting > this.peakDemand) this.peakDemand = this.seatsInUse + this.seatsWaiting;
      w.timer = setTimeout(() => this.leave(w), this.waitLimitMs);
    });
    // Upstream enqueues, then dispatches what it can: the queue may have held only requests too wide to run.
    this.dispatch();
    return Object.assign(p, { cancel: () => this.leave(w) });
  }

  /** A waiter out of its queue, unserved: it waited too long, or its client went away. */
  private leave(w: Waiter): void {
    if (w.done) return;
    this.finish(w);
    this.waiting--;
    this.seatsWaiting -= w.seats;
    w.queue.drop(w);
    w.reject(new Rejected('time-out'));
    // The head of a queue gone, the next request may fit.
    this.dispatch();
  }

  private finish(w: Waiter): void {
    w.done = true;
    clearTimeout(w.timer);
  }

  /**
   * A request is done: its seats are free now, or after `lingerMs` (its final seats' additional
   * latency, the watch notifications it caused).
   */
  release(seats = 1, lingerMs = 0): void {
    this.executing--;
    if (lingerMs > 0) {
      setTimeout(() => {
        this.seatsInUse -= seats;
        this.dispatch();
      }, lingerMs);
      this.dispatch();
      return;
    }
    this.seatsInUse -= seats;
    this.dispatch();
  }

  /**
   * Hand free seats to waiting requests: the next request of the queue that would finish it
   * first in virtual time, if its seats are free (else it waits for them: no request overtakes it).
   */
  private dispatch(): void {
    while (this.waiting > 0 && this.seatsInUse < this.limit) {
      let best: Queue | undefined;
      let bestFinish = Infinity;
      let head: Waiter | undefined;
      for (const q of this.queues) {
        if (q.length === 0) continue;
        const w = q.peek()!;
        const finish = q.virtualStart + w.work;
        if (finish < bestFinish) {
          bestFinish = finish;
          best = q;
          head = w;
        }
      }
      if (!best || !head || !this.fits(head.seats)) return;
      best.shift();
      this.virtualTime = best.virtualStart;
      best.virtualStart += head.work;
      this.finish(head);
      this.waiting--;
      this.seatsWaiting -= head.seats;
      this.executing++;
      this.seatsInUse += head.seats;
      head.resolve();
    }
  }
}
