/**
 * The guest identity builders: cloud-init metadata (netplan v2 matched by MAC), vSphere
 * customization specs, LogicalID VM names and addresses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import {
  cloudInitMetadata,
  guestExtraConfig,
  hostnameFromVmName,
  logicalIdAddress,
  MAX_VM_NAME_LENGTH,
  metadataExtraConfig,
  vmNameForLogicalId,
  vsphereCustomization,
} from '../../src/provider/cloud-init.ts';
import type { NicProperties } from '../../src/provider/properties-network.ts';

const dhcp = (network: string): NicProperties => ({ network, dhcp4: true, ipv4: [], dhcp6: false, ipv6: [] });
const fixed: NicProperties = {
  network: 'b',
  dhcp4: false,
  ipv4: ['10.0.0.10/24'],
  gateway4: '10.0.0.1',
  dhcp6: false,
  ipv6: ['fd00::10/64'],
  gateway6: 'fd00::1',
  mtu: 9000,
};

describe('cloudInitMetadata', () => {
  it('writes one netplan ethernet per NIC, in order, matched by MAC', () => {
    const metadata = cloudInitMetadata({
      instanceId: 'vm-1',
      hostname: 'web',
      props: { nameservers: ['10.0.0.2'], searchDomains: ['example.com'], domain: 'example.com' },
      nics: [
        { nic: dhcp('a'), mac: '00:0C:29:AA:BB:CC', ipv4: [] },
        { nic: fixed, mac: '00:50:56:00:00:01', ipv4: ['10.0.0.5/24', '10.0.0.10/24'] },
      ],
    });
    assert.deepEqual(metadata, {
      'instance-id': 'vm-1',
      'local-hostname': 'web.example.com',
      network: {
        version: 2,
        ethernets: {
          id0: {
            match: { macaddress: '00:0c:29:aa:bb:cc' },
            dhcp4: true,
            dhcp6: false,
            nameservers: { addresses: ['10.0.0.2'], search: ['example.com'] },
          },
          id1: {
            match: { macaddress: '00:50:56:00:00:01' },
            dhcp4: false,
            dhcp6: false,
            addresses: ['10.0.0.5/24', '10.0.0.10/24', 'fd00::10/64'],
            routes: [
              { to: 'default', via: '10.0.0.1' },
              { to: '::/0', via: 'fd00::1' },
            ],
            nameservers: { addresses: ['10.0.0.2'], search: ['example.com'] },
            mtu: 9000,
          },
        },
      },
    });
  });

  it('omits what is not given: no domain, no DNS', () => {
    const metadata = cloudInitMetadata({
      instanceId: 'i',
      hostname: 'h',
      props: {},
      nics: [{ nic: dhcp('a'), mac: 'm', ipv4: [] }],
    });
    assert.equal(metadata['local-hostname'], 'h');
    assert.deepEqual((metadata.network as { ethernets: unknown }).ethernets, {
      id0: { match: { macaddress: 'm' }, dhcp4: true, dhcp6: false },
    });
  });

  it('metadataExtraConfig: base64 JSON with its encoding key', () => {
    const [data, encoding] = metadataExtraConfig({ 'instance-id': 'x' });
    assert.equal(data?.key, 'guestinfo.metadata');
    assert.deepEqual(JSON.parse(Buffer.from(String(data?.value), 'base64').toString()), {
      'instance-id': 'x',
    });
    assert.deepEqual(encoding, { _type: 'OptionValue', key: 'guestinfo.metadata.encoding', value: 'base64' });
  });
});

describe('guestExtraConfig', () => {
  const req = {
    name: 'vm-10.0.0.5',
    logicalId: '10.0.0.5',
    props: { customization: 'cloud-init' as const },
    nics: [{ ...dhcp('a'), dhcp4: false, ipv4FromLogicalId: 24 }],
  };
  it('needs every MAC; takes the address from the LogicalID; host name from the VM name', () => {
    assert.equal(guestExtraConfig(req, undefined), undefined);
    assert.equal(guestExtraConfig(req, []), undefined);
    const [data] = guestExtraConfig(req, ['00:50:56:00:00:09'])!;
    const metadata = JSON.parse(Buffer.from(String(data?.value), 'base64').toString());
    assert.equal(metadata['local-hostname'], 'vm-10-0-0-5');
    assert.deepEqual(metadata.network.ethernets.id0.addresses, ['10.0.0.5/24']);
  });
  it('without NICs asked for: metadata without a network config', () => {
    const [data] = guestExtraConfig(
      { name: 'vm-1', props: { customization: 'cloud-init' }, nics: [] },
      undefined,
    )!;
    const metadata = JSON.parse(Buffer.from(String(data?.value), 'base64').toString());
    assert.deepEqual(metadata, { 'instance-id': 'vm-1', 'local-hostname': 'vm-1' });
  });
  it('writes nothing without cloud-init', () => {
    assert.deepEqual(guestExtraConfig({ ...req, props: {} }, undefined), []);
    assert.deepEqual(guestExtraConfig({ ...req, props: { customization: 'vsphere' } }, undefined), []);
  });
});

describe('vsphereCustomization', () => {
  it('maps each NIC in order to a fixed address or DHCP, with gateways, IPv6 and global DNS', () => {
    const spec = vsphereCustomization(
      'web',
      { domain: 'example.com', nameservers: ['10.0.0.2'], searchDomains: ['example.com'] },
      [
        { nic: fixed, ipv4: ['10.0.0.10/20'] },
        { nic: { ...dhcp('a'), dhcp6: true }, ipv4: [] },
      ],
    );
    assert.deepEqual(spec, {
      _type: 'CustomizationSpec',
      identity: {
        _type: 'CustomizationLinuxPrep',
        hostName: { _type: 'CustomizationFixedName', name: 'web' },
        domain: 'example.com',
      },
      globalIPSettings: {
        _type: 'CustomizationGlobalIPSettings',
        dnsSuffixList: ['example.com'],
        dnsServerList: ['10.0.0.2'],
      },
      nicSettingMap: [
        {
          _type: 'CustomizationAdapterMapping',
          adapter: {
            _type: 'CustomizationIPSettings',
            ip: { _type: 'CustomizationFixedIp', ipAddress: '10.0.0.10' },
            subnetMask: '255.255.240.0',
            gateway: ['10.0.0.1'],
            ipV6Spec: {
              _type: 'CustomizationIPSettingsIpV6AddressSpec',
              ip: [{ _type: 'CustomizationFixedIpV6', ipAddress: 'fd00::10', subnetMask: 64 }],
              gateway: ['fd00::1'],
            },
          },
        },
        {
          _type: 'CustomizationAdapterMapping',
          adapter: {
            _type: 'CustomizationIPSettings',
            ip: { _type: 'CustomizationDhcpIpGenerator' },
            ipV6Spec: {
              _type: 'CustomizationIPSettingsIpV6AddressSpec',
              ip: [{ _type: 'CustomizationDhcpIpV6Generator' }],
            },
          },
        },
      ],
    });
  });
});

describe('LogicalID names and addresses', () => {
  it('names the VM <prefix>-<LogicalID>, replacing what a VM name cannot hold', () => {
    assert.equal(vmNameForLogicalId('vm', '10.0.0.5'), 'vm-10.0.0.5');
    assert.equal(vmNameForLogicalId('etcd', 'a/b\\c%d\ne'), 'etcd-a-b-c-d-e');
  });
  it('keeps long names within 80 characters and apart by a hash', () => {
    const a = vmNameForLogicalId('vm', `${'x'.repeat(100)}a`);
    const b = vmNameForLogicalId('vm', `${'x'.repeat(100)}b`);
    assert.equal(a.length, MAX_VM_NAME_LENGTH);
    assert.equal(b.length, MAX_VM_NAME_LENGTH);
    assert.notEqual(a, b);
    assert.ok(a.startsWith('vm-xxxx'));
    assert.equal(vmNameForLogicalId('vm', 'y'.repeat(77)).length, 80, 'exactly 80 is kept whole');
    assert.equal(vmNameForLogicalId('vm', 'y'.repeat(77)), `vm-${'y'.repeat(77)}`);
  });
  it('derives a DNS label from a VM name', () => {
    assert.equal(hostnameFromVmName('vm-10.0.0.5'), 'vm-10-0-0-5');
    assert.equal(hostnameFromVmName('my_vm-1'), 'my-vm-1');
    assert.equal(hostnameFromVmName('a'.repeat(70)).length, 63);
    assert.equal(hostnameFromVmName('___'), 'localhost');
  });
  it('takes an IPv4 address from the LogicalID, or names Spec.LogicalID', () => {
    assert.equal(logicalIdAddress('192.168.1.20', 24), '192.168.1.20/24');
    for (const bad of [undefined, 'node-1', '10.0.0.256', '10.0.0', '010.0.0.1', 'fd00::1']) {
      assert.throws(
        () => logicalIdAddress(bad, 24),
        (error) => error instanceof ValidationError && error.issues[0]?.field === 'Spec.LogicalID',
        String(bad),
      );
    }
  });
});
