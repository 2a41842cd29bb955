import { parseBasic } from '../../../services/platform/basic-auth';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

describe('parseBasic', () => {
  it('reads user and password, with colons in the password and any case of the scheme', () => {
    expect(parseBasic(`Basic ${b64('op:a:b')}`)).toEqual({ username: 'op', password: 'a:b' });
    expect(parseBasic(`basic ${b64('op:')}`)).toEqual({ username: 'op', password: '' });
    expect(parseBasic(`BASIC  ${b64('öp:pässwörd')} `)).toEqual({ username: 'öp', password: 'pässwörd' });
    // Padding may be left off, as some clients do.
    expect(parseBasic(`Basic ${b64('op:pw').replace(/=+$/, '')}`)).toEqual({
      username: 'op',
      password: 'pw',
    });
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', `Bearer ${b64('op:pw')}`],
    ['the scheme alone', 'Basic'],
    ['the scheme and a space', 'Basic '],
    ['no colon', `Basic ${b64('op-and-password')}`],
    ['an empty user', `Basic ${b64(':pw')}`],
    ['characters outside base64', 'Basic b3A6cHc*'],
    ['base64url instead of base64', `Basic ${Buffer.from('op:\u00ff\u00fe?>').toString('base64url')}`],
    ['base64 of impossible length', 'Basic b3A6c'],
    ['base64 with stray bits', 'Basic b3A6cHd='],
    ['padding in the middle', 'Basic b3A=6cHc'],
    ['two tokens', `Basic ${b64('op:pw')} ${b64('x:y')}`],
    ['bytes that are not UTF-8', `Basic ${b64(Buffer.from([0x6f, 0x70, 0x3a, 0xff, 0xfe]))}`],
    ['a truncated UTF-8 sequence', `Basic ${b64(Buffer.from([0x6f, 0x70, 0xc3, 0x3a, 0x70]))}`],
    ['a control character in the user', `Basic ${b64('o\np:pw')}`],
    ['a control character in the password', `Basic ${b64('op:p\u0000w')}`],
  ])('refuses %s', (_what, header) => {
    expect(parseBasic(header)).toBeUndefined();
  });
});
