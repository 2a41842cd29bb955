import { isThreatRelayError } from '../../../services/contract/errors';
import { indicatorFromPattern, parseSimplePattern } from '../../../services/stix/pattern';

function refusal(pattern: string): { message: string; path: string | undefined } {
  try {
    indicatorFromPattern(pattern);
  } catch (err) {
    if (!isThreatRelayError(err, 'TR_VALIDATION')) throw err;
    return { message: err.message, path: err.details[0]?.path };
  }
  throw new Error(`expected ${pattern} to be refused`);
}

describe('the STIX pattern parser', () => {
  it('reads quoted path components and escaped quotes', () => {
    expect(parseSimplePattern("[file:hashes.'SHA-256' = 'it\\'s']")).toEqual([
      { objectType: 'file', property: ['hashes', 'SHA-256'], value: "it's" },
    ]);
  });

  it('ignores parentheses around AND-ed comparisons', () => {
    expect(
      indicatorFromPattern(
        "[(user-account:account_login = 'precinct_watch_bot') AND (user-account:account_type = 'x')]",
      ),
    ).toEqual({ type: 'social_account', value: 'precinct_watch_bot', platform: 'twitter' });
  });

  it.each([
    ["[domain-name:value = 'a.example.com'] OR [domain-name:value = 'b.example.com']", /^OR matches/],
    ["[domain-name:value = 'a.example.com'", /expected \] at the end/],
    ["[domain-name:value = 'a.example.com]", /unterminated string at character/],
    ["[domain-name:value != 'a.example.com']", /the operator != matches many values/],
    ["[file:hashes.'SHA-512' = 'ab']", /hash algorithm SHA-512 has no indicator type/],
    ["[mutex:name = 'x']", /mutex:name does not map to an indicator type/],
  ])('refuses %j as TR_VALIDATION at pattern', (pattern, reason) => {
    const { message, path } = refusal(pattern);
    expect(message).toMatch(reason);
    expect(path).toBe('pattern');
  });
});
