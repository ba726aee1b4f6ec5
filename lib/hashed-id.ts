import { createHash } from 'node:crypto';

/**
 * `prefix` and the first `hexChars` hex digits of the SHA-256 of `text`: an id derived from a key,
 * of fixed length whatever the key, the same every time for the same key (a retry, a second
 * request, another process). Stored ids depend on it: never change how one is derived.
 */
export function hashedId(prefix: string, text: string, hexChars = 64): string {
  return `${prefix}${createHash('sha256').update(text).digest('hex').slice(0, hexChars)}`;
}
