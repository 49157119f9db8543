/**
 * The one error type thrown by the patch functions. The API server turns it into a 4xx Status
 * (upstream answers a patch that cannot be applied with 400 BadRequest or, for a failed JSON
 * patch `test`, 422); `reason` lets it pick without parsing messages.
 */
export type PatchErrorReason = 'BadRequest' | 'Invalid' | 'Conflict';

export class PatchError extends Error {
  override readonly name = 'PatchError';
  constructor(
    message: string,
    readonly reason: PatchErrorReason = 'BadRequest',
  ) {
    super(message);
  }
}
