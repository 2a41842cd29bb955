import {
  decideReport,
  revealedOrgs,
  tlpRank,
  type Sources,
} from '../../../../services/subscriber/dedup/rules';

/** The marking rule on its own: an event names only reports no more restricted than itself. */
const sources = (entries: [string, number][]): Sources =>
  new Map(entries.map(([org, tlp]) => [org, { expiresAt: Number.MAX_SAFE_INTEGER, tlp }]));

describe('marking rule', () => {
  it('ranks TLP from clear to red, and an unknown TLP as red', () => {
    expect(['clear', 'green', 'amber', 'amber+strict', 'red'].map((t) => tlpRank(t as never))).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect(tlpRank(undefined)).toBe(4);
    expect(tlpRank('purple' as never)).toBe(4);
  });

  it('hides a more restricted report from a less restricted event', () => {
    const live = sources([
      ['google', 0],
      ['microsoft', 3],
      ['twitter', 4],
    ]);
    expect(revealedOrgs(live, tlpRank('amber'))).toEqual(['google']);
  });

  it('shows a less restricted report in a more restricted event', () => {
    const live = sources([
      ['google', 0],
      ['facebook', 2],
    ]);
    expect(revealedOrgs(live, tlpRank('red'))).toEqual(['facebook', 'google']);
  });

  it('calls a clear report new when the only earlier report is red', () => {
    const { decision, sources: after } = decideReport(
      { kind: 'published', org: 'google', tlp: 'clear' },
      sources([['microsoft', 4]]),
      1,
    );
    expect(decision).toEqual({ kind: 'new' });
    // Still remembered as a source, so a later red report names both.
    expect([...after.keys()].sort()).toEqual(['google', 'microsoft']);
  });
});
