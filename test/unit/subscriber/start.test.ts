import {
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs';
import { ThreatRelayError } from '../../../services/contract/errors';
import { isFatalAtStart } from '../../../services/subscriber/start';

describe('what a subscriber waits out at start', () => {
  it('waits out a broker it cannot reach, however kafkajs wraps it', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    expect(isFatalAtStart(refused)).toBe(false);
    expect(
      isFatalAtStart(new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 2000 })),
    ).toBe(false);
    expect(isFatalAtStart(new Error('could not read the control topic within 30 s'))).toBe(false);
  });

  it('gives up at once on refused credentials, refused ACLs and its own config', () => {
    // Typed without arguments; kafkajs constructs it with the broker's message.
    const Sasl = KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
    expect(isFatalAtStart(new Sasl('SASL SCRAM SHA512 authentication failed'))).toBe(true);
    const denied = new KafkaJSProtocolError({
      message: 'Not authorized to access group',
      type: 'GROUP_AUTHORIZATION_FAILED',
      code: 30,
      retriable: false,
    } as never);
    expect(isFatalAtStart(denied)).toBe(true);
    expect(
      isFatalAtStart(new KafkaJSNumberOfRetriesExceeded(denied, { retryCount: 5, retryTime: 2000 })),
    ).toBe(true);
    expect(isFatalAtStart(new ThreatRelayError('TR_CONFIG', 'no such org'))).toBe(true);
  });
});
