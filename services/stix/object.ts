export type StixObject = Record<string, unknown> & { type: string };

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isStixObject(value: unknown): value is StixObject {
  return isRecord(value) && typeof value.type === 'string' && value.type !== '';
}
