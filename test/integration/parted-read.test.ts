/**
 * Reads in concurrent parts: `PropertyCollector.propertiesMapped` (order, result pages, objects
 * gone since they were listed, abort) and the full read a mirrored `Inventory.vmsInFolder` makes
 * when its mirror cannot answer (the folder's children, then its VMs in parts): the same rows as
 * one read, and a folder renamed or gone still reported as such.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Inventory, ManagedObjectReference, VSphereClient } from '../../src/blocks.ts';
import { AbortError } from '../../src/index.ts';
import type { ObjectContent } from '../../src/vim25/types.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

let sim: Vcsim;
let client: VSphereClient;
/** Every VM of the simulator, in the order one read of the root gives them. */
let vms: { obj: ManagedObjectReference; name: string }[];
/** DC0's VM folder: the VMs directly in it, and its parent (the datacenter). */
let vmFolder: { ref: ManagedObjectReference; parent: ManagedObjectReference; name: string };

const nameOf = (object: ObjectContent): string | undefined => {
  const value = object.propSet?.find((p) => p.name === 'name')?.val;
  return typeof value === 'string' ? value : undefined;
};

before(async () => {
  sim = await Vcsim.start({ tls: false });
  client = new VSphereClient({ url: sim.sdkUrl, username: 'user', password: 'pass', keepAliveMs: 0 });
  await client.connect();
  const content = await client.session.serviceContent();
  const found = await client.collector.find(content.rootFolder, 'VirtualMachine', ['name']);
  vms = found.map((o) => ({ obj: o.obj, name: o.props.get('name') as string }));
  assert.ok(vms.length >= 4, `${vms.length} VMs in the simulator`);
  const [dc] = await client.collector.find(content.rootFolder, 'Datacenter', ['name', 'vmFolder']);
  const ref = dc!.props.get('vmFolder') as ManagedObjectReference;
  vmFolder = { ref, parent: dc!.obj, name: (await client.collector.property<string>(ref, 'name'))! };
});

after(async () => {
  await client?.close();
  await sim?.stop();
});

describe('PropertyCollector.propertiesMapped', () => {
  it('reads every object in parts, concurrently, in the order given', async () => {
    const reversed = [...vms].reverse();
    let inFlight = 0;
    let most = 0;
    const send = client.transport.request.bind(client.transport);
    client.transport.request = async (req) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      try {
        return await send(req);
      } finally {
        inFlight -= 1;
      }
    };
    const calls = client.transport.requestCount;
    let names: (string | undefined)[];
    try {
      names = await client.collector.propertiesMapped(
        reversed.map((v) => v.obj),
        ['name'],
        nameOf,
        { partSize: 1, concurrency: 2 },
      );
    } finally {
      client.transport.request = send;
    }
    assert.deepEqual(
      names,
      reversed.map((v) => v.name),
    );
    assert.equal(client.transport.requestCount - calls, reversed.length, 'one read per part');
    assert.equal(most, 2, 'two reads in flight at once');
  });

  it('follows the result pages (tokens) of each part', async () => {
    const calls = client.transport.requestCount;
    const names = await client.collector.propertiesMapped(
      vms.map((v) => v.obj),
      ['name'],
      nameOf,
      { partSize: 3, pageSize: 1, concurrency: 2 },
    );
    assert.deepEqual(
      names,
      vms.map((v) => v.name),
    );
    // One object a page: RetrievePropertiesEx plus a ContinueRetrievePropertiesEx per further object.
    assert.equal(client.transport.requestCount - calls, vms.length);
  });

  it('does not fail for an object gone since it was listed', async () => {
    const gone = new ManagedObjectReference('VirtualMachine', 'vm-999999');
    const list = [vms[0]!.obj, gone, ...vms.slice(1).map((v) => v.obj)];
    const names = await client.collector.propertiesMapped(list, ['name'], nameOf, { partSize: 2 });
    // vcsim leaves it out; vCenter gives it with ManagedObjectNotFound in its missingSet (no name).
    assert.deepEqual(
      names,
      vms.map((v) => v.name),
    );
  });

  it('reads nothing for no objects, and ends with an AbortError when aborted', async () => {
    const calls = client.transport.requestCount;
    assert.deepEqual(await client.collector.propertiesMapped([], ['name'], nameOf), []);
    assert.equal(client.transport.requestCount, calls);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      client.collector.propertiesMapped(
        vms.map((v) => v.obj),
        ['name'],
        nameOf,
        { partSize: 1, signal: controller.signal },
      ),
      AbortError,
    );
  });
});

describe('Inventory.vmsInFolder with mirrors: the full read in parts', () => {
  it('gives the rows one read gives, then answers from the mirror; a renamed or gone folder is undefined', async () => {
    const plain = new Inventory({ session: client.session, collector: client.collector });
    const mirrored = new Inventory({ session: client.session, collector: client.collector });
    const mirrors = mirrored.useMirrors({ idleMs: 60_000 });
    try {
      const expected = await plain.vmsInFolder(vmFolder, ['name'], nameOf);
      assert.ok(expected && expected.length >= 2, 'VMs directly in the VM folder');
      const sent: string[] = [];
      const send = client.transport.request.bind(client.transport);
      client.transport.request = (req) => {
        if (typeof req.body === 'string') sent.push(req.body);
        return send(req);
      };
      let cold: (string | undefined)[] | undefined;
      try {
        cold = await mirrored.vmsInFolder(vmFolder, ['name'], nameOf);
      } finally {
        client.transport.request = send;
      }
      assert.deepEqual(cold, expected);
      // The children first, then the VMs listed by reference (not by traversal).
      const reads = sent.filter((b) => b.includes('RetrievePropertiesEx'));
      assert.ok(reads[0]?.includes('childEntity'), 'the folder and its children first');
      assert.ok(reads[1]?.includes('<type>VirtualMachine</type>') && !reads[1].includes('TraversalSpec'));

      await Promise.all(mirrors.list().map((m) => m.built));
      assert.ok(mirrors.list().every((m) => m.state === 'ready'));
      const before = mirrors.stats.mirrorReads;
      assert.deepEqual(await mirrored.vmsInFolder(vmFolder, ['name'], nameOf), expected);
      assert.equal(mirrors.stats.mirrorReads, before + 1, 'the second read came from the mirror');

      // A reference kept from earlier that no longer names this folder: the caller looks again.
      const other = new Inventory({ session: client.session, collector: client.collector });
      other.useMirrors({ idleMs: 60_000 });
      try {
        assert.equal(await other.vmsInFolder({ ...vmFolder, name: 'renamed' }, ['name'], nameOf), undefined);
        assert.equal(
          await other.vmsInFolder(
            { ...vmFolder, ref: new ManagedObjectReference('Folder', 'group-999999') },
            ['name'],
            nameOf,
          ),
          undefined,
        );
      } finally {
        other.closeMirrors();
      }
    } finally {
      mirrored.closeMirrors();
    }
  });
});
