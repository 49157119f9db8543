// A small TOML encoder/decoder for Helm's toToml/fromToml (BurntSushi/toml conventions:
// scalars first, then tables with their keys indented two spaces).
import { isMap, sortedKeys, type GoMap } from '../template/values.js';
import { goQuote } from '../template/gofmt.js';

function scalar(v: unknown): string {
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) + (Math.abs(v) < 1e16 ? '.0' : '') : String(v);
  if (Array.isArray(v)) return '[' + v.map(scalar).join(', ') + ']';
  return '""';
}

function encodeTable(m: GoMap, path: string[], indent: string, out: string[]): void {
  const keys = sortedKeys(m);
  const plain = keys.filter(
    (k) => !isMap(m[k]) && m[k] !== null && !(Array.isArray(m[k]) && (m[k] as unknown[]).some(isMap)),
  );
  const tables = keys.filter((k) => isMap(m[k]));
  const arrays = keys.filter((k) => Array.isArray(m[k]) && (m[k] as unknown[]).some(isMap));
  for (const k of plain) out.push(`${indent}${bareKey(k)} = ${scalar(m[k])}\n`);
  for (const k of tables) {
    const p = [...path, bareKey(k)];
    if (out.length > 0) out.push('\n');
    out.push(`${indent}[${p.join('.')}]\n`);
    encodeTable(m[k] as GoMap, p, indent + '  ', out);
  }
  for (const k of arrays) {
    const p = [...path, bareKey(k)];
    for (const item of m[k] as unknown[]) {
      if (out.length > 0) out.push('\n');
      out.push(`${indent}[[${p.join('.')}]]\n`);
      if (isMap(item)) encodeTable(item, p, indent + '  ', out);
    }
  }
}

function bareKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : goQuote(k);
}

export function toToml(v: unknown): string {
  if (!isMap(v)) return '';
  const out: string[] = [];
  encodeTable(v, [], '', out);
  return out.join('');
}

function parseValue(s: string, line: number): unknown {
  s = s.trim();
  if (s.startsWith('"')) return JSON.parse(s) as unknown;
  if (s.startsWith("'")) return s.slice(1, -1);
  if (s === 'true' || s === 'false') return s === 'true';
  if (/^[+-]?\d[\d_]*$/.test(s)) return Number(s.replace(/_/g, ''));
  if (/^[+-]?[\d_.]+([eE][+-]?\d+)?$/.test(s)) return Number(s.replace(/_/g, ''));
  if (s.startsWith('[')) {
    const inner = s.slice(1, -1).trim();
    return inner ? inner.split(',').map((x) => parseValue(x, line)) : [];
  }
  throw new Error(`toml: line ${line}: expected value but found ${JSON.stringify(s)} instead`);
}

/** TOML → map; errors come back under an "Error" key, as Helm's fromToml does. */
export function fromToml(text: string): GoMap {
  const root: GoMap = {};
  let cur = root;
  try {
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/^\s+|\s+$/g, '');
      if (!line || line.startsWith('#')) return;
      const arr = /^\[\[(.+)\]\]$/.exec(line);
      const tbl = /^\[(.+)\]$/.exec(line);
      if (arr || tbl) {
        const parts = (arr ?? tbl)![1].split('.').map((p) => p.trim().replace(/^"|"$/g, ''));
        let t = root;
        parts.forEach((p, j) => {
          const last = j === parts.length - 1;
          if (last && arr) {
            const list = (Array.isArray(t[p]) ? t[p] : (t[p] = [])) as GoMap[];
            const item: GoMap = {};
            list.push(item);
            t = item;
          } else {
            const next = t[p];
            if (Array.isArray(next)) t = next[next.length - 1] as GoMap;
            else t = isMap(next) ? next : (t[p] = {});
          }
        });
        cur = t;
        return;
      }
      const eq = line.indexOf('=');
      if (eq < 0) throw new Error(`toml: line ${i + 1}: unexpected EOF; expected key separator '='`);
      cur[line.slice(0, eq).trim().replace(/^"|"$/g, '')] = parseValue(line.slice(eq + 1), i + 1);
    });
  } catch (e) {
    return { Error: (e as Error).message };
  }
  return root;
}
