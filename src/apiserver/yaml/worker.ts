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
    result = doc.errors.length ? { id, error: doc.errors[0].message } : { id, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (e) {
    // Alias bombs and undefined aliases are reported by throwing.
    result = { id, error: (e as Error).message };
  }
  parentPort!.postMessage(result);
});
