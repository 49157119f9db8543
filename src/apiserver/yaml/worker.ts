// The YAML parser's thread (see decode.ts): parses one body at a time and answers with the
// decoded value or the parser's message.
import { parentPort } from 'node:worker_threads';
import YAML from 'yaml';

export interface YAMLJob {
  id: number;
  text: string;
}
export type YAMLResult = { id: number; value: unknown } | { id: number; error: string };

parentPort?.on('message', ({ id, text }: YAMLJob) => {
  let result: YAMLResult;
  try {
    const doc = YAML.parseDocument(text, { uniqueKeys: true, intAsBigInt: false });
    if (doc.errors.length) {
      result = { id, error: doc.errors[0].message };
    } else {
      const value = doc.toJS({ maxAliasCount: 100 });
      // An alias inside its own anchor (`a: &x [*x]`) makes a cycle, which JSON can't hold.
      JSON.stringify(value);
      result = { id, value };
    }
  } catch (e) {
    // Alias bombs, undefined aliases and cycles are reported by throwing.
    result = { id, error: (e as Error).message };
  }
  parentPort!.postMessage(result);
});
