/**
 * Why a record of a text dataset cannot be used (it does not fit the model's context, a turn weight the family cannot
 * honour...), with its index and field: the caller, which knows the dataset's file and lines, turns it into a located
 * error.
 */
export class RecordEncodingError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
