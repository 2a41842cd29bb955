import { mergeWarnings } from '../../../../services/contract/warninglists';

const reader = new Map([
  ['rfc1918', 5],
  ['tranco10k', 20250115],
]);

describe("merging a record's warnings with the reader's", () => {
  it("adds the reader's match that the source left out", () => {
    expect(mergeWarnings([], [{ list: 'rfc1918', version: 5 }], reader)).toEqual([
      { list: 'rfc1918', version: 5 },
    ]);
  });

  it("drops a claim the reader's same version of the list does not bear out", () => {
    expect(mergeWarnings([{ list: 'tranco10k', version: 20250115 }], [], reader)).toEqual([]);
  });

  it('keeps a claim made with another version of the list', () => {
    expect(mergeWarnings([{ list: 'tranco10k', version: 20240101 }], [], reader)).toEqual([
      { list: 'tranco10k', version: 20240101 },
    ]);
  });

  it('keeps a claim about a list the reader does not hold', () => {
    expect(mergeWarnings([{ list: 'bank-website', version: 9 }], [], reader)).toEqual([
      { list: 'bank-website', version: 9 },
    ]);
  });

  it("reports a list once, with the reader's version, when both matched it", () => {
    expect(
      mergeWarnings([{ list: 'rfc1918', version: 4 }], [{ list: 'rfc1918', version: 5 }], reader),
    ).toEqual([{ list: 'rfc1918', version: 5 }]);
  });
});
