/**
 * Networks and guest identity against vcsim: several NICs (standard and distributed port groups,
 * manual and generated MACs) on clones and ISO VMs, cloud-init metadata matched to the MACs the
 * VM really has, vSphere guest customization, LogicalID-keyed VMs, and the default placement.
 * Everything is checked from the VM's config as vCenter reports it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { VSphereClient } from '../../src/blocks.ts';
import {
  type JsonValue,
  ManagedObjectReference,
  ValidationError,
  VSphereInstanceProvider,
} from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

type Device = Record<string, unknown> & { _type?: string; key?: number };
type Netplan = {
  version: number;
  ethernets: Record<string, Record<string, unknown> & { match: { macaddress: string } }>;
};
type Metadata = { 'instance-id': string; 'local-hostname': string; network: Netplan };

const tags = (group: string, hash = 'hash-1') => ({ 'infrakit.group': group, 'infrakit.config.hash': hash });

function fields(error: unknown): string[] {
  assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
  return error.issues.map((i) => i.field);
}

describe('networks and guest identity (vCenter model)', () => {
  let sim: Vcsim;
  let admin: VSphereClient;
  let p: VSphereInstanceProvider;

  before(async () => {
    sim = await Vcsim.start();
    admin = new VSphereClient({ url: sim.urlWithCredentials, tls: { insecure: true }, keepAliveMs: 0 });
    p = new VSphereInstanceProvider({
      url: sim.sdkUrl,
      username: 'user',
      password: 'pass',
      tls: { thumbprint: sim.certificate!.sha256 },
      datastore: 'LocalDS_0',
      keepAliveMs: 0,
      shutdownTimeoutMs: 0,
    });
    await p.uploadIso(Buffer.alloc(4096, 1), { datastore: 'LocalDS_0', path: 'iso/net.iso' });
  });
  after(async () => {
    await p?.close();
    await admin?.close();
    await sim?.stop();
  });

  async function vmRef(name: string): Promise<ManagedObjectReference> {
    const vm = (await sim.listVms()).find((v) => v.name === name);
    assert.ok(vm, `VM ${name} exists`);
    return new ManagedObjectReference('VirtualMachine', vm.moref);
  }

  async function nicsOf(ref: ManagedObjectReference): Promise<Device[]> {
    const devices = (await admin.collector.property<Device[]>(ref, 'config.hardware.device')) ?? [];
    return devices
      .filter((d) => /Vmxnet|E1000|PCNet|EthernetCard/.test(d._type ?? ''))
      .sort((a, b) => Number(a.unitNumber) - Number(b.unitNumber));
  }

  async function extraConfig(ref: ManagedObjectReference): Promise<Map<string, string>> {
    const extra =
      (await admin.collector.property<{ key: string; value: string }[]>(ref, 'config.extraConfig')) ?? [];
    return new Map(extra.map((o) => [o.key, String(o.value)]));
  }

  async function metadataOf(ref: ManagedObjectReference): Promise<Metadata> {
    const extra = await extraConfig(ref);
    assert.equal(extra.get('guestinfo.metadata.encoding'), 'base64');
    return JSON.parse(
      Buffer.from(extra.get('guestinfo.metadata') ?? '', 'base64').toString('utf8'),
    ) as Metadata;
  }

  async function dvPortgroupKey(): Promise<string> {
    const content = await admin.session.serviceContent();
    const [pg] = (
      await admin.collector.find(content.rootFolder, 'DistributedVirtualPortgroup', ['name', 'key'])
    ).filter((o) => o.props.get('name') === 'DC0_DVPG0');
    assert.ok(pg, 'vcsim has the DC0_DVPG0 port group');
    return String(pg.props.get('key'));
  }

  it('clones with two static NICs (standard and distributed), the LogicalID as address, cloud-init metadata', async () => {
    const props: JsonValue = {
      Template: 'DC0_H0_VM0',
      Hostname: 'DC0_H0',
      PowerOn: true,
      Networks: [
        { Network: 'VM Network', IPv4FromLogicalID: 24, Gateway4: '10.1.0.1', MTU: 1500 },
        {
          Network: 'DC0_DVPG0',
          MAC: '00:50:56:00:10:01',
          IPv4: ['192.168.7.10/24', '192.168.7.11/24'],
          IPv6: ['fd00::10/64'],
          Gateway6: 'fd00::1',
        },
      ],
      Nameservers: ['10.1.0.2', '10.1.0.3'],
      SearchDomains: ['example.com'],
      Domain: 'example.com',
      DiskMB: 64,
    };
    const id = await p.provision({ Tags: tags('pets'), Properties: props, LogicalID: '10.1.0.5' });
    assert.equal(id, 'vm-10.1.0.5', 'the VM name is <VMPrefix>-<LogicalID>');
    const ref = await vmRef(id);
    assert.equal(await admin.collector.property(ref, 'runtime.powerState'), 'poweredOn');

    const nics = await nicsOf(ref);
    assert.equal(nics.length, 2, 'exactly the NICs asked for');
    const [first, second] = nics as [Device, Device];
    const firstBacking = first.backing as Record<string, unknown>;
    assert.equal(firstBacking._type, 'VirtualEthernetCardNetworkBackingInfo');
    assert.equal(firstBacking.deviceName, 'VM Network');
    const secondBacking = second.backing as {
      _type: string;
      port: { portgroupKey: string; switchUuid: string };
    };
    assert.equal(secondBacking._type, 'VirtualEthernetCardDistributedVirtualPortBackingInfo');
    assert.equal(secondBacking.port.portgroupKey, await dvPortgroupKey());
    assert.ok(secondBacking.port.switchUuid, 'the switch UUID is set');
    assert.equal(second._type, 'VirtualVmxnet3', 'an added NIC is vmxnet3');
    assert.equal(second.addressType, 'manual');
    assert.equal(String(second.macAddress).toLowerCase(), '00:50:56:00:10:01');
    assert.ok(first.macAddress, 'the reused NIC has a MAC');

    const metadata = await metadataOf(ref);
    assert.equal(metadata['instance-id'], id);
    assert.equal(metadata['local-hostname'], 'vm-10-1-0-5.example.com');
    assert.deepEqual(metadata.network, {
      version: 2,
      ethernets: {
        id0: {
          match: { macaddress: String(first.macAddress).toLowerCase() },
          dhcp4: false,
          dhcp6: false,
          addresses: ['10.1.0.5/24'],
          routes: [{ to: 'default', via: '10.1.0.1' }],
          nameservers: { addresses: ['10.1.0.2', '10.1.0.3'], search: ['example.com'] },
          mtu: 1500,
        },
        id1: {
          match: { macaddress: '00:50:56:00:10:01' },
          dhcp4: false,
          dhcp6: false,
          addresses: ['192.168.7.10/24', '192.168.7.11/24', 'fd00::10/64'],
          routes: [{ to: '::/0', via: 'fd00::1' }],
          nameservers: { addresses: ['10.1.0.2', '10.1.0.3'], search: ['example.com'] },
        },
      },
    });
    const disks = ((await admin.collector.property<Device[]>(ref, 'config.hardware.device')) ?? []).filter(
      (d) => d._type === 'VirtualDisk',
    );
    assert.ok(
      disks.some((d) => Number(d.capacityInKB) === 64 * 1024),
      'the extra disk is there too',
    );

    const [described] = (await p.describe({ 'infrakit.group': 'pets' })).filter((d) => d.ID === id);
    assert.equal(described?.LogicalID, '10.1.0.5', 'describe reports the LogicalID');
    assert.equal(described.Tags['infrakit.logical_id'], '10.1.0.5');
  });

  it('is idempotent per (group, LogicalID), concurrent provisions included', async () => {
    const props = { Template: 'DC0_H0_VM0', Hostname: 'DC0_H0', Network: 'VM Network' };
    const spec = { Tags: tags('idem'), Properties: props, LogicalID: 'etcd-0' };
    const before = (await sim.listVms()).length;
    const ids = await Promise.all([p.provision(spec), p.provision(spec), p.provision(spec, { wait: false })]);
    assert.deepEqual(ids, ['vm-etcd-0', 'vm-etcd-0', 'vm-etcd-0']);
    await p.provision(spec); // made already: nothing more
    assert.equal((await sim.listVms()).length, before + 1, 'one VM for the LogicalID');
    // Another group's LogicalID of the same value is another instance (named by its own prefix:
    // instance IDs are names, unique across groups).
    const other = await p.provision({
      ...spec,
      Tags: tags('idem-2'),
      Properties: { ...props, VMPrefix: 'b' },
    });
    assert.equal(other, 'b-etcd-0');
    assert.equal((await sim.listVms()).length, before + 2);
    // Destroyed, the LogicalID is made again.
    await p.destroy('vm-etcd-0', { Reason: 'rolling_update' });
    assert.equal((await p.describe({ 'infrakit.group': 'idem' })).length, 0);
    assert.equal(await p.provision(spec), 'vm-etcd-0');
    assert.equal((await p.describe({ 'infrakit.group': 'idem' })).length, 1);
    // A rolling update: the successor, asked while the old VM is being destroyed, waits for it.
    const oldRef = await vmRef('vm-etcd-0');
    const destroyed = p.destroy('vm-etcd-0', { Reason: 'rolling_update' });
    const successor = await p.provision(spec);
    await destroyed;
    assert.equal(successor, 'vm-etcd-0');
    const named = (await sim.listVms()).filter(
      (v) => v.name === 'vm-etcd-0' && v.annotation?.startsWith('idem\n'),
    );
    assert.equal(named.length, 1, 'one VM of that name in the group');
    assert.notEqual(named[0]!.moref, oldRef.value, 'and it is a new one');
  });

  it('refuses a LogicalID that is not an IPv4 address when a NIC takes its address from it', async () => {
    const before = (await sim.listVms()).length;
    const props = {
      Template: 'DC0_H0_VM0',
      Hostname: 'DC0_H0',
      Networks: [{ Network: 'VM Network', IPv4FromLogicalID: 24 }],
    };
    await assert.rejects(
      p.provision({ Tags: tags('bad-lid'), Properties: props, LogicalID: 'node-1' }),
      (error) => fields(error).includes('Spec.LogicalID'),
    );
    await assert.rejects(p.provision({ Tags: tags('bad-lid'), Properties: props }), (error) =>
      fields(error).includes('Spec.LogicalID'),
    );
    assert.equal((await sim.listVms()).length, before, 'nothing was made');
  });

  it('builds an ISO VM with vmxnet3 NICs and metadata that names their generated MACs', async () => {
    const id = await p.provision({
      Tags: tags('iso-net'),
      Properties: {
        ISOPath: 'iso/net.iso',
        Hostname: 'DC0_H0',
        Networks: [
          { Network: 'DC0_DVPG0', IPv4: ['10.2.0.10/16'], Gateway4: '10.2.0.1' },
          { Network: 'VM Network', DHCP6: true },
          { Network: 'VM Network', MAC: '00:50:56:3f:ff:fe' },
        ],
        GuestHostname: 'iso-host',
      },
    });
    const ref = await vmRef(id);
    const nics = await nicsOf(ref);
    assert.deepEqual(
      nics.map((n) => n._type),
      ['VirtualVmxnet3', 'VirtualVmxnet3', 'VirtualVmxnet3'],
    );
    assert.equal(
      (nics[0]!.backing as { _type: string })._type,
      'VirtualEthernetCardDistributedVirtualPortBackingInfo',
    );
    assert.equal((nics[1]!.backing as { deviceName: string }).deviceName, 'VM Network');
    assert.equal(nics[2]!.addressType, 'manual');
    assert.notEqual(nics[0]!.addressType, 'manual');
    const metadata = await metadataOf(ref);
    assert.equal(metadata['local-hostname'], 'iso-host');
    const ethernets = metadata.network.ethernets;
    assert.deepEqual(
      Object.keys(ethernets).map((k) => ethernets[k]!.match.macaddress),
      nics.map((n) => String(n.macAddress).toLowerCase()),
      'each ethernet is matched by the MAC its NIC really has, in device order',
    );
    assert.deepEqual(ethernets.id0!.addresses, ['10.2.0.10/16']);
    assert.equal(ethernets.id0!.dhcp4, false);
    assert.equal(ethernets.id1!.dhcp4, true, 'DHCP4 defaults to true without an address');
    assert.equal(ethernets.id1!.dhcp6, true);
    assert.equal(ethernets.id2!.match.macaddress, '00:50:56:3f:ff:fe');
  });

  it('reuses the first NIC of the source, removes its extra NICs, and writes nothing with DHCP only', async () => {
    const source = await p.provision({
      Tags: tags('source'),
      Properties: {
        ISOPath: 'iso/net.iso',
        Hostname: 'DC0_H0',
        Networks: [{ Network: 'VM Network' }, { Network: 'VM Network' }, { Network: 'DC0_DVPG0' }],
      },
    });
    const sourceNics = await nicsOf(await vmRef(source));
    assert.equal(sourceNics.length, 3);
    assert.equal(
      (await extraConfig(await vmRef(source))).has('guestinfo.metadata'),
      false,
      'DHCP only: no metadata',
    );
    const id = await p.provision({
      Tags: tags('trimmed'),
      Properties: { Template: source, Hostname: 'DC0_H0', Networks: [{ Network: 'DC0_DVPG0' }] },
    });
    const nics = await nicsOf(await vmRef(id));
    assert.equal(nics.length, 1, 'the extra NICs of the source are removed');
    assert.equal(nics[0]!.key, sourceNics[0]!.key, 'the first NIC is reused');
    assert.equal(
      (nics[0]!.backing as { _type: string })._type,
      'VirtualEthernetCardDistributedVirtualPortBackingInfo',
    );
  });

  it('applies vSphere guest customization to a clone (host name, addresses, DNS suffixes)', async () => {
    const id = await p.provision({
      Tags: tags('custom'),
      Properties: {
        Template: 'DC0_H0_VM0',
        Hostname: 'DC0_H0',
        PowerOn: true,
        Customization: 'vsphere',
        GuestHostname: 'web-1',
        Domain: 'corp.example',
        SearchDomains: ['corp.example'],
        Nameservers: ['10.9.0.2'],
        Networks: [
          { Network: 'VM Network', IPv4: ['10.9.0.21/24'], Gateway4: '10.9.0.1' },
          { Network: 'DC0_DVPG0' },
        ],
      },
    });
    const ref = await vmRef(id);
    assert.equal((await nicsOf(ref)).length, 2);
    // vcsim applies the customization at power-on: the guest's name and fixed address show.
    assert.equal(await admin.collector.property(ref, 'guest.hostName'), 'web-1');
    const net = (await admin.collector.property<
      { ipAddress?: string[]; dnsConfig?: { searchDomain?: string[] } }[]
    >(ref, 'guest.net'))!;
    assert.deepEqual(net[0]?.ipAddress, ['10.9.0.21']);
    assert.deepEqual(net[0]?.dnsConfig?.searchDomain, ['corp.example']);
    assert.equal((await extraConfig(ref)).has('guestinfo.metadata'), false, 'no cloud-init metadata as well');
  });

  it('writes a host name for the guest without any NIC asked for, on an ISO VM and a clone', async () => {
    const iso = await p.provision({
      Tags: tags('name-only'),
      Properties: { ISOPath: 'iso/net.iso', Hostname: 'DC0_H0', GuestHostname: 'lonely' },
    });
    assert.deepEqual(await metadataOf(await vmRef(iso)), { 'instance-id': iso, 'local-hostname': 'lonely' });
    // vSphere customization of a template's own NICs: DHCP on each.
    const clone = await p.provision({
      Tags: tags('name-only'),
      Properties: { Template: 'DC0_H0_VM0', Hostname: 'DC0_H0', PowerOn: true, Customization: 'vsphere' },
    });
    const ref = await vmRef(clone);
    assert.equal(await admin.collector.property(ref, 'guest.hostName'), clone.replace(/[^A-Za-z0-9-]/g, '-'));
  });

  it('refuses vSphere customization without a template, and names the hosts when none is given', async () => {
    await assert.rejects(
      p.provision({
        Tags: tags('bad'),
        Properties: { ISOPath: 'iso/net.iso', Hostname: 'DC0_H0', Customization: 'vsphere' },
      }),
      (error) => fields(error).includes('Spec.Properties.Customization'),
    );
    await assert.rejects(p.validate({ Template: 'DC0_H0_VM0' }), (error) => {
      assert.deepEqual(fields(error), ['Properties.Hostname']);
      assert.match(
        (error as Error).message,
        /datacenter \/DC0 has several hosts or clusters; name one with Hostname \(DC0_H0, DC0_C0_H0, DC0_C0_H1, DC0_C0_H2\), Cluster \(DC0_C0\) or ResourcePool/,
      );
      return true;
    });
    await assert.rejects(
      p.validate({ Template: 'DC0_H0_VM0', Hostname: 'DC0_H0', Networks: [{ Network: 'nope' }] }),
      (error) => fields(error).includes('Properties.Networks[0].Network'),
    );
    // Bad values of every new key, all named at once by Instance.Validate.
    await assert.rejects(
      p.validate({
        Template: 'DC0_H0_VM0',
        Hostname: 'DC0_H0',
        Networks: [{ Network: 'VM Network', MAC: '00:0c:29:00:00:01', MTU: 1, IPv4: ['10.0.0.1'] }],
        Nameservers: ['x'],
        SearchDomains: ['a..b'],
        GuestHostname: 'a.b',
        Domain: '-x',
        Customization: 'none',
      }),
      (error) => {
        assert.deepEqual(fields(error).sort(), [
          'Properties.Customization',
          'Properties.Domain',
          'Properties.GuestHostname',
          'Properties.Nameservers[0]',
          'Properties.Networks[0].IPv4[0]',
          'Properties.Networks[0].MAC',
          'Properties.Networks[0].MTU',
          'Properties.SearchDomains[0]',
        ]);
        return true;
      },
    );
  });
});

describe('default placement on a stand-alone ESXi host', () => {
  let sim: Vcsim;
  let p: VSphereInstanceProvider;
  before(async () => {
    sim = await Vcsim.start({ esx: true });
    p = new VSphereInstanceProvider({
      url: sim.sdkUrl,
      username: 'root',
      password: 'p',
      tls: { thumbprint: sim.certificate!.sha256 },
      datastore: 'LocalDS_0',
      keepAliveMs: 0,
      shutdownTimeoutMs: 0,
    });
  });
  after(async () => {
    await p?.close();
    await sim?.stop();
  });

  it('places a VM on the only host without Hostname', async () => {
    await p.uploadIso(Buffer.alloc(4096, 1), { datastore: 'LocalDS_0', path: 'esx.iso' });
    await p.validate({ ISOPath: 'esx.iso' });
    const id = await p.provision({
      Tags: tags('esx'),
      Properties: { ISOPath: 'esx.iso', Networks: [{ Network: 'VM Network', IPv4: ['10.0.0.9/24'] }] },
    });
    const vm = (await sim.listVms()).find((v) => v.name === id);
    assert.ok(vm);
    const ref = new ManagedObjectReference('VirtualMachine', vm.moref);
    const host = await p.client.collector.property<ManagedObjectReference>(ref, 'runtime.host');
    assert.equal(await p.client.collector.property(host!, 'name'), 'localhost.localdomain');
  });
});
