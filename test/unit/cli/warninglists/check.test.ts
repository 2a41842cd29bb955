import { checkValue, describeCheck } from '../../../../services/cli/warninglists/check';
import { WarninglistIndex } from '../../../../services/contract/warninglists';

const index = new WarninglistIndex([
  {
    id: 'url-shortener',
    file: {
      name: 'List of known URL Shorteners domains',
      version: 27,
      description: '',
      type: 'hostname',
      matching_attributes: ['domain', 'url'],
      list: ['bit.ly'],
    },
  },
]);

describe('threatrelay warninglists check', () => {
  it('reads the type off the value and checks its canonical form', () => {
    const result = checkValue(index, 'hxxps://BIT[.]ly/x');
    expect(result).toMatchObject({ type: 'url', value: 'https://bit.ly/x' });
    expect(describeCheck(result)).toEqual([
      'url https://bit.ly/x: on 1 warninglist(s)',
      '  url-shortener (version 27, hostname): its host is or is under "bit.ly" — List of known URL Shorteners domains',
    ]);
  });

  it('says when a value is on no list', () => {
    expect(describeCheck(checkValue(index, 'example.org', 'domain'))).toEqual([
      'domain example.org: on no warninglist',
    ]);
  });

  it('refuses a value that is not valid for the given type, with the reason', () => {
    expect(() => checkValue(index, 'bit.ly', 'ipv4')).toThrow(/not a valid ipv4/);
  });

  it('refuses an unknown type, listing the types', () => {
    expect(() => checkValue(index, 'bit.ly', 'hostname')).toThrow(/--type must be one of/);
  });
});
