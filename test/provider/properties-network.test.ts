/**
 * parseProperties for the network and guest identity keys: Networks, Nameservers, SearchDomains,
 * GuestHostname, Domain, Customization; every problem named by its field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import { parseProperties } from '../../src/provider/properties.ts';
import { ipv4Netmask, isDnsName, isManualMac } from '../../src/provider/properties-network.ts';

const CLONE = { Template: 't', Datastore: 'ds', Hostname: 'h' };
const ISO = { ISOPath: 'x.iso', Datastore: 'ds', Hostname: 'h' };

function fail(raw: unknown): ValidationError {
  try {
    parseProperties(raw);
  } catch (error) {
    assert.ok(error instanceof ValidationError);
    return error;
  }
  assert.fail(`expected a ValidationError for ${JSON.stringify(raw)}`);
}

function issues(raw: unknown): Record<string, string> {
  return Object.fromEntries(fail(raw).issues.map((i) => [i.field, i.message]));
}

describe('Networks', () => {
  it('parses NICs in order, with DHCP4 defaulting to true exactly when no IPv4 address is given', () => {
    const props = parseProperties({
      ...CLONE,
      Networks: [
        { Network: 'a' },
        { Network: 'b', IPv4: ['10.0.0.10/24'], Gateway4: '10.0.0.1', MTU: 9000, MAC: '00:50:56:3F:FF:FF' },
        { Network: 'c', IPv4FromLogicalID: 16, DHCP6: true },
        { Network: 'd', IPv4: ['10.0.1.10/24'], DHCP4: true, IPv6: ['fd00::1/64'], Gateway6: 'fd00::ff' },
      ],
    });
    assert.deepEqual(props.nics, [
      { network: 'a', dhcp4: true, ipv4: [], dhcp6: false, ipv6: [] },
      {
        network: 'b',
        mac: '00:50:56:3f:ff:ff',
        dhcp4: false,
        ipv4: ['10.0.0.10/24'],
        gateway4: '10.0.0.1',
        dhcp6: false,
        ipv6: [],
        mtu: 9000,
      },
      { network: 'c', dhcp4: false, ipv4: [], dhcp6: true, ipv6: [], ipv4FromLogicalId: 16 },
      {
        network: 'd',
        dhcp4: true,
        ipv4: ['10.0.1.10/24'],
        dhcp6: false,
        ipv6: ['fd00::1/64'],
        gateway6: 'fd00::ff',
      },
    ]);
    assert.equal(props.customization, 'cloud-init', 'static addresses default to cloud-init');
    assert.equal(props.network, undefined);
  });

  it('DHCP-only NICs and no identity keys: no customization (as before)', () => {
    const props = parseProperties({ ...CLONE, Networks: [{ Network: 'a' }, { Network: 'b' }] });
    assert.equal(props.customization, undefined);
    assert.equal(parseProperties({ ...CLONE, Network: 'a' }).customization, undefined);
  });

  it('the Network shorthand and the provider default network stay; Networks wins over the default', () => {
    assert.equal(parseProperties({ ...CLONE, Network: 'a' }).network, 'a');
    const withDefault = parseProperties({ ...CLONE, Networks: [{ Network: 'b' }] }, { network: 'dflt' });
    assert.equal(withDefault.network, undefined);
    assert.equal(withDefault.nics?.[0]?.network, 'b');
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['not an array', { Network: 'a' }, 'Properties.Networks', /expected an array/],
    ['empty', [], 'Properties.Networks', /has 0 NICs; give 1\.\.10/],
    ['eleven', Array.from({ length: 11 }, () => ({ Network: 'a' })), 'Properties.Networks', /has 11 NICs/],
    ['a string element', ['a'], 'Properties.Networks[0]', /expected a NIC object/],
    ['Network missing', [{ DHCP4: true }], 'Properties.Networks[0].Network', /required/],
    [
      'Network a path',
      [{ Network: '/DC0/network/a' }],
      'Properties.Networks[0].Network',
      /not a network name/,
    ],
    ['unknown key', [{ Network: 'a', Mtu: 1500 }], 'Properties.Networks[0].Mtu', /did you mean MTU\?/],
    ['bad MAC', [{ Network: 'a', MAC: '00:50:56:00:00' }], 'Properties.Networks[0].MAC', /not a MAC/],
    [
      'MAC outside the manual range',
      [{ Network: 'a', MAC: '00:50:56:40:00:00' }],
      'Properties.Networks[0].MAC',
      /outside VMware's range/,
    ],
    [
      'generated-range MAC',
      [{ Network: 'a', MAC: '00:0c:29:00:00:01' }],
      'Properties.Networks[0].MAC',
      /outside VMware's range/,
    ],
    [
      'duplicate MAC',
      [
        { Network: 'a', MAC: '00:50:56:00:00:01' },
        { Network: 'b', MAC: '00:50:56:00:00:01' },
      ],
      'Properties.Networks[1].MAC',
      /also the MAC of Properties\.Networks\[0\]/,
    ],
    ['IPv4 without prefix', [{ Network: 'a', IPv4: ['10.0.0.1'] }], 'Properties.Networks[0].IPv4[0]', /CIDR/],
    [
      'IPv4 prefix 33',
      [{ Network: 'a', IPv4: ['10.0.0.1/33'] }],
      'Properties.Networks[0].IPv4[0]',
      /0\.\.32/,
    ],
    [
      'IPv6 in IPv4',
      [{ Network: 'a', IPv4: ['fd00::1/64'] }],
      'Properties.Networks[0].IPv4[0]',
      /not an IPv4/,
    ],
    [
      'IPv4 in IPv6',
      [{ Network: 'a', IPv6: ['10.0.0.1/24'] }],
      'Properties.Networks[0].IPv6[0]',
      /not an IPv6/,
    ],
    [
      'IPv6 prefix 129',
      [{ Network: 'a', IPv6: ['fd00::1/129'] }],
      'Properties.Networks[0].IPv6[0]',
      /0\.\.128/,
    ],
    [
      'IPv4 a string',
      [{ Network: 'a', IPv4: '10.0.0.1/24' }],
      'Properties.Networks[0].IPv4',
      /expected an array/,
    ],
    [
      'Gateway4 without an address',
      [{ Network: 'a', Gateway4: '10.0.0.1' }],
      'Properties.Networks[0].Gateway4',
      /only applies with a static IPv4/,
    ],
    [
      'Gateway4 not IPv4',
      [{ Network: 'a', IPv4: ['10.0.0.2/24'], Gateway4: 'fd00::1' }],
      'Properties.Networks[0].Gateway4',
      /not an IPv4 address/,
    ],
    [
      'Gateway6 without an address',
      [{ Network: 'a', Gateway6: 'fd00::1' }],
      'Properties.Networks[0].Gateway6',
      /only applies with a static IPv6/,
    ],
    ['MTU 67', [{ Network: 'a', MTU: 67 }], 'Properties.Networks[0].MTU', /out of range 68\.\.9000/],
    ['MTU 9001', [{ Network: 'a', MTU: 9001 }], 'Properties.Networks[0].MTU', /out of range/],
    ['MTU a string', [{ Network: 'a', MTU: '1500' }], 'Properties.Networks[0].MTU', /expected an integer/],
    ['DHCP4 a string', [{ Network: 'a', DHCP4: 'yes' }], 'Properties.Networks[0].DHCP4', /true or false/],
    [
      'IPv4FromLogicalID 33',
      [{ Network: 'a', IPv4FromLogicalID: 33 }],
      'Properties.Networks[0].IPv4FromLogicalID',
      /0\.\.32/,
    ],
  ];
  for (const [name, networks, field, message] of bad) {
    it(`refuses: ${name}`, () => {
      const found = issues({ ...CLONE, Networks: networks });
      assert.ok(field in found, `${field} in ${JSON.stringify(found)}`);
      assert.match(found[field]!, message);
    });
  }

  it('reports every NIC problem at once', () => {
    const found = issues({
      ...CLONE,
      Networks: [{ Network: 'a', MTU: 1 }, { IPv4: ['x'] }, { Network: 'c', MAC: 'm' }],
    });
    assert.deepEqual(Object.keys(found).sort(), [
      'Properties.Networks[0].MTU',
      'Properties.Networks[1].IPv4[0]',
      'Properties.Networks[1].Network',
      'Properties.Networks[2].MAC',
    ]);
  });

  it('refuses Network together with Networks', () => {
    const found = issues({ ...CLONE, Network: 'a', Networks: [{ Network: 'b' }] });
    assert.match(found['Properties.Network, Properties.Networks']!, /not both/);
  });
});

describe('guest identity keys and Customization', () => {
  it('parses the DNS and identity keys; they default Customization to cloud-init', () => {
    const props = parseProperties({
      ...ISO,
      Nameservers: ['10.0.0.2', 'fd00::53'],
      SearchDomains: ['example.com', 'corp.example.com'],
      GuestHostname: 'web-1',
      Domain: 'example.com',
    });
    assert.deepEqual(props.nameservers, ['10.0.0.2', 'fd00::53']);
    assert.deepEqual(props.searchDomains, ['example.com', 'corp.example.com']);
    assert.equal(props.guestHostname, 'web-1');
    assert.equal(props.domain, 'example.com');
    assert.equal(props.customization, 'cloud-init');
    for (const key of ['Nameservers', 'SearchDomains', 'GuestHostname', 'Domain']) {
      const one = { Nameservers: ['1.1.1.1'], SearchDomains: ['a.b'], GuestHostname: 'h', Domain: 'a.b' };
      const value = one[key as keyof typeof one];
      assert.equal(parseProperties({ ...ISO, [key]: value }).customization, 'cloud-init', key);
    }
  });

  it('takes Customization as given', () => {
    assert.equal(
      parseProperties({ ...CLONE, Customization: 'vsphere', GuestHostname: 'h' }).customization,
      'vsphere',
    );
    assert.equal(parseProperties({ ...CLONE, Customization: 'cloud-init' }).customization, 'cloud-init');
    assert.equal(parseProperties({ ...CLONE, Customization: 'none' }).customization, undefined);
  });

  const bad: [string, Record<string, unknown>, string, RegExp][] = [
    ['Nameservers not an array', { Nameservers: '1.1.1.1' }, 'Properties.Nameservers', /array/],
    ['Nameservers empty', { Nameservers: [] }, 'Properties.Nameservers', /0 entries/],
    [
      'Nameserver not an IP',
      { Nameservers: ['dns.example'] },
      'Properties.Nameservers[0]',
      /not an IPv4 or IPv6/,
    ],
    ['Nameserver a number', { Nameservers: [1] }, 'Properties.Nameservers[0]', /expected a string/],
    [
      'SearchDomain bad',
      { SearchDomains: ['-bad.example'] },
      'Properties.SearchDomains[0]',
      /not a DNS name/,
    ],
    ['GuestHostname with a dot', { GuestHostname: 'a.b' }, 'Properties.GuestHostname', /DNS label/],
    ['GuestHostname 64 chars', { GuestHostname: 'a'.repeat(64) }, 'Properties.GuestHostname', /DNS label/],
    ['Domain with "_"', { Domain: 'a_b.example' }, 'Properties.Domain', /DNS name/],
    ['Customization unknown', { Customization: 'cloudinit' }, 'Properties.Customization', /one of/],
    [
      'none with a static address',
      { Customization: 'none', Networks: [{ Network: 'a', IPv4: ['10.0.0.2/24'] }] },
      'Properties.Customization',
      /"none" writes nothing.*static addresses/,
    ],
    [
      'none with IPv4FromLogicalID',
      { Customization: 'none', Networks: [{ Network: 'a', IPv4FromLogicalID: 24 }] },
      'Properties.Customization',
      /static addresses/,
    ],
    [
      'none with Nameservers',
      { Customization: 'none', Nameservers: ['1.1.1.1'] },
      'Properties.Customization',
      /Nameservers/,
    ],
    [
      'vsphere with two IPv4 addresses on a NIC',
      { Customization: 'vsphere', Networks: [{ Network: 'a', IPv4: ['10.0.0.2/24', '10.0.0.3/24'] }] },
      'Properties.Networks[0].IPv4',
      /one IPv4 address per NIC/,
    ],
    [
      'vsphere with an MTU',
      { Customization: 'vsphere', Networks: [{ Network: 'a', MTU: 1400 }] },
      'Properties.Networks[0].MTU',
      /cannot set the MTU/,
    ],
  ];
  for (const [name, extra, field, message] of bad) {
    it(`refuses: ${name}`, () => {
      const found = issues({ ...CLONE, ...extra });
      assert.ok(field in found, `${field} in ${JSON.stringify(found)}`);
      assert.match(found[field]!, message);
    });
  }

  it('refuses vsphere customization without a template', () => {
    const found = issues({ ...ISO, Customization: 'vsphere' });
    assert.match(found['Properties.Customization']!, /needs Template/);
  });

  it('keys are case-sensitive', () => {
    const found = issues({ ...CLONE, networks: [{ Network: 'a' }], nameservers: ['1.1.1.1'] });
    assert.match(found['Properties.networks']!, /did you mean Networks\?/);
    assert.match(found['Properties.nameservers']!, /did you mean Nameservers\?/);
  });

  it('null and "" mean not set', () => {
    const props = parseProperties({ ...CLONE, Networks: null, Nameservers: '', Customization: null });
    assert.equal(props.nics, undefined);
    assert.equal(props.nameservers, undefined);
    assert.equal(props.customization, undefined);
  });
});

describe('placement', () => {
  it('Hostname is no longer required: the inventory picks the only host or names the choices', () => {
    assert.equal(parseProperties({ Template: 't', Datastore: 'ds' }).host, undefined);
  });
});

describe('helpers', () => {
  it('isManualMac covers exactly 00:50:56:00:00:00 to 00:50:56:3f:ff:ff', () => {
    assert.ok(isManualMac('00:50:56:00:00:00'));
    assert.ok(isManualMac('00:50:56:3F:FF:FF'));
    assert.ok(!isManualMac('00:50:56:40:00:00'));
    assert.ok(!isManualMac('00:50:57:00:00:00'));
    assert.ok(!isManualMac('00-50-56-00-00-00'));
  });
  it('ipv4Netmask', () => {
    assert.equal(ipv4Netmask(0), '0.0.0.0');
    assert.equal(ipv4Netmask(8), '255.0.0.0');
    assert.equal(ipv4Netmask(20), '255.255.240.0');
    assert.equal(ipv4Netmask(32), '255.255.255.255');
  });
  it('isDnsName', () => {
    assert.ok(isDnsName('a.example.com'));
    assert.ok(!isDnsName('a..b'));
    assert.ok(!isDnsName('a.'));
    assert.ok(!isDnsName(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`));
  });
});
