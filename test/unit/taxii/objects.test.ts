import { additionsOf, nextVersion } from '../../../services/taxii/objects';
import { stixIndicatorId } from '../../../services/stix/export';
import { sighting } from '../../fixtures/threat-events';

const original = {
  type: 'indicator',
  id: 'indicator--1',
  created: '2026-01-01T00:00:00.000Z',
  modified: '2026-01-01T00:00:00.000Z',
  pattern: "[domain-name:value = 'a.example']",
  x_threatrelay_event_id: 'e1',
};

describe('TAXII object versions', () => {
  it('makes a revocation the previous version revoked, keeping its pattern and created', () => {
    const revocation = {
      type: 'indicator',
      id: 'indicator--1',
      created: '2026-02-01T00:00:00.000Z',
      modified: '2026-02-01T00:00:00.000Z',
      pattern: "[x-threatrelay-key:value = 'abc']",
      revoked: true,
      description: 'Revoked by facebook: false positive',
      x_threatrelay_event_id: 'e2',
    };
    expect(nextVersion(revocation, original)).toEqual({
      ...original,
      revoked: true,
      modified: '2026-02-01T00:00:00.000Z',
      description: 'Revoked by facebook: false positive',
      x_threatrelay_event_id: 'e2',
    });
  });

  it('keeps the first created on an update, and leaves a first version alone', () => {
    const update = { ...original, created: '2026-03-01T00:00:00.000Z', modified: '2026-03-01T00:00:00.000Z' };
    expect(nextVersion(update, original)).toEqual({ ...update, created: original.created });
    expect(nextVersion(original, undefined)).toBe(original);
  });
});

describe('TAXII additions of a sighting', () => {
  it("adds an addressed sighting as a sighting of the addressee's indicator, in the collection of its TLP", () => {
    const additions = additionsOf(sighting);
    const objects = additions.filter((a) => a.object.type === 'sighting');
    expect(objects).toEqual([
      {
        collection: 'amber',
        object: expect.objectContaining({
          sighting_of_ref: stixIndicatorId('facebook', sighting.payload.key),
        }),
      },
    ]);
  });

  it('keeps an update a new version of the same indicator, with the first created', () => {
    const later = { ...original, modified: '2026-03-01T00:00:00.000Z', created: '2026-03-01T00:00:00.000Z' };
    expect(nextVersion(later, original)).toMatchObject({ id: original.id, created: original.created });
  });
});
