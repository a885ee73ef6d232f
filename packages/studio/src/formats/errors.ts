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

/**
 * A value read from a file as an error message quotes it: a scalar as JSON (cut at 80 characters; a 64-bit
 * integer as its digits), a container by its kind. A whole value is never stringified: JSON.stringify overflows
 * its stack on one nested deep enough, and throws on a bigint.
 */
export function quoteValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
