import { printable } from '../../../services/cli/printable';

describe('printable', () => {
  it('leaves ordinary text, non-ASCII letters included, as it is', () => {
    expect(printable('TR_SIGNATURE_INVALID: café → 東京 ok')).toBe('TR_SIGNATURE_INVALID: café → 東京 ok');
  });

  it('writes an ANSI escape sequence as visible text', () => {
    expect(printable('\u001b[2J\u001b[31mred')).toBe('\\x1b[2J\\x1b[31mred');
  });

  it('escapes newline, carriage return and tab, so a record cannot forge a line', () => {
    expect(printable('a\nb\rc\td')).toBe('a\\x0ab\\x0dc\\x09d');
  });

  it('escapes every C0 control, DEL and every C1 control, and nothing next to them', () => {
    const codes = [
      ...Array.from({ length: 0x20 }, (_, i) => i),
      ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
    ];
    for (const code of codes) {
      expect(printable(String.fromCharCode(code))).toBe(`\\x${code.toString(16).padStart(2, '0')}`);
    }
    expect(printable('\u0020\u007e\u00a0')).toBe('\u0020\u007e\u00a0');
  });

  it('escapes CSI, the one-character form of ESC [', () => {
    expect(printable('\u009b2J')).toBe('\\x9b2J');
  });
});
