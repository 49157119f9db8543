// A small tar (POSIX ustar + pax extended headers) writer and reader, enough for container image
// layers and image archives. Images are small here (a static busybox, one node binary), so both
// directions work on whole Buffers in memory; that keeps the code obvious and fast for our sizes.

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface TarEntry {
  /** Path inside the archive, without a leading "/" (directories without a trailing "/"). */
  path: string;
  type: TarEntryType;
  /** Permission bits (e.g. 0o755). */
  mode: number;
  /** Seconds since the epoch. */
  mtime?: number;
  uid?: number;
  gid?: number;
  /** Content of a regular file. */
  data?: Buffer;
  /** Target of a symlink or hardlink. */
  linkname?: string;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarEntryType, string> = { file: '0', dir: '5', symlink: '2', hardlink: '1' };

/** Writes `value` as a NUL-terminated octal number into a `width`-byte field. */
function octal(buf: Buffer, offset: number, width: number, value: number): void {
  const s = value.toString(8).padStart(width - 1, '0');
  if (s.length > width - 1) throw new Error(`tar: value ${value} does not fit a ${width}-byte field`);
  buf.write(s + '\0', offset, width, 'ascii');
}

/** True when the string fits a ustar name field as plain bytes (otherwise a pax record carries it). */
const fits = (s: string, width: number) => Buffer.byteLength(s) <= width && /^[\x20-\x7e]*$/.test(s);

function header(
  name: string,
  type: string,
  mode: number,
  size: number,
  mtime: number,
  uid: number,
  gid: number,
  linkname: string,
): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, uid);
  octal(h, 116, 8, gid);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.write(type, 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  // The checksum is computed with its own field read as eight spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** One pax record: "<len> <key>=<value>\n", where <len> counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** Serialises entries, in the given order, into a complete tar archive. */
export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const path = e.type === 'dir' ? e.path.replace(/\/?$/, '/') : e.path;
    const linkname = e.linkname ?? '';
    const data = e.type === 'file' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const mtime = e.mtime ?? 0;
    // Long or non-ASCII names go into a pax header; the ustar field then holds a truncated stand-in.
    let pax = '';
    if (!fits(path, 100)) pax += paxRecord('path', path);
    if (!fits(linkname, 100)) pax += paxRecord('linkpath', linkname);
    if (pax) {
      const body = Buffer.from(pax, 'utf8');
      parts.push(
        header(`PaxHeaders/${path.slice(-80)}`.slice(0, 99), 'x', 0o644, body.length, mtime, 0, 0, ''),
        body,
        padding(body.length),
      );
    }
    const shortName = fits(path, 100)
      ? path
      : Buffer.from(path)
          .subarray(0, 99)
          .toString('latin1')
          .replace(/[^\x20-\x7e]/g, '_');
    const shortLink = fits(linkname, 100) ? linkname : '';
    parts.push(header(shortName, TYPEFLAG[e.type], e.mode, data.length, mtime, e.uid ?? 0, e.gid ?? 0, shortLink));
    if (data.length) parts.push(data, padding(data.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end-of-archive marker: two zero blocks
  return Buffer.concat(parts);
}

/** An entry as read back: `data` is a view into the archive buffer (no copy). */
export interface TarReadEntry extends TarEntry {
  size: number;
}

function readString(buf: Buffer, offset: number, width: number): string {
  const field = buf.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? width : end).toString('utf8');
}

function readOctal(buf: Buffer, offset: number, width: number): number {
  // GNU base-256 encoding for big numbers: high bit of the first byte set.
  if (buf[offset] & 0x80) {
    let v = 0;
    for (let i = offset + 1; i < offset + width; i++) v = v * 256 + buf[i];
    return v;
  }
  const s = readString(buf, offset, width).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(body.subarray(i, sp).toString('ascii'), 10);
    if (!(len > 0)) break;
    const rec = body.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Parses a tar archive (ustar, pax, GNU long names). Unknown entry types are skipped. */
export function readTar(buf: Buffer): TarReadEntry[] {
  const entries: TarReadEntry[] = [];
  let off = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    let size = readOctal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const dataStart = off + BLOCK;
    if (pax.size !== undefined && type !== 'x' && type !== 'g') size = Number(pax.size);
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      pax = { ...pax, ...parsePax(data) };
      continue;
    }
    if (type === 'g') continue; // global pax headers carry nothing we use
    if (type === 'L') {
      longName = readString(data, 0, data.length);
      continue;
    }
    if (type === 'K') {
      longLink = readString(data, 0, data.length);
      continue;
    }
    const prefix = h.subarray(257, 262).toString('ascii') === 'ustar' ? readString(h, 345, 155) : '';
    let path = pax.path ?? longName ?? (prefix ? `${prefix}/${readString(h, 0, 100)}` : readString(h, 0, 100));
    const linkname = pax.linkpath ?? longLink ?? readString(h, 157, 100);
    pax = {};
    longName = longLink = undefined;
    path = path
      .replace(/^(\.\/)+/, '')
      .replace(/^\/+/, '')
      .replace(/\/+$/, '');
    const kind: TarEntryType | undefined =
      type === '0' || type === '7'
        ? 'file'
        : type === '5'
          ? 'dir'
          : type === '2'
            ? 'symlink'
            : type === '1'
              ? 'hardlink'
              : undefined;
    if (!kind || path === '' || path === '.') continue;
    entries.push({
      path,
      type: kind,
      mode: readOctal(h, 100, 8),
      uid: readOctal(h, 108, 8),
      gid: readOctal(h, 116, 8),
      mtime: readOctal(h, 136, 12),
      size,
      data: kind === 'file' ? data : undefined,
      linkname: kind === 'symlink' || kind === 'hardlink' ? linkname : undefined,
    });
  }
  return entries;
}
