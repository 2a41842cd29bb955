import type { Tlp } from '../contract/model';
import { isRecord } from '../platform/json';

/**
 * TLP 2.0 marking-definition ids are the OASIS ones from
 * cti-stix-common-objects; TLP 1.0 ids are predefined by STIX 2.1 §7.2.1.4,
 * and TLP 2.0 renamed WHITE to CLEAR. Export writes the 2.0 ids; import reads
 * both.
 */
export const TLP2_MARKING_IDS: Readonly<Record<Tlp, string>> = {
  clear: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
  green: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
  amber: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
  'amber+strict': 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
  red: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1',
};

export const TLP1_MARKING_IDS: Readonly<Record<'white' | 'green' | 'amber' | 'red', string>> = {
  white: 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
  green: 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
  amber: 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
  red: 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
};

export const TLP2_EXTENSION = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';

const TLP2_LEVELS: readonly string[] = ['clear', 'green', 'amber', 'amber+strict', 'red'];
const TLP1_LEVELS: readonly string[] = ['green', 'amber', 'red'];

/** The TLP of every standard marking id, 1.0 and 2.0. */
export const STANDARD_TLP: ReadonlyMap<string, Tlp> = new Map<string, Tlp>([
  ...Object.entries(TLP2_MARKING_IDS).map(([tlp, id]) => [id, tlp as Tlp] as const),
  ...Object.entries(TLP1_MARKING_IDS).map(
    ([tlp, id]) => [id, tlp === 'white' ? 'clear' : (tlp as Tlp)] as const,
  ),
]);

/** The TLP a marking-definition object defines, in the 2.0 extension or the 1.0 `definition`. */
export function tlpDefinedBy(marking: Record<string, unknown>): Tlp | undefined {
  const extension = isRecord(marking.extensions) ? marking.extensions[TLP2_EXTENSION] : undefined;
  if (isRecord(extension) && typeof extension.tlp_2_0 === 'string') {
    const level = extension.tlp_2_0.toLowerCase();
    return TLP2_LEVELS.includes(level) ? (level as Tlp) : undefined;
  }
  if (marking.definition_type === 'tlp' && isRecord(marking.definition)) {
    const level = String(marking.definition.tlp).toLowerCase();
    if (level === 'white') return 'clear';
    return TLP1_LEVELS.includes(level) ? (level as Tlp) : undefined;
  }
  return undefined;
}

/** The TLP 2.0 marking-definition object for one level, as OASIS publishes it. */
export function tlpMarkingDefinition(tlp: Tlp): Record<string, unknown> {
  return {
    type: 'marking-definition',
    spec_version: '2.1',
    id: TLP2_MARKING_IDS[tlp],
    created: '2022-10-01T00:00:00.000Z',
    name: `TLP:${tlp.toUpperCase()}`,
    extensions: { [TLP2_EXTENSION]: { extension_type: 'property-extension', tlp_2_0: tlp } },
  };
}
