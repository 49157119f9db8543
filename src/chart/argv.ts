// Helm's command lines as pflag splits them, for the `k8ts chart` commands that parse helm's
// flags themselves (each command keeps its own table of which flags take values).

/** A positional argument, or a flag with the value written into it (`--x=v`, `-nNS`), if any. */
export type ArgvItem =
  | { positional: string }
  | {
      flag: string;
      inline: string | undefined;
      /** Consumes the next argument as the value. */ takeNext(): string | undefined;
    };

/** `--` ends the flags; `-` alone is positional; `--flag=value`; a short flag may carry its value (`-nNS`). */
export function* walkArgv(argv: string[]): Generator<ArgvItem> {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      for (const rest of argv.slice(i + 1)) yield { positional: rest };
      return;
    }
    if (!a.startsWith('-') || a === '-') {
      yield { positional: a };
      continue;
    }
    const long = a.startsWith('--');
    const eq = long ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : long ? a : a.slice(0, 2);
    const inline = eq > 0 ? a.slice(eq + 1) : !long && a.length > 2 ? a.slice(2) : undefined;
    yield { flag, inline, takeNext: () => argv[++i] };
  }
}
