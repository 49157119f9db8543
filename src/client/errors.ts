// Errors as clients see them: the metav1.Status a server returned (or would have returned, for
// the in-process transport), with upstream's code and reason, so callers branch on them the way
// client-go's apierrors.IsNotFound/IsConflict/... do. One ApiError class serves the server and
// its clients (machinery/errors.ts): an in-process call throws what the server would have sent.
import { ApiError } from '../machinery/errors.js';

export { ApiError, type Status, type StatusCause, type StatusDetails } from '../machinery/errors.js';

const has = (err: unknown, test: (e: ApiError) => boolean) => err instanceof ApiError && test(err);
export const isNotFound = (err: unknown) => has(err, (e) => e.isNotFound());
export const isConflict = (err: unknown) => has(err, (e) => e.isConflict());
export const isAlreadyExists = (err: unknown) => has(err, (e) => e.isAlreadyExists());
export const isGone = (err: unknown) => has(err, (e) => e.isGone());
export const isForbidden = (err: unknown) => has(err, (e) => e.isForbidden());
export const isMethodNotSupported = (err: unknown) => has(err, (e) => e.isMethodNotSupported());
