/**
 * VSphereInstanceProvider against vcsim (vCenter model): the whole instance lifecycle, the
 * original plugin's conventions, and the defects it had that must not come back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { VSphereClient } from '../../src/blocks.ts';
import {
  FileExistsError,
  InstanceNotManagedError,
  ManagedObjectReference,
  NotFoundError,
  ValidationError,
  VSphereInstanceProvider,
} from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

let sim: Vcsim;
let admin: VSphereClient;
const providers: VSphereInstanceProvider[] = [];

function provider(
  options: Partial<ConstructorParameters<typeof VSphereInstanceProvider>[0]> = {},
): VSphereInstanceProvider {
  const p = new VSphereInstanceProvider({
    url: sim.sdkUrl,
    username: 'user',
    password: 'pass',
    tls: { thumbprint: sim.certificate!.sha256 },
    datastore: 'LocalDS_0',
    keepAliveMs: 0,
    shutdownTimeoutMs: 0,
    ...options,
  });
  providers.push(p);
  return p;
}

const tags = (group: string, hash = 'hash-1') => ({ 'infrakit.group': group, 'infrakit.config.hash': hash });
const cloneProps = { Template: 'DC0_H0_VM0', Hostname: 'DC0_H0' };

async function vmNamed(name: string) {
  return (await sim.listVms()).find((vm) => vm.name === name);
}

async function folderNamed(name: string): Promise<ManagedObjectReference[]> {
  const content = await admin.session.serviceContent();
  const folders = await admin.collector.find(content.rootFolder, 'Folder', ['name']);
  return folders.filter((f) => f.props.get('name') === name).map((f) => f.obj);
}

async function dcVmFolder(): Promise<ManagedObjectReference> {
  const content = await admin.session.serviceContent();
  const [dc] = await admin.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
  return dc!.props.get('vmFolder') as ManagedObjectReference;
}

before(async () => {
  sim = await Vcsim.start();
  admin = new VSphereClient({ url: sim.urlWithCredentials, tls: { insecure: true }, keepAliveMs: 0 });
});
after(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await admin?.close();
  await sim?.stop();
});

describe('clone lifecycle', () => {
  it('provisions, describes, labels and destroys a template clone', async () => {
    const p = provider();
    const id = await p.provision({
      Tags: { ...tags('web'), role: 'frontend' },
      Properties: {
        ...cloneProps,
        PowerOn: true,
        CPUs: 2,
        Memory: 2048,
        Network: 'VM Network',
        Annotation: 'my notes\nline 2',
      },
      Init: '#cloud-config\nhostname: web\n',
    });
    assert.match(id, /^vm-\d+$/);
    const vm = await vmNamed(id);
    assert.ok(vm, 'the VM exists in vCenter');
    assert.equal(vm.powerState, 'poweredOn');
    const annotationLines = vm.annotation!.split('\n');
    assert.equal(annotationLines[0], 'web', 'line 0 is the group, as the original plugin reads it');
    assert.equal(annotationLines[1], 'hash-1', 'line 1 is the config hash');
    assert.ok(vm.annotation!.endsWith('my notes\nline 2'), 'the user text is kept');
    const ref = new ManagedObjectReference('VirtualMachine', vm.moref);
    assert.equal(await admin.collector.property(ref, 'config.hardware.numCPU'), 2);
    assert.equal(await admin.collector.property(ref, 'config.hardware.memoryMB'), 2048);
    const extra =
      (await admin.collector.property<{ key: string; value: string }[]>(ref, 'config.extraConfig')) ?? [];
    const userdata = extra.find((o) => o.key === 'guestinfo.userdata');
    assert.equal(Buffer.from(userdata!.value, 'base64').toString(), '#cloud-config\nhostname: web\n');
    assert.equal(extra.find((o) => o.key === 'guestinfo.userdata.encoding')?.value, 'base64');
    const folders = await folderNamed('web');
    assert.equal(folders.length, 1, 'one group folder named after the group');
    assert.equal(vm.parent, folders[0]!.value, 'the VM sits in the group folder');

    const [described] = await p.describe({ 'infrakit.group': 'web' }, { properties: true });
    assert.equal(described?.ID, id);
    assert.equal(described.Tags['infrakit.config.hash'], 'hash-1');
    assert.equal(described.Tags.role, 'frontend', 'the instance tags, not the query tags, are returned');
    assert.equal(described.Tags.guestIP, '');
    const details = described.Properties as Record<string, unknown>;
    assert.equal(details.PowerState, 'poweredOn');
    assert.equal(details.MoRef, vm.moref);
    assert.match(String(details.InstanceUUID), /^[0-9a-f-]{36}$/);

    await p.label(id, { role: 'backend', 'infrakit.config.hash': 'hash-2' });
    const relabelled = await p.describe({ 'infrakit.group': 'web', role: 'backend' });
    assert.equal(relabelled.length, 1);
    assert.equal(relabelled[0]!.Tags['infrakit.config.hash'], 'hash-2');
    assert.equal(
      (await vmNamed(id))!.annotation!.split('\n')[1],
      'hash-2',
      'line 1 follows the relabelled hash',
    );
    assert.deepEqual(await p.describe({ 'infrakit.group': 'web', role: 'frontend' }), []);

    await p.destroy(id, { Reason: 'terminate' });
    assert.equal(await vmNamed(id), undefined, 'the VM is gone');
    assert.deepEqual(await p.describe({ 'infrakit.group': 'web' }), []);
    // Already gone: the library says so (the plugin server answers OK, see cli-serve.test.ts).
    await assert.rejects(p.destroy(id, { Reason: 'terminate' }), (e: unknown) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.kind, 'vm');
      assert.equal(e.field, 'Instance');
      assert.equal(e.objectName, id);
      return true;
    });
  });

  it('50 concurrent provisions into a new group make exactly 50 VMs and one folder', async () => {
    const p = provider();
    const ids = await Promise.all(
      Array.from({ length: 50 }, () => p.provision({ Tags: tags('burst'), Properties: cloneProps })),
    );
    assert.equal(new Set(ids).size, 50);
    assert.equal((await folderNamed('burst')).length, 1);
    const described = await p.describe({ 'infrakit.group': 'burst' });
    assert.deepEqual(new Set(described.map((d) => d.ID)), new Set(ids));
    await Promise.all(ids.map((id) => p.destroy(id, { Reason: 'terminate' })));
    assert.deepEqual(await p.describe({ 'infrakit.group': 'burst' }), []);
  });

  it('a VM dragged out of the group folder stops being described', async () => {
    const p = provider();
    const [keep, drag] = await Promise.all([
      p.provision({ Tags: tags('drag'), Properties: cloneProps }),
      p.provision({ Tags: tags('drag'), Properties: cloneProps }),
    ]);
    assert.equal((await p.describe({ 'infrakit.group': 'drag' })).length, 2);
    const vm = await vmNamed(drag!);
    await admin.tasks.wait(
      await admin.session.invoke<ManagedObjectReference>('MoveIntoFolder_Task', {
        _this: await dcVmFolder(),
        list: [new ManagedObjectReference('VirtualMachine', vm!.moref)],
      }),
    );
    const left = await p.describe({ 'infrakit.group': 'drag' });
    assert.deepEqual(
      left.map((d) => d.ID),
      [keep],
    );
    await p.destroy(keep!, { Reason: 'terminate' });
  });

  it("describes a VM annotated in the original plugin's format, with its hash", async () => {
    const p = provider();
    const id = await p.provision({ Tags: tags('legacy'), Properties: cloneProps });
    const vm = await vmNamed(id);
    const ref = new ManagedObjectReference('VirtualMachine', vm!.moref);
    await admin.tasks.wait(
      await admin.session.invoke<ManagedObjectReference>('ReconfigVM_Task', {
        _this: ref,
        spec: { annotation: 'legacy\nOLDHASH32CHARSBASE32ABCDEFGHIJKL\nSome notes' },
      }),
    );
    const [described] = await p.describe({ 'infrakit.group': 'legacy' });
    assert.equal(described?.ID, id);
    assert.equal(described.Tags['infrakit.config.hash'], 'OLDHASH32CHARSBASE32ABCDEFGHIJKL');
    assert.equal(described.Tags['infrakit.group'], 'legacy');
    await p.destroy(id, { Reason: 'rolling_update' });
  });

  it('with ignoreOnDestroy only marks the VM "Deleted by InfraKit"', async () => {
    const p = provider({ ignoreOnDestroy: true });
    const id = await p.provision({ Tags: tags('keepers'), Properties: { ...cloneProps, PowerOn: true } });
    await p.destroy(id, { Reason: 'terminate' });
    const vm = await vmNamed(id);
    assert.ok(vm, 'the VM still exists');
    assert.equal(vm.annotation, 'Deleted by InfraKit');
    assert.equal(vm.powerState, 'poweredOn', 'nothing else changed');
    assert.deepEqual(await p.describe({ 'infrakit.group': 'keepers' }), []);
    // Destroyed already (marked): a second destroy says it is gone, and changes nothing.
    await assert.rejects(p.destroy(id, { Reason: 'terminate' }), { code: 'NOT_FOUND' });
    assert.equal((await vmNamed(id))?.annotation, 'Deleted by InfraKit');
  });

  it('never destroys another tool’s VM that has the instance’s name', async () => {
    const p = provider();
    const foreign = (await sim.listVms()).find((vm) => vm.name === 'DC0_H0_VM1');
    await assert.rejects(p.destroy('DC0_H0_VM1', { Reason: 'terminate' }), (e: unknown) => {
      assert.ok(e instanceof InstanceNotManagedError);
      assert.equal(e.code, 'NOT_MANAGED');
      assert.equal(e.instanceId, 'DC0_H0_VM1');
      assert.deepEqual(e.vms, [foreign!.moref]);
      return true;
    });
    assert.ok(await vmNamed('DC0_H0_VM1'), 'the foreign VM is untouched');
    assert.equal((await vmNamed('DC0_H0_VM1'))!.powerState, foreign!.powerState);
  });

  it('reports a pending provision as Provisioning until the VM exists (wait: false)', async () => {
    const p = provider();
    const id = await p.provision({ Tags: tags('async'), Properties: cloneProps }, { wait: false });
    const during = await p.describe({ 'infrakit.group': 'async' });
    assert.equal(during.length, 1);
    assert.equal(during[0]!.ID, id);
    // Either still pending (tagged) or already built (then untagged): never absent, never twice.
    await p.close(); // settles pending work
    const q = provider();
    const done = await q.describe({ 'infrakit.group': 'async' });
    assert.deepEqual(
      done.map((d) => [d.ID, d.Tags['infrakit.state']]),
      [[id, undefined]],
    );
    await q.destroy(id, { Reason: 'terminate' });
  });

  it('reports a failed background provision and drops its pending entry', async () => {
    const failures: { operation: string; id: string; error: Error }[] = [];
    const p = provider({ onBackgroundError: (failure) => failures.push(failure) });
    const id = await p.provision(
      { Tags: tags('doomed'), Properties: { Template: 'no-such-template', Hostname: 'DC0_H0' } },
      { wait: false },
    );
    await p.close();
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.operation, 'provision');
    assert.equal(failures[0]!.id, id);
    assert.ok(failures[0]!.error instanceof NotFoundError);
    const q = provider();
    assert.deepEqual(
      await q.describe({ 'infrakit.group': 'doomed' }),
      [],
      'a controller would provision again',
    );
  });

  it('places a clone in a cluster when Cluster is given', async () => {
    const p = provider();
    const id = await p.provision({
      Tags: tags('clustered'),
      Properties: { Template: 'DC0_H0_VM0', Cluster: 'DC0_C0' },
    });
    const ref = new ManagedObjectReference('VirtualMachine', (await vmNamed(id))!.moref);
    const pool = await admin.collector.property<ManagedObjectReference>(ref, 'resourcePool');
    const owner = await admin.collector.property<ManagedObjectReference>(pool!, 'owner');
    assert.equal(await admin.collector.property(owner!, 'name'), 'DC0_C0');
    await p.destroy(id, { Reason: 'terminate' });
  });
});

describe('ISO VMs and uploads', () => {
  it('uploads an ISO, refuses to overwrite it silently, and builds a VM around it', async () => {
    const p = provider();
    const iso = Buffer.alloc(64 * 1024, 7);
    const uploaded = await p.uploadIso(iso, { datastore: 'LocalDS_0', path: 'iso/linuxkit.iso' });
    assert.equal(uploaded.datastorePath, '[LocalDS_0] iso/linuxkit.iso');
    assert.equal(uploaded.bytes, iso.length);
    await assert.rejects(
      p.uploadIso(iso, { datastore: 'LocalDS_0', path: 'iso/linuxkit.iso' }),
      FileExistsError,
    );
    await p.uploadIso(iso, { datastore: 'LocalDS_0', path: 'iso/linuxkit.iso', overwrite: true });
    await assert.rejects(p.uploadIso(iso, { datastore: 'NoSuchDS', path: 'x.iso' }), NotFoundError);

    const id = await p.provision({
      Tags: tags('linuxkit'),
      Properties: {
        ISOPath: 'iso/linuxkit.iso',
        Hostname: 'DC0_H0',
        Network: 'VM Network',
        DiskMB: 2048,
        CPUs: 2,
        Memory: 1024,
        PowerOn: true,
      },
    });
    const vm = await vmNamed(id);
    assert.equal(vm?.powerState, 'poweredOn');
    const devices =
      (await admin.collector.property<Record<string, unknown>[]>(
        new ManagedObjectReference('VirtualMachine', vm!.moref),
        'config.hardware.device',
      )) ?? [];
    const of = (type: string) => devices.filter((d) => d._type === type);
    assert.equal(of('ParaVirtualSCSIController').length, 1);
    assert.equal(
      (of('VirtualCdrom')[0]?.backing as { fileName?: string } | undefined)?.fileName,
      '[LocalDS_0] iso/linuxkit.iso',
    );
    assert.equal(of('VirtualVmxnet3').length, 1);
    assert.equal(Number(of('VirtualDisk')[0]?.capacityInKB), 2048 * 1024);
    const [described] = await p.describe({ 'infrakit.group': 'linuxkit' });
    assert.equal(described?.ID, id);
    await p.destroy(id, { Reason: 'terminate' });
    assert.equal(await vmNamed(id), undefined);
  });
});

describe('bad input', () => {
  it('names every wrongly typed property', async () => {
    const p = provider();
    const error = await p
      .validate({
        CPUs: 'many',
        Memory: true,
        PowerOn: 'sometimes',
        Template: 5,
        Hostname: ['DC0_H0'],
        Datastore: {},
      })
      .then(
        () => assert.fail('validated'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof ValidationError);
    const fields = error.issues.map((i) => i.field);
    for (const field of [
      'Properties.CPUs',
      'Properties.Memory',
      'Properties.PowerOn',
      'Properties.Template',
      'Properties.Hostname',
      'Properties.Datastore',
    ]) {
      assert.ok(fields.includes(field), `${field} is named in ${JSON.stringify(fields)}`);
    }
  });

  it('reports a missing template and a missing datastore by field', async () => {
    const p = provider();
    const error = await p
      .validate({ Template: 'no-such-template', Hostname: 'DC0_H0', Datastore: 'NoSuchDS' })
      .then(
        () => assert.fail('validated'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof ValidationError);
    const fields = error.issues.map((i) => i.field);
    assert.ok(fields.includes('Properties.Template'), JSON.stringify(error.issues));
    assert.ok(fields.includes('Properties.Datastore'), JSON.stringify(error.issues));
    await assert.rejects(
      p.provision({
        Tags: tags('missing'),
        Properties: { Template: 'no-such-template', Hostname: 'DC0_H0' },
      }),
      (e: unknown) => {
        assert.ok(e instanceof NotFoundError);
        assert.equal(e.field, 'Properties.Template');
        return true;
      },
    );
    assert.equal((await folderNamed('missing')).length <= 1, true);
  });

  it('refuses a spec without a group or hash tag, before touching vCenter', async () => {
    const p = provider();
    const before = p.client.transport.requestCount;
    await assert.rejects(p.provision({ Tags: {}, Properties: cloneProps }), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.deepEqual(e.issues.map((i) => i.field).sort(), [
        'Spec.Tags.infrakit.config.hash',
        'Spec.Tags.infrakit.group',
      ]);
      return true;
    });
    assert.equal(p.client.transport.requestCount, before);
  });

  it('refuses a linked clone of a template without a snapshot', async () => {
    const p = provider();
    await assert.rejects(
      p.provision({ Tags: tags('linked'), Properties: { ...cloneProps, LinkedClone: true } }),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError);
        assert.equal(e.issues[0]?.field, 'Properties.LinkedClone');
        return true;
      },
    );
  });
});

describe('guest IP', () => {
  it('waits for the simulated tools to report an address and describes it', async () => {
    const p = provider();
    sim.startTools({ delayMs: 300 });
    try {
      const id = await p.provision({
        Tags: tags('ip'),
        Properties: { ...cloneProps, PowerOn: true, WaitForIP: true, WaitForIPTimeoutSeconds: 30 },
      });
      const [described] = await p.describe({ 'infrakit.group': 'ip' });
      assert.equal(described?.ID, id);
      assert.match(described.Tags.guestIP ?? '', /^10\.0\.\d+\.\d+$/);
      await p.destroy(id, { Reason: 'terminate' });
    } finally {
      sim.stopTools();
    }
  });
});

describe('restart', () => {
  it('reports clones an earlier process left running as Provisioning', async () => {
    const slow = await Vcsim.start({ methodDelay: { CloneVm: 2500 } });
    const options = {
      url: slow.sdkUrl,
      username: 'user',
      password: 'pass',
      tls: { thumbprint: slow.certificate!.sha256 },
      datastore: 'LocalDS_0',
      keepAliveMs: 0,
    };
    const before = new VSphereInstanceProvider(options);
    const after = new VSphereInstanceProvider(options);
    try {
      const id = await before.provision({ Tags: tags('restarted'), Properties: cloneProps }, { wait: false });
      // The earlier process needs a moment to start its clone task (which then runs 2.5 s).
      await new Promise((resolve) => setTimeout(resolve, 700));
      const seen = await after.describe({ 'infrakit.group': 'restarted' });
      assert.deepEqual(
        seen.map((d) => [d.ID, d.Tags['infrakit.state'], d.Tags['infrakit.group']]),
        [[id, 'Provisioning', 'restarted']],
      );
      await before.close(); // the clone finishes and is repaired by the process that started it
      await new Promise((resolve) => setTimeout(resolve, 200));
      const done = await after.describe({ 'infrakit.group': 'restarted' });
      assert.deepEqual(
        done.map((d) => [d.ID, d.Tags['infrakit.state']]),
        [[id, undefined]],
      );
    } finally {
      await before.close();
      await after.close();
      await slow.stop();
    }
  });
});

describe('folders and caches', () => {
  it('puts group folders under the provider-level base folder and finds them after a restart', async () => {
    await admin.session.invoke('CreateFolder', { _this: await dcVmFolder(), name: 'infra' });
    const p = provider({ folder: 'infra' });
    const id = await p.provision({ Tags: tags('based'), Properties: cloneProps });
    const [infra] = await folderNamed('infra');
    const [group] = await folderNamed('based');
    assert.equal(
      await admin.collector.property<ManagedObjectReference>(group!, 'parent').then((r) => r?.value),
      infra!.value,
    );
    const restarted = provider({ folder: 'infra' });
    assert.deepEqual(
      (await restarted.describe({ 'infrakit.group': 'based' })).map((d) => d.ID),
      [id],
    );
    await assert.rejects(provider({ folder: 'no-such-folder' }).validate(cloneProps), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.deepEqual(
        e.issues.map((i) => i.field),
        ['Properties.Folder'],
      );
      return true;
    });
    await restarted.destroy(id, { Reason: 'terminate' });
  });

  it('makes the group folder again when it was deleted behind its back', async () => {
    const p = provider();
    const first = await p.provision({ Tags: tags('phoenix'), Properties: cloneProps });
    await p.destroy(first, { Reason: 'terminate' });
    const [folder] = await folderNamed('phoenix');
    await admin.tasks.wait(
      await admin.session.invoke<ManagedObjectReference>('Destroy_Task', { _this: folder! }),
    );
    assert.equal((await folderNamed('phoenix')).length, 0);
    const second = await p.provision({ Tags: tags('phoenix'), Properties: cloneProps });
    assert.equal((await folderNamed('phoenix')).length, 1);
    assert.deepEqual(
      (await p.describe({ 'infrakit.group': 'phoenix' })).map((d) => d.ID),
      [second],
    );
    await p.destroy(second, { Reason: 'terminate' });
  });

  it('close() waits for a destroy that was asked while the VM was still being built', async () => {
    const p = provider();
    const id = await p.provision({ Tags: tags('short-lived'), Properties: cloneProps }, { wait: false });
    await p.destroy(id, { Reason: 'terminate' });
    await p.close();
    assert.equal(await vmNamed(id), undefined, 'the VM was destroyed before close() returned');
  });
});
