/**
 * Describe answered from an inventory mirror: every answer equals a full read's (a provider with
 * the mirror off), after changes by another client (rename, re-annotation, a new guest IP, a VM
 * moved out of the folder, destroyed, a new VM), after the session was terminated, the collector
 * destroyed from outside and vCenter restarted; the mirror is dropped when idle and on close.
 * What fell back to a full read is counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InventoryMirrors } from '../../src/blocks.ts';
import {
  AbortError,
  type InstanceDescription,
  ManagedObjectReference,
  ValidationError,
  type VSphereInstanceProvider,
} from '../../src/index.ts';
import type { ObjectContent } from '../../src/vim25/types.ts';
import { cloneProps, groupTags, type Rig, sleep, startRig } from '../reliability/harness.ts';

let rig: Rig;
let mirrored: VSphereInstanceProvider;
let plain: VSphereInstanceProvider;
const GROUP = 'mirror-g';
const tags = groupTags(GROUP);

before(async () => {
  rig = await startRig();
  mirrored = rig.provider({ describeMirror: { idleMs: 60_000 } });
  plain = rig.provider({ describeMirror: false });
});

after(async () => {
  rig?.proxy.setRules([]);
  await rig?.close();
});

function sorted(list: InstanceDescription[]): InstanceDescription[] {
  return [...list].sort((a, b) => a.ID.localeCompare(b.ID));
}

const stats = () => ({ ...mirrored.mirrors!.stats });

/**
 * Waits until the group's mirrors (describe with and without properties read different paths, so
 * they are two) are built: they are built in the background after a first describe, or after a
 * backoff once one broke.
 */
async function mirrorReady(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    await mirrored.describe(tags);
    await mirrored.describe(tags, { properties: true });
    const list = mirrored.mirrors!.list();
    if (list.length === 2 && list.every((m) => m.state === 'ready')) return;
    await sleep(50);
  }
  assert.fail('the mirrors were not built');
}

/**
 * Describes with both providers (with and without properties) and checks they agree; returns the
 * mirrored answer.
 */
async function same(): Promise<InstanceDescription[]> {
  const fromMirror = sorted(await mirrored.describe(tags));
  const full = sorted(await plain.describe(tags));
  assert.deepEqual(fromMirror, full);
  const detailed = sorted(await mirrored.describe(tags, { properties: true }));
  assert.deepEqual(detailed, sorted(await plain.describe(tags, { properties: true })));
  return fromMirror;
}

async function vmRef(name: string): Promise<ManagedObjectReference> {
  const content = await rig.admin.session.serviceContent();
  const found = await rig.admin.collector.find(content.rootFolder, 'VirtualMachine', ['name']);
  const vm = found.find((o) => o.props.get('name') === name);
  assert.ok(vm, `VM ${name} exists`);
  return vm.obj;
}

async function task(method: string, args: Record<string, unknown>): Promise<unknown> {
  return rig.admin.tasks.wait(await rig.admin.session.invoke<ManagedObjectReference>(method, args));
}

async function provisionSome(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await plain.provision({ Tags: tags, Properties: cloneProps }));
  return ids;
}

describe('describe from an inventory mirror', () => {
  it('answers fresh after changes by another client, from the mirror, equal to a full read', async () => {
    const ids = await provisionSome(4);
    await mirrorReady();
    const start = stats();
    assert.equal((await same()).length, 4);

    // Re-annotated by another client: a label lands in Tags.
    await plain.label(ids[0]!, { role: 'db' });
    const relabelled = (await same()).find((d) => d.ID === ids[0]);
    assert.equal(relabelled?.Tags.role, 'db');

    // Re-addressed: the guest reports another IP (vcsim takes it from a SET.guest.ipAddress key).
    const earlier = (await same()).find((d) => d.ID === ids[1]);
    assert.notEqual(earlier?.Tags.guestIP, '10.99.0.7');
    await task('ReconfigVM_Task', {
      _this: await vmRef(ids[1]!),
      spec: {
        _type: 'VirtualMachineConfigSpec',
        extraConfig: [{ _type: 'OptionValue', key: 'SET.guest.ipAddress', value: '10.99.0.7' }],
      },
    });
    assert.equal(
      (await rig.admin.collector.property(await vmRef(ids[1]!), 'guest.ipAddress')) as string,
      '10.99.0.7',
    );
    const readdressed = (await same()).find((d) => d.ID === ids[1]);
    assert.equal(readdressed?.Tags.guestIP, '10.99.0.7');

    // Renamed by another client: the new name is the ID.
    await task('Rename_Task', { _this: await vmRef(ids[1]!), newName: `${ids[1]}-renamed` });
    assert.ok((await same()).some((d) => d.ID === `${ids[1]}-renamed`));

    // Moved out of the group folder: no longer listed.
    const content = await rig.admin.session.serviceContent();
    const [dc] = await rig.admin.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
    const vmFolder = dc!.props.get('vmFolder') as ManagedObjectReference;
    const moved = await vmRef(ids[2]!);
    await task('MoveIntoFolder_Task', { _this: vmFolder, list: [moved] });
    assert.equal(
      ((await rig.admin.collector.property(moved, 'parent')) as ManagedObjectReference).value,
      vmFolder.value,
    );
    assert.ok(!(await same()).some((d) => d.ID === ids[2]));

    // Destroyed by another client.
    await task('Destroy_Task', { _this: await vmRef(ids[3]!) });
    assert.ok(!(await same()).some((d) => d.ID === ids[3]));

    // A new VM made by another client.
    const [added] = await provisionSome(1);
    const now = await same();
    assert.ok(now.some((d) => d.ID === added));
    assert.equal(now.length, 3);

    const end = stats();
    assert.equal(end.fallbacks, start.fallbacks, 'no fallback to a full read');
    assert.ok(
      end.mirrorReads - start.mirrorReads >= 12,
      `${end.mirrorReads - start.mirrorReads} mirror reads`,
    );
    assert.ok(end.rereads > start.rereads, 'the re-annotated VM was read again');
  });

  it('keeps each VM description between describes: maps again only the VMs changed, and what a caller changes in its answer is its own', async () => {
    await provisionSome(2);
    await mirrorReady();
    await mirrored.describe(tags);
    const first = await mirrored.describe(tags);
    const mapped = stats().mapped;
    assert.ok(first.length >= 2);
    // Nothing changed: no VM is mapped again.
    const again = await mirrored.describe(tags);
    assert.equal(stats().mapped, mapped, 'nothing mapped again');
    assert.deepEqual(sorted(again), sorted(first));

    // A caller changing its answer changes nothing for the next describe.
    const pristine = sorted(await plain.describe(tags));
    for (const d of again) {
      d.Tags.scribbled = 'yes';
      d.ID = `${d.ID}-scribbled`;
    }
    const detailed = await mirrored.describe(tags, { properties: true });
    for (const d of detailed) {
      const details = d.Properties as { GuestNICs: { IPs: string[] }[]; PowerState: string };
      details.PowerState = 'scribbled';
      details.GuestNICs.push({ IPs: ['192.0.2.1'] });
      for (const nic of details.GuestNICs) nic.IPs.push('192.0.2.2');
    }
    await same();
    assert.deepEqual(sorted(await mirrored.describe(tags)), pristine);

    // One VM re-labelled by another client: that VM alone is mapped again, and it is fresh.
    const target = pristine[0]!.ID;
    await plain.label(target, { memo: 'changed' });
    const before = stats().mapped;
    const after = await mirrored.describe(tags);
    assert.equal(after.find((d) => d.ID === target)?.Tags.memo, 'changed');
    assert.equal(stats().mapped - before, 1, 'only the changed VM was mapped again');
    assert.deepEqual(sorted(after), sorted(await plain.describe(tags)));
  });

  it('nothing changed: a describe is one WaitForUpdatesEx and one small read of the collector and the recent tasks, not of the folder members', async () => {
    await mirrorReady();
    await mirrored.describe(tags);
    const waits = rig.proxy.count('WaitForUpdatesEx').requests;
    const retrieves = rig.proxy.count('RetrievePropertiesEx').requests;
    const members = stats().memberReads;
    const answer = await mirrored.describe(tags);
    assert.ok(answer.length > 0);
    assert.equal(rig.proxy.count('WaitForUpdatesEx').requests - waits, 1);
    // The collector's filters and vCenter's recent tasks, read alongside (a filter destroyed from
    // outside is otherwise silence; a folder move is a task).
    assert.equal(rig.proxy.count('RetrievePropertiesEx').requests - retrieves, 1);
    assert.equal(stats().memberReads, members, 'no read of the folder members');
  });

  it('a VM moved out by another client: the move shows among the recent tasks, the next describe reads the members once and leaves the VM out', async () => {
    const [staying, leaving] = await provisionSome(2);
    await mirrorReady();
    await mirrored.describe(tags);
    const before = stats();
    const content = await rig.admin.session.serviceContent();
    const [dc] = await rig.admin.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
    const vmFolder = dc!.props.get('vmFolder') as ManagedObjectReference;
    await task('MoveIntoFolder_Task', { _this: vmFolder, list: [await vmRef(leaving!)] });
    const answer = await same();
    assert.ok(!answer.some((d) => d.ID === leaving), 'the moved VM is no longer listed');
    assert.ok(answer.some((d) => d.ID === staying));
    const after = stats();
    assert.ok(after.movesSeen > before.movesSeen, 'the move was seen among the recent tasks');
    assert.ok(after.memberReads > before.memberReads, 'the members were read');
    assert.equal(after.fallbacks, before.fallbacks, 'no fallback');
    // The move is over: the describes after it read no members again, however often.
    const settled = stats().memberReads;
    await same();
    await same();
    assert.equal(stats().memberReads, settled, 'no further member reads');
    // Other tasks (a re-label is a ReconfigVM_Task) do not make it read the members.
    await plain.label(staying!, { after: 'move' });
    assert.equal((await same()).find((d) => d.ID === staying)?.Tags.after, 'move');
    assert.equal(stats().memberReads, settled, 'a reconfigure is not a move');
  });

  it('more tasks than vCenter lists since the last describe: a move among them may be gone from the list, so the members are read', async () => {
    const [leaving, busy] = await provisionSome(2);
    await mirrorReady();
    await mirrored.describe(tags);
    const content = await rig.admin.session.serviceContent();
    const [dc] = await rig.admin.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
    await task('MoveIntoFolder_Task', {
      _this: dc!.props.get('vmFolder') as ManagedObjectReference,
      list: [await vmRef(leaving!)],
    });
    // vcsim lists the last 200 tasks, as vCenter lists the last 200 finished: push the move out.
    const vm = await vmRef(busy!);
    for (let i = 0; i < 101; i++) {
      await task('Rename_Task', { _this: vm, newName: `${busy}-a` });
      await task('Rename_Task', { _this: vm, newName: busy });
    }
    const recent = (await rig.admin.collector.property(
      content.taskManager!,
      'recentTask',
    )) as ManagedObjectReference[];
    assert.equal(recent.length, 200);
    const before = stats();
    const answer = await same();
    assert.ok(!answer.some((d) => d.ID === leaving), 'the moved VM is no longer listed');
    assert.equal(stats().movesSeen, before.movesSeen, 'the move itself was not seen');
    assert.equal(
      stats().memberReads,
      before.memberReads + 2,
      'each of the two mirrors read the members once',
    );
    assert.equal(stats().fallbacks, before.fallbacks);
  });

  it('a fault in the read of the recent tasks: a counted fallback to a full read, never a stale answer', async () => {
    await mirrorReady();
    const before = stats();
    const envelope =
      '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>forged</faultstring><detail><SystemErrorFault xmlns="urn:vim25" xsi:type="SystemError"><reason>forged</reason></SystemErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>';
    // The drain's only RetrievePropertiesEx with nothing changed is the check (filters, recent tasks).
    rig.proxy.setRules([
      { method: 'RetrievePropertiesEx', times: 1, fault: { kind: 'body', status: 500, body: envelope } },
    ]);
    const answer = sorted(await mirrored.describe(tags));
    rig.proxy.setRules([]);
    assert.deepEqual(answer, sorted(await plain.describe(tags)));
    assert.equal(stats().fallbacks, before.fallbacks + 1, 'counted');
    await waitForRebuild(before.builds);
    await same();
  });

  it('a session terminated mid-life: the filter died with it, the read falls back (counted) and the mirror is built again', async () => {
    await mirrorReady();
    const before = stats();
    const held = mirrored.mirrors!.size;
    const content = await mirrored.client.session.serviceContent();
    const current = await mirrored.client.collector.property<{ key: string }>(
      content.sessionManager!,
      'currentSession',
    );
    await rig.admin.session.invoke('TerminateSession', {
      _this: content.sessionManager,
      sessionId: [current!.key],
    });
    await provisionSome(1);
    await same();
    const afterwards = stats();
    assert.equal(afterwards.fallbacks, before.fallbacks + held, 'one counted fallback per mirror');
    assert.ok(mirrored.client.session.stats.relogins >= 1);
    // The next describes rebuild it and are answered from it again.
    await waitForRebuild(before.builds);
    const reads = stats().mirrorReads;
    await same();
    assert.ok(stats().mirrorReads > reads, 'answered from the rebuilt mirror');
  });

  it('the collector destroyed from outside: a counted fallback, then a new mirror', async () => {
    await mirrorReady();
    const before = stats();
    const mirror = mirrored.mirrors!.list().find((m) => m.state === 'ready')!;
    await mirrored.client.session.invoke('DestroyPropertyCollector', { _this: mirror.reference });
    await same();
    assert.equal(stats().fallbacks, before.fallbacks + 1, 'the other mirror is unharmed');
    assert.equal(mirror.state, 'closed');
    await waitForRebuild(before.builds);
    await same();
  });

  it('a filter destroyed from outside: noticed at the next describe (not taken for silence), a counted fallback', async () => {
    await mirrorReady();
    const before = stats();
    const mirror = mirrored.mirrors!.list().find((m) => m.state === 'ready')!;
    await mirrored.client.session.invoke('DestroyPropertyFilter', { _this: mirror.filters[0] });
    await plain.label((await plain.describe(tags))[0]!.ID, { after: 'filter-gone' });
    const answer = await same();
    assert.ok(answer.some((d) => d.Tags.after === 'filter-gone'));
    assert.equal(stats().fallbacks, before.fallbacks + 1);
    assert.equal(mirror.state, 'closed');
    await waitForRebuild(before.builds);
  });

  it('InvalidCollectorVersion: the mirror reads its whole state again through its collector (a counted fallback) and answers fresh', async () => {
    await mirrorReady();
    const mirrors = mirrored.mirrors!.list();
    const before = stats();
    const forged = rig.proxy.faults('body', 'WaitForUpdatesEx');
    const [first] = await plain.describe(tags);
    await plain.label(first!.ID, { after: 'version-lost' });
    const envelope = (inner: string) =>
      `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`;
    // vcsim never forgets a version: the proxy answers the next drain as vCenter would.
    rig.proxy.setRules([
      {
        method: 'WaitForUpdatesEx',
        times: 1,
        fault: {
          kind: 'body',
          status: 500,
          body: envelope(
            '<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The collector version is invalid</faultstring><detail><InvalidCollectorVersionFault xmlns="urn:vim25" xsi:type="InvalidCollectorVersion"></InvalidCollectorVersionFault></detail></soapenv:Fault>',
          ),
        },
      },
    ]);
    const waits = rig.proxy.count('WaitForUpdatesEx').requests;
    const answer = await same();
    rig.proxy.setRules([]);
    assert.equal(rig.proxy.faults('body', 'WaitForUpdatesEx') - forged, 1, 'the fault was sent');
    assert.ok(rig.proxy.count('WaitForUpdatesEx').requests - waits >= 2, 'the drain went on after it');
    assert.equal(answer.find((d) => d.ID === first!.ID)?.Tags.after, 'version-lost');
    const after = stats();
    assert.equal(after.fallbacks, before.fallbacks + 1, 'counted');
    assert.ok(after.mirrorReads > before.mirrorReads, 'answered from the mirror');
    assert.equal(after.builds, before.builds, 'not built again');
    assert.deepEqual(mirrored.mirrors!.list(), mirrors, 'the same mirrors go on');
    for (const mirror of mirrors) {
      assert.equal(mirror.state, 'ready');
      assert.equal(mirror.size, answer.length + 1, 'its VMs and the folder, once each');
    }
    await same();
  });

  it('a mirror that grows past its bound is dropped: full reads, counted', async () => {
    const small = rig.provider({ describeMirror: { maxObjects: 2 } });
    await small.describe(tags);
    for (let i = 0; i < 100 && small.mirrors!.size > 0 && small.mirrors!.list()[0]!.state === 'building'; i++)
      await sleep(20);
    const answer = sorted(await small.describe(tags));
    assert.deepEqual(answer, sorted(await plain.describe(tags)));
    assert.ok(answer.length > 1);
    assert.equal(small.mirrors!.stats.builds, 0, 'never built');
    assert.equal(small.mirrors!.stats.mirrorReads, 0);
    assert.ok(small.mirrors!.stats.fallbacks >= 1, 'counted');
    await small.close();
  });

  it('vCenter restarted: the answer equals a full read and the mirror comes back', async () => {
    await mirrorReady();
    const before = stats();
    await rig.sim.restart();
    // Everything made before is gone with the restart; make the group again.
    await provisionSome(2);
    const answer = await same();
    assert.equal(answer.length, 2);
    assert.ok(stats().fallbacks > before.fallbacks, 'the broken mirror was a counted fallback');
    await waitForRebuild(before.builds);
    const reads = stats().mirrorReads;
    assert.equal((await same()).length, 2);
    assert.ok(stats().mirrorReads > reads);
  });

  it('an idle mirror is dropped, its collector destroyed; close() drops the rest', async () => {
    const quick = rig.provider({ describeMirror: { idleMs: 300 } });
    await quick.describe(tags);
    for (let i = 0; i < 300 && !quick.mirrors!.list().some((m) => m.state === 'ready'); i++) await sleep(20);
    const mirror = quick.mirrors!.list()[0]!;
    assert.equal(mirror.state, 'ready');
    const ref = mirror.reference!;
    for (let i = 0; i < 200 && quick.mirrors!.size > 0; i++) await sleep(20);
    assert.equal(quick.mirrors!.size, 0, 'dropped when idle');
    assert.equal(quick.mirrors!.stats.idleDrops, 1);
    assert.equal(mirror.state, 'closed');
    await sleep(200);
    await assert.rejects(
      quick.client.session.invoke('WaitForUpdatesEx', {
        _this: ref,
        version: '',
        options: { maxWaitSeconds: 0 },
      }),
      'its collector was destroyed',
    );
    // Used again: built again; close() drops it.
    await quick.describe(tags);
    for (let i = 0; i < 300 && !quick.mirrors!.list().some((m) => m.state === 'ready'); i++) await sleep(20);
    const again = quick.mirrors!.list()[0]!;
    await quick.close();
    assert.equal(again.state, 'closed');
    assert.equal(quick.mirrors!.size, 0);
  });

  it('truncated answers: an initial read of many pages and a drain of many pages give what a full read gives', async () => {
    await rig.sim.createVms(120, { prefix: 'bulk' });
    const content = await rig.admin.session.serviceContent();
    const [dc] = await rig.admin.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
    const vmFolder = dc!.props.get('vmFolder') as ManagedObjectReference;
    const spec = [
      {
        propSet: [
          { type: 'Folder', pathSet: ['name'] },
          { type: 'VirtualMachine', pathSet: ['name', 'runtime.powerState'] },
        ],
        objectSet: [
          {
            obj: vmFolder,
            skip: false,
            selectSet: [
              { _type: 'TraversalSpec', name: 'c', type: 'Folder', path: 'childEntity', skip: false },
            ],
          },
        ],
      },
    ];
    // vcsim collects the whole filter again for every queued update: a drain after a burst of
    // changes takes seconds here (not on vCenter), longer than the rig's 10 s call timeout.
    const c = rig.provider({ timeoutMs: 120_000 }).client;
    const mirrors = new InventoryMirrors(c.collector);
    const names = (o: ObjectContent) =>
      `${o.obj.value}=${o.propSet?.find((p) => p.name === 'name')?.val}/${o.propSet?.find((p) => p.name === 'runtime.powerState')?.val}`;
    const full = async () => (await c.collector.retrieveMapped(spec, names)).sort();
    await mirrors.retrieveMapped(spec, names);
    const mirror = mirrors.mirrorOf(spec)!;
    await mirror.built;
    assert.equal(mirror.state, 'ready');
    assert.ok(mirrors.stats.polls >= 2, `${mirrors.stats.polls} pages`);
    assert.deepEqual((await mirrors.retrieveMapped(spec, names)).sort(), await full());
    // 20 renames, then 105 new VMs: vcsim sends every object again as `enter` when one joins,
    // so the drain is many pages.
    const bulk = (await rig.sim.listVms()).filter((vm) => vm.name.startsWith('bulk-')).slice(0, 20);
    await Promise.all(
      bulk.map((vm) =>
        task('Rename_Task', {
          _this: new ManagedObjectReference('VirtualMachine', vm.moref),
          newName: `${vm.name}-r`,
        }),
      ),
    );
    assert.deepEqual((await mirrors.retrieveMapped(spec, names)).sort(), await full());
    assert.equal(mirror.state, 'ready', 'the renames were drained, not fallen back from');
    await rig.sim.createVms(105, { prefix: 'more' });
    const polls = mirrors.stats.polls;
    const after = (await mirrors.retrieveMapped(spec, names)).sort();
    assert.ok(mirrors.stats.polls - polls >= 2, `${mirrors.stats.polls - polls} pages`);
    assert.deepEqual(after, await full());
    assert.equal(after.filter((n) => n.includes('-r/')).length, 20);
    assert.equal(after.filter((n) => n.includes('=more-')).length, 105);
    assert.equal(mirrors.stats.fallbacks, 0);
    mirrors.close();
  });

  it('an aborted read stops waiting for the drain; the drain goes on and answers the others', async () => {
    const content = await rig.admin.session.serviceContent();
    const [dc] = await rig.admin.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
    const vmFolder = dc!.props.get('vmFolder') as ManagedObjectReference;
    const spec = [
      {
        propSet: [
          { type: 'Folder', pathSet: ['name'] },
          { type: 'VirtualMachine', pathSet: ['name'] },
        ],
        objectSet: [
          {
            obj: vmFolder,
            skip: false,
            selectSet: [
              { _type: 'TraversalSpec', name: 'c', type: 'Folder', path: 'childEntity', skip: false },
            ],
          },
        ],
      },
    ];
    const c = rig.provider({ timeoutMs: 60_000 }).client;
    const mirrors = new InventoryMirrors(c.collector);
    const names = (o: ObjectContent) => (o.obj.type === 'VirtualMachine' ? o.obj.value : undefined);
    await mirrors.retrieveMapped(spec, names);
    const mirror = mirrors.mirrorOf(spec)!;
    await mirror.built;
    assert.equal(mirror.state, 'ready');
    const full = (await c.collector.retrieveMapped(spec, names)).sort();

    // Already aborted: no wait at all.
    await assert.rejects(
      mirrors.retrieveMapped(spec, names, { signal: AbortSignal.abort() }),
      (e: unknown) => e instanceof AbortError,
    );
    // Aborted during a slow drain, which another read shares.
    rig.proxy.setRules([{ method: 'WaitForUpdatesEx', fault: { kind: 'latency', ms: 4_000 } }]);
    const reads = mirrors.stats.mirrorReads;
    const controller = new AbortController();
    const started = performance.now();
    const patient = mirrors.retrieveMapped(spec, names);
    const aborted = mirrors.retrieveMapped(spec, names, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(aborted, (e: unknown) => e instanceof AbortError);
    const abortedAfter = performance.now() - started;
    const rows = await patient;
    const patientAfter = performance.now() - started;
    rig.proxy.setRules([]);
    assert.ok(abortedAfter < 3_000, `the aborted read waited ${abortedAfter} ms`);
    assert.ok(patientAfter >= 3_900, `the other read waited for the drain (${patientAfter} ms)`);
    assert.deepEqual(rows.sort(), full);
    assert.equal(mirrors.stats.mirrorReads, reads + 1, 'the other read was answered from the mirror');
    assert.equal(mirrors.stats.fallbacks, 0, 'an abort is not a break');
    assert.equal(mirror.state, 'ready');
    mirrors.close();
  });

  it('the mirror is off unless asked (or the environment says so)', () => {
    assert.equal(plain.mirrors, undefined);
    const fromEnv = rig.provider({ env: { INFRAKIT_VSPHERE_DESCRIBE_MIRROR: '1' } });
    assert.ok(fromEnv.mirrors);
    assert.equal(rig.provider({ env: {} }).mirrors, undefined);
    assert.throws(
      () => rig.provider({ describeMirror: { idleMs: -1 } }),
      (e: unknown) => e instanceof ValidationError && /describeMirror\.idleMs/.test(e.message),
    );
  });
});

async function waitForRebuild(builds: number): Promise<void> {
  await mirrorReady();
  assert.ok(stats().builds > builds, 'the mirror was built again');
}
