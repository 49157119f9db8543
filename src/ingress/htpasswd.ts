// htpasswd verification for the basic-auth annotations, with Node's crypto only: Apache's
// MD5 ($apr1$, `htpasswd -m`, the default of `htpasswd`), {SHA} (`htpasswd -s`) and plain text
// on lines without a scheme, and bcrypt ($2y$, `htpasswd -B`, in bcrypt.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import { bcryptVerify } from './bcrypt.js';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function to64(value: number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++, value >>= 6) s += ITOA64[value & 0x3f];
  return s;
}

const md5 = (...parts: (Buffer | string)[]) => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** The MD5-crypt hash (magic `$apr1$` or `$1$`) of a password with a salt of up to 8 characters. */
export function md5Crypt(password: string, salt: string, magic = '$apr1$'): string {
  const pw = Buffer.from(password);
  salt = salt.split('$')[0].slice(0, 8);
  const alternate = md5(pw, salt, pw);
  const ctx = createHash('md5').update(pw).update(magic).update(salt);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alternate.subarray(0, Math.min(left, 16)));
  // The password length's bits pick a zero byte or the password's first byte (as the C code does).
  for (let i = pw.length; i; i >>= 1) ctx.update(i & 1 ? Buffer.alloc(1) : pw.subarray(0, 1));
  let final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const round = createHash('md5');
    round.update(i & 1 ? pw : final);
    if (i % 3) round.update(salt);
    if (i % 7) round.update(pw);
    round.update(i & 1 ? final : pw);
    final = round.digest();
  }
  const groups: [number, number, number][] = [
    [0, 6, 12],
    [1, 7, 13],
    [2, 8, 14],
    [3, 9, 15],
    [4, 10, 5],
  ];
  let out = '';
  for (const [a, b, c] of groups) out += to64((final[a] << 16) | (final[b] << 8) | final[c], 4);
  out += to64(final[11], 2);
  return `${magic}${salt}$${out}`;
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Whether `password` matches one htpasswd hash. */
export function verifyHash(hash: string, password: string): boolean {
  if (hash.startsWith('$apr1$') || hash.startsWith('$1$')) {
    const magic = hash.startsWith('$apr1$') ? '$apr1$' : '$1$';
    const salt = hash.slice(magic.length).split('$')[0];
    return same(md5Crypt(password, salt, magic), hash);
  }
  if (hash.startsWith('{SHA}')) return same('{SHA}' + createHash('sha1').update(password).digest('base64'), hash);
  // $2x$ marks hashes of an old buggy implementation: refused, as current htpasswd does.
  if (/^\$2[aby]?\$/.test(hash)) return bcryptVerify(hash, password);
  if (hash.startsWith('$2x$')) return false;
  return same(hash, password);
}

/** user → hash, from htpasswd text (`user:hash` lines; blank lines and # comments skipped). */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const colon = l.indexOf(':');
    if (colon > 0) users.set(l.slice(0, colon), l.slice(colon + 1));
  }
  return users;
}

/** Checks an Authorization header against users; returns the user name when it matches. */
export function checkBasicAuth(header: string | undefined, users: Map<string, string>): string | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  const hash = users.get(user);
  return hash !== undefined && verifyHash(hash, decoded.slice(colon + 1)) ? user : undefined;
}
