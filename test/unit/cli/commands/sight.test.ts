import { parseCommandLine } from '../../../../services/cli/context';
import { sightingBody } from '../../../../services/cli/commands/sight';

/** `threatrelay sight` turns its arguments into one sighting body; the producer checks the rest. */
const body = (...argv: string[]): Record<string, unknown> => {
  const { values, args } = parseCommandLine(['sight', ...argv], {});
  return sightingBody(values, args);
};

describe('threatrelay sight', () => {
  it('names the indicator by key, with every option given', () => {
    expect(
      body(
        'true_positive',
        'ab'.repeat(32),
        '--to',
        'facebook',
        '--to',
        'google',
        '--count',
        '3',
        '--where',
        'gw',
      ),
    ).toEqual({
      kind: 'true_positive',
      key: 'ab'.repeat(32),
      to: ['facebook', 'google'],
      count: 3,
      where: 'gw',
    });
  });

  it('names the indicator by type, value and platform', () => {
    expect(
      body('seen', 'social_account', '@BadActor', 'twitter', '--tlp', 'red', '--recipient', 'fbi'),
    ).toEqual({
      kind: 'seen',
      type: 'social_account',
      value: '@BadActor',
      platform: 'twitter',
      tlp: 'red',
      recipients: ['fbi'],
    });
  });

  it('refuses an unknown kind as a usage error', () => {
    expect(() => body('maybe', 'ab'.repeat(32))).toThrow(expect.objectContaining({ code: 'TR_USAGE' }));
  });

  it('refuses a count that is not a whole number as a usage error', () => {
    expect(() => body('seen', 'ab'.repeat(32), '--count', 'many')).toThrow(
      /--count many is not a whole number/,
    );
  });
});
