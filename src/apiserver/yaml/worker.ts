// The YAML parser's thread (see decode.ts): parses one body at a time and answers with the
// decoded value or the parser's message.
import { parentPort } from 'node:worker_threads';
import YAML from 'yaml';

export interface YAMLJob {
  id: number;
  text: string;
}
export type YAMLResult = { id: number; value: unknown } | { id: number; error: string };

parentPort?.on('message', ({ id, text }: YAMLJob) => parentPort!.postMessage({ id, ...parseYAMLText(text) }));

/** One YAML document as a JSON value, or the reason it is not one (the work of the thread). */
export function parseYAMLText(text: string): { value: unknown } | { error: string } {
  try {
    // The library's own duplicate-key check compares each key with every earlier key of its map
    // (minutes for a 100,000-key map): keys are checked below with one Set per map instead.
    const doc = YAML.parseDocument(text, { uniqueKeys: false, intAsBigInt: false });
    if (doc.errors.length) return { error: doc.errors[0].message };
    const dup = firstDuplicateKey(doc.contents);
    if (dup !== undefined) {
      const before = text.slice(0, dup).split('\n');
      return {
        error: `Map keys must be unique at line ${before.length}, column ${before[before.length - 1].length + 1}`,
      };
    }
    const value = doc.toJS({ maxAliasCount: 100 });
    // An alias inside its own anchor (`a: &x [*x]`) makes a cycle, which JSON can't hold.
    JSON.stringify(value);
    return { value };
  } catch (e) {
    // Alias bombs, undefined aliases and cycles are reported by throwing.
    return { error: (e as Error).message };
  }
}

/** The offset of the first key that repeats an earlier key of the same map, if any. */
function firstDuplicateKey(root: unknown): number | undefined {
  const pending: unknown[] = [root];
  let found: number | undefined;
  while (pending.length) {
    const node = pending.pop();
    if (YAML.isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key;
        if (YAML.isScalar(key)) {
          if (seen.has(key.value)) {
            const at = key.range?.[0] ?? 0;
            if (found === undefined || at < found) found = at;
          }
          seen.add(key.value);
        }
        pending.push(pair.key, pair.value);
      }
    } else if (YAML.isSeq(node)) {
      for (const item of node.items) pending.push(item);
    }
  }
  return found;
}
