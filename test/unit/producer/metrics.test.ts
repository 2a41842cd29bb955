import { INDICATOR_TYPES } from '../../../services/contract/model';
import { ERROR_CODES } from '../../../services/contract/errors';
import { reasonLabel, typeLabel } from '../../../services/producer/metrics';

describe('producer metric labels', () => {
  it('keeps every known indicator type and error code as it is', () => {
    for (const t of INDICATOR_TYPES) expect(typeLabel(t)).toBe(t);
    for (const c of ERROR_CODES) expect(reasonLabel(c)).toBe(c);
  });

  it('maps 500 distinct unknown types, and non-strings, to the one label "other"', () => {
    const labels = new Set(Array.from({ length: 500 }, (_, i) => typeLabel(`bogus_${i}`)));
    for (const odd of [undefined, null, 7, {}, ['domain'], 'DOMAIN', 'domain ']) labels.add(typeLabel(odd));
    expect([...labels]).toEqual(['other']);
    expect(reasonLabel('TR_MADE_UP')).toBe('other');
  });
});
