import { createHash } from 'node:crypto';

/**
 * SHA-256 (hex) of `JSON.stringify(value)`, computed without recursion.
 * Request bodies nest as deep as a client likes (a STIX bundle may carry any
 * object), and `JSON.stringify` recurses: 5,000 levels overflow the stack.
 * This walks the value with an explicit stack and feeds the hash the same
 * text `JSON.stringify` would produce, so digests stay what they were (the
 * eventIds of an Idempotency-Key derive from them).
 */
export function jsonDigest(value: unknown): string {
  const hash = createHash('sha256');
  // Each step either writes text or serializes one value.
  type Step = { text: string } | { value: unknown; inArray: boolean };
  const stack: Step[] = [{ value, inArray: false }];
  let step: Step | undefined;
  while ((step = stack.pop()) !== undefined) {
    if ('text' in step) {
      hash.update(step.text);
      continue;
    }
    const v = toJsonValue(step.value);
    if (v === undefined) {
      // Only reached at the top or in an array: a property holding nothing is skipped below.
      if (step.inArray) hash.update('null');
      continue;
    }
    if (v === null || typeof v !== 'object') {
      hash.update(JSON.stringify(v));
      continue;
    }
    // Pushed in reverse, so they pop in order.
    if (Array.isArray(v)) {
      stack.push({ text: ']' });
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i], inArray: true });
        if (i > 0) stack.push({ text: ',' });
      }
      stack.push({ text: '[' });
      continue;
    }
    const entries = Object.keys(v).filter(
      (k) => toJsonValue((v as Record<string, unknown>)[k]) !== undefined,
    );
    stack.push({ text: '}' });
    for (let i = entries.length - 1; i >= 0; i--) {
      const k = entries[i]!;
      stack.push({ value: (v as Record<string, unknown>)[k], inArray: false });
      stack.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(k)}:` });
    }
    stack.push({ text: '{' });
  }
  return hash.digest('hex');
}

/** What `JSON.stringify` writes for a value before looking inside it; undefined when it writes nothing. */
function toJsonValue(value: unknown): unknown {
  const v =
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
      ? (value as { toJSON(): unknown }).toJSON()
      : value;
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  return v;
}
