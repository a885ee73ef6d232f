// Object ids: a short type prefix and 128 random bits, so ids cannot be guessed or enumerated.
import { randomBytes } from 'node:crypto';

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}
