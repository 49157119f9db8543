// .Files: a chart's non-template files with Helm's accessors (Get, GetBytes, Glob, Lines,
// AsConfig, AsSecrets). Indexing it directly yields the bytes.
import { posix } from 'node:path';
import type { ChartFile } from './chart.js';
import { GoStruct } from './template/values.js';
import { marshalYaml } from './yaml.js';

/** gobwas/glob with '/' as separator: * stays within a segment, ** crosses them. */
function globRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i);
      const cls = pattern.slice(i + 1, close);
      re += '[' + (cls.startsWith('!') ? '^' + cls.slice(1) : cls) + ']';
      i = close;
    } else if (c === '{') {
      const close = pattern.indexOf('}', i);
      re +=
        '(' +
        pattern
          .slice(i + 1, close)
          .split(',')
          .map((a) => a.replace(/[.+^$()|\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
          .join('|') +
        ')';
      i = close;
    } else if (c === '\\') re += '\\' + pattern[++i];
    else re += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

export function filesObject(files: Map<string, Buffer>): GoStruct {
  const entries: Record<string, unknown> = {};
  for (const [k, v] of files) entries[k] = new Uint8Array(v);
  const text = (name: string) => files.get(name)?.toString('utf8') ?? '';
  const asMap = (encode: (b: Buffer) => string) => {
    if (files.size === 0) return '';
    const m: Record<string, string> = {};
    for (const [k, v] of files) m[posix.basename(k)] = encode(v);
    return marshalYaml(m).replace(/\n$/, '');
  };
  return new GoStruct(
    'engine.files',
    {},
    {
      Get: (name: unknown) => text(String(name)),
      GetBytes: (name: unknown) => new Uint8Array(files.get(String(name)) ?? Buffer.alloc(0)),
      Glob: (pattern: unknown) => {
        const re = globRegExp(String(pattern));
        return filesObject(new Map([...files].filter(([k]) => re.test(k))));
      },
      Lines: (name: unknown) => {
        const s = files.get(String(name));
        if (!s || s.length === 0) return [];
        let str = s.toString('utf8');
        if (str.endsWith('\n')) str = str.slice(0, -1);
        return str.split('\n');
      },
      AsConfig: () => asMap((b) => b.toString('utf8')),
      AsSecrets: () => asMap((b) => b.toString('base64')),
    },
    undefined,
    () => Object.fromEntries([...files].map(([k, v]) => [k, v.toString('base64')])),
    entries,
  );
}

export function filesFromChart(files: ChartFile[]): GoStruct {
  return filesObject(new Map(files.map((f) => [f.name, f.data])));
}
