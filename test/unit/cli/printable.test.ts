import { printable } from '../../../services/cli/printable';

const escaped = (code: number): string => `\\u${code.toString(16).padStart(4, '0')}`;

describe('printable', () => {
  it('leaves ordinary text, non-ASCII letters included, as it is', () => {
    expect(printable('TR_SIGNATURE_INVALID: café → 東京 ok')).toBe('TR_SIGNATURE_INVALID: café → 東京 ok');
  });

  it('writes an ANSI escape sequence as visible text', () => {
    expect(printable('\u001b[2J\u001b[31mred')).toBe('\\u001b[2J\\u001b[31mred');
  });

  it('escapes newline, carriage return and tab, so a record cannot forge a line', () => {
    expect(printable('a\nb\rc\td')).toBe('a\\u000ab\\u000dc\\u0009d');
  });

  it('escapes every C0 control, DEL and every C1 control, and nothing next to them', () => {
    const codes = [
      ...Array.from({ length: 0x20 }, (_, i) => i),
      ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
    ];
    for (const code of codes) expect(printable(String.fromCharCode(code))).toBe(escaped(code));
    expect(printable('\u0020\u007e\u00a0')).toBe('\u0020\u007e\u00a0');
  });

  it('escapes CSI, the one-character form of ESC [', () => {
    expect(printable('\u009b2J')).toBe('\\u009b2J');
  });

  it('keeps a JSON line parseable, with the same value', () => {
    const json = JSON.stringify({ reason: 'a\u001b[2J\u007f\u009bz' });
    expect(JSON.parse(printable(json))).toEqual({ reason: 'a\u001b[2J\u007f\u009bz' });
  });
});
