/**
 * What do batch signatures (v2) buy over one signature per record (v1), and
 * what do they cost in bytes? CPU per record, signing and verifying, on the
 * same realistic records in the same run, and the header bytes each adds.
 *
 *   npx tsx bench/signatures.ts [--seconds=1]
 *
 * No Kafka: each step is timed alone (cpuRate). Verifying v2 is timed twice:
 * a cold cache (the root's Ed25519 check counted once per batch) and what a
 * second subscription of the same process pays (roots already verified).
 * Writes bench/results/signatures.json; prints markdown for BENCHMARKS.md.
 */
import os from 'node:os';
import { loadEventCodec } from '../services/contract/avro/codec';
import {
  decodeBatchProof,
  encodeBatchProof,
  signBatch,
  VerifiedRoots,
} from '../services/contract/batch-signature';
import { HEADERS } from '../services/contract/definitions';
import { singleKeySigner } from '../services/contract/keyring';
import { indicatorInputSchema } from '../services/contract/indicator';
import { generateSigningKeyPair, loadPrivateKey, signValue, verifyValue } from '../services/contract/signing';
import { buildPublishedEvents } from '../services/producer/ingest/build-events';
import { cpuRate, fmt, indicatorGenerator, writeResults } from './support';

const SECONDS = Number(
  /^--seconds=(.+)$/.exec(process.argv.find((a) => a.startsWith('--seconds=')) ?? '')?.[1] ?? 1,
);
const ORG = 'facebook';

function main(): void {
  const codec = loadEventCodec();
  const pair = generateSigningKeyPair();
  const key = loadPrivateKey(pair.privateKeyPem);
  const signer = singleKeySigner(ORG, key);
  const publicKey = signer.key.publicKey;
  const keys = [signer.key];
  const ctx = { org: ORG, submitter: 'bench', idempotencyKey: undefined };
  const items = indicatorGenerator(20261127)(4000).map((i) => indicatorInputSchema.parse(i));
  const values = buildPublishedEvents(items, ctx, true).map((e) => codec.encode(e));
  const meanValue = values.reduce((s, v) => s + v.length, 0) / values.length;

  const rows: string[] = [];
  const out: { case: string; ratio: number; target: number }[] = [];
  const v1Sign = cpuRate((k) => (signValue(values[k % values.length]!, key) ? 1 : 0), SECONDS);
  const v1Signatures = values.map((v) => signValue(v, key));
  const v1Verify = cpuRate(
    (k) => (verifyValue(values[k % values.length]!, v1Signatures[k % values.length]!, publicKey) ? 1 : 0),
    SECONDS,
  );
  const v1HeaderBytes = HEADERS.signature.length + v1Signatures[0]!.length;
  rows.push(`| v1, any batch | ${fmt(v1Sign)} | ${fmt(v1Verify)} | – | ${v1HeaderBytes} |`);

  for (const size of [1, 10, 100, 500, 1000]) {
    const batches = Array.from({ length: Math.floor(values.length / size) }, (_, i) =>
      values.slice(i * size, (i + 1) * size),
    );
    const sign = cpuRate((k) => signBatch(batches[k % batches.length]!, signer).length, SECONDS);
    const proofs = batches.map((b) =>
      signBatch(b, signer).map((p) => decodeBatchProof(encodeBatchProof(p))!),
    );
    const flat = batches.flatMap((b, i) => b.map((v, j) => ({ value: v, proof: proofs[i]![j]! })));
    // Cold: a fresh cache per batch, so each batch's root is checked once, as a lone subscription does.
    let cold = new VerifiedRoots();
    const verifyCold = cpuRate((k) => {
      const i = k % flat.length;
      if (i % size === 0) cold = new VerifiedRoots();
      return cold.verify(ORG, keys, flat[i]!.value, flat[i]!.proof).ok ? 1 : 0;
    }, SECONDS);
    const warm = new VerifiedRoots();
    for (const r of flat) warm.verify(ORG, keys, r.value, r.proof);
    const verifyWarm = cpuRate((k) => {
      const r = flat[k % flat.length]!;
      return warm.verify(ORG, keys, r.value, r.proof).ok ? 1 : 0;
    }, SECONDS);
    const headerBytes =
      proofs.flat().reduce((s, p) => s + encodeBatchProof(p).length, 0) / proofs.flat().length +
      HEADERS.batchSignature.length;
    rows.push(
      `| v2, ${size} per transaction | ${fmt(sign)} | ${fmt(verifyCold)} | ${fmt(verifyWarm)} | ${headerBytes.toFixed(0)} |`,
    );
    out.push({ case: `v2 sign / v1 sign, ${size} per transaction`, ratio: sign / v1Sign, target: 1 });
    out.push({
      case: `v2 verify (cold) / v1 verify, ${size} per transaction`,
      ratio: verifyCold / v1Verify,
      target: 1,
    });
  }
  writeResults('signatures', out);
  console.log(
    `signatures bench: ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}); ${values.length} records, mean value ${meanValue.toFixed(0)} bytes; load average ${os.loadavg()[0]!.toFixed(1)}`,
  );
  console.log('');
  console.log(
    '| signatures | sign, records/s | verify, records/s | verify, root already verified, records/s | header bytes per record (name + value) |',
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  console.log('');
  for (const r of out) console.log(`- ${r.case}: ${r.ratio.toFixed(1)}×`);
}

main();
