// Which addresses an outbound request may reach: every IPv4 and IPv6 address outside the public internet
// (loopback, private, carrier-grade NAT, link-local and cloud metadata, unique-local, multicast, broadcast,
// reserved and documentation ranges, IPv4 inside IPv4-mapped, NAT64 and 6to4 IPv6 addresses) and the names that
// always mean one of them (localhost, cloud metadata services) are refused, except what the admin's allow-list
// names: CIDRs, single addresses and host names.
import { isIP } from 'node:net';

interface Range {
  bytes: Uint8Array;
  bits: number;
}

/** Why an address is not public: the name of its range. */
export type RangeKind =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'carrier-grade NAT'
  | 'link-local'
  | 'cloud metadata'
  | 'unique-local'
  | 'site-local'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved';

/** The 4 or 16 bytes of an IP address (brackets and an IPv6 zone dropped); null when `text` is not one. */
export function addressBytes(text: string): Uint8Array | null {
  const address = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) return Uint8Array.from(address.split('.'), Number);
  if (family !== 6) return null;
  // A trailing dotted IPv4 (::ffff:127.0.0.1) is the last two 16-bit groups.
  const hex = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) =>
    [(Number(a) << 8) | Number(b), (Number(c) << 8) | Number(d)].map((g) => g.toString(16)).join(':'),
  );
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const [head, tail] = hex.split('::') as [string, string | undefined];
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const all =
    tail === undefined
      ? before
      : [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
  const bytes = new Uint8Array(16);
  all.forEach((group, index) => {
    bytes[2 * index] = group >> 8;
    bytes[2 * index + 1] = group & 0xff;
  });
  return bytes;
}

/** `address/bits`, or a single address as a range of one; null when not one. */
function parseRange(text: string): Range | null {
  const [address, bits, extra] = text.split('/');
  const bytes = addressBytes(address!);
  if (!bytes || extra !== undefined) return null;
  if (bits === undefined) return { bytes, bits: bytes.length * 8 };
  const n = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || n > bytes.length * 8) return null;
  return { bytes, bits: n };
}

function inRange(bytes: Uint8Array, range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false;
  for (let bit = 0; bit < range.bits; bit += 8) {
    const mask = (0xff << (8 - Math.min(8, range.bits - bit))) & 0xff;
    if ((bytes[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

const table = (rows: [string, RangeKind][]) =>
  rows.map(([cidr, kind]) => ({ range: parseRange(cidr)!, kind }));

/** IANA's special-purpose IPv4 registry, most specific first (the first match names the kind). */
const IPV4 = table([
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.169.254/32', 'cloud metadata'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
]);

/** IPv6 ranges that carry an IPv4 address, and where it sits: such an address is judged by its IPv4. */
const IPV4_MAPPED = parseRange('::ffff:0:0/96')!;
const IPV4_INSIDE_IPV6 = [
  { range: IPV4_MAPPED, at: 12 },
  { range: parseRange('64:ff9b::/96')!, at: 12 }, // NAT64, well-known prefix
  { range: parseRange('2002::/16')!, at: 2 }, // 6to4
];

/** IANA's special-purpose IPv6 registry; anything else outside global unicast (2000::/3) is reserved. */
const IPV6 = table([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'private'],
  ['100::/64', 'reserved'],
  ['2001::/23', 'reserved'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['fd00:ec2::254/128', 'cloud metadata'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
]);
const GLOBAL_UNICAST = parseRange('2000::/3')!;

function classify(bytes: Uint8Array): RangeKind | null {
  if (bytes.length === 4) return IPV4.find((row) => inRange(bytes, row.range))?.kind ?? null;
  const carrier = IPV4_INSIDE_IPV6.find((row) => inRange(bytes, row.range));
  if (carrier) return classify(bytes.subarray(carrier.at, carrier.at + 4));
  const kind = IPV6.find((row) => inRange(bytes, row.range))?.kind;
  return kind ?? (inRange(bytes, GLOBAL_UNICAST) ? null : 'reserved');
}

/** The range that makes `address` (an IPv4 or IPv6 literal) non-public, or null for a public address. */
export function forbiddenRange(address: string): RangeKind | null {
  const bytes = addressBytes(address);
  if (!bytes) throw new Error(`not an IP address: ${address}`);
  return classify(bytes);
}

/** Names that mean a non-public address whatever DNS says (RFC 6761 localhost, cloud metadata services). */
const FORBIDDEN_NAMES = new Map<string, RangeKind>([
  ['localhost', 'loopback'],
  ['metadata', 'cloud metadata'],
  ['metadata.google.internal', 'cloud metadata'],
  ['metadata.goog', 'cloud metadata'],
  ['instance-data', 'cloud metadata'],
  ['instance-data.ec2.internal', 'cloud metadata'],
]);

/** `host` lower-cased, without IPv6 brackets or the trailing dot of a fully qualified name. */
export const normalHost = (host: string) =>
  host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');

/** The kind of a host name that always means a non-public address, or null. */
export function forbiddenName(host: string): RangeKind | null {
  const name = normalHost(host);
  return FORBIDDEN_NAMES.get(name) ?? (name.endsWith('.localhost') ? 'loopback' : null);
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** A last label URL parsing reads as a number: such a "name" is an IPv4 address (`127.1`, `0x7f.1`). */
const NUMERIC_LAST_LABEL = /(^|\.)(\d+|0x[0-9a-f]*)$/;

/** An allow-list entry: a CIDR or single address (IPv6 with or without brackets), or a host name. */
function parseEntry(entry: string): Range | string | null {
  const range = parseRange(entry.replace(/^\[(.*)\]/, '$1'));
  if (range) return range;
  const name = normalHost(entry);
  return HOST_NAME.test(name) && !NUMERIC_LAST_LABEL.test(name) ? name : null;
}

/** The admin's allow-list from its text (comma-separated); undefined when an entry is neither a range nor a name. */
export function readAllowList(text: string): string[] | undefined {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return entries.every((entry) => parseEntry(entry) !== null) ? entries : undefined;
}

/** The admin's allow-list: non-public addresses and names outbound requests may reach all the same. */
export class AllowList {
  private readonly ranges: Range[] = [];
  private readonly hosts = new Set<string>();

  /** `entries` as `readAllowList` gives them; an entry that is neither a range nor a host name throws. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const parsed = parseEntry(entry);
      if (parsed === null)
        throw new Error(`outbound allow-list: '${entry}' is neither an address range nor a host name`);
      if (typeof parsed === 'string') this.hosts.add(parsed);
      else this.ranges.push(parsed);
    }
  }

  allowsHost(host: string): boolean {
    return this.hosts.has(normalHost(host));
  }

  /** An IPv4-mapped IPv6 address is allowed by its IPv4 as well. */
  allowsAddress(address: string): boolean {
    const bytes = addressBytes(address);
    if (!bytes) return false;
    const mapped = inRange(bytes, IPV4_MAPPED) ? bytes.subarray(12) : null;
    return this.ranges.some((range) => inRange(bytes, range) || (mapped !== null && inRange(mapped, range)));
  }
}
