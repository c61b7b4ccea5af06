/**
 * The NIC device changes: device order, reuse / re-back / add / remove, manual MACs, and the MACs
 * the guest's metadata needs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManagedObjectReference } from '../../src/vim25/index.ts';
import type { NetworkInfo } from '../../src/vsphere/finder.ts';
import { editNic, manualMacs, nicChanges, nicMacs, orderedNics } from '../../src/vsphere/nics.ts';
import type { NicSpec } from '../../src/vsphere/spec.ts';

const nicSpec = (network: string): NicSpec => ({ network });

const std: NetworkInfo = { ref: new ManagedObjectReference('Network', 'network-7'), name: 'VM Network' };
const dvpg: NetworkInfo = {
  ref: new ManagedObjectReference('DistributedVirtualPortgroup', 'dvportgroup-11'),
  name: 'DC0_DVPG0',
  portgroupKey: 'dvportgroup-11',
  switchUuid: 'uuid-1',
};
const nicOn = (
  key: number,
  unitNumber: number,
  network: NetworkInfo,
  extra: Record<string, unknown> = {},
) => ({
  _type: 'VirtualVmxnet3',
  key,
  unitNumber,
  controllerKey: 100,
  addressType: 'generated',
  macAddress: `00:0c:29:00:00:0${unitNumber}`,
  backing:
    network === std
      ? { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: std.name, network: std.ref }
      : {
          _type: 'VirtualEthernetCardDistributedVirtualPortBackingInfo',
          port: { switchUuid: 'uuid-1', portgroupKey: 'dvportgroup-11' },
        },
  ...extra,
});
const disk = { _type: 'VirtualDisk', key: 2000, unitNumber: 0 };

describe('NICs', () => {
  it('orders NICs by unit number, not list position or key', () => {
    const devices = [nicOn(4000, 9, std), disk, nicOn(3999, 7, dvpg), nicOn(4001, 8, std)];
    assert.deepEqual(
      orderedNics(devices).map((d) => d.key),
      [3999, 4001, 4000],
    );
  });

  it('keeps a matching first NIC, re-backs a wrong one, adds the missing ones, removes the rest', () => {
    const wanted = [
      { nic: nicSpec('DC0_DVPG0'), network: dvpg },
      { nic: { ...nicSpec('VM Network'), mac: '00:50:56:00:00:05' }, network: std },
    ];
    const devices = [nicOn(4000, 7, std), nicOn(4001, 8, std), nicOn(4002, 9, std)];
    const changes = nicChanges(devices, wanted) as { operation: string; device: Record<string, unknown> }[];
    assert.deepEqual(
      changes.map((c) => [c.operation, c.device.key]),
      [
        ['edit', 4000],
        ['edit', 4001],
        ['remove', 4002],
      ],
    );
    assert.equal(
      (changes[0]!.device.backing as { _type: string })._type,
      'VirtualEthernetCardDistributedVirtualPortBackingInfo',
    );
    assert.equal(changes[1]!.device.addressType, 'manual');
    assert.equal(changes[1]!.device.macAddress, '00:50:56:00:00:05');
    assert.deepEqual(
      nicChanges([nicOn(4000, 7, dvpg)], wanted).map((c) => c.operation),
      ['add'],
    );
    const added = nicChanges([], wanted) as { device: Record<string, unknown> }[];
    assert.deepEqual(
      added.map((c) => [c.device._type, c.device.addressType, c.device.macAddress]),
      [
        ['VirtualVmxnet3', 'generated', undefined],
        ['VirtualVmxnet3', 'manual', '00:50:56:00:00:05'],
      ],
    );
  });

  it('an edit drops a manual MAC of the template (it would repeat in every clone)', () => {
    const edited = editNic(nicOn(4000, 7, std, { addressType: 'manual', macAddress: '00:50:56:00:00:01' }), {
      nic: nicSpec('DC0_DVPG0'),
      network: dvpg,
    }).device as Record<string, unknown>;
    assert.equal(edited.addressType, 'generated');
    assert.equal(edited.macAddress, undefined);
  });

  it('nicMacs: the MACs in device order once the NICs are as asked', () => {
    const wanted = [
      { nic: nicSpec('VM Network'), network: std },
      { nic: nicSpec('DC0_DVPG0'), network: dvpg },
    ];
    assert.deepEqual(nicMacs([nicOn(4001, 8, dvpg), nicOn(4000, 7, std)], wanted), [
      '00:0c:29:00:00:07',
      '00:0c:29:00:00:08',
    ]);
    assert.equal(nicMacs([nicOn(4000, 7, std)], wanted), undefined, 'a NIC missing');
    assert.equal(nicMacs([nicOn(4000, 7, dvpg), nicOn(4001, 8, std)], wanted), undefined, 'wrong networks');
    assert.equal(nicMacs([nicOn(4000, 7, std), nicOn(4001, 8, dvpg, { macAddress: '' })], wanted), undefined);
    assert.equal(manualMacs(wanted), undefined);
    assert.deepEqual(manualMacs([{ nic: { ...nicSpec('a'), mac: '00:50:56:00:00:01' }, network: std }]), [
      '00:50:56:00:00:01',
    ]);
  });
});
