import type { OrgConfig } from '../../../services/platform/config/config';
import { communityLevels } from '../../../services/contract/names';
import { entitlementProblem } from '../../../services/contract/entitlement';
import type { Tlp } from '../../../services/contract/model';

const fbi: OrgConfig = {
  id: 'fbi',
  name: 'FBI',
  kind: 'government',
  maxTlp: 'amber',
  keys: [],
  pdq: { minQuality: 50 },
};
const greenOnly: OrgConfig = {
  id: 'smallco',
  name: 'Small Co',
  kind: 'company',
  maxTlp: 'green',
  keys: [],
  pdq: { minQuality: 50 },
};

describe('entitlement', () => {
  it('lets a named recipient read red and amber+strict, and nobody else', () => {
    expect(entitlementProblem(fbi, 'red', ['fbi'])).toBeUndefined();
    expect(entitlementProblem(fbi, 'amber+strict', ['dhs', 'fbi'])).toBeUndefined();
    expect(entitlementProblem(fbi, 'red', ['dhs'])).toMatch(/not a named recipient/);
  });

  it('never entitles an unknown TLP, whatever its spelling', () => {
    for (const tlp of ['RED', 'white', '', 'amber+strict ']) {
      expect(entitlementProblem(fbi, tlp as Tlp, [])).toMatch(/not a TLP 2.0 level/);
    }
  });

  it('caps community levels at the org maxTlp', () => {
    expect(entitlementProblem(greenOnly, 'green', [])).toBeUndefined();
    expect(entitlementProblem(greenOnly, 'amber', [])).toMatch(/up to tlp green/);
    expect(communityLevels(greenOnly)).toEqual(['clear', 'green']);
    expect(communityLevels(fbi)).toEqual(['clear', 'green', 'amber']);
  });
});
