import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import type { DiskSpec } from '../../src/provider/properties-machine.ts';
import { addDisks, diskChanges, diskSizeMB, firstDisk, growDisk } from '../../src/vsphere/disks.ts';
import { applyMachineConfig, machineRepair } from '../../src/vsphere/machine.ts';

type Device = Record<string, unknown> & { _type?: string; key?: number };

const scsi = (key: number, busNumber: number, type = 'ParaVirtualSCSIController'): Device => ({
  _type: type,
  key,
  busNumber,
});
const disk = (key: number, controllerKey: number, unitNumber: number, sizeMB = 1024): Device => ({
  _type: 'VirtualDisk',
  key,
  controllerKey,
  unitNumber,
  capacityInKB: sizeMB * 1024,
  backing: { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: '[ds] vm/vm.vmdk' },
});
const thin = (sizeMB: number): DiskSpec => ({ sizeMB, provisioning: 'thin' });

/** The (controller key, unit) of each disk added by `changes`, and the controllers added. */
function placed(changes: Record<string, unknown>[]) {
  const devices = changes.map((c) => c.device as Device);
  return {
    disks: devices.filter((d) => d._type === 'VirtualDisk').map((d) => `${d.controllerKey}:${d.unitNumber}`),
    controllers: devices.filter((d) => d._type !== 'VirtualDisk').map((d) => `${d.key}@${d.busNumber}`),
  };
}

describe('addDisks', () => {
  it('fills free units after the existing disks, skipping unit 7', () => {
    const devices = [scsi(1000, 0, 'VirtualLsiLogicController'), disk(2000, 1000, 0), disk(2001, 1000, 1)];
    const changes = addDisks(
      devices,
      Array.from({ length: 7 }, () => thin(1)),
      'ds',
      -300,
      'Properties.Disks',
    );
    assert.deepEqual(placed(changes), {
      disks: ['1000:2', '1000:3', '1000:4', '1000:5', '1000:6', '1000:8', '1000:9'],
      controllers: [],
    });
  });

  it('adds a paravirtual controller on the next free bus when the existing ones are full', () => {
    const devices: Device[] = [scsi(1000, 0), scsi(1001, 2)];
    for (let unit = 0; unit < 16; unit++) {
      if (unit === 7) continue;
      devices.push(disk(2000 + unit, 1000, unit), disk(3000 + unit, 1001, unit));
    }
    const changes = addDisks(devices, [thin(1), thin(2)], 'ds', -300, 'Properties.Disks');
    assert.deepEqual(placed(changes), { disks: ['-300:0', '-300:1'], controllers: ['-300@1'] });
    const added = changes[0]!.device as Device;
    assert.equal(added._type, 'ParaVirtualSCSIController');
    assert.equal(changes[0]!.operation, 'add');
  });

  it('a VM without a SCSI controller gets one on bus 0', () => {
    assert.deepEqual(placed(addDisks([], [thin(1)], 'ds', -300, 'f')), {
      disks: ['-300:0'],
      controllers: ['-300@0'],
    });
  });

  it('refuses what does not fit on 4 controllers, naming the field', () => {
    const devices: Device[] = [0, 1, 2, 3].map((bus) => scsi(1000 + bus, bus));
    for (const c of devices.slice()) {
      for (let unit = 0; unit < 16; unit++) if (unit !== 7) devices.push(disk(0, c.key!, unit));
    }
    assert.throws(
      () => addDisks(devices, [thin(1)], 'ds', -300, 'Properties.Disks'),
      (error: unknown) => error instanceof ValidationError && error.issues[0]?.field === 'Properties.Disks',
    );
  });

  it('writes provisioning, datastore and both capacity fields', () => {
    const [thick, eager, elsewhere] = addDisks(
      [scsi(1000, 0)],
      [
        { sizeMB: 2, provisioning: 'thick' },
        { sizeMB: 3, provisioning: 'eagerZeroedThick' },
        { sizeMB: 4, provisioning: 'thin', datastore: 'fast' },
      ],
      'ds',
      -300,
      'f',
    ).map((c) => c.device as Device & { backing: Record<string, unknown> });
    assert.deepEqual(
      [thick!.backing.thinProvisioned, thick!.backing.eagerlyScrub, thick!.backing.fileName],
      [false, false, '[ds]'],
    );
    assert.deepEqual([eager!.backing.thinProvisioned, eager!.backing.eagerlyScrub], [false, true]);
    assert.deepEqual([elsewhere!.backing.thinProvisioned, elsewhere!.backing.fileName], [true, '[fast]']);
    assert.equal('eagerlyScrub' in elsewhere!.backing, false);
    assert.equal(eager!.capacityInKB, 3 * 1024);
    assert.equal(eager!.capacityInBytes, 3 * 1024 * 1024);
  });
});

describe('first disk, growing, and what is still missing', () => {
  it('the first disk is the lowest bus and unit, wherever it is in the list', () => {
    const devices = [
      scsi(1001, 1),
      scsi(1000, 0),
      disk(2016, 1001, 0),
      disk(2001, 1000, 1),
      disk(2000, 1000, 0),
    ];
    assert.equal(firstDisk(devices)?.key, 2000);
  });

  it('growDisk sends both capacity fields and keeps the backing', () => {
    const grown = growDisk(disk(2000, 1000, 0, 1024), 4096);
    const device = grown.device as Device;
    assert.equal(grown.operation, 'edit');
    assert.equal(device.capacityInKB, 4096 * 1024);
    assert.equal(device.capacityInBytes, 4096 * 1024 * 1024);
    assert.equal((device.backing as { fileName: string }).fileName, '[ds] vm/vm.vmdk');
    assert.equal(diskSizeMB({ capacityInBytes: 2 * 1024 * 1024, capacityInKB: 1 }), 2);
  });

  it('diskChanges asks nothing of a VM that has it all, and only the missing rest otherwise', () => {
    const props = { rootDiskMB: 4096, disks: [thin(10), thin(20)], datastore: 'ds' };
    const template = [scsi(1000, 0), disk(2000, 1000, 0, 1024)];
    const atClone = diskChanges(template, props, 1, -300, 'f');
    assert.deepEqual(
      atClone.map((c) => c.operation),
      ['edit', 'add', 'add'],
    );
    const made = [scsi(1000, 0), disk(2000, 1000, 0, 4096), disk(2001, 1000, 1, 10), disk(2002, 1000, 2, 20)];
    assert.deepEqual(diskChanges(made, props, 1, -300, 'f'), []);
    const dropped = [scsi(1000, 0), disk(2000, 1000, 0, 4096), disk(2001, 1000, 1, 10)];
    const repair = diskChanges(dropped, props, 1, -300, 'f');
    assert.equal(repair.length, 1);
    assert.equal((repair[0]!.device as Device).capacityInKB, 20 * 1024);
    assert.equal((repair[0]!.device as Device).unitNumber, 2);
  });
});

describe('machine config', () => {
  it('an ISO VM gets bios unless told, a clone keeps its template firmware', () => {
    const iso: Record<string, unknown> = {};
    applyMachineConfig(iso, {}, 'iso');
    assert.deepEqual(iso, { firmware: 'bios' });
    const clone: Record<string, unknown> = {};
    applyMachineConfig(clone, { hardwareVersion: 'vmx-19' }, 'clone');
    assert.deepEqual(clone, {});
  });

  it('extends extraConfig instead of replacing it', () => {
    const config: Record<string, unknown> = {
      extraConfig: [{ _type: 'OptionValue', key: 'guestinfo.userdata', value: 'x' }],
    };
    applyMachineConfig(
      config,
      { extraConfig: { 'disk.EnableUUID': 'TRUE' }, coresPerSocket: 2, secureBoot: true, firmware: 'efi' },
      'clone',
    );
    assert.deepEqual(
      (config.extraConfig as { key: string }[]).map((o) => o.key),
      ['guestinfo.userdata', 'disk.EnableUUID'],
    );
    assert.equal(config.numCoresPerSocket, 2);
    assert.deepEqual(config.bootOptions, { _type: 'VirtualMachineBootOptions', efiSecureBootEnabled: true });
  });

  it('machineRepair names only what differs, with the firmware secure boot needs', () => {
    const props = { coresPerSocket: 2, cpuHotAdd: false, firmware: 'efi' as const, secureBoot: true };
    const read = (values: Record<string, unknown>) => (path: string) => values[path];
    assert.deepEqual(
      machineRepair(
        props,
        read({
          'config.hardware.numCoresPerSocket': 2,
          'config.firmware': 'efi',
          'config.bootOptions': { efiSecureBootEnabled: true },
        }),
      ),
      {},
    );
    assert.deepEqual(
      machineRepair(props, read({ 'config.hardware.numCoresPerSocket': 1, 'config.firmware': 'bios' })),
      {
        numCoresPerSocket: 2,
        firmware: 'efi',
        bootOptions: { _type: 'VirtualMachineBootOptions', efiSecureBootEnabled: true },
      },
    );
  });
});
