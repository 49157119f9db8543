// --token-auth-file: a CSV of static bearer tokens, `token,user,uid[,"group1,group2"]`, read once
// at start (upstream's tokenfile authenticator; it is not reloaded either).
import { readFileSync } from 'node:fs';
import type { TokenAuthenticator, UserInfo } from './types.js';

/**
 * Records of a CSV text as Go's encoding/csv reads them: comma-separated, fields optionally in
 * double quotes (with "" for a quote, and commas and line breaks inside), blank lines skipped,
 * any number of fields per record.
 */
export function parseCSV(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let line = 1;
  const endRecord = () => {
    record.push(field);
    field = '';
    // A line with nothing on it is no record (Go skips empty lines).
    if (!(record.length === 1 && record[0] === '')) records.push(record);
    record = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && field === '') {
      // A quoted field, to its closing quote.
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`record on line ${line}: extraneous or missing " in quoted-field`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (text[i] === '\n') line++;
        field += text[i++];
      }
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r')
        throw new Error(`record on line ${line}: extraneous or missing " in quoted-field`);
      continue;
    }
    if (c === '"') throw new Error(`record on line ${line}: bare " in non-quoted-field`);
    if (c === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      i++;
    } else if (c === '\n') {
      endRecord();
      line++;
      i++;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || record.length) endRecord();
  return records;
}

/** Users by token from the file's text; `warn` hears of empty and duplicate tokens, as upstream logs them. */
export function parseTokenFile(
  text: string,
  path: string,
  warn: (msg: string) => void = () => {},
): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  let recordNum = 0;
  for (const record of parseCSV(text)) {
    if (record.length < 3)
      throw new Error(
        `token file '${path}' must have at least 3 columns (token, user name, user uid), found ${record.length}`,
      );
    recordNum++;
    const [token, name, uid, groups] = record;
    if (token === '') {
      warn(`empty token has been found in token file '${path}', record number '${recordNum}'`);
      continue;
    }
    if (tokens.has(token)) warn(`duplicate token has been found in token file '${path}', record number '${recordNum}'`);
    const user: UserInfo = { name, uid, groups: groups === undefined ? [] : groups.split(',') };
    tokens.set(token, user);
  }
  return tokens;
}

export class TokenFileAuthenticator implements TokenAuthenticator {
  constructor(private readonly tokens: Map<string, UserInfo>) {}

  static load(path: string, warn?: (msg: string) => void): TokenFileAuthenticator {
    return new TokenFileAuthenticator(parseTokenFile(readFileSync(path, 'utf8'), path, warn));
  }

  authenticate(token: string): UserInfo | undefined {
    const user = this.tokens.get(token);
    return user && { name: user.name, uid: user.uid, groups: [...user.groups] };
  }
}
