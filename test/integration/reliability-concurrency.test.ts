/**
 * Concurrency (issue 6, item 2), through the fault proxy with latency and jitter on every call:
 * 50 concurrent provisions into a new group make exactly 50 VMs in one folder; 20 concurrent
 * destroys; describe racing provisions and destroys, and objects deleted between the calls of
 * one describe (ManagedObjectNotFound) never make it throw.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManagedObjectReference, VSphereError } from '../../src/index.ts';
import {
  cloneProps,
  describeError,
  foldersNamed,
  groupTags,
  PASSWORD,
  type Rig,
  settle,
  sleep,
  startRig,
  vmNamesInFolder,
} from '../reliability/harness.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;
const LATENCY = { kind: 'latency', ms: 15, jitterMs: 12 } as const;

before(async () => {
  rig = await startRig({ rules: [{ fault: LATENCY }], seed: 50 });
  watch.cookiesFrom(rig.proxy);
});
after(async () => {
  await rig?.close();
});

async function folderRef(name: string): Promise<ManagedObjectReference> {
  const content = await rig.admin.session.serviceContent();
  const folders = await rig.admin.collector.find(content.rootFolder, 'Folder', ['name']);
  const found = folders.find((f) => f.props.get('name') === name);
  assert.ok(found, `folder ${name} exists`);
  return found.obj;
}

describe('concurrent provisions and destroys, with latency and jitter', () => {
  const group = 'burst50';
  const tags = groupTags(group);
  let ids: string[] = [];

  it('50 concurrent provisions into a new group: exactly 50 VMs, one folder, no error', async () => {
    const p = rig.provider();
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => settle(p.provision({ Tags: tags, Properties: cloneProps }))),
    );
    const failed = outcomes.flatMap((o) => (o.ok ? [] : [describeError(o.error)]));
    assert.deepEqual(failed, []);
    ids = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    assert.equal(new Set(ids).size, 50);
    assert.equal(await foldersNamed(rig.admin, group), 1, 'one group folder');
    assert.deepEqual((await vmNamesInFolder(rig, group)).sort(), [...ids].sort(), 'exactly these 50 VMs');
    assert.deepEqual(new Set((await p.describe(tags)).map((d) => d.ID)), new Set(ids));
    assert.equal(rig.proxy.faults('latency'), rig.proxy.totals.requests, 'every call was delayed');
    assert.ok(rig.proxy.totals.requests > 200, `${rig.proxy.totals.requests} calls`);
  });

  it('20 concurrent destroys, then the other 30 concurrently: no error, nothing left', async () => {
    const p = rig.provider();
    const first = ids.slice(0, 20);
    const outcomes = await Promise.all(first.map((id) => settle(p.destroy(id, { Reason: 'terminate' }))));
    assert.deepEqual(
      outcomes.flatMap((o) => (o.ok ? [] : [describeError(o.error)])),
      [],
    );
    assert.deepEqual((await vmNamesInFolder(rig, group)).sort(), ids.slice(20).sort());
    await Promise.all(ids.slice(20).map((id) => p.destroy(id, { Reason: 'rolling_update' })));
    assert.deepEqual(await vmNamesInFolder(rig, group), []);
    assert.deepEqual(await p.describe(tags), []);
  });
});

describe('describe racing provision and destroy', () => {
  it('describes never throw while 16 instances are provisioned and destroyed around them', async () => {
    const p = rig.provider();
    const tags = groupTags('race');
    const made = new Set<string>();
    const seen = new Set<string>();
    let running = true;
    const describeErrors: string[] = [];
    let describes = 0;
    const describer = async (withDetails: boolean) => {
      while (running) {
        const o = await settle(p.describe(tags, { properties: withDetails }));
        describes += 1;
        if (!o.ok) {
          watch.error('racing describe', o.error);
          describeErrors.push(describeError(o.error));
          continue;
        }
        for (const d of o.value) {
          if (!/^vm-\d+$/.test(d.ID) || d.Tags['infrakit.group'] !== 'race') {
            describeErrors.push(`malformed description ${JSON.stringify(d)}`);
          }
          seen.add(d.ID);
        }
      }
    };
    const churn = async () => {
      for (let round = 0; round < 4; round++) {
        const batch = await Promise.all(
          Array.from({ length: 4 }, async () => {
            const id = await p.provision({ Tags: tags, Properties: cloneProps }, { wait: true });
            made.add(id);
            return id;
          }),
        );
        await Promise.all(batch.map((id) => p.destroy(id)));
      }
    };
    // A second provider describes too: it learns the group folder only from vCenter.
    const other = rig.provider();
    const otherDescriber = async () => {
      while (running) {
        const o = await settle(other.describe(tags));
        describes += 1;
        if (!o.ok) describeErrors.push(describeError(o.error));
      }
    };
    const describers = [describer(false), describer(true), otherDescriber()];
    await churn();
    running = false;
    await Promise.all(describers);
    assert.deepEqual(describeErrors, []);
    assert.ok(describes > 20, `${describes} describes ran`);
    assert.ok(seen.size > 0, 'instances were seen while they existed');
    for (const id of seen) assert.ok(made.has(id), `described ${id}, which no provision returned`);
    assert.deepEqual(await p.describe(tags), []);
  });

  it('a group folder deleted between the calls of one describe: [] and no error', async () => {
    const p = rig.provider();
    const tags = groupTags('vanishing');
    const ids = await Promise.all([0, 1, 2].map(() => p.provision({ Tags: tags, Properties: cloneProps })));
    assert.equal((await p.describe(tags)).length, 3);
    const folder = await folderRef('vanishing');
    // Hold the next RetrievePropertiesEx (the folder's contents) while the folder is destroyed.
    rig.proxy.setRules([
      { fault: LATENCY },
      { method: 'RetrievePropertiesEx', times: 1, fault: { kind: 'latency', ms: 400 } },
    ]);
    const racing = settle(p.describe(tags, { properties: true }));
    await sleep(100);
    await rig.admin.tasks.wait(
      await rig.admin.session.invoke<ManagedObjectReference>('Destroy_Task', { _this: folder }),
    );
    const outcome = await racing;
    rig.proxy.setRules([{ fault: LATENCY }]);
    assert.ok(outcome.ok, outcome.ok ? '' : describeError(outcome.error));
    assert.deepEqual(outcome.value, []);
    assert.equal(rig.proxy.faults('latency', 'RetrievePropertiesEx') > 0, true);
    // The folder and its VMs are gone: destroy and label say so in kind, never untyped.
    for (const id of ids) await assert.rejects(p.destroy(id), { code: 'NOT_FOUND' });
    const label = await settle(p.label(ids[0]!, { x: 'y' }));
    assert.equal(label.ok, false);
    if (!label.ok) {
      watch.error('label of a deleted instance', label.error);
      assert.ok(label.error instanceof VSphereError, describeError(label.error));
      assert.equal(label.error.code, 'NOT_FOUND');
    }
  });

  it('a VM destroyed between the calls of a describe across the datacenter: no error', async () => {
    const p = rig.provider();
    const tags = groupTags('vanishing-vm');
    const [keep, gone] = await Promise.all(
      [0, 1].map(() => p.provision({ Tags: tags, Properties: cloneProps })),
    );
    const vm = (await rig.sim.listVms()).find((v) => v.name === gone);
    assert.ok(vm);
    rig.proxy.setRules([
      { fault: LATENCY },
      { method: 'RetrievePropertiesEx', times: 1, fault: { kind: 'latency', ms: 400 } },
    ]);
    // No group tag: describe reads every VM through a ContainerView made before the VM goes.
    const racing = settle(p.describe({ 'infrakit.config.hash': 'hash-1' }, { properties: true }));
    await sleep(150);
    await rig.admin.tasks.wait(
      await rig.admin.session.invoke<ManagedObjectReference>('Destroy_Task', {
        _this: new ManagedObjectReference('VirtualMachine', vm.moref),
      }),
    );
    const outcome = await racing;
    rig.proxy.setRules([{ fault: LATENCY }]);
    assert.ok(outcome.ok, outcome.ok ? '' : describeError(outcome.error));
    const listed = outcome.value.map((d) => d.ID);
    assert.ok(listed.includes(keep!), 'the VM that stays is described');
    assert.ok(!listed.includes(gone!), 'the destroyed VM is not described');
    await p.destroy(keep!);
    await assert.rejects(p.destroy(gone!), { code: 'NOT_FOUND' }); // already gone: the library says so
  });

  it('label and destroy racing each other on one instance: typed outcomes only, the VM ends destroyed', async () => {
    const p = rig.provider();
    const tags = groupTags('label-vs-destroy');
    for (let round = 0; round < 5; round++) {
      const id = await p.provision({ Tags: tags, Properties: cloneProps });
      const [label, destroy] = await Promise.all([
        settle(p.label(id, { round: String(round) })),
        settle(p.destroy(id)),
      ]);
      for (const o of [label, destroy]) {
        if (!o.ok) {
          watch.error('label racing destroy', o.error);
          assert.ok(o.error instanceof VSphereError, describeError(o.error));
        }
      }
      if (!destroy.ok) await p.destroy(id);
      assert.deepEqual(await vmNamesInFolder(rig, 'label-vs-destroy'), []);
    }
  });
});

describe('secrets', () => {
  it('no password or session cookie in any debug line, error or inspected object', () => {
    for (const p of rig.providers) watch.object('provider', p);
    assert.ok(watch.debugLines > 500, `captured ${watch.debugLines} debug lines`);
    assert.ok(watch.cookieCount >= 1);
    assert.deepEqual(watch.leaks(), []);
  });
});
