/**
 * Machine shape against vcsim: disks, compute, firmware, VMX keys and power-off modes, each
 * observed from the VM's config read back after provision (vcsim drops most of a clone's
 * config, so what is read is what the provider made sure of, not what it sent).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { VmOps, VSphereClient } from '../../src/blocks.ts';
import {
  GuestShutdownError,
  type InstanceProperties,
  ManagedObjectReference,
  ValidationError,
  VSphereInstanceProvider,
} from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

let sim: Vcsim;
let admin: VSphereClient;
const providers: VSphereInstanceProvider[] = [];

function provider(
  at: Vcsim = sim,
  options: Partial<ConstructorParameters<typeof VSphereInstanceProvider>[0]> = {},
): VSphereInstanceProvider {
  const p = new VSphereInstanceProvider({
    url: at.sdkUrl,
    username: 'user',
    password: 'pass',
    tls: { thumbprint: at.certificate!.sha256 },
    datastore: 'LocalDS_0',
    keepAliveMs: 0,
    shutdownTimeoutMs: 0,
    ...options,
  });
  providers.push(p);
  return p;
}

const tags = (group: string) => ({ 'infrakit.group': group, 'infrakit.config.hash': 'hash-1' });
const TEMPLATE = 'DC0_H0_VM0';
const cloneProps = { Template: TEMPLATE, Hostname: 'DC0_H0' };
const isoProps = { ISOPath: 'iso/linuxkit.iso', Hostname: 'DC0_H0', Network: 'VM Network' };

type Device = Record<string, unknown> & { _type?: string; key?: number };

const PATHS = [
  'config.hardware.device',
  'config.hardware.numCPU',
  'config.hardware.numCoresPerSocket',
  'config.cpuHotAddEnabled',
  'config.memoryHotAddEnabled',
  'config.firmware',
  'config.bootOptions',
  'config.version',
  'config.extraConfig',
  'runtime.powerState',
];

async function vmRef(name: string, at: Vcsim = sim): Promise<ManagedObjectReference> {
  const vm = (await at.listVms()).find((v) => v.name === name);
  assert.ok(vm, `no VM named ${name}`);
  return new ManagedObjectReference('VirtualMachine', vm.moref);
}

async function readBack(name: string): Promise<Map<string, unknown>> {
  const [info] = await admin.collector.properties([await vmRef(name)], PATHS);
  assert.ok(info);
  return info.props;
}

function disks(props: Map<string, unknown>): Device[] {
  return ((props.get('config.hardware.device') as Device[] | undefined) ?? []).filter(
    (d) => d._type === 'VirtualDisk',
  );
}

function sizeMB(disk: Device): number {
  return Number(disk.capacityInKB) / 1024;
}

function extra(props: Map<string, unknown>): Record<string, unknown> {
  const list = (props.get('config.extraConfig') as { key: string; value: unknown }[] | undefined) ?? [];
  return Object.fromEntries(list.map((o) => [o.key, o.value]));
}

let templateDisks: Device[] = [];

before(async () => {
  sim = await Vcsim.start();
  admin = new VSphereClient({ url: sim.urlWithCredentials, tls: { insecure: true }, keepAliveMs: 0 });
  const [t] = await admin.collector.properties([await vmRef(TEMPLATE)], ['config.hardware.device']);
  templateDisks = ((t?.props.get('config.hardware.device') as Device[]) ?? []).filter(
    (d) => d._type === 'VirtualDisk',
  );
  await provider().uploadIso(Buffer.alloc(4096, 1), { datastore: 'LocalDS_0', path: 'iso/linuxkit.iso' });
});
after(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await admin?.close();
  await sim?.stop();
});

describe('disks', () => {
  it('a clone gets its first disk grown and the Disks added on free SCSI units', async () => {
    assert.ok(templateDisks.length >= 1, 'the vcsim template has a disk');
    const rootMB = Math.max(...templateDisks.map(sizeMB)) + 1024;
    const p = provider();
    const id = await p.provision({
      Tags: tags('disks'),
      Properties: {
        ...cloneProps,
        RootDiskMB: rootMB,
        Disks: [
          { SizeMB: 1024 },
          { SizeMB: 2048, Provisioning: 'thick' },
          { SizeMB: 512, Provisioning: 'eagerZeroedThick' },
        ],
      },
    });
    const props = await readBack(id);
    const all = disks(props);
    assert.equal(all.length, templateDisks.length + 3);
    const devices = props.get('config.hardware.device') as Device[];
    const byKey = new Map(devices.map((d) => [d.key, d]));
    // The template's disk, grown.
    const root = all.find((d) => d.unitNumber !== undefined && sizeMB(d) === rootMB);
    assert.ok(root, `no ${rootMB} MB disk in ${JSON.stringify(all.map(sizeMB))}`);
    const added = all.filter((d) => [1024, 2048, 512].includes(sizeMB(d)));
    assert.deepEqual(added.map(sizeMB).sort(), [1024, 2048, 512].sort());
    const backing = (mb: number) =>
      added.find((d) => sizeMB(d) === mb)!.backing as { thinProvisioned?: boolean; eagerlyScrub?: boolean };
    assert.equal(backing(1024).thinProvisioned, true);
    assert.equal(backing(2048).thinProvisioned, false);
    assert.equal(backing(512).thinProvisioned, false);
    assert.equal(backing(512).eagerlyScrub, true);
    // Every disk on a SCSI controller, on a unit of its own, never 7.
    const slots = all.map((d) => `${d.controllerKey}:${d.unitNumber}`);
    assert.equal(new Set(slots).size, slots.length, slots.join(' '));
    for (const d of added) {
      assert.notEqual(Number(d.unitNumber), 7);
      assert.match(String(byKey.get(Number(d.controllerKey))?._type), /SCSI|LsiLogic|BusLogic/);
    }
    await p.destroy(id);
  });

  it('RootDiskMB smaller than the template disk fails before anything is made', async () => {
    const p = provider();
    await assert.rejects(
      p.validate({ ...cloneProps, RootDiskMB: 1 }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.issues.some((i) => i.field === 'Properties.RootDiskMB' && /smaller/.test(i.message)),
    );
    await p.validate({ ...cloneProps, RootDiskMB: Math.max(...templateDisks.map(sizeMB)) });
    const before = (await sim.listVms()).length;
    await assert.rejects(
      p.provision({ Tags: tags('shrink'), Properties: { ...cloneProps, RootDiskMB: 1 } }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.issues.some((i) => i.field === 'Properties.RootDiskMB' && /smaller/.test(i.message)),
    );
    assert.equal((await sim.listVms()).length, before);
  });

  it('an ISO VM with 16 disks gets a second SCSI controller', async () => {
    const p = provider();
    const id = await p.provision({
      Tags: tags('iso-disks'),
      Properties: { ...isoProps, Disks: Array.from({ length: 16 }, (_, i) => ({ SizeMB: 100 + i })) },
    });
    const props = await readBack(id);
    const devices = props.get('config.hardware.device') as Device[];
    const controllers = devices.filter((d) => d._type === 'ParaVirtualSCSIController');
    assert.equal(controllers.length, 2);
    assert.deepEqual(controllers.map((c) => Number(c.busNumber)).sort(), [0, 1]);
    const all = disks(props);
    assert.deepEqual(
      all.map(sizeMB).sort((a, b) => a - b),
      Array.from({ length: 16 }, (_, i) => 100 + i),
    );
    const first = controllers.find((c) => Number(c.busNumber) === 0)!;
    const onFirst = all.filter((d) => d.controllerKey === first.key).map((d) => Number(d.unitNumber));
    assert.equal(onFirst.length, 15);
    assert.ok(!onFirst.includes(7));
    await p.destroy(id);
  });
});

describe('compute, firmware and VMX keys', () => {
  const machine: InstanceProperties = {
    CPUs: 4,
    CoresPerSocket: 2,
    CPUHotAdd: true,
    MemoryHotAdd: true,
    Firmware: 'efi',
    SecureBoot: true,
    ExtraConfig: { 'disk.EnableUUID': 'TRUE', 'guestinfo.role': 'worker' },
  };

  function assertMachine(props: Map<string, unknown>) {
    assert.equal(props.get('config.hardware.numCPU'), 4);
    assert.equal(props.get('config.hardware.numCoresPerSocket'), 2);
    assert.equal(props.get('config.cpuHotAddEnabled'), true);
    assert.equal(props.get('config.memoryHotAddEnabled'), true);
    assert.equal(props.get('config.firmware'), 'efi');
    assert.equal(
      (props.get('config.bootOptions') as { efiSecureBootEnabled?: boolean }).efiSecureBootEnabled,
      true,
    );
    const vmx = extra(props);
    assert.equal(vmx['disk.EnableUUID'], 'TRUE');
    assert.equal(vmx['guestinfo.role'], 'worker');
  }

  it('a clone gets them (repaired after vcsim drops them from the clone spec)', async () => {
    const p = provider();
    const id = await p.provision({
      Tags: tags('shape-clone'),
      Init: '#cloud-config\n',
      Properties: { ...cloneProps, ...machine, PowerOn: true },
    });
    const props = await readBack(id);
    assertMachine(props);
    assert.equal(props.get('runtime.powerState'), 'poweredOn');
    assert.ok(extra(props)['guestinfo.userdata'], 'the user data is still there');
    await p.destroy(id);
  });

  it('a clone without these keys keeps its template settings', async () => {
    const p = provider();
    const [t] = await admin.collector.properties([await vmRef(TEMPLATE)], ['config.version']);
    const id = await p.provision({ Tags: tags('plain-clone'), Properties: cloneProps });
    const props = await readBack(id);
    assert.equal(props.get('config.version'), t?.props.get('config.version'));
    await p.destroy(id);
  });

  it('an ISO VM gets them, its hardware version, and BIOS by default', async () => {
    const p = provider();
    const id = await p.provision({
      Tags: tags('shape-iso'),
      Properties: { ...isoProps, ...machine, HardwareVersion: 'vmx-17' },
    });
    const props = await readBack(id);
    assertMachine(props);
    assert.equal(props.get('config.version'), 'vmx-17');
    await p.destroy(id);
    const plain = await p.provision({ Tags: tags('shape-iso'), Properties: isoProps });
    assert.equal((await readBack(plain)).get('config.firmware'), 'bios');
    await p.destroy(plain);
  });

  it('Validate and provision name a disk datastore that does not exist', async () => {
    const p = provider();
    const properties: InstanceProperties = {
      ...cloneProps,
      Disks: [{ SizeMB: 1 }, { SizeMB: 1, Datastore: 'NoSuchDS' }],
    };
    const named = (error: unknown) =>
      (error instanceof ValidationError &&
        error.issues.some((i) => i.field === 'Properties.Disks[1].Datastore')) ||
      (error as { field?: string }).field === 'Properties.Disks[1].Datastore';
    await assert.rejects(p.validate(properties), named);
    const before = (await sim.listVms()).length;
    await assert.rejects(p.provision({ Tags: tags('nods'), Properties: properties }), named);
    assert.equal((await sim.listVms()).length, before);
  });

  it('Validate reports the bad values of these keys by field', async () => {
    const p = provider();
    await assert.rejects(
      p.validate({ ...cloneProps, CPUs: 3, CoresPerSocket: 2, HardwareVersion: 'vmx-19', CPUHotAdd: 'true' }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.deepEqual(error.issues.map((i) => i.field).sort(), [
          'Properties.CPUHotAdd',
          'Properties.CPUs, Properties.CoresPerSocket',
          'Properties.HardwareVersion',
        ]);
        return true;
      },
    );
  });
});

describe('destroy: PowerOffMode', () => {
  /** Stands in for VMware Tools running in the guest (vcsim's VMs have none). */
  async function toolsRunning(client: VSphereClient, vm: ManagedObjectReference): Promise<void> {
    await new VmOps(client).reconfigure(
      vm,
      {
        extraConfig: [
          { _type: 'OptionValue', key: 'SET.guest.toolsRunningStatus', value: 'guestToolsRunning' },
        ],
      },
      'tools',
    );
    assert.equal(await client.collector.property(vm, 'guest.toolsRunningStatus'), 'guestToolsRunning');
  }

  it('is kept in the notes, and soft refuses a VM without tools, leaving it running', async () => {
    const p = provider();
    const id = await p.provision({
      Tags: tags('soft'),
      Properties: { ...cloneProps, PowerOn: true, PowerOffMode: 'soft', PowerOffTimeoutSeconds: 5 },
    });
    const vm = await vmRef(id);
    const notes = (await admin.collector.property<string>(vm, 'config.annotation')) ?? '';
    assert.match(notes.split('\n')[2] ?? '', /"powerOff":\{"mode":"soft","timeoutSeconds":5\}/);
    await assert.rejects(
      p.destroy(id),
      (error: unknown) => error instanceof GuestShutdownError && error.reason === 'tools-not-running',
    );
    assert.equal(await admin.collector.property(vm, 'runtime.powerState'), 'poweredOn');
    // With tools, the guest shuts down and the VM goes.
    await toolsRunning(admin, vm);
    await p.destroy(id);
    assert.equal(
      (await sim.listVms()).find((v) => v.name === id),
      undefined,
    );
  });

  it('label keeps the setting', async () => {
    const p = provider();
    const id = await p.provision({ Tags: tags('keep'), Properties: { ...cloneProps, PowerOffMode: 'hard' } });
    await p.label(id, { role: 'db' });
    const notes = (await admin.collector.property<string>(await vmRef(id), 'config.annotation')) ?? '';
    assert.match(notes, /"powerOff":\{"mode":"hard"\}/);
    assert.match(notes, /"role":"db"/);
    await p.destroy(id);
  });

  describe('with a guest that takes 6 s to shut down', () => {
    let slow: Vcsim;
    let slowAdmin: VSphereClient;
    before(async () => {
      // LockHandoff 0: vcsim does not hold the VM's lock during the delay, so its power state
      // can be read while the guest is shutting down.
      slow = await Vcsim.start({ methodDelay: { ShutdownGuest: 6000, LockHandoff: 0 } });
      slowAdmin = new VSphereClient({
        url: slow.urlWithCredentials,
        tls: { insecure: true },
        keepAliveMs: 0,
      });
    });
    after(async () => {
      await slowAdmin?.close();
      await slow?.stop();
    });

    async function runningWithTools(p: VSphereInstanceProvider, group: string, properties: object) {
      const id = await p.provision({
        Tags: tags(group),
        Properties: { ...cloneProps, PowerOn: true, ...properties },
      });
      const vm = await vmRef(id, slow);
      await toolsRunning(slowAdmin, vm);
      return { id, vm };
    }

    it('soft fails the destroy when the guest is still running after the timeout; the VM is left running', async () => {
      const p = provider(slow);
      const { id, vm } = await runningWithTools(p, 'soft-slow', {
        PowerOffMode: 'soft',
        PowerOffTimeoutSeconds: 1,
      });
      await assert.rejects(p.destroy(id), (error: unknown) => {
        assert.ok(error instanceof GuestShutdownError, String(error));
        assert.equal(error.reason, 'timeout');
        assert.equal(error.code, 'GUEST_SHUTDOWN');
        assert.equal(error.vm, vm.value);
        return true;
      });
      assert.equal(await slowAdmin.collector.property(vm, 'runtime.powerState'), 'poweredOn');
      assert.ok((await slow.listVms()).some((v) => v.name === id));
      await new VmOps(slowAdmin).powerOff(vm);
      await p.destroy(id);
    });

    it('trySoft powers off after the timeout; hard at once, without waiting for the guest', async () => {
      const p = provider(slow);
      const soft = await runningWithTools(p, 'trysoft', { PowerOffTimeoutSeconds: 1 });
      await p.destroy(soft.id);
      assert.equal(
        (await slow.listVms()).find((v) => v.name === soft.id),
        undefined,
      );

      const hard = await runningWithTools(p, 'hard', { PowerOffMode: 'hard' });
      const started = Date.now();
      await p.destroy(hard.id);
      // The guest shutdown takes 6 s: a hard power-off does not wait for it.
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      assert.equal(
        (await slow.listVms()).find((v) => v.name === hard.id),
        undefined,
      );
    });
  });
});
