import { isUtf8 } from 'node:buffer';
import express, { type RequestHandler } from 'express';
import { ThreatRelayError, type ErrorDetail } from '../contract/errors';

/**
 * The JSON body parser of the APIs. express.json decodes with replacement:
 * invalid UTF-8 inside a string would become U+FFFD and be published as if
 * the client had sent it. Here the raw bytes are checked first, and a body
 * that is not UTF-8 is refused naming the fields that hold the bad bytes.
 */
export function jsonBody(options: { limit: number; type: string[] }): RequestHandler {
  return express.json({
    limit: options.limit,
    strict: false,
    type: options.type,
    verify: (_req, _res, buf, encoding) => {
      // JSON between systems is UTF-8 (RFC 8259 §8.1); body-parser would also decode utf-16.
      if (encoding !== 'utf-8' && encoding !== 'utf8') {
        throw new ThreatRelayError('TR_UNSUPPORTED_MEDIA_TYPE', `the body must be UTF-8, not ${encoding}`);
      }
      if (isUtf8(buf)) return;
      const details = invalidUtf8Details(buf);
      throw new ThreatRelayError(
        'TR_MALFORMED_JSON',
        `the request body is not valid UTF-8: ${details.map((d) => d.path).join(', ')}`,
        { details },
      );
    },
  });
}

/** At most this many bad places are named: a body of garbage needs no 100,000-line answer. */
const MAX_DETAILS = 20;

/** One detail per JSON path holding invalid UTF-8 (`0.description`, `(root)` outside any value). */
export function invalidUtf8Details(buf: Uint8Array): ErrorDetail[] {
  const offsets = invalidUtf8Offsets(buf);
  const paths = new Map<string, number>();
  for (const [offset, path] of jsonPathsAt(buf, offsets)) {
    if (!paths.has(path)) paths.set(path, offset);
    if (paths.size >= MAX_DETAILS) break;
  }
  return [...paths].map(([path, offset]) => ({
    path,
    message: `is not valid UTF-8 (byte ${offset} of the body); send text as UTF-8`,
  }));
}

/** Where each ill-formed UTF-8 sequence starts (Unicode 15, table 3-7: no overlongs, surrogates, > U+10FFFF). */
export function invalidUtf8Offsets(buf: Uint8Array): number[] {
  const bad: number[] = [];
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    }
    let ok = need > 0;
    let j = 1;
    for (; ok && j <= need; j++) {
      const c = buf[i + j];
      const [min, max] = j === 1 ? [lo, hi] : [0x80, 0xbf];
      if (c === undefined || c < min || c > max) ok = false;
    }
    if (ok) {
      i += need + 1;
    } else {
      bad.push(i);
      // Skip the maximal prefix that was valid so far, at least the lead byte.
      i += Math.max(1, j - 1);
    }
  }
  return bad;
}

interface Frame {
  array: boolean;
  /** The array index, or the object key being read. */
  at: number | string;
  /** In an object: the next string is a key. */
  expectKey: boolean;
}

/**
 * The dotted JSON path of the value at each byte offset (ascending), found by
 * one pass over the bytes up to the last offset: containers on an explicit
 * stack, so no nesting depth is too deep. Outside a well-formed document the
 * paths are a best guess; bytes >= 0x80 are only valid inside strings anyway.
 */
export function jsonPathsAt(buf: Uint8Array, offsets: number[]): [number, string][] {
  const out: [number, string][] = [];
  const stack: Frame[] = [];
  let inString = false;
  let escaped = false;
  let keyStart = -1;
  let next = 0;
  const pathOf = (frames: Frame[]): string =>
    frames.length > 0 ? frames.map((f) => String(f.at)).join('.') : '(root)';
  for (let i = 0; i < buf.length && next < offsets.length; i++) {
    if (i === offsets[next]) {
      out.push([i, keyStart >= 0 ? `${pathOf(stack.slice(0, -1))} (an object key)` : pathOf(stack)]);
      next++;
    }
    const b = buf[i]!;
    const top = stack[stack.length - 1];
    if (inString) {
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) {
        inString = false;
        if (keyStart >= 0 && top) {
          top.at = Buffer.from(buf.subarray(keyStart, i)).toString('utf8');
          top.expectKey = false;
        }
        keyStart = -1;
      }
      continue;
    }
    if (b === 0x22) {
      inString = true;
      if (top && !top.array && top.expectKey) keyStart = i + 1;
    } else if (b === 0x7b) stack.push({ array: false, at: '', expectKey: true });
    else if (b === 0x5b) stack.push({ array: true, at: 0, expectKey: false });
    else if (b === 0x7d || b === 0x5d) stack.pop();
    else if (b === 0x2c && top) {
      if (top.array) top.at = (top.at as number) + 1;
      else top.expectKey = true;
    }
  }
  return out;
}
