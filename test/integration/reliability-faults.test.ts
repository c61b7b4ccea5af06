/**
 * The fault proxy (issue 6, item 1) and lost answers (item 4). Faults by method and by seeded rate:
 * connection resets, 503s, truncated bodies, stalls, latency, answers dropped after vCenter acted.
 * Reads are retried and succeed; a call that changes something is never sent twice; a clone or a
 * CreateVM whose answer is lost is found by name and finished, never started again; whatever
 * fails fails with a typed error, and no VM is duplicated or left behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpStatusError, ManagedObjectReference, TimeoutError, VSphereError } from '../../src/index.ts';
import { encodeRequest } from '../../src/vim25/index.ts';
import { FaultProxy, soapMethodOf } from '../reliability/fault-proxy.ts';
import {
  cloneProps,
  describeError,
  foldersNamed,
  groupTags,
  instanceVmNames,
  PASSWORD,
  type Rig,
  settle,
  startRig,
  vmNamesInFolder,
} from '../reliability/harness.ts';
import { runSeed } from '../reliability/rng.ts';
import { destroyInStorm, provisionAndLabelInStorm, type StormNote } from '../reliability/scenarios.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;

before(async () => {
  rig = await startRig();
  watch.cookiesFrom(rig.proxy);
});
after(async () => {
  await rig?.close();
});

async function vmsNamed(name: string) {
  return (await rig.sim.listVms()).filter((vm) => vm.name === name);
}

describe('fault proxy', () => {
  it('reads the SOAP method from the first element of the Body and counts what it forwards', async () => {
    const body = encodeRequest('CurrentTime', {
      _this: new ManagedObjectReference('ServiceInstance', 'ServiceInstance'),
    });
    assert.equal(soapMethodOf(body), 'CurrentTime');
    assert.equal(
      soapMethodOf('<x:Envelope><x:Body>\n  <Login xmlns="urn:vim25"/></x:Body></x:Envelope>'),
      'Login',
    );
    assert.equal(soapMethodOf('not soap'), undefined);
    rig.proxy.setRules([]);
    const p = rig.provider();
    await p.describe(groupTags('proxy-count'));
    assert.equal(rig.proxy.count('Login').forwarded, 1);
    assert.ok(rig.proxy.count('RetrievePropertiesEx').forwarded >= 1);
    assert.equal(rig.proxy.totals.faults, 0);
    await p.close();
  });

  it('replays the same fault schedule from the same seed', async () => {
    const schedule = async (seed: number) => {
      const proxy = await FaultProxy.start({
        upstream: rig.sim.sdkUrl,
        seed,
        rules: [{ method: 'CurrentTime', rate: 0.5, fault: { kind: 'status', status: 503 } }],
      });
      const statuses: number[] = [];
      for (let i = 0; i < 32; i++) {
        const response = await fetch(proxy.sdkUrl, {
          method: 'POST',
          body: encodeRequest('CurrentTime', {
            _this: new ManagedObjectReference('ServiceInstance', 'ServiceInstance'),
          }),
        });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      await proxy.close();
      return statuses;
    };
    const first = await schedule(42);
    assert.deepEqual(await schedule(42), first);
    assert.notDeepEqual(await schedule(43), first);
    const faulted = first.filter((s) => s === 503).length;
    assert.ok(faulted > 4 && faulted < 28, `about half faulted: ${faulted}/32`);
  });
});

describe('faults on reads are retried', () => {
  for (const [kind, fault] of [
    ['connection reset', { kind: 'reset' }],
    ['503', { kind: 'status', status: 503 }],
    ['truncated body', { kind: 'truncate' }],
    ['answer dropped', { kind: 'drop' }],
  ] as const) {
    it(`${kind} on RetrievePropertiesEx twice in a row: describe still succeeds`, async () => {
      const p = rig.provider();
      const tags = groupTags(`read-${fault.kind}`);
      const id = await p.provision({ Tags: tags, Properties: cloneProps });
      rig.proxy.setRules([{ method: 'RetrievePropertiesEx', times: 2, fault }]);
      const described = await p.describe(tags);
      assert.deepEqual(
        described.map((d) => d.ID),
        [id],
      );
      assert.equal(rig.proxy.faults(fault.kind, 'RetrievePropertiesEx'), 2);
      rig.proxy.setRules([]);
      await p.destroy(id);
      await p.close();
    });
  }

  it('a body cut after some objects were decoded: the retry lists each object once', async () => {
    // Reads are decoded as the body streams in, so the objects before the cut have already been
    // handed over when the connection dies: the retry must start the list afresh.
    const maker = rig.provider();
    const tags = groupTags('read-cut-late');
    const ids = await Promise.all(
      Array.from({ length: 5 }, () => maker.provision({ Tags: tags, Properties: cloneProps })),
    );
    await maker.close();
    // A fresh provider: nothing in the background that the fault could hit instead.
    const p = rig.provider();
    const { rootFolder } = await p.client.session.serviceContent();
    const read = async () =>
      (await p.client.collector.find(rootFolder, 'VirtualMachine', ['name', 'config.annotation'])).map(
        (o) => `${o.obj.value} ${o.props.get('name')}`,
      );
    const full = await read();
    assert.ok(full.length >= 5, `${full.length} VMs`);
    const cutsBefore = rig.proxy.faults('truncate', 'RetrievePropertiesEx');
    const cut = {
      method: 'RetrievePropertiesEx',
      times: 1,
      fault: { kind: 'truncate', bytes: 3_000 },
    } as const;
    rig.proxy.setRules([cut]);
    const again = await read();
    assert.equal(rig.proxy.faults('truncate', 'RetrievePropertiesEx'), cutsBefore + 1);
    assert.deepEqual(again, full);
    rig.proxy.setRules([cut]);
    const described = await p.describe(tags);
    assert.equal(rig.proxy.faults('truncate', 'RetrievePropertiesEx'), cutsBefore + 2);
    assert.deepEqual(described.map((d) => d.ID).sort(), [...ids].sort());
    rig.proxy.setRules([]);
    await Promise.all(ids.map((id) => p.destroy(id)));
    await p.close();
  });

  it('a read stalled and then cut is retried within its deadline', async () => {
    const p = rig.provider({ timeoutMs: 2000 });
    rig.proxy.setRules([{ method: 'FindChild', times: 1, fault: { kind: 'stall', ms: 500 } }]);
    const started = performance.now();
    assert.deepEqual(await p.describe(groupTags('stalled-read')), []);
    assert.ok(performance.now() - started >= 400, 'waited for the cut');
    assert.equal(rig.proxy.faults('stall', 'FindChild'), 1);
    rig.proxy.setRules([]);
    await p.close();
  });

  it('a read stalled for longer than timeoutMs fails with TimeoutError: the stall used up its deadline', async () => {
    const p = rig.provider({ timeoutMs: 800 });
    rig.proxy.setRules([{ method: 'FindChild', times: 1, fault: { kind: 'stall' } }]);
    const started = performance.now();
    const failed = await settle(p.describe(groupTags('stalled-read')));
    const ms = performance.now() - started;
    assert.equal(failed.ok, false);
    if (!failed.ok) assert.ok(failed.error instanceof TimeoutError, describeError(failed.error));
    assert.ok(ms >= 700 && ms < 800 + 3000, `settled in ${Math.round(ms)} ms`);
    rig.proxy.setRules([]);
    assert.deepEqual(await p.describe(groupTags('stalled-read')), [], 'the next describe goes through');
    await p.close();
  });

  it('latency with jitter on every call slows nothing into a failure', async () => {
    const p = rig.provider();
    rig.proxy.setRules([{ fault: { kind: 'latency', ms: 40, jitterMs: 30 } }]);
    const tags = groupTags('latency');
    const id = await p.provision({ Tags: tags, Properties: cloneProps });
    await p.label(id, { slow: 'yes' });
    assert.equal((await p.describe({ ...tags, slow: 'yes' })).length, 1);
    await p.destroy(id);
    assert.ok(rig.proxy.faults('latency') > 10);
    rig.proxy.setRules([]);
    await p.close();
  });
});

describe('faults on writes are never resent', () => {
  it('a 503 on ReconfigVM_Task fails label with HttpStatusError; nothing changed; label again works', async () => {
    const p = rig.provider();
    const tags = groupTags('write-503');
    const id = await p.provision({ Tags: tags, Properties: cloneProps });
    const before = (await vmsNamed(id))[0]!.annotation;
    const reconfigsBefore = rig.proxy.count('ReconfigVM_Task').forwarded;
    rig.proxy.setRules([{ method: 'ReconfigVM_Task', times: 1, fault: { kind: 'status', status: 503 } }]);
    const failed = await settle(p.label(id, { tier: 'db' }));
    assert.equal(failed.ok, false);
    if (!failed.ok) {
      watch.error('label with a 503', failed.error);
      assert.ok(failed.error instanceof HttpStatusError, describeError(failed.error));
      assert.equal(failed.error.status, 503);
    }
    assert.equal(
      rig.proxy.count('ReconfigVM_Task').forwarded,
      reconfigsBefore,
      'the 503 came before vCenter',
    );
    assert.equal((await vmsNamed(id))[0]!.annotation, before, 'the notes did not change');
    await p.label(id, { tier: 'db' });
    assert.equal((await p.describe({ ...tags, tier: 'db' })).length, 1);
    rig.proxy.setRules([]);
    await p.destroy(id);
    await p.close();
  });

  it('a stalled Destroy_Task times out typed and is not resent; destroy again finishes the job', async () => {
    const p = rig.provider({ timeoutMs: 1000 });
    const tags = groupTags('write-stall');
    const id = await p.provision({ Tags: tags, Properties: cloneProps });
    const forwardedBefore = rig.proxy.count('Destroy_Task').forwarded;
    rig.proxy.setRules([{ method: 'Destroy_Task', times: 1, fault: { kind: 'stall' } }]);
    const failed = await settle(p.destroy(id));
    assert.equal(failed.ok, false);
    if (!failed.ok) {
      watch.error('destroy with a stall', failed.error);
      assert.ok(failed.error instanceof TimeoutError, describeError(failed.error));
    }
    assert.equal(rig.proxy.count('Destroy_Task').requests - forwardedBefore, 1, 'sent once');
    assert.equal((await vmsNamed(id)).length, 1, 'the stalled call never reached vCenter');
    await p.destroy(id);
    assert.deepEqual(await vmsNamed(id), []);
    rig.proxy.setRules([]);
    await p.close();
  });
});

describe('lost answers', () => {
  it('a CloneVM_Task whose answer is dropped is not started twice: provision finds the VM and finishes it', async () => {
    const p = rig.provider();
    const tags = groupTags('lost-clone');
    const clonesBefore = rig.proxy.count('CloneVM_Task').forwarded;
    rig.proxy.setRules([{ method: 'CloneVM_Task', times: 1, fault: { kind: 'drop' } }]);
    const id = await p.provision({ Tags: tags, Properties: { ...cloneProps, PowerOn: true } });
    rig.proxy.setRules([]);
    assert.equal(rig.proxy.faults('drop', 'CloneVM_Task'), 1);
    assert.equal(rig.proxy.count('CloneVM_Task').forwarded - clonesBefore, 1, 'CloneVM_Task sent once');
    const vms = await vmsNamed(id);
    assert.equal(vms.length, 1, 'exactly one VM');
    assert.equal(vms[0]!.powerState, 'poweredOn', 'the build went on: power-on');
    assert.equal(vms[0]!.annotation?.split('\n')[0], 'lost-clone', 'the build went on: notes repaired');
    assert.deepEqual(
      (await p.describe(tags)).map((d) => d.ID),
      [id],
    );
    await p.destroy(id);
    assert.deepEqual(await vmsNamed(id), []);
    await p.close();
  });

  it('a clone still running when its answer is lost is waited for, not started again', async () => {
    const slow = await startRig({ vcsim: { methodDelay: { CloneVm: 1500 } } });
    try {
      watch.cookiesFrom(slow.proxy);
      const p = slow.provider();
      slow.proxy.setRules([{ method: 'CloneVM_Task', times: 1, fault: { kind: 'drop' } }]);
      const id = await p.provision({ Tags: groupTags('lost-slow-clone'), Properties: cloneProps });
      assert.equal(slow.proxy.count('CloneVM_Task').forwarded, 1);
      assert.deepEqual(await instanceVmNames(slow.sim), [id]);
      await p.destroy(id);
      assert.deepEqual(await instanceVmNames(slow.sim), []);
    } finally {
      await slow.close();
    }
  });

  it('a CreateVM_Task (ISO VM) whose answer is dropped: one VM, finished', async () => {
    const p = rig.provider();
    const tags = groupTags('lost-create');
    rig.proxy.setRules([{ method: 'CreateVM_Task', times: 1, fault: { kind: 'drop' } }]);
    const id = await p.provision({
      Tags: tags,
      Properties: { ISOPath: 'iso/linuxkit.iso', Hostname: 'DC0_H0', Network: 'VM Network' },
    });
    rig.proxy.setRules([]);
    assert.equal(rig.proxy.count('CreateVM_Task').forwarded, 1);
    assert.equal((await vmsNamed(id)).length, 1);
    assert.deepEqual(
      (await p.describe(tags)).map((d) => d.ID),
      [id],
    );
    await p.destroy(id);
    await p.close();
  });

  it('a clone refused before it reached vCenter fails typed, leaves nothing, and a new provision makes one VM', async () => {
    const p = rig.provider();
    const tags = groupTags('refused-clone');
    rig.proxy.setRules([{ method: 'CloneVM_Task', times: 1, fault: { kind: 'status', status: 503 } }]);
    const failed = await settle(p.provision({ Tags: tags, Properties: cloneProps }));
    assert.equal(failed.ok, false);
    if (!failed.ok) {
      watch.error('provision with a refused clone', failed.error);
      assert.ok(failed.error instanceof HttpStatusError, describeError(failed.error));
    }
    assert.deepEqual(await p.describe(tags), []);
    const id = await p.provision({ Tags: tags, Properties: cloneProps });
    rig.proxy.setRules([]);
    assert.deepEqual(
      (await p.describe(tags)).map((d) => d.ID),
      [id],
    );
    assert.equal((await vmsNamed(id)).length, 1);
    await p.destroy(id);
    await p.close();
  });

  it('a dropped CreateFolder answer: 10 concurrent provisions into the new group all succeed, one folder', async () => {
    const p = rig.provider();
    const tags = groupTags('lost-folder');
    rig.proxy.setRules([{ method: 'CreateFolder', times: 1, fault: { kind: 'drop' } }]);
    const ids = await Promise.all(
      Array.from({ length: 10 }, () => p.provision({ Tags: tags, Properties: cloneProps })),
    );
    rig.proxy.setRules([]);
    assert.equal(rig.proxy.faults('drop', 'CreateFolder'), 1);
    assert.equal(await foldersNamed(rig.admin, 'lost-folder'), 1);
    assert.equal(new Set(ids).size, 10);
    assert.equal((await p.describe(tags)).length, 10);
    await Promise.all(ids.map((id) => p.destroy(id)));
    assert.deepEqual(await p.describe(tags), []);
    await p.close();
  });

  it('a creation task that answers with another VM (as after a restart): that VM is never touched', async () => {
    const p = rig.provider();
    const tags = groupTags('forged-result');
    const foreign = (await rig.sim.listVms()).find((v) => v.name === 'DC0_H0_VM1')!;
    const foreignRef = new ManagedObjectReference('VirtualMachine', foreign.moref);
    const cpusBefore = await rig.admin.collector.property(foreignRef, 'config.hardware.numCPU');
    // Every task result the waiter sees names the other tool's VM instead of the clone.
    rig.proxy.setRules([
      {
        method: /^(WaitForUpdatesEx|RetrievePropertiesEx)$/,
        fault: {
          kind: 'body',
          body: (real) =>
            real.replace(
              /(<name>info\.result<\/name>(?:<op>[^<]*<\/op>)?<val[^>]*>)[^<]+(<\/val>)/g,
              `$1${foreign.moref}$2`,
            ),
        },
      },
    ]);
    const id = await p.provision({ Tags: tags, Properties: { ...cloneProps, PowerOn: true, CPUs: 3 } });
    rig.proxy.setRules([]);
    assert.ok(rig.proxy.faults('body') > 0, 'results were forged');
    const after = (await rig.sim.listVms()).find((v) => v.moref === foreign.moref)!;
    assert.deepEqual(
      { name: after.name, annotation: after.annotation, power: after.powerState },
      { name: foreign.name, annotation: foreign.annotation, power: foreign.powerState },
      'the other VM is as it was',
    );
    assert.equal(await rig.admin.collector.property(foreignRef, 'config.hardware.numCPU'), cpusBefore);
    const ours = (await rig.sim.listVms()).filter((v) => v.name === id);
    assert.equal(ours.length, 1, 'the clone was found by name and finished');
    assert.equal(ours[0]!.powerState, 'poweredOn');
    assert.equal(
      await rig.admin.collector.property(
        new ManagedObjectReference('VirtualMachine', ours[0]!.moref),
        'config.hardware.numCPU',
      ),
      3,
    );
    await p.destroy(id);
    await p.close();
  });

  it('a dropped WaitForUpdatesEx answer costs a direct read, not a 30 s poll', async () => {
    const p = rig.provider();
    const tags = groupTags('lost-poll');
    rig.proxy.setRules([{ method: 'WaitForUpdatesEx', times: 2, fault: { kind: 'drop' } }]);
    const started = performance.now();
    const id = await p.provision({ Tags: tags, Properties: cloneProps });
    const took = performance.now() - started;
    rig.proxy.setRules([]);
    assert.equal(rig.proxy.faults('drop', 'WaitForUpdatesEx'), 2);
    assert.ok(took < 10_000, `provision took ${Math.round(took)} ms`);
    await p.destroy(id);
    await p.close();
  });

  it('random faults on every call (seeded) during 24 provisions, labels and destroys: typed errors only, no duplicate, no leak', async (t) => {
    const seed = runSeed(20_240_601);
    const p = rig.provider();
    const group = 'storm';
    const tags = groupTags(group);
    const failures: string[] = [];
    const note: StormNote = (what, id, error) => {
      const call = id === undefined ? what : `${what} ${id}`;
      watch.error(call, error);
      failures.push(`${call}: ${describeError(error)}`);
      assert.ok(error instanceof VSphereError, `${call}: untyped ${String(error)}`);
    };
    const { ids } = await provisionAndLabelInStorm({
      rig,
      provider: p,
      tags,
      provisions: 24,
      batch: 4,
      labels: { checked: 'yes' },
      seed,
      note,
    });
    const faults = rig.proxy.totals.faults;
    t.diagnostic(
      `seed ${seed}: ${rig.proxy.events.length} faults injected in total; ${ids.length}/24 provisions succeeded; failures: ${failures.length}`,
    );
    assert.ok(faults > 20, `faults were injected (${faults})`);
    // Every VM in vCenter is one a provision returned, and every one it returned exists.
    const inVcenter = await vmNamesInFolder(rig, group);
    assert.deepEqual(
      inVcenter.sort(),
      [...ids].sort(),
      `no duplicate, no leak; not returned by provision: ${inVcenter.filter((n) => !ids.includes(n)).join(', ')}; failures: ${failures.join(' | ')}`,
    );
    assert.deepEqual((await p.describe(tags)).map((d) => d.ID).sort(), [...ids].sort());
    assert.equal(await foldersNamed(rig.admin, group), 1);
    // Destroy under faults, retrying what fails as a group controller would.
    await destroyInStorm({ rig, provider: p, ids, concurrency: 1, attempts: 6, note });
    assert.deepEqual(await vmNamesInFolder(rig, group), [], 'no VM of ours is left');
    await p.close();
  });
});

describe('secrets', () => {
  it('no password or session cookie in any debug line, error or inspected object', () => {
    for (const p of rig.providers) watch.object('provider', p);
    assert.ok(watch.debugLines > 500, `captured ${watch.debugLines} debug lines`);
    assert.ok(watch.examined > 5, `examined ${watch.examined} errors and objects`);
    assert.ok(watch.cookieCount > 5, `cookies seen: ${watch.cookieCount}`);
    assert.deepEqual(watch.leaks(), []);
  });
});
