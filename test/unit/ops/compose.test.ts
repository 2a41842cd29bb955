import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CLI_COMMANDS } from '../../../services/cli/commands';
import { parseConfig } from '../../../services/shared/config';

/**
 * docker-compose.yml cannot run here (no Docker engine), so this checks what
 * can be checked without one: it parses, every service built from our image
 * runs a command the CLI has, the config it mounts is valid once .env is
 * filled, every variable it needs is documented in .env.example, and the
 * broker image is the Kafka version the local broker pins.
 */
const root = join(__dirname, '../../..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    { image?: string; build?: unknown; command?: string[]; depends_on?: Record<string, unknown> }
  >;
};
const envExample = readFileSync(join(root, '.env.example'), 'utf8');
const documented = new Set([...envExample.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));

describe('docker-compose.yml', () => {
  it('runs only commands the threatrelay CLI has', () => {
    const ours = Object.entries(compose.services).filter(
      ([, s]) => s.build || s.image === 'threatrelay:local',
    );
    expect(ours.length).toBeGreaterThanOrEqual(4);
    for (const [name, service] of ours) {
      expect([name, CLI_COMMANDS.includes(service.command![0] as never)]).toEqual([name, true]);
    }
  });

  it('depends only on services it defines', () => {
    for (const service of Object.values(compose.services)) {
      for (const dep of Object.keys(service.depends_on ?? {}))
        expect(Object.keys(compose.services)).toContain(dep);
    }
  });

  it('runs the Kafka version the local broker pins', () => {
    const pinned = execFileSync('bash', [join(root, 'scripts/kafka/kafka.sh'), 'version'])
      .toString()
      .trim();
    expect(compose.services.kafka!.image).toBe(`apache/kafka:${pinned}`);
  });

  it('mounts a config that is valid once the documented variables are set', () => {
    const text = readFileSync(join(root, 'config/compose.yaml'), 'utf8');
    const needed = [...text.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!);
    for (const name of needed) expect(documented).toContain(name);
    const env = {
      FACEBOOK_PUBLIC_KEY: Buffer.alloc(32, 1).toString('base64'),
      FACEBOOK_API_KEY_SHA256: 'b'.repeat(64),
      DHS_ALL_WEBHOOK_SECRET: `whsec_${Buffer.alloc(24, 3).toString('base64')}`,
    };
    const config = parseConfig(parse(text), env);
    expect(config.orgs.map((o) => o.id)).toEqual(expect.arrayContaining(['facebook', 'dhs']));
  });

  it('documents every ${VAR} it interpolates in .env.example', () => {
    const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    for (const [, name] of text.matchAll(/\$\{([A-Z0-9_]+)\}/g)) expect(documented).toContain(name);
  });
});
