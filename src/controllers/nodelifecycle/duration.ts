// Go-style durations on the command line ("40s", "500ms", "1m30s"; a bare number is seconds).
export function parseDurationMs(s: string, flag: string): number {
  const t = String(s).trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  if (!t || consumed !== t.length) throw new Error(`${flag}: invalid duration ${JSON.stringify(s)} (want e.g. 40s, 500ms, 1m)`);
  return total;
}
