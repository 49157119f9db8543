// What the agent reports of a caught error (events, waiting reasons, logs): a thrown value is
// `unknown`, so these read its message and reason without assuming it is an Error.

/** The error's message (a thrown non-Error as text). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string')
    return err.message;
  return String(err);
}

/** The error's machine-readable reason, when it carries one (a VolumeError, an ApiError). */
export function errorReason(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'reason' in err && typeof err.reason === 'string') return err.reason;
  return undefined;
}
