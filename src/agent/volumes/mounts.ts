// Host mount helpers: tmpfs for memory-backed volumes and the mount table, read from
// /proc/self/mountinfo so tear-down can find (and undo) every mount left under a pod directory,
// also after an agent restart.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What a failed command said: its stderr, else the error's message. */
function commandOutput(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return String(err.stderr || err.message).trim();
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points currently visible to this process. */
export async function mountPoints(): Promise<string[]> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.push(unescapeMountPath(f[4]));
  }
  return out;
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Mount points strictly below dir, deepest first (the order they must be unmounted in). */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return (await mountPoints()).filter((m) => m.startsWith(prefix)).sort((a, b) => b.length - a.length);
}

export async function mountTmpfs(dir: string, sizeBytes?: number): Promise<void> {
  const args = ['-t', 'tmpfs'];
  if (sizeBytes !== undefined && sizeBytes > 0) args.push('-o', `size=${sizeBytes}`);
  args.push('tmpfs', dir);
  try {
    await run('mount', args);
  } catch (e) {
    throw new Error(`mount failed: ${commandOutput(e)}`, { cause: e });
  }
}

export async function unmount(dir: string): Promise<void> {
  try {
    await run('umount', [dir]);
  } catch (e) {
    throw new Error(`unmount failed: ${commandOutput(e)}`, { cause: e });
  }
}
