/**
 * The builders on their own, as a library user of `./vsphere` drives them: a neutral VmSpec, no
 * InfraKit properties. The guest metadata hook is given the MACs vCenter generated; errors name
 * the spec's own fields unless the caller names them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  GroupFolders,
  Inventory,
  ManagedObjectReference,
  TemplateCloner,
  VmOps,
  type VmSpec,
  VSphereClient,
} from '../../src/blocks.ts';
import { NotFoundError } from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

let sim: Vcsim;
let client: VSphereClient;
let cloner: TemplateCloner;
let inventory: Inventory;
let folders: GroupFolders;

const TEMPLATE = 'DC0_H0_VM0';
const BASE: VmSpec = {
  datastore: 'LocalDS_0',
  placement: { host: 'DC0_H0' },
  template: TEMPLATE,
  nics: [{ network: 'VM Network' }],
};

before(async () => {
  sim = await Vcsim.start();
  client = new VSphereClient({ url: sim.urlWithCredentials, tls: { insecure: true }, keepAliveMs: 0 });
  inventory = new Inventory({ session: client.session, collector: client.collector });
  folders = new GroupFolders({ session: client.session, inventory });
  cloner = new TemplateCloner({ client, inventory, vmOps: new VmOps(client) });
});
after(async () => {
  await cloner?.settle();
  await client?.close();
  await sim?.stop();
});

async function target(group: string) {
  const dc = await inventory.datacenter('DC0');
  return { dc, folder: await folders.ensure(dc, group) };
}

describe('TemplateCloner with a VmSpec', () => {
  it('clones, sets the CPUs, and writes the guest metadata the hook renders from the MACs', async () => {
    const seen: (readonly string[] | undefined)[] = [];
    const spec: VmSpec = {
      ...BASE,
      cpus: 2,
      powerOn: true,
      guest: {
        extraConfig(macs) {
          seen.push(macs);
          if (macs === undefined) return undefined;
          return [{ _type: 'OptionValue', key: 'guestinfo.example', value: macs.join(',') }];
        },
      },
    };
    const vm = await cloner.build({ name: 'spec-vm-1', ...(await target('spec')), spec, annotation: 'a' });
    const [info] = await client.collector.properties(
      [vm],
      [
        'name',
        'config.hardware.numCPU',
        'config.hardware.device',
        'config.extraConfig',
        'runtime.powerState',
      ],
    );
    assert.ok(info);
    assert.equal(info.props.get('name'), 'spec-vm-1');
    assert.equal(info.props.get('config.hardware.numCPU'), 2);
    assert.equal(info.props.get('runtime.powerState'), 'poweredOn');
    const devices = info.props.get('config.hardware.device') as Record<string, unknown>[];
    const macs = devices
      .filter((d) => typeof d.macAddress === 'string')
      .map((d) => String(d.macAddress).toLowerCase());
    assert.equal(macs.length, 1);
    const extra = info.props.get('config.extraConfig') as { key: string; value: unknown }[];
    assert.equal(extra.find((o) => o.key === 'guestinfo.example')?.value, macs[0]);
    assert.ok(
      seen.some((m) => m?.[0] === macs[0]),
      'the hook was given the MAC vCenter generated',
    );
    assert.ok(vm instanceof ManagedObjectReference);
  });

  it("names the spec's own field in errors, or the caller's name for it", async () => {
    const spec: VmSpec = { ...BASE, disks: [{ sizeMB: 64, provisioning: 'thin', datastore: 'NoSuchDS' }] };
    const at = await target('spec-errors');
    await assert.rejects(
      cloner.build({ name: 'spec-vm-2', ...at, spec, annotation: '' }),
      (error: unknown) => error instanceof NotFoundError && error.field === 'disks[0].datastore',
    );
    await assert.rejects(
      cloner.build({
        name: 'spec-vm-3',
        ...at,
        spec: { ...spec, field: (path) => `Mine.${path}` },
        annotation: '',
      }),
      (error: unknown) => error instanceof NotFoundError && error.field === 'Mine.disks[0].datastore',
    );
    const names = (await sim.listVms()).map((vm) => vm.name);
    assert.ok(!names.includes('spec-vm-2') && !names.includes('spec-vm-3'), 'nothing was made');
  });
});

describe('Inventory.vmsNamed', () => {
  it('gives only the VMs of that name, with the paths asked for', async () => {
    const dc = await inventory.datacenter('DC0');
    const all = (await sim.listVms()).map((vm) => vm.name);
    assert.ok(all.length > 2 && all.includes('DC0_H0_VM1'), `vcsim's VMs: ${all.join(', ')}`);
    const found = await inventory.vmsNamed(dc.vmFolder, 'DC0_H0_VM1', [
      'config.annotation',
      'runtime.powerState',
    ]);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.obj.type, 'VirtualMachine');
    assert.equal(found[0]!.props.get('name'), 'DC0_H0_VM1');
    assert.equal(typeof found[0]!.props.get('runtime.powerState'), 'string');
    assert.deepEqual(await inventory.vmsNamed(dc.vmFolder, 'no-such-vm'), []);
  });
});
