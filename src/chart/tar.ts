// A small reader of (gzipped) tar archives, enough for packaged charts: ustar names with
// prefixes, GNU long names and PAX path records; only regular files are returned.
import { gunzipSync, gzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  data: Buffer;
}

function field(buf: Buffer, start: number, len: number): string {
  const raw = buf.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number): number {
  if (buf[start] & 0x80) {
    // base-256 encoding for large sizes
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + buf[i];
    return n;
  }
  const s = field(buf, start, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = parseInt(data.subarray(pos, sp).toString('ascii'), 10);
    if (!len) break;
    const rec = data.subarray(sp + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Regular files of a .tgz (or plain .tar) archive, in archive order. */
export function readTarGz(archive: Buffer): TarEntry[] {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const entries: TarEntry[] = [];
  let pos = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  while (pos + 512 <= tar.length) {
    const header = tar.subarray(pos, pos + 512);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 0x30);
    const magic = field(header, 257, 6);
    let name = field(header, 0, 100);
    const prefix = magic.startsWith('ustar') ? field(header, 345, 155) : '';
    if (prefix) name = prefix + '/' + name;
    const data = tar.subarray(pos + 512, pos + 512 + size);
    pos += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'g') continue;
    if (longName) name = longName;
    if (pax.path) name = pax.path;
    longName = undefined;
    pax = {};
    if (type === '0' || type === '\0' || type === '7') entries.push({ name, data: Buffer.from(data) });
  }
  return entries;
}

/** A gzipped ustar archive of regular files (`chart package`); names up to 255 bytes via the prefix field. */
export function writeTarGz(entries: TarEntry[], mtime = new Date()): Buffer {
  const blocks: Buffer[] = [];
  const seconds = Math.floor(mtime.getTime() / 1000);
  for (const e of entries) {
    const header = Buffer.alloc(512);
    let name = e.name;
    let prefix = '';
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', 155);
      if (cut < 0 || Buffer.byteLength(name.slice(cut + 1)) > 100)
        throw new Error(`file name too long for tar: ${name}`);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    header.write(name, 0, 100, 'utf8');
    header.write('0000644\0', 100, 8, 'ascii');
    header.write('0000000\0', 108, 8, 'ascii');
    header.write('0000000\0', 116, 8, 'ascii');
    header.write(e.data.length.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii');
    header.write(seconds.toString(8).padStart(11, '0') + '\0', 136, 12, 'ascii');
    header.write('        ', 148, 8, 'ascii');
    header.write('0', 156, 1, 'ascii');
    header.write('ustar\0', 257, 6, 'ascii');
    header.write('00', 263, 2, 'ascii');
    header.write(prefix, 345, 155, 'utf8');
    let sum = 0;
    for (const b of header) sum += b;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
    blocks.push(header, e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}
