// The one error class of the model file formats (safetensors, GGUF, Hugging Face folders) and of export and
// import. Codes are a closed set so callers can map them without parsing messages; every message names the
// file and the field or tensor, and what is wrong with it.

export type FormatErrorCode =
  /** The file or folder is missing. */
  | 'not-found'
  /** The bytes break the format: truncated, inconsistent lengths, bad types. */
  | 'invalid'
  /** Valid for the format, but not something ownlm reads (a dtype, an architecture, a quant type). */
  | 'unsupported'
  /** An export whose result llama.cpp does not reproduce. */
  | 'verification-failed'
  /** The output exists and replacing it was not asked for. */
  | 'output-exists';

export class FormatError extends Error {
  constructor(
    readonly code: FormatErrorCode,
    /** The file (or folder) at fault. */
    readonly file: string,
    /** The key, tensor or field at fault, as the format names it. */
    readonly field: string,
    detail: string,
  ) {
    super(field ? `${file}: ${field}: ${detail}` : `${file}: ${detail}`);
    this.name = 'FormatError';
  }
}
