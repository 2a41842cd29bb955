import type { Platform } from '../model';
import { ThreatRelayError, isThreatRelayError } from '../errors';

export type Canonicalizer = (value: string, platform: Platform | null) => string;

/** Refuses the value: TR_INVALID_VALUE with the reason, its one detail at `path`. */
export function invalid(reason: string, path = 'value'): never {
  throw new ThreatRelayError('TR_INVALID_VALUE', reason, { details: [{ path, message: reason }] });
}

/** Re-raises a nested rejection with the part of the value it was about. */
export function within<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isThreatRelayError(err, 'TR_INVALID_VALUE'))
      invalid(`${context}: ${err.message}`, err.details[0]?.path);
    throw err;
  }
}

export function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 61)}...` : text);
}

export function codePoint(char: string): string {
  return (char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}
