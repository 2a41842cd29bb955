import fc from 'fast-check';
import { invalidUtf8Details, invalidUtf8Offsets, jsonPathsAt } from '../../../services/platform/json-body';

const RUNS = { seed: 14_2026, numRuns: 1000 };
const fatal = new TextDecoder('utf-8', { fatal: true });
const decodes = (b: Uint8Array): boolean => {
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
};

describe('invalid UTF-8 in a JSON body', () => {
  it('finds a bad sequence exactly when a fatal TextDecoder refuses the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(invalidUtf8Offsets(bytes).length === 0).toBe(decodes(bytes));
      }),
      RUNS,
    );
  });

  it('finds nothing in any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(invalidUtf8Offsets(Buffer.from(s, 'utf8'))).toEqual([]);
      }),
      RUNS,
    );
  });

  it('refuses overlongs, surrogates and code points past U+10FFFF', () => {
    for (const bad of [
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xff],
    ]) {
      expect(invalidUtf8Offsets(Uint8Array.from([0x41, ...bad, 0x41]))[0]).toBe(1);
    }
  });

  it('names the field that holds the bad bytes, by index in a batch', () => {
    const body = Buffer.concat([
      Buffer.from('[{"type":"domain","description":"ok"},{"tags":["a","b"],"description":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"},{"nested":{"deep":[1,"x'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"]}}]'),
    ]);
    expect(invalidUtf8Details(body).map((d) => d.path)).toEqual(['1.description', '2.nested.deep.1']);
  });

  it('names a key holding bad bytes and the root for a bare string', () => {
    const key = Buffer.concat([Buffer.from('{"a":{"b'), Buffer.from([0xff]), Buffer.from('":1}}')]);
    expect(invalidUtf8Details(key).map((d) => d.path)).toEqual(['a (an object key)']);
    const root = Buffer.concat([Buffer.from('"'), Buffer.from([0xff]), Buffer.from('"')]);
    expect(jsonPathsAt(root, [1])).toEqual([[1, '(root)']]);
  });

  it('walks a document nested 100,000 deep without recursion', () => {
    const body = Buffer.concat([
      Buffer.from('['.repeat(100_000) + '"'),
      Buffer.from([0xff]),
      Buffer.from('"' + ']'.repeat(100_000)),
    ]);
    const [detail] = invalidUtf8Details(body);
    expect(detail!.path.split('.')).toHaveLength(100_000);
  });
});
