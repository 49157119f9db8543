// bcrypt ($2a$, $2b$, $2y$: `htpasswd -B`) for basic auth, on plain JavaScript: node:crypto has
// no Blowfish key schedule, and node_modules is shared. The algorithm is Provos and Mazières's
// EksBlowfish: Blowfish's initial P-array and S-boxes (the hexadecimal digits of pi, computed
// once here rather than pasted as 1,042 constants), the expensive key schedule repeated 2^cost
// times over password and salt, then "OrpheanBeholderScryDoubt" enciphered 64 times.
import { createHash } from 'node:crypto';

const P_WORDS = 18;
const S_WORDS = 1024;

/** arctan(1/x) scaled by 2^bits, with BigInt (Machin's formula for pi uses x = 5 and 239). */
function arctanInverse(x: bigint, bits: bigint): bigint {
  let term = (1n << bits) / x;
  const x2 = x * x;
  let sum = term;
  for (let k = 1n; term !== 0n; k++) {
    term /= x2;
    const part = term / (2n * k + 1n);
    sum += k & 1n ? -part : part;
  }
  return sum;
}

let initial: Uint32Array | undefined;

/** The fractional hexadecimal digits of pi as 32-bit words: P-array (18), then the four S-boxes. */
function piWords(): Uint32Array {
  if (initial) return initial;
  const words = P_WORDS + S_WORDS;
  const guard = 64n;
  const bits = BigInt(words * 32) + guard;
  const pi = 16n * arctanInverse(5n, bits) - 4n * arctanInverse(239n, bits);
  let fraction = (pi & ((1n << bits) - 1n)) >> guard;
  const out = new Uint32Array(words);
  for (let i = words - 1; i >= 0; i--) {
    out[i] = Number(fraction & 0xffffffffn);
    fraction >>= 32n;
  }
  return (initial = out);
}

/** Big-endian 32-bit words read cyclically from the bytes, `count` of them. */
function cyclicWords(data: Buffer, count: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0, at = 0; i < count; i++) {
    let w = 0;
    for (let j = 0; j < 4; j++) {
      w = (w << 8) | data[at];
      at = (at + 1) % data.length;
    }
    out[i] = w;
  }
  return out;
}

class Blowfish {
  private readonly p: Uint32Array;
  private readonly s: Uint32Array;
  private readonly lr = new Uint32Array(2);

  constructor() {
    const pi = piWords();
    this.p = pi.slice(0, P_WORDS);
    this.s = pi.slice(P_WORDS);
  }

  /** Enciphers data[off], data[off + 1] in place (the hot loop: F inlined). */
  encipher(data: Uint32Array, off: number): void {
    const p = this.p;
    const s = this.s;
    let l = data[off] ^ p[0];
    let r = data[off + 1];
    for (let i = 1; i < 17; i += 2) {
      r ^= (((s[l >>> 24] + s[256 | ((l >>> 16) & 0xff)]) ^ s[512 | ((l >>> 8) & 0xff)]) + s[768 | (l & 0xff)]) ^ p[i];
      l ^=
        (((s[r >>> 24] + s[256 | ((r >>> 16) & 0xff)]) ^ s[512 | ((r >>> 8) & 0xff)]) + s[768 | (r & 0xff)]) ^ p[i + 1];
    }
    data[off] = r ^ p[17];
    data[off + 1] = l;
  }

  /**
   * Blowfish's key expansion (`key`: 18 words, the key bytes cycled), with bcrypt's salt (4 words,
   * cycled) mixed into every block when given: EksBlowfish's ExpandKey.
   */
  expand(key: Uint32Array, salt?: Uint32Array): void {
    const p = this.p;
    for (let i = 0; i < P_WORDS; i++) p[i] ^= key[i];
    const lr = this.lr;
    lr[0] = lr[1] = 0;
    let k = 0;
    const fill = (table: Uint32Array, count: number) => {
      for (let i = 0; i < count; i += 2) {
        if (salt) {
          lr[0] ^= salt[k];
          lr[1] ^= salt[k + 1];
          k ^= 2;
        }
        this.encipher(lr, 0);
        table[i] = lr[0];
        table[i + 1] = lr[1];
      }
    };
    fill(p, P_WORDS);
    fill(this.s, S_WORDS);
  }
}

// bcrypt's base64: standard base64's bit layout with the alphabet "./A-Za-z0-9", no padding.
const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BCRYPT = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const translate = (s: string, from: string, to: string) =>
  s.replace(/[^=]/g, (c) => {
    const i = from.indexOf(c);
    return i < 0 ? '!' : to[i];
  });
const encode = (b: Buffer) => translate(b.toString('base64').replace(/=+$/, ''), STANDARD, BCRYPT);
const decode = (s: string) => Buffer.from(translate(s, BCRYPT, STANDARD), 'base64');

const CIPHERTEXT = Buffer.from('OrpheanBeholderScryDoubt');

/** The bcrypt hash of a password with a `$2y$NN$` + 22-character salt prefix (or a whole hash). */
export function bcryptHash(password: string, setting: string): string | undefined {
  const m = /^\$2([aby]?)\$(\d\d)\$([./A-Za-z0-9]{22})/.exec(setting);
  if (!m) return undefined;
  const cost = Number(m[2]);
  if (cost < 4 || cost > 31) return undefined;
  const salt = decode(m[3]).subarray(0, 16);
  // $2a$ and later hash the terminating NUL too; keys are at most 72 bytes.
  let key = Buffer.from(password, 'utf8');
  if (m[1]) key = Buffer.concat([key, Buffer.alloc(1)]);
  key = key.subarray(0, 72);
  const keyWords = cyclicWords(key, P_WORDS);
  const saltWords = cyclicWords(salt, 4);
  const saltAsKey = cyclicWords(salt, P_WORDS);
  const bf = new Blowfish();
  bf.expand(keyWords, saltWords);
  for (let i = 0, rounds = 2 ** cost; i < rounds; i++) {
    bf.expand(keyWords);
    bf.expand(saltAsKey);
  }
  const data = new Uint32Array(6);
  for (let i = 0; i < 6; i++) data[i] = CIPHERTEXT.readUInt32BE(i * 4);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 6; j += 2) bf.encipher(data, j);
  const out = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) out.writeUInt32BE(data[i], i * 4);
  return `$2${m[1]}$${m[2]}$${encode(salt).slice(0, 22)}${encode(out.subarray(0, 23))}`;
}

// A bcrypt check costs tens of milliseconds on the ingress's event loop (cost 10): a client
// sending the same credentials on every request is checked once. Only digests are kept.
const VERIFIED_MAX = 1000;
const verified = new Set<string>();

/** Whether the password matches a bcrypt hash; successes are remembered. */
export function bcryptVerify(hash: string, password: string): boolean {
  const id = createHash('sha256').update(hash).update('\0').update(password).digest('base64');
  if (verified.has(id)) return true;
  const ok = bcryptHash(password, hash) === hash;
  if (ok) {
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.values().next().value as string);
    verified.add(id);
  }
  return ok;
}
