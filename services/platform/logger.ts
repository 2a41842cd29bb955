import pino, { type Logger } from 'pino';

/**
 * pino JSON logs for every service. Secrets never reach a log line: API keys,
 * webhook secrets, signing keys and SASL passwords are redacted wherever they
 * appear in a logged object.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  '*.apiKey',
  '*.secret',
  '*.secrets',
  '*.password',
  '*.privateKey',
  '*.signingKey',
  'webhook.secret',
  'sasl.password',
  'config.kafka.sasl.password',
];

/** `destination` defaults to stdout; tests pass a stream to read what was logged. */
export function createLogger(
  name: string,
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: pino.DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
