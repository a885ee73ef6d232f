// The address classifier and the allow-list, on literals only (nothing here resolves a name or opens a socket):
// the edges of every special-purpose range, IPv4 hidden inside IPv6, and the forms URL parsing turns into them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AllowList,
  addressBytes,
  forbiddenName,
  forbiddenRange,
  normalHost,
  readAllowList,
} from './addresses.ts';

test('every special-purpose range is named, with its first and last address, and its neighbours are public', () => {
  for (const [address, kind] of [
    ['0.0.0.0', 'unspecified'],
    ['0.255.255.255', 'unspecified'],
    ['10.0.0.0', 'private'],
    ['10.255.255.255', 'private'],
    ['100.64.0.0', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.0.1', 'link-local'],
    ['169.254.169.254', 'cloud metadata'],
    ['172.16.0.0', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['192.88.99.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::2', 'reserved'],
    ['::7f00:1', 'reserved'],
    ['64:ff9b:1::1', 'private'],
    ['100::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['fc00::1', 'unique-local'],
    ['fdff:ffff::1', 'unique-local'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['4000::1', 'reserved'],
    ['fbff::1', 'reserved'],
  ] as const)
    assert.equal(forbiddenRange(address), kind, address);
  for (const address of [
    '1.1.1.1',
    '9.255.255.255',
    '11.0.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '126.255.255.255',
    '128.0.0.0',
    '169.253.255.255',
    '169.255.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.167.255.255',
    '192.169.0.0',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001::200e',
    '2001:200::1',
    '3fff:1000::1',
  ])
    assert.equal(forbiddenRange(address), null, address);
  assert.throws(() => forbiddenRange('localhost'), /not an IP address/);
});

test('IPv4 inside IPv6 (mapped, NAT64, 6to4) is judged by its IPv4', () => {
  for (const [address, kind] of [
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:a00:1', 'private'],
    ['::ffff:169.254.169.254', 'cloud metadata'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::10.1.2.3', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a9fe:a9fe::1', 'cloud metadata'],
  ] as const)
    assert.equal(forbiddenRange(address), kind, address);
  for (const address of ['::ffff:1.1.1.1', '64:ff9b::8.8.8.8', '2002:0808:0808::1'])
    assert.equal(forbiddenRange(address), null, address);
});

test('the forms URL parsing normalises (decimal, hex, octal, short IPv4, bracketed IPv6) land in their range', () => {
  // WHATWG URL parsing rewrites every IPv4 spelling to dotted decimal and IPv6 to its compressed form; the
  // classifier sees only those.
  for (const [url, host, kind] of [
    ['http://2130706433/', '127.0.0.1', 'loopback'],
    ['http://0x7f.1/', '127.0.0.1', 'loopback'],
    ['http://0x7f000001/', '127.0.0.1', 'loopback'],
    ['http://127.1/', '127.0.0.1', 'loopback'],
    ['http://0177.0.0.1/', '127.0.0.1', 'loopback'],
    ['http://017700000001/', '127.0.0.1', 'loopback'],
    ['http://0/', '0.0.0.0', 'unspecified'],
    ['http://127.0.0.1./', '127.0.0.1', 'loopback'],
    ['http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/', '169.254.169.254', 'cloud metadata'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'loopback'],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', '::ffff:7f00:1', 'loopback'],
    ['http://[::]/', '::', 'unspecified'],
    ['http://[64:ff9b::127.0.0.1]/', '64:ff9b::7f00:1', 'loopback'],
  ] as const) {
    const normal = normalHost(new URL(url).hostname);
    assert.equal(normal, host, url);
    assert.equal(forbiddenRange(normal), kind, url);
  }
});

test('address bytes: IPv6 groups, the elided zeros and a dotted tail', () => {
  assert.deepEqual([...addressBytes('10.1.2.3')!], [10, 1, 2, 3]);
  assert.deepEqual([...addressBytes('[::1]')!], [...Array<number>(15).fill(0), 1]);
  assert.deepEqual(
    [...addressBytes('1:2::ffff:1.2.3.4')!],
    [0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4],
  );
  assert.equal(addressBytes('127.1'), null, 'only dotted decimal is an address here');
  assert.equal(addressBytes('example.com'), null);
});

test('names that always mean a non-public address', () => {
  for (const [name, kind] of [
    ['localhost', 'loopback'],
    ['LOCALHOST.', 'loopback'],
    ['api.localhost', 'loopback'],
    ['metadata.google.internal', 'cloud metadata'],
    ['metadata.google.internal.', 'cloud metadata'],
    ['metadata', 'cloud metadata'],
    ['instance-data.ec2.internal', 'cloud metadata'],
  ] as const)
    assert.equal(forbiddenName(name), kind, name);
  for (const name of ['example.com', 'localhost.example.com', 'notlocalhost'])
    assert.equal(forbiddenName(name), null);
});

test('the allow-list reads CIDRs, addresses and host names, and refuses anything else', () => {
  assert.deepEqual(readAllowList(' 10.0.0.0/8, 127.0.0.1 ,::1/128,[::1],vllm.internal,Example.COM., '), [
    '10.0.0.0/8',
    '127.0.0.1',
    '::1/128',
    '[::1]',
    'vllm.internal',
    'Example.COM.',
  ]);
  assert.deepEqual(readAllowList(''), []);
  for (const bad of [
    '10.0.0.0/33',
    '::1/129',
    '10.0.0.0/8/1',
    '127.1',
    '0x7f.1',
    'a b',
    'http://x',
    '-x.com',
    '10.0.0.0/',
  ])
    assert.equal(readAllowList(bad), undefined, bad);

  const allow = new AllowList(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', 'vllm.internal']);
  assert.ok(allow.allowsAddress('10.200.0.1'));
  assert.ok(!allow.allowsAddress('11.0.0.1'));
  assert.ok(allow.allowsAddress('127.0.0.1'));
  assert.ok(!allow.allowsAddress('127.0.0.2'), 'a single address allows only itself');
  assert.ok(allow.allowsAddress('::ffff:127.0.0.1'), 'an IPv4-mapped address is allowed by its IPv4');
  assert.ok(!allow.allowsAddress('::1'));
  assert.ok(allow.allowsAddress('fd12::1'));
  assert.ok(allow.allowsHost('VLLM.internal.'));
  assert.ok(!allow.allowsHost('evil.vllm.internal'), 'a name allows only itself, not its subdomains');
  assert.throws(() => new AllowList(['not a host']), /neither an address range nor a host name/);
});
