/** ISO-8601 strings in the model, Avro `timestamp-millis` on the wire, converted inside avsc's readers and writers. */
import { Type, types } from 'avsc';

const MS_PER_DAY = 86_400_000;
/** 0000-01-01 and 10000-01-01: outside, `toISOString` writes six-digit years. */
const MIN_4_DIGIT_YEAR_MS = -62_167_219_200_000;
const MAX_4_DIGIT_YEAR_MS = 253_402_300_800_000;
const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * `new Date(ms).toISOString()`, about twice as fast (including V8 flattening
 * the concatenated string on first use): every decoded event formats up to
 * four timestamps, and the builtin was the largest single cost of a decode
 * (see BENCHMARKS.md).
 */
export function isoFromMillis(ms: number): string {
  if (!(ms >= MIN_4_DIGIT_YEAR_MS && ms < MAX_4_DIGIT_YEAR_MS) || !Number.isInteger(ms)) {
    return new Date(ms).toISOString();
  }
  const days = Math.floor(ms / MS_PER_DAY);
  let rest = ms - days * MS_PER_DAY;
  // H. Hinnant's civil_from_days.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const second = rest % 60;
  rest = (rest - second) / 60;
  const minute = rest % 60;
  const hour = (rest - minute) / 60;
  return `${PAD2[(year / 100) | 0]}${PAD2[year % 100]}-${PAD2[month]}-${PAD2[day]}T${PAD2[hour]}:${PAD2[minute]}:${PAD2[second]}.${PAD3[millis]}Z`;
}

function digits(s: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `Date.parse(iso)`, about 2.5 times as fast for the one form the model uses
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`, what `toISOString` writes); any other string
 * goes to `Date.parse`, so the two always agree. NaN when it is no date.
 */
export function millisFromIso(iso: string): number {
  if (
    iso.length === 24 &&
    iso.charCodeAt(4) === 45 && // -
    iso.charCodeAt(7) === 45 &&
    iso.charCodeAt(10) === 84 && // T
    iso.charCodeAt(13) === 58 && // :
    iso.charCodeAt(16) === 58 &&
    iso.charCodeAt(19) === 46 && // .
    iso.charCodeAt(23) === 90 // Z
  ) {
    const year = digits(iso, 0, 4);
    const month = digits(iso, 5, 2);
    const day = digits(iso, 8, 2);
    const hour = digits(iso, 11, 2);
    const minute = digits(iso, 14, 2);
    const second = digits(iso, 17, 2);
    const millis = digits(iso, 20, 3);
    if (
      year >= 0 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= daysInMonth(year, month) &&
      hour >= 0 &&
      hour <= 23 &&
      minute >= 0 &&
      minute <= 59 &&
      second >= 0 &&
      second <= 59 &&
      millis >= 0
    ) {
      return (
        daysFromCivil(year, month, day) * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis
      );
    }
  }
  return Date.parse(iso);
}

/**
 * Maps Avro `long` milliseconds to the model's ISO-8601 strings and back, so
 * the conversion happens inside avsc's compiled readers and writers instead of
 * in a second pass over the decoded record.
 */
export class TimestampMillisType extends types.LogicalType {
  /**
   * avsc writes a nullable timestamp by first asking each union branch whether
   * the value is its own (`_check`, which converts) and then converting again
   * to write it; remembering the last conversion halves that work.
   */
  private lastIso: string | undefined;
  private lastMs = 0;

  protected override _fromValue(ms: number): string {
    return isoFromMillis(ms);
  }

  protected override _toValue(iso: unknown): number | undefined {
    // undefined tells a nullable union "not this branch" without the cost of
    // an exception (encode ran at a quarter of this speed when null threw);
    // outside a union avsc's long writer then rejects it.
    if (iso === null) return undefined;
    if (typeof iso !== 'string') throw new Error(`timestamp is not an ISO-8601 string: ${String(iso)}`);
    if (iso === this.lastIso) return this.lastMs;
    const ms = millisFromIso(iso);
    if (Number.isNaN(ms)) throw new Error(`timestamp is not a valid ISO-8601 string: ${iso}`);
    this.lastIso = iso;
    this.lastMs = ms;
    return ms;
  }

  protected override _resolve(writer: Type): ((value: unknown) => unknown) | undefined {
    // A writer of the same logical type already produced the ISO string.
    if (writer instanceof TimestampMillisType) return (value) => value;
    if (Type.isType(writer, 'long', 'int')) return (value) => this._fromValue(value as number);
    return undefined;
  }
}
