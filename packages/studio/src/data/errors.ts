// The one error class of the corpus pipeline. Codes are a closed set so callers (CLI, server jobs) can map
// them without parsing messages; every message names the file, line or field and says how to fix it.

export type DataErrorCode =
  'input-not-found' | 'input-unsupported' | 'input-invalid' | 'options-invalid' | 'output-exists' | 'aborted';

export class DataError extends Error {
  constructor(
    readonly code: DataErrorCode,
    message: string,
    /** The field at fault inside one record (a JSONL line's `messages[2].role`), when the error is about one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DataError';
  }
}
