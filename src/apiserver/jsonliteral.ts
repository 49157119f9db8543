// The source text of one value inside a JSON document, found by its path. Error messages use it
// to quote a number as the client wrote it (Go's decoder prints the literal: "1e308", not the
// "1e+308" a parsed double prints as). Only called when reporting, so plainness beats speed.

/** The literal text at path (object keys and array indices), or undefined. Last duplicate key wins, as in JSON.parse. */
export function literalAt(text: string, path: readonly (string | number)[]): string | undefined {
  try {
    const s = new Scanner(text);
    let span = s.value();
    for (const seg of path) {
      const found: [number, number] | undefined = s.child(span, seg);
      if (!found) return undefined;
      span = found;
    }
    return text.slice(span[0], span[1]);
  } catch {
    return undefined;
  }
}

class Scanner {
  private i = 0;
  constructor(private readonly t: string) {}

  /** Skips one value from the current position; returns its [start, end). */
  value(): [number, number] {
    this.ws();
    const start = this.i;
    const c = this.t[this.i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      this.i++;
      this.ws();
      if (this.t[this.i] === close) {
        this.i++;
        return [start, this.i];
      }
      for (;;) {
        if (c === '{') {
          this.string();
          this.ws();
          this.expect(':');
        }
        this.value();
        this.ws();
        if (this.t[this.i] === ',') {
          this.i++;
          this.ws();
          continue;
        }
        this.expect(close);
        return [start, this.i];
      }
    }
    if (c === '"') {
      this.string();
      return [start, this.i];
    }
    while (this.i < this.t.length && !/[\s,\]}]/.test(this.t[this.i])) this.i++;
    if (this.i === start) throw new Error('value expected');
    return [start, this.i];
  }

  /** The span of a member (key) or element (index) of the container spanning `span`. */
  child(span: [number, number], seg: string | number): [number, number] | undefined {
    this.i = span[0];
    const open = this.t[this.i];
    if (open !== (typeof seg === 'number' ? '[' : '{')) return undefined;
    this.i++;
    this.ws();
    let found: [number, number] | undefined;
    for (let index = 0; this.i < span[1] - 1; index++) {
      let key: string | undefined;
      if (open === '{') {
        const k = this.string();
        key = JSON.parse(this.t.slice(k[0], k[1]));
        this.ws();
        this.expect(':');
      }
      const v = this.value();
      if (open === '{' ? key === seg : index === seg) found = v;
      this.ws();
      if (this.t[this.i] === ',') {
        this.i++;
        this.ws();
      }
    }
    return found;
  }

  private string(): [number, number] {
    const start = this.i;
    this.expect('"');
    while (this.i < this.t.length && this.t[this.i] !== '"') this.i += this.t[this.i] === '\\' ? 2 : 1;
    this.expect('"');
    return [start, this.i];
  }

  private ws(): void {
    while (this.i < this.t.length && /\s/.test(this.t[this.i])) this.i++;
  }

  private expect(c: string): void {
    if (this.t[this.i] !== c) throw new Error(`${c} expected`);
    this.i++;
  }
}
