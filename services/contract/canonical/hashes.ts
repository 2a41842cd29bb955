import { invalid, quote, type Canonicalizer } from './invalid';

export function hexDigest(name: string, minLength: number, maxLength = minLength): Canonicalizer {
  const lengthRule = minLength === maxLength ? `exactly ${minLength}` : `${minLength} to ${maxLength}`;
  return (value) => {
    const bad = /[^0-9a-f]/i.exec(value);
    if (bad) invalid(`${name} is hexadecimal; found the character ${quote(bad[0])}`);
    if (value.length < minLength || value.length > maxLength) {
      invalid(`${name} is ${lengthRule} hex characters; got ${value.length}`);
    }
    return value.toLowerCase();
  };
}

/*
 * TMK+PDQF: the value is the hash file's bytes in hex. Its exact size depends
 * on the TMK parameters (about 130 KB with the defaults), so only the
 * encoding is checked: whole bytes (even length), at least 16 bytes and at
 * most 512 KiB (32 to 1,048,576 hex characters). The binary layout is not
 * parsed.
 */
const tmkHex = hexDigest('a TMK+PDQF hash', 32, 1_048_576);
export const canonicalTmk: Canonicalizer = (value, platform) => {
  const hex = tmkHex(value, platform);
  if (hex.length % 2 !== 0)
    invalid(`a TMK+PDQF hash is whole bytes, an even number of hex characters; got ${hex.length}`);
  return hex;
};
