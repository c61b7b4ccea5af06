/**
 * The provider on the other shapes of vSphere: a vCenter with two datacenters, and a stand-alone
 * ESXi host (no folders, no clones).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NotFoundError, VSphereInstanceProvider } from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

const tags = (group: string) => ({ 'infrakit.group': group, 'infrakit.config.hash': 'h1' });

describe('two datacenters', () => {
  let sim: Vcsim;
  let p: VSphereInstanceProvider;
  before(async () => {
    sim = await Vcsim.start({ datacenters: 2 });
    p = new VSphereInstanceProvider({
      url: sim.sdkUrl,
      username: 'u',
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

  it('asks which datacenter to provision in, naming the candidates', async () => {
    await assert.rejects(
      p.provision({ Tags: tags('multi'), Properties: { Template: 'DC0_H0_VM0', Hostname: 'DC0_H0' } }),
      (error: unknown) => {
        assert.ok(error instanceof NotFoundError);
        assert.equal(error.field, 'Properties.Datacenter');
        assert.match(error.message, /DC0/);
        assert.match(error.message, /DC1/);
        return true;
      },
    );
  });

  it('provisions into each datacenter and describes the group across both', async () => {
    const [a, b] = await Promise.all([
      p.provision({
        Tags: tags('multi'),
        Properties: { Datacenter: 'DC0', Template: 'DC0_H0_VM0', Hostname: 'DC0_H0' },
      }),
      p.provision({
        Tags: tags('multi'),
        Properties: { Datacenter: 'DC1', Template: 'DC1_H0_VM0', Hostname: 'DC1_H0' },
      }),
    ]);
    const vms = await sim.listVms();
    assert.ok(vms.some((vm) => vm.name === a));
    assert.ok(vms.some((vm) => vm.name === b));
    const described = await p.describe({ 'infrakit.group': 'multi' }, { properties: true });
    const byId = new Map(described.map((d) => [d.ID, (d.Properties as { Datacenter: string }).Datacenter]));
    assert.equal(byId.get(a!), '/DC0');
    assert.equal(byId.get(b!), '/DC1');
    assert.equal(described.length, 2);
    await Promise.all([a!, b!].map((id) => p.destroy(id, { Reason: 'terminate' })));
    assert.deepEqual(await p.describe({ 'infrakit.group': 'multi' }), []);
  });

  it('scopes everything to one datacenter when configured', async () => {
    const dc1 = new VSphereInstanceProvider({
      url: sim.sdkUrl,
      username: 'u',
      password: 'p',
      tls: { thumbprint: sim.certificate!.sha256 },
      datacenter: 'DC1',
      datastore: 'LocalDS_0',
      keepAliveMs: 0,
    });
    try {
      const id = await p.provision({
        Tags: tags('scoped'),
        Properties: { Datacenter: 'DC0', Template: 'DC0_H0_VM0', Hostname: 'DC0_H0' },
      });
      assert.deepEqual(await dc1.describe({ 'infrakit.group': 'scoped' }), [], 'DC0 is not searched');
      assert.equal((await p.describe({ 'infrakit.group': 'scoped' })).length, 1);
      await p.destroy(id, { Reason: 'terminate' });
    } finally {
      await dc1.close();
    }
  });
});

describe('stand-alone ESXi host', () => {
  let sim: Vcsim;
  let p: VSphereInstanceProvider;
  const hostProvider = (extra: { describeMirror?: boolean } = {}) =>
    new VSphereInstanceProvider({
      url: sim.sdkUrl,
      username: 'root',
      password: 'p',
      tls: { thumbprint: sim.certificate!.sha256 },
      datastore: 'LocalDS_0',
      network: 'VM Network',
      keepAliveMs: 0,
      shutdownTimeoutMs: 0,
      ...extra,
    });
  before(async () => {
    sim = await Vcsim.start({ esx: true });
    p = hostProvider();
  });
  after(async () => {
    await p?.close();
    await sim?.stop();
  });

  it('builds ISO VMs in the root VM folder and tells groups apart by their notes', async () => {
    await p.uploadIso(Buffer.alloc(4096, 1), { datastore: 'LocalDS_0', path: 'linuxkit.iso' });
    const props = { ISOPath: 'linuxkit.iso', Hostname: 'localhost.localdomain', PowerOn: true };
    const [a, b] = await Promise.all([
      p.provision({ Tags: tags('esx-a'), Properties: props }),
      p.provision({ Tags: tags('esx-b'), Properties: props }),
    ]);
    const vms = await sim.listVms();
    const vmA = vms.find((vm) => vm.name === a);
    assert.equal(vmA?.parent, 'ha-folder-vm', 'no folders on a stand-alone host');
    assert.equal(vmA?.powerState, 'poweredOn');
    assert.deepEqual(
      (await p.describe({ 'infrakit.group': 'esx-a' })).map((d) => d.ID),
      [a],
    );
    assert.deepEqual(
      (await p.describe({ 'infrakit.group': 'esx-b' })).map((d) => d.ID),
      [b],
    );
    await p.destroy(a!, { Reason: 'terminate' });
    await p.destroy(b!, { Reason: 'terminate' });
    const left = (await sim.listVms()).map((vm) => vm.name);
    assert.deepEqual(left.sort(), ['ha-host_VM0', 'ha-host_VM1'], "the host's own VMs are untouched");
  });

  it('a describe mirror on a host: answers what a full read does, from the mirror, without reading the folder members when nothing moved', async () => {
    const mirrored = hostProvider({ describeMirror: true });
    try {
      const props = { ISOPath: 'linuxkit.iso', Hostname: 'localhost.localdomain' };
      const id = await p.provision({ Tags: tags('esx-m'), Properties: props });
      const group = { 'infrakit.group': 'esx-m' };
      await mirrored.describe(group);
      for (let i = 0; i < 200 && mirrored.mirrors!.list()[0]?.state !== 'ready'; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const mirror = mirrored.mirrors!.list()[0]!;
      assert.equal(mirror.state, 'ready');
      const stats = mirrored.mirrors!.stats;
      const members = stats.memberReads;
      assert.deepEqual(
        (await mirrored.describe(group)).map((d) => d.ID),
        [id],
      );
      await mirrored.describe(group);
      assert.equal(stats.memberReads, members, 'the recent tasks showed no folder move');
      assert.equal(stats.fallbacks, 0);
      assert.ok(stats.mirrorReads >= 2, 'answered from the mirror');
      await p.destroy(id, { Reason: 'terminate' });
      assert.deepEqual(await mirrored.describe(group), []);
    } finally {
      await mirrored.close();
    }
  });
});
