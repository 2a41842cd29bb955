import { isRecord } from '../platform/json';

export type StixObject = Record<string, unknown> & { type: string };

export function isStixObject(value: unknown): value is StixObject {
  return isRecord(value) && typeof value.type === 'string' && value.type !== '';
}
