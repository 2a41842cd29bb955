/**
 * Text from Kafka made safe for the operator's terminal: C0 controls (tab and
 * newline included), DEL and C1 controls are written as `\u00NN`, so a
 * hostile record cannot move the cursor, rewrite earlier lines or send
 * escape sequences (ESC, or CSI, its one-character C1 form) to the terminal.
 * The escape is JSON's own, so a JSON line stays JSON.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
