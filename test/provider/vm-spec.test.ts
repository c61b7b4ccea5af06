/**
 * The properties as the object layer's VmSpec: the NICs asked for, the property names the
 * build's errors give, the guest metadata rendered by the provider.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProperties } from '../../src/provider/properties.ts';
import { dhcpNic, propertyField, vmSpecOf, wantedNics } from '../../src/provider/vm-spec.ts';

describe('vmSpecOf', () => {
  it('wantedNics: Networks, else the Network shorthand, else none', () => {
    assert.deepEqual(wantedNics({ network: 'a' }), [dhcpNic('a')]);
    assert.deepEqual(wantedNics({}), []);
    const nics = [dhcpNic('x'), dhcpNic('y')];
    assert.equal(wantedNics({ nics, network: 'a' }), nics);
  });

  it('names the properties a spec field comes from, as users wrote them', () => {
    const networks = { nics: [dhcpNic('x')] };
    assert.equal(propertyField(networks, 'nics[0].network'), 'Properties.Networks[0].Network');
    assert.equal(propertyField({}, 'nics[0].network'), 'Properties.Network');
    assert.equal(propertyField({}, 'disks[1].datastore'), 'Properties.Disks[1].Datastore');
    assert.equal(propertyField({}, 'disks'), 'Properties.Disks');
    assert.equal(propertyField({}, 'isoDatastore'), 'Properties.ISODatastore');
    assert.equal(propertyField({}, 'rootDiskMB'), 'Properties.RootDiskMB');
    assert.equal(propertyField({}, 'linkedClone'), 'Properties.LinkedClone');
    assert.equal(propertyField({}, 'template'), 'Properties.Template');
    assert.equal(propertyField({}, 'datastore'), 'Properties.Datastore');
  });

  it('maps the VM shape and leaves out what the properties do not give', () => {
    const props = parseProperties({
      Datastore: 'ds',
      Template: 't',
      CPUs: 2,
      Network: 'VM Network',
      Cluster: 'c',
      Firmware: 'efi',
    });
    const spec = vmSpecOf('vm-1', props);
    assert.equal(spec.datastore, 'ds');
    assert.equal(spec.template, 't');
    assert.equal(spec.cpus, 2);
    assert.equal(spec.firmware, 'efi');
    assert.deepEqual(spec.placement, { cluster: 'c' });
    assert.deepEqual(
      spec.nics?.map((n) => n.network),
      ['VM Network'],
    );
    assert.equal('memoryMB' in spec, false);
    assert.equal(spec.guest, undefined);
    assert.equal(spec.field?.('nics[0].network'), 'Properties.Network');
  });

  it('cloud-init metadata waits for the MACs, then names them', () => {
    const props = parseProperties({
      Datastore: 'ds',
      Template: 't',
      Network: 'VM Network',
      Customization: 'cloud-init',
    });
    const guest = vmSpecOf('vm-1', props).guest;
    assert.equal(guest?.extraConfig?.(undefined), undefined);
    const options = guest?.extraConfig?.(['00:50:56:00:00:01']) ?? [];
    const metadata = options.find((o) => o.key === 'guestinfo.metadata');
    const decoded = JSON.parse(Buffer.from(String(metadata?.value), 'base64').toString('utf8'));
    assert.equal(decoded['instance-id'], 'vm-1');
    assert.equal(decoded.network.ethernets.id0.match.macaddress, '00:50:56:00:00:01');
    assert.equal(guest?.customization, undefined);
  });

  it('vSphere customization gives the template NICs DHCP when no NIC is asked for', () => {
    const props = parseProperties({ Datastore: 'ds', Template: 't', Customization: 'vsphere' });
    const spec = vmSpecOf('vm-1', props);
    assert.equal(spec.guest?.extraConfig, undefined);
    const customization = spec.guest?.customization?.(2) as { nicSettingMap: unknown[] } | undefined;
    assert.equal(customization?.nicSettingMap.length, 2);
  });
});
