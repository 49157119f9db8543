// Shuffle sharding, as upstream's k8s.io/apiserver/pkg/util/shufflesharding: a flow's hash
// deals it a hand of `handSize` distinct queues out of `deckSize`, so two flows rarely share
// all their queues, and an elephant flow fills only its own hand.

/** FNV-1a, 64 bits, of a string's UTF-8 bytes (upstream hashes the flow schema's name and the distinguisher). */
export function fnv64a(...parts: string[]): bigint {
  let h = 0xcbf29ce484222325n;
  for (const part of parts) {
    for (const byte of Buffer.from(part, 'utf8')) {
      h ^= BigInt(byte);
      h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    // A separator, so ("ab","c") and ("a","bc") differ.
    h ^= 0n;
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

export class Dealer {
  constructor(
    readonly deckSize: number,
    readonly handSize: number,
  ) {
    if (deckSize <= 0 || handSize <= 0 || handSize > deckSize || handSize > 15)
      throw new Error(`invalid shuffle sharding: deckSize ${deckSize}, handSize ${handSize}`);
  }

  /**
   * The hand of a hash: each card takes the remainder of the hash by the cards left, which
   * picks among the cards not yet dealt (mixed radix), so the hand has no duplicates.
   */
  deal(hash: bigint): number[] {
    const remainders: number[] = [];
    let h = hash;
    for (let i = 0; i < this.handSize; i++) {
      const left = BigInt(this.deckSize - i);
      remainders.push(Number(h % left));
      h /= left;
    }
    const hand: number[] = [];
    for (let i = 0; i < this.handSize; i++) {
      let card = remainders[i];
      for (let j = i; j > 0; j--) if (card >= remainders[j - 1]) card++;
      hand.push(card);
    }
    return hand;
  }
}
