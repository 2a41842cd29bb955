import { pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';

/**
 * SCRAM credential administration (KIP-554: DescribeUserScramCredentials,
 * API key 50, and AlterUserScramCredentials, API key 51), which kafkajs 2.2
 * does not offer. The two requests travel on a kafkajs broker connection,
 * so they are authenticated (SASL, TLS) exactly as the caller's other admin
 * calls; only their encoding is ours. Both exist only in version 0, a
 * "flexible" version: compact strings, arrays and bytes, tagged fields, and a
 * request header v2 (kafkajs writes v1, so the header's empty tagged-field
 * section leads our body) answered by a response header v1 (its tagged-field
 * section leads the body kafkajs hands us).
 *
 * kafkajs is pinned to 2.2.x, which is no longer developed, so the internals
 * used here (its protocol Encoder/Decoder and a broker's connection pool) do
 * not move; test/integration/broker-access.test.ts runs them against Kafka.
 */

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's protocol codec is not exported */
const Encoder = require('kafkajs/src/protocol/encoder') as new () => KafkaEncoder;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkaDecoder;
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error;
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface KafkaEncoder {
  writeInt8(v: number): KafkaEncoder;
  writeInt32(v: number): KafkaEncoder;
  writeUVarInt(v: number): KafkaEncoder;
  writeUVarIntString(v: string): KafkaEncoder;
  writeUVarIntBytes(v: Buffer): KafkaEncoder;
}
interface KafkaDecoder {
  readInt8(): number;
  readInt16(): number;
  readInt32(): number;
  readUVarIntString(): string | null;
  readUVarIntArray<T>(reader: (d: KafkaDecoder) => T): T[] | null;
  readTaggedFields(): void;
}
interface ProtocolRequest {
  request: { apiKey: number; apiVersion: number; apiName: string; encode(): Promise<KafkaEncoder> };
  response: { decode(raw: Buffer): Promise<unknown>; parse(data: unknown): Promise<unknown> };
  requestTimeout: number;
}
interface KafkaBroker {
  versions: Record<number, { minVersion: number; maxVersion: number }> | null;
  connectionPool: { send(r: ProtocolRequest): Promise<unknown> };
}
interface KafkaCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  findControllerBroker(): Promise<KafkaBroker>;
}

export type ScramMechanism = 'scram-sha-256' | 'scram-sha-512';
const MECHANISMS: Record<ScramMechanism, { type: number; hash: 'sha256' | 'sha512'; bytes: number }> = {
  'scram-sha-256': { type: 1, hash: 'sha256', bytes: 32 },
  'scram-sha-512': { type: 2, hash: 'sha512', bytes: 64 },
};
const DESCRIBE = { apiKey: 50, apiName: 'DescribeUserScramCredentials' };
const ALTER = { apiKey: 51, apiName: 'AlterUserScramCredentials' };
/** Kafka accepts 4096 to 16384. */
export const SCRAM_ITERATIONS = 8192;
const RESOURCE_NOT_FOUND = 91;

export interface ScramCredential {
  mechanism: ScramMechanism | 'unknown';
  iterations: number;
}

export interface ScramUpsert {
  user: string;
  mechanism: ScramMechanism;
  password: string;
}

export interface ScramAdmin {
  /** The SCRAM credentials of each user (none when the user has none); `null`: of every user that has one. */
  describe(users: string[] | null): Promise<Map<string, ScramCredential[]>>;
  /** Creates or replaces the users' credentials, each with a fresh random salt. */
  upsert(upserts: ScramUpsert[]): Promise<void>;
  /** Removes a user's credential for a mechanism. */
  remove(user: string, mechanism: ScramMechanism): Promise<void>;
  disconnect(): Promise<void>;
}

/** RFC 5802's Hi(): PBKDF2 with HMAC of the mechanism's hash, as long as one hash. */
export function saltedPassword(
  mechanism: ScramMechanism,
  password: string,
  salt: Buffer,
  iterations: number,
) {
  const { hash, bytes } = MECHANISMS[mechanism];
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, bytes, hash);
}

function checkError(code: number, message: string | null, what: string): void {
  if (code === 0) return;
  const err = createErrorFromCode(code);
  err.message = `${what}: ${message ?? err.message}`;
  throw err;
}

/** Connects with the Kafka client's own settings (brokers, TLS, SASL). */
export async function connectScramAdmin(kafka: Kafka): Promise<ScramAdmin> {
  // The client's private factory builds a cluster exactly as kafka.admin() does.
  const create = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === 'private:Kafka:createCluster',
  );
  if (!create) throw new Error('this kafkajs version does not expose its cluster factory');
  const cluster = (kafka as unknown as Record<symbol, (o: object) => KafkaCluster>)[create]!({
    allowAutoTopicCreation: false,
  });
  await cluster.connect();
  await cluster.refreshMetadata();

  const send = sender(cluster);
  return {
    describe: (users) => describeCredentials(send, users),
    upsert: (upserts) => (upserts.length === 0 ? Promise.resolve() : alterCredentials(send, [], upserts)),
    remove: (user, mechanism) => alterCredentials(send, [{ user, mechanism }], []),
    disconnect: () => cluster.disconnect(),
  };
}

/** One request of `api` (v0, flexible encoding) to the controller, its answer read by `read`. */
type Send = <T>(
  api: { apiKey: number; apiName: string },
  body: (e: KafkaEncoder) => void,
  read: (d: KafkaDecoder) => T,
) => Promise<T>;

function sender(cluster: KafkaCluster): Send {
  return async <T>(
    api: { apiKey: number; apiName: string },
    body: (e: KafkaEncoder) => void,
    read: (d: KafkaDecoder) => T,
  ): Promise<T> => {
    const broker = await cluster.findControllerBroker();
    const supported = broker.versions?.[api.apiKey];
    if (!supported || supported.minVersion > 0) {
      throw new Error(
        `the broker does not offer ${api.apiName} v0 (SCRAM with KRaft needs Kafka 3.5 or newer)`,
      );
    }
    return (await broker.connectionPool.send({
      request: {
        ...api,
        apiVersion: 0,
        encode: async () => {
          const e = new Encoder();
          e.writeUVarInt(0); // request header v2: no tagged fields
          body(e);
          e.writeUVarInt(0); // body: no tagged fields
          return e;
        },
      },
      response: {
        decode: async (raw: Buffer) => {
          const d = new Decoder(raw);
          d.readTaggedFields(); // response header v1
          return read(d);
        },
        parse: async (data: unknown) => data,
      },
      requestTimeout: 30_000,
    })) as T;
  };
}

/** AlterUserScramCredentials: deletions and upserts in one request; each user's error is thrown. */
async function alterCredentials(
  send: Send,
  deletions: { user: string; mechanism: ScramMechanism }[],
  upserts: ScramUpsert[],
): Promise<void> {
  const results = await send(
    ALTER,
    (e) => {
      e.writeUVarInt(deletions.length + 1);
      for (const del of deletions) {
        e.writeUVarIntString(del.user).writeInt8(MECHANISMS[del.mechanism].type).writeUVarInt(0);
      }
      e.writeUVarInt(upserts.length + 1);
      for (const u of upserts) {
        const salt = randomBytes(32);
        e.writeUVarIntString(u.user)
          .writeInt8(MECHANISMS[u.mechanism].type)
          .writeInt32(SCRAM_ITERATIONS)
          .writeUVarIntBytes(salt)
          .writeUVarIntBytes(saltedPassword(u.mechanism, u.password, salt, SCRAM_ITERATIONS))
          .writeUVarInt(0);
      }
    },
    (d) => {
      d.readInt32(); // throttle time
      const out =
        d.readUVarIntArray((r) => {
          const user = r.readUVarIntString()!;
          const code = r.readInt16();
          const message = r.readUVarIntString();
          r.readTaggedFields();
          return { user, code, message };
        }) ?? [];
      d.readTaggedFields();
      return out;
    },
  );
  for (const r of results) checkError(r.code, r.message, `SCRAM credentials of ${r.user}`);
}

/** DescribeUserScramCredentials: each user's credentials (none for a user without any); null: every user. */
async function describeCredentials(
  send: Send,
  users: string[] | null,
): Promise<Map<string, ScramCredential[]>> {
  // An empty array would mean "every user" to the broker, as null does.
  if (users?.length === 0) return new Map();
  const response = await send(
    DESCRIBE,
    (e) => {
      if (users === null) {
        e.writeUVarInt(0);
        return;
      }
      e.writeUVarInt(users.length + 1);
      for (const user of users) e.writeUVarIntString(user).writeUVarInt(0);
    },
    (d) => {
      d.readInt32(); // throttle time
      const code = d.readInt16();
      const message = d.readUVarIntString();
      const results =
        d.readUVarIntArray((r) => {
          const user = r.readUVarIntString()!;
          const userCode = r.readInt16();
          const userMessage = r.readUVarIntString();
          const credentials =
            r.readUVarIntArray((c) => {
              const type = c.readInt8();
              const iterations = c.readInt32();
              c.readTaggedFields();
              const mechanism = (Object.keys(MECHANISMS) as ScramMechanism[]).find(
                (m) => MECHANISMS[m].type === type,
              );
              return { mechanism: mechanism ?? ('unknown' as const), iterations };
            }) ?? [];
          r.readTaggedFields();
          return { user, code: userCode, message: userMessage, credentials };
        }) ?? [];
      d.readTaggedFields();
      return { code, message, results };
    },
  );
  checkError(response.code, response.message, 'describing SCRAM credentials');
  const out = new Map<string, ScramCredential[]>((users ?? []).map((u) => [u, []]));
  for (const r of response.results) {
    if (r.code === RESOURCE_NOT_FOUND) continue; // a user with no credential
    checkError(r.code, r.message, `SCRAM credentials of ${r.user}`);
    out.set(r.user, r.credentials);
  }
  return out;
}
