/**
 * Which hosts a worker fetches a job's audio URL from. By default only public addresses:
 * loopback, private, link-local, carrier-grade NAT, documentation, multicast, reserved and
 * unspecified addresses are refused, so a job cannot point the worker at Redis, a cloud
 * metadata service or anything else on its own network. The check is on the addresses a
 * name resolves to (every one of them), and the connection is made to exactly the addresses
 * checked, so a name that resolves differently a moment later changes nothing. The worker's
 * `allowHosts` names hosts, addresses or subnets (each on any port or one) that may be fetched
 * even so;
 * `allowPrivateUrls` turns the check off.
 */
import dns from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { invalidArgument, WhisperError } from '../errors/whisper-error';

/** IPv4 ranges that are not the public internet (IANA special-purpose registry). */
const SPECIAL_IPV4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

/** IPv6 ranges that are not the public internet. IPv4-mapped addresses are checked against the IPv4 ranges by BlockList itself. */
const SPECIAL_IPV6: ReadonlyArray<readonly [string, number]> = [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

function specialAddresses(): BlockList {
  const list = new BlockList();
  for (const [address, prefix] of SPECIAL_IPV4) list.addSubnet(address, prefix, 'ipv4');
  for (const [address, prefix] of SPECIAL_IPV6) list.addSubnet(address, prefix, 'ipv6');
  return list;
}

const SPECIAL = specialAddresses();

export interface UrlPolicyOptions {
  /**
   * Hosts that may be fetched although they are not public: a host name (exact, any case), an
   * IP address or a subnet (`10.0.0.0/8`, `fd00::/8`); a name or address may end in `:port`
   * (`127.0.0.1:8080`, `[::1]:8080`) to allow only that port.
   */
  allowHosts?: readonly string[];
  /** Fetch from any address, private ones included. Default false. */
  allowPrivateUrls?: boolean;
}

/** A resolved address and its family, as dns.lookup gives them. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = async (hostname) => {
  const found = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

/** One allowHosts entry: a name or a set of addresses, on one port or any. */
type AllowRule = { port: number | undefined } & ({ name: string } | { addresses: BlockList });

const ENTRY_EXPECTED = 'a host name, an IP address or a subnet such as 10.0.0.0/8, optionally with :port';

export class UrlPolicy {
  readonly #rules: AllowRule[] = [];
  readonly #any: boolean;
  readonly #resolve: Resolver;

  /** `name` is the option's name for messages ('options.allowHosts', '--allow-host'). */
  constructor(options: UrlPolicyOptions, name = 'options.allowHosts', resolve: Resolver = systemResolver) {
    this.#any = options.allowPrivateUrls === true;
    this.#resolve = resolve;
    const hosts: unknown = options.allowHosts ?? [];
    if (!Array.isArray(hosts)) throw invalidArgument(name, `an array, each entry ${ENTRY_EXPECTED}`, hosts);
    hosts.forEach((entry: unknown, index) => this.#rules.push(allowRule(`${name}[${index}]`, entry)));
  }

  /**
   * The addresses to connect to for `url`'s host, every one of them allowed; INVALID_ARGUMENT
   * naming `parameter` when any is not (the addresses themselves are not named: they would
   * tell a producer about the worker's network). A name that does not resolve is
   * DOWNLOAD_FAILED (retried: DNS may be back).
   */
  async addressesFor(url: URL, parameter: string): Promise<ResolvedAddress[]> {
    const host = unbracketed(url.hostname);
    const family = isIP(host);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const addresses: ResolvedAddress[] = family !== 0 ? [{ address: host, family: family === 6 ? 6 : 4 }] : await this.#lookup(host, parameter);
    if (this.#any) return addresses;
    const name = normalName(host);
    const onPort = this.#rules.filter((rule) => rule.port === undefined || rule.port === port);
    if (family === 0 && onPort.some((rule) => 'name' in rule && rule.name === name)) return addresses;
    const allowed = (entry: ResolvedAddress) => {
      const type = entry.family === 4 ? 'ipv4' : 'ipv6';
      return !SPECIAL.check(entry.address, type) || onPort.some((rule) => 'addresses' in rule && rule.addresses.check(entry.address, type));
    };
    if (addresses.length === 0 || !addresses.every(allowed)) {
      throw new WhisperError(
        'INVALID_ARGUMENT',
        `${parameter}: expected a URL on a public host, or on one the worker allows (--allow-host), got a host that ${family === 0 ? 'resolves to' : 'is'} a loopback, private, link-local or reserved address`,
      );
    }
    return addresses;
  }

  async #lookup(host: string, parameter: string): Promise<ResolvedAddress[]> {
    try {
      return await this.#resolve(host);
    } catch (error) {
      throw new WhisperError('DOWNLOAD_FAILED', `${parameter}: the host name could not be resolved`, { cause: error });
    }
  }
}

/** True for an address outside every special-purpose range. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && !SPECIAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function allowRule(name: string, entry: unknown): AllowRule {
  if (typeof entry !== 'string' || entry.length === 0 || entry.length > 260) throw invalidArgument(name, ENTRY_EXPECTED, entry);
  const slash = entry.indexOf('/');
  if (slash !== -1) {
    const address = unbracketed(entry.slice(0, slash));
    const prefixText = entry.slice(slash + 1);
    const prefix = Number(prefixText);
    const family = isIP(address);
    if (family === 0 || !/^\d{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) throw invalidArgument(name, ENTRY_EXPECTED, entry);
    const addresses = new BlockList();
    addresses.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
    return { port: undefined, addresses };
  }
  let host = entry;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry);
  const withPort = /^([^:]+):(\d{1,5})$/.exec(entry);
  if (bracketed) [host, port] = [bracketed[1]!, bracketed[2] === undefined ? undefined : Number(bracketed[2])];
  else if (withPort) [host, port] = [withPort[1]!, Number(withPort[2])];
  if (port !== undefined && (port < 1 || port > 65_535)) throw invalidArgument(name, ENTRY_EXPECTED, entry);
  const family = isIP(host);
  if (family !== 0) {
    const addresses = new BlockList();
    addresses.addAddress(host, family === 4 ? 'ipv4' : 'ipv6');
    return { port, addresses };
  }
  if (bracketed || !/^[A-Za-z0-9.-]+$/.test(host)) throw invalidArgument(name, ENTRY_EXPECTED, entry);
  return { port, name: normalName(host) };
}

function unbracketed(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function normalName(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
