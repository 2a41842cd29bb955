import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { ThreatRelayError } from '../../contract/errors';

/**
 * Keeps webhook deliveries off loopback, private, link-local and metadata
 * addresses (SSRF). The decision that counts is made on the address a socket
 * actually connects to: the dispatcher's connector checks IP-literal hosts and
 * its DNS `lookup` hook drops private answers, so a name that resolved to a
 * public address when it was checked and to 127.0.0.1 when it is dialled (DNS
 * rebinding) still cannot reach the private address. Subscriptions with
 * `allowPrivateNetworks: true` (local dev, tests) get an unguarded Agent.
 */

/** A range the guard refuses, as named in error messages. */
export interface PrivateRange {
  /** The CIDR block that matched, in the address's own family. */
  cidr: string;
  /** What the block is, e.g. `loopback` or `loopback 127.0.0.0/8 as IPv4-mapped IPv6`. */
  name: string;
}

type Family = 'ipv4' | 'ipv6';

interface Rule extends PrivateRange {
  family: Family;
  list: BlockList;
}

function rule(name: string, net: string, prefix: number, family: Family): Rule {
  const list = new BlockList();
  list.addSubnet(net, prefix, family);
  return { name, cidr: `${net}/${prefix}`, family, list };
}

/**
 * Most specific first: the first match names the error, so 169.254.169.254 is
 * reported as metadata rather than as link-local.
 */
const V4_RANGES: readonly [net: string, prefix: number, name: string][] = [
  ['255.255.255.255', 32, 'limited broadcast'],
  ['0.0.0.0', 8, '"this network"'],
  ['10.0.0.0', 8, 'private (RFC 1918)'],
  ['100.64.0.0', 10, 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.169.254', 32, 'cloud metadata service'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments (RFC 6890)'],
  ['192.168.0.0', 16, 'private (RFC 1918)'],
  ['198.18.0.0', 15, 'benchmarking (RFC 2544)'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6_RANGES: readonly [net: string, prefix: number, name: string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fd00:ec2::254', 128, 'cloud metadata service (AWS IPv6)'],
  ['fc00::', 7, 'unique local (ULA)'],
  ['fe80::', 10, 'link-local'],
  // Deprecated, but routers that still honour it route it inside the site.
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
  // RFC 8215 local-use NAT64: the prefix is site-specific, so what it reaches is the site's own IPv4.
  ['64:ff9b:1::', 48, 'local-use NAT64 (RFC 8215)'],
];

function v4ToInt(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

const hex16 = (n: number): string => n.toString(16);

/**
 * IPv6 forms through which a connection still lands on an IPv4 address: the
 * kernel (IPv4-mapped), a NAT64 gateway, or a 6to4 relay. Each blocked IPv4
 * range is blocked in each of them; public IPv4 stays reachable through them.
 */
const EMBEDDINGS: readonly [name: string, build: (hi: string, lo: string) => string, offset: number][] = [
  ['IPv4-mapped IPv6', (hi, lo) => `::ffff:${hi}:${lo}`, 96],
  ['IPv4-compatible IPv6', (hi, lo) => `::${hi}:${lo}`, 96],
  ['NAT64 64:ff9b::/96', (hi, lo) => `64:ff9b::${hi}:${lo}`, 96],
  ['6to4 2002::/16', (hi, lo) => `2002:${hi}:${lo}::`, 16],
];

const V4_RULES: readonly Rule[] = V4_RANGES.map(([net, prefix, name]) => rule(name, net, prefix, 'ipv4'));

const V6_RULES: readonly Rule[] = [
  ...V6_RANGES.map(([net, prefix, name]) => rule(name, net, prefix, 'ipv6')),
  ...EMBEDDINGS.flatMap(([form, build, offset]) =>
    V4_RANGES.map(([net, prefix, name]) => {
      const n = v4ToInt(net);
      const v6 = build(hex16(Math.floor(n / 0x10000)), hex16(n % 0x10000));
      return rule(`${name} ${net}/${prefix} as ${form}`, v6, offset + prefix, 'ipv6');
    }),
  ),
];

/** Fail closed: something that is not an IP address is never dialled. */
const NOT_AN_ADDRESS: PrivateRange = { cidr: '-', name: 'not an IP address' };

/**
 * The refused range an address falls in, or undefined when it may be dialled.
 * Takes a bare address (no brackets); an IPv6 zone id is ignored.
 */
export function privateRangeOf(address: string): PrivateRange | undefined {
  // BlockList answers false for a scoped address like fe80::1%eth0, which would let it through.
  const bare = address.replace(/%.*$/, '');
  const version = isIP(bare);
  if (version === 0) return NOT_AN_ADDRESS;
  const found = (version === 4 ? V4_RULES : V6_RULES).find((r) => r.list.check(bare, r.family));
  return found && { cidr: found.cidr, name: found.name };
}

export function isPrivateAddress(address: string): boolean {
  return privateRangeOf(address) !== undefined;
}

export function privateNetworkError(host: string, address: string, range: PrivateRange): ThreatRelayError {
  return new ThreatRelayError(
    'TR_DELIVERY_REJECTED',
    `webhook target ${host} resolves to ${address} (private network: ${range.name}, ${range.cidr}); ` +
      'set allowPrivateNetworks to allow it',
  );
}

/** The URL's host without IPv6 brackets; the WHATWG parser has already turned `2130706433` into `127.0.0.1`. */
function bareHostname(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function parseTargetUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch (cause) {
    throw new ThreatRelayError('TR_DELIVERY_REJECTED', `webhook URL ${url} is not a valid URL`, { cause });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ThreatRelayError('TR_DELIVERY_REJECTED', `webhook URL ${parsed.href} is not http(s)`);
  }
  return parsed;
}

/** Throws TR_DELIVERY_REJECTED when `hostname` is an IP literal in a refused range; host names pass. */
function assertLiteralAllowed(hostname: string): void {
  if (isIP(hostname) === 0) return;
  const range = privateRangeOf(hostname);
  if (range) throw privateNetworkError(hostname, hostname, range);
}

/**
 * Wraps a resolver so that refused addresses never reach `connect`. Net asks
 * for one address or (with autoSelectFamily) all of them; either way every
 * answer is fetched, the refused ones dropped, and the dial fails only when
 * nothing public is left.
 */
export function guardedLookup(resolve: LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, answer) => {
      if (err) return callback(err, '');
      const all: LookupAddress[] =
        typeof answer === 'string'
          ? [{ address: answer, family: isIP(answer) }]
          : answer.map(({ address, family }) => ({ address, family }));
      const allowed = all.filter((a) => privateRangeOf(a.address) === undefined);
      const [first] = allowed;
      if (first === undefined) {
        const refused = all[0];
        if (refused === undefined) {
          return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '');
        }
        return callback(
          privateNetworkError(hostname, refused.address, privateRangeOf(refused.address) ?? NOT_AN_ADDRESS),
          '',
        );
      }
      if (options.all) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}

export interface SsrfGuardOptions {
  /** Deliver to private addresses too (local dev, tests). */
  allowPrivateNetworks: boolean;
  /** Resolver used at connect time and by `check`. Default `dns.lookup`; tests inject one. */
  lookup?: LookupFunction;
}

export interface SsrfGuard {
  readonly allowPrivateNetworks: boolean;
  /** Pass as undici's `dispatcher`: refuses private addresses when the socket is dialled. */
  readonly dispatcher: Dispatcher;
  /**
   * Throws TR_DELIVERY_REJECTED when the URL is not http(s) or names a refused
   * IP literally. No I/O, so a literal like 169.254.169.254 is refused before
   * any socket exists.
   */
  assertUrlAllowed(url: string | URL): void;
  /**
   * Resolves the URL's host now and throws TR_DELIVERY_REJECTED when nothing
   * public is left (TR_DELIVERY_RETRYABLE when DNS fails). Early feedback for
   * config or registration time only: the answer may change before the dial,
   * which is why the dispatcher checks again.
   */
  check(url: string | URL): Promise<void>;
  close(): Promise<void>;
}

export function createSsrfGuard(options: SsrfGuardOptions): SsrfGuard {
  const { allowPrivateNetworks } = options;
  const resolve: LookupFunction = options.lookup ?? dnsLookup;
  const lookup = guardedLookup(resolve);
  let dispatcher: Agent;
  if (allowPrivateNetworks) {
    dispatcher = new Agent(options.lookup ? { connect: { lookup: resolve } } : {});
  } else {
    const connect = buildConnector({ lookup });
    dispatcher = new Agent({
      // Net skips the lookup hook for IP literals, so they are checked here, on the dial path itself.
      connect: (opts, callback) => {
        try {
          assertLiteralAllowed(opts.hostname);
        } catch (err) {
          callback(err as Error, null);
          return;
        }
        connect(opts, callback);
      },
    });
  }

  return {
    allowPrivateNetworks,
    dispatcher,
    assertUrlAllowed(url) {
      const parsed = parseTargetUrl(url);
      if (!allowPrivateNetworks) assertLiteralAllowed(bareHostname(parsed));
    },
    async check(url) {
      const parsed = parseTargetUrl(url);
      const host = bareHostname(parsed);
      if (allowPrivateNetworks) return;
      assertLiteralAllowed(host);
      if (isIP(host) !== 0) return;
      await new Promise<void>((done, fail) => {
        lookup(host, { all: true }, (err) => {
          if (!err) return done();
          if (err instanceof ThreatRelayError) return fail(err);
          fail(
            new ThreatRelayError(
              'TR_DELIVERY_RETRYABLE',
              `cannot resolve webhook target ${host}: ${err.message}`,
              {
                cause: err,
              },
            ),
          );
        });
      });
    },
    close: () => dispatcher.close(),
  };
}

/** One guard per setting for the process, so keep-alive connections are reused across deliveries. */
const shared = new Map<boolean, SsrfGuard>();

export function guardFor(allowPrivateNetworks: boolean): SsrfGuard {
  let guard = shared.get(allowPrivateNetworks);
  if (!guard) {
    guard = createSsrfGuard({ allowPrivateNetworks });
    shared.set(allowPrivateNetworks, guard);
  }
  return guard;
}

/** Closes the shared guards' connections (shutdown, tests). */
export async function closeSharedGuards(): Promise<void> {
  const guards = [...shared.values()];
  shared.clear();
  await Promise.all(guards.map((g) => g.close()));
}
