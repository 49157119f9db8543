// The shape of the generated wire table (wiretable.ts).

/** [json name, field number, type, flags]: see the header of wiretable.ts. */
export type FieldRow = [string, number, string, string];

export interface MessageRow {
  f: FieldRow[];
  /** A named slice type: one repeated `items` field on the wire, a bare array in JSON. */
  w?: 1;
}

export type WireTable = Record<string, MessageRow>;
