// Giving the C heap's free memory back to the system. glibc's malloc returns only the top of its
// main heap when memory is freed: what lies below the last block still in use stays resident, free
// but counted in the process's RSS. After 1,000 TLS watch connections closed, the API server kept
// ≈ 70 MiB of OpenSSL's and the sockets' freed buffers that way for good (docs/benchmarks.md).
// `malloc_trim` hands those free pages back (madvise(MADV_DONTNEED)); Go's runtime does the same
// for kube-apiserver and etcd with its background scavenger. Node has no binding for it, and a
// native addon of our own would need a compiler wherever k8ts is installed, so it is called
// through SQLite's extension loader, which calls a named function of a shared library:
// `malloc_trim(size_t pad)` receives the loader's first argument (a pointer, so `pad` is larger
// than any heap and only the top-of-heap part of the trim is skipped; the free pages below it are
// returned whatever `pad` is), and its result is the loader's "init" result: 0 (nothing
// released) succeeds, 1 (memory released) reads as an initialization error. Only on Linux with
// glibc; anywhere else it does nothing.
import Database from 'better-sqlite3';

/** glibc's shared library, whose `malloc_trim` is called (loaded in every glibc process anyway). */
const LIBC = 'libc.so.6';
/** What SQLite reports when the "init" function returned non-zero: here, memory was released. */
const RAN_AND_RELEASED = /error during initialization/;

let available: boolean | undefined;

/**
 * Returns the C heap's free pages to the system (glibc's malloc_trim); true when it ran. Costs a
 * walk of malloc's free lists and an madvise per free run of pages: about 100 ms for 70 MiB on a
 * loaded 2-core machine, so it is for a quiet process (the heap guard's idle collector).
 */
export function trimNativeHeap(): boolean {
  // Only Linux has glibc; where libc.so.6 or its malloc_trim is missing (musl), the first load
  // fails and the trim is not tried again. (No `process.report` to ask for glibc's version: a
  // report resolves every socket's peer address with a synchronous reverse DNS lookup on the main
  // thread, and a server whose resolver is its own cluster DNS then waits on itself for minutes.)
  available ??= process.platform === 'linux';
  if (!available) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(':memory:');
    // (better-sqlite3 passes an entry point on to SQLite; its type declarations omit it.)
    (db.loadExtension as (file: string, entryPoint: string) => Database.Database).call(db, LIBC, 'malloc_trim');
    return true;
  } catch (e) {
    if (RAN_AND_RELEASED.test((e as Error).message)) return true;
    available = false; // no such library or function here: do not try again
    return false;
  } finally {
    db?.close();
  }
}
