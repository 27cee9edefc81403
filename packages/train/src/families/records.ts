import { DistillGateError, type TextDataset } from '@distill-gate/core';

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

/**
 * Encodes a text dataset's records with `encode`, turning a RecordEncodingError into a located error (the dataset's
 * file, the record's line, the field).
 */
export function encodeLocated<T>(data: TextDataset, encode: () => T): T {
  try {
    return encode();
  } catch (e) {
    if (!(e instanceof RecordEncodingError)) throw e;
    const r = data.records[e.index];
    throw new DistillGateError(e.message, {
      file: data.metadata['distill-gate.source'],
      ...(r?.line ? { line: r.line } : { record: e.index }),
      pointer: `/${e.field}`,
    });
  }
}
