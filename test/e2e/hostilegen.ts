// Deterministic generators of hostile request bodies for test/e2e/hostile.test.ts. Everything
// random comes from a seeded generator, so a failing case is reproduced by its seed and id.

/** A small seeded PRNG (mulberry32): same seed, same sequence, on every machine. */
export class Rng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** The seed of this run: HOSTILE_SEED if given, else one derived from the clock (printed by the suite). */
export function suiteSeed(): number {
  const given = process.env.HOSTILE_SEED;
  if (given !== undefined && given !== '') return Number(given) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** Offsets just after each structural character of a JSON or YAML text: where a truncation changes the syntax tree. */
export function structuralCuts(text: string): number[] {
  const cuts: number[] = [0];
  for (let i = 0; i < text.length; i++) if ('{}[]:,"\n-'.includes(text[i])) cuts.push(i, i + 1);
  return [...new Set(cuts)].filter((c) => c < text.length).sort((a, b) => a - b);
}

const STRUCTURAL_BYTES = Buffer.from('{}[]:,"\\\n -#&*!|>\'');

/** One random mutation of a body: a bit flip, a byte replaced, a structural byte inserted, a span deleted or doubled. */
export function mutate(rng: Rng, body: Buffer): { body: Buffer; how: string } {
  const at = rng.int(body.length);
  switch (rng.int(5)) {
    case 0: {
      const bit = rng.int(8);
      const out = Buffer.from(body);
      out[at] ^= 1 << bit;
      return { body: out, how: `flip bit ${bit} of byte ${at}` };
    }
    case 1: {
      const byte = rng.int(256);
      const out = Buffer.from(body);
      out[at] = byte;
      return { body: out, how: `byte ${at} := 0x${byte.toString(16)}` };
    }
    case 2: {
      const byte = STRUCTURAL_BYTES[rng.int(STRUCTURAL_BYTES.length)];
      return {
        body: Buffer.concat([body.subarray(0, at), Buffer.from([byte]), body.subarray(at)]),
        how: `insert ${JSON.stringify(String.fromCharCode(byte))} at ${at}`,
      };
    }
    case 3: {
      const len = 1 + rng.int(16);
      return {
        body: Buffer.concat([body.subarray(0, at), body.subarray(at + len)]),
        how: `delete ${len} bytes at ${at}`,
      };
    }
    default: {
      const len = 1 + rng.int(32);
      const span = body.subarray(at, at + len);
      return {
        body: Buffer.concat([body.subarray(0, at), span, span, body.subarray(at + len)]),
        how: `double ${span.length} bytes at ${at}`,
      };
    }
  }
}

export type NestShape = 'array' | 'object';

/** A JSON value nested `depth` levels deep: [[[...1...]]] or {"a":{"a":...1...}}. */
export function nestedJSON(depth: number, shape: NestShape): string {
  return shape === 'array'
    ? '['.repeat(depth) + '1' + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** The same in YAML flow style. */
export function nestedYAMLFlow(depth: number, shape: NestShape): string {
  return shape === 'array'
    ? '['.repeat(depth) + '1' + ']'.repeat(depth)
    : '{a: '.repeat(depth) + '1' + '}'.repeat(depth);
}

/**
 * A YAML document whose `x` holds a block structure `depth` levels deep. Sequences nest on one
 * line ("- - - 1"), so any depth fits; block mappings need one more column of indentation per
 * level, so their depth is what fits in `budgetBytes` (quadratic growth).
 */
export function nestedYAMLBlock(prefix: string, depth: number, shape: NestShape): string {
  if (shape === 'array') return `${prefix}x:\n  ${'- '.repeat(depth)}1\n`;
  const lines: string[] = [`${prefix}x:`];
  for (let i = 1; i <= depth; i++) lines.push(`${' '.repeat(i)}a:`);
  lines[lines.length - 1] += ' 1';
  return lines.join('\n') + '\n';
}

/** The deepest block-mapping nesting whose text stays under `budgetBytes`. */
export function blockMappingDepthWithin(budgetBytes: number): number {
  // Level i costs i spaces + "a:\n" (3 bytes): total d(d+1)/2 + 3d.
  let d = 0;
  while (((d + 1) * (d + 2)) / 2 + 3 * (d + 1) < budgetBytes) d++;
  return d;
}

/** A "billion laughs" document: `levels` anchors, each a list of `width` aliases of the one before. */
export function yamlAliasBomb(prefix: string, levels: number, width: number): string {
  const lines = [prefix.trimEnd(), `l0: &l0 [${Array(width).fill('"lol"').join(', ')}]`];
  for (let i = 1; i < levels; i++)
    lines.push(
      `l${i}: &l${i} [${Array(width)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  lines.push(`x: *l${levels - 1}`);
  return lines.filter(Boolean).join('\n') + '\n';
}

/** A short printable description of a body for failure reports. */
export function describeBody(body: string | Buffer | undefined): string {
  if (body === undefined) return '(no body)';
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  const head = buf
    .subarray(0, 100)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `${buf.length} bytes: ${head}${buf.length > 100 ? '…' : ''}`;
}
