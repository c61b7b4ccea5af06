/**
 * The property-wait primitive against vcsim: a wait resolves when its check holds, ends at its
 * deadline or its signal, survives a collector destroyed behind its back and a session
 * terminated mid-wait, answers a destroyed object with ObjectGoneError at once, and backs off
 * (bounded) when vCenter does not answer. The guest IP and guest shutdown waits are built on it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VmOps, VSphereClient, WaitCollector, waitForProperties } from '../../src/blocks.ts';
import {
  AbortError,
  type ManagedObjectReference,
  ObjectGoneError,
  TimeoutError,
  TransportError,
  ValidationError,
} from '../../src/index.ts';
import { waitForGuestIp } from '../../src/vsphere/guest.ts';
import { PASSWORD, PROVIDER_USER, type Rig, sleep, startRig } from '../reliability/harness.ts';

let rig: Rig;
let client: VSphereClient;
let template: ManagedObjectReference;
let vmFolder: ManagedObjectReference;
let pool: ManagedObjectReference;
const clients: VSphereClient[] = [];

/** A client through the fault proxy, as the code under test sees vCenter. */
function newClient(): VSphereClient {
  const made = new VSphereClient({
    url: rig.proxy.sdkUrl,
    username: PROVIDER_USER,
    password: PASSWORD,
    keepAliveMs: 0,
  });
  clients.push(made);
  return made;
}

/** A powered-off clone of the template, made by the admin client. */
async function newVm(name: string): Promise<ManagedObjectReference> {
  const task = await rig.admin.session.invoke<ManagedObjectReference>('CloneVM_Task', {
    _this: template,
    folder: vmFolder,
    name,
    spec: { location: { pool }, template: false, powerOn: false },
  });
  return rig.admin.tasks.wait<ManagedObjectReference>(task);
}

async function powerState(vm: ManagedObjectReference): Promise<unknown> {
  return rig.admin.collector.property(vm, 'runtime.powerState');
}

const powerTarget = (vm: ManagedObjectReference) => [{ obj: vm, paths: ['runtime.powerState'] }];
/** Holds once the VM is powered on. */
const poweredOn =
  (vm: ManagedObjectReference) => (values: { get(o: ManagedObjectReference, p: string): unknown }) =>
    values.get(vm, 'runtime.powerState') === 'poweredOn' ? true : undefined;

before(async () => {
  rig = await startRig();
  client = newClient();
  const content = await rig.admin.session.serviceContent();
  const vms = await rig.admin.collector.find(content.rootFolder, 'VirtualMachine', ['name', 'resourcePool']);
  const source = vms.find((vm) => vm.props.get('name') === 'DC0_H0_VM0')!;
  template = source.obj;
  pool = source.props.get('resourcePool') as ManagedObjectReference;
  const [dc] = await rig.admin.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
  vmFolder = dc!.props.get('vmFolder') as ManagedObjectReference;
});

after(async () => {
  rig?.proxy.setRules([]);
  await Promise.allSettled(clients.map((c) => c.close()));
  await rig?.close();
});

describe('property wait', () => {
  it('resolves when the check holds, on a collector of its own destroyed with the wait', async () => {
    const vm = await newVm('wait-resolves');
    const before = rig.proxy.count('DestroyPropertyCollector').requests;
    const waiting = waitForProperties(client.session, powerTarget(vm), poweredOn(vm), { timeoutMs: 20_000 });
    await sleep(300);
    await rig.admin.tasks.wait(await rig.admin.session.invoke('PowerOnVM_Task', { _this: vm }));
    assert.equal(await waiting, true);
    assert.equal(await powerState(vm), 'poweredOn');
    for (let i = 0; i < 50 && rig.proxy.count('DestroyPropertyCollector').requests === before; i++)
      await sleep(20);
    assert.equal(
      rig.proxy.count('DestroyPropertyCollector').requests,
      before + 1,
      'its collector was destroyed',
    );
  });

  it('a check that already holds resolves on the first answer', async () => {
    const vm = await newVm('wait-already');
    const state = await waitForProperties(
      client.session,
      powerTarget(vm),
      (values) => values.get(vm, 'runtime.powerState') as string | undefined,
      { timeoutMs: 10_000 },
    );
    assert.equal(state, 'poweredOff');
    await assert.rejects(
      waitForProperties(client.session, [], () => true),
      (e: unknown) => e instanceof ValidationError && e.issues[0]?.field === 'targets',
    );
    await assert.rejects(
      waitForProperties(client.session, [{ obj: vm, paths: [] }], () => true),
      ValidationError,
    );
  });

  it('ends with TimeoutError at its deadline, in bound', async () => {
    const vm = await newVm('wait-deadline');
    const destroys = rig.proxy.count('DestroyPropertyCollector').requests;
    const started = Date.now();
    await assert.rejects(
      waitForProperties(client.session, powerTarget(vm), poweredOn(vm), { timeoutMs: 400 }),
      (error: unknown) => error instanceof TimeoutError && /waiting for/.test(error.message),
    );
    const ms = Date.now() - started;
    assert.ok(ms >= 390 && ms < 3000, `${ms} ms`);
    assert.equal(await powerState(vm), 'poweredOff', 'nothing changed in vCenter');
    // Its own collector polls no longer than the wait may last: it is destroyed soon after.
    for (let i = 0; i < 150 && rig.proxy.count('DestroyPropertyCollector').requests === destroys; i++)
      await sleep(20);
    assert.equal(
      rig.proxy.count('DestroyPropertyCollector').requests,
      destroys + 1,
      'its collector was destroyed',
    );
  });

  it('ends with AbortError carrying the reason when the signal aborts', async () => {
    const vm = await newVm('wait-abort');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('operator said stop')), 200);
    const started = Date.now();
    const error = await waitForProperties(client.session, powerTarget(vm), poweredOn(vm), {
      signal: controller.signal,
    }).then(
      () => assert.fail('an aborted wait resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof AbortError, String(error));
    assert.equal((error.cause as Error).message, 'operator said stop');
    assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
    await assert.rejects(
      waitForProperties(client.session, powerTarget(vm), poweredOn(vm), { signal: AbortSignal.abort() }),
      AbortError,
    );
  });

  it('a collector destroyed from outside is made again, its filters with it, and the wait resolves', async () => {
    const vm = await newVm('wait-collector-lost');
    const stats = { polls: 0, filtersCreated: 0, collectorsCreated: 0 };
    const collector = new WaitCollector(client.session, { maxWaitSeconds: 1, stats });
    const waiting = collector.wait(powerTarget(vm), poweredOn(vm), { timeoutMs: 30_000 });
    for (let i = 0; i < 100 && !collector.reference; i++) await sleep(20);
    const lost = collector.reference;
    assert.ok(lost, 'the collector was made');
    // vcsim serves the destroy once the current poll (at most 1 s) ends.
    await client.session.invoke('DestroyPropertyCollector', { _this: lost });
    for (let i = 0; i < 200 && stats.collectorsCreated < 2; i++) await sleep(20);
    assert.equal(stats.collectorsCreated, 2, 'a new collector was made');
    assert.ok(collector.reference && !collector.reference.equals(lost));
    await rig.admin.tasks.wait(await rig.admin.session.invoke('PowerOnVM_Task', { _this: vm }));
    assert.equal(await waiting, true);
    assert.equal(await powerState(vm), 'poweredOn');
    assert.equal(stats.filtersCreated, 2, 'one filter on each collector');
    collector.destroy();
  });

  it('an object destroyed while it is waited for ends the wait with ObjectGoneError, no loop', async () => {
    const vm = await newVm('wait-object-gone');
    const stats = { polls: 0, filtersCreated: 0, collectorsCreated: 0 };
    const collector = new WaitCollector(client.session, { maxWaitSeconds: 2, stats });
    const other = await newVm('wait-object-stays');
    const waiting = collector
      .wait(powerTarget(vm), poweredOn(vm), { timeoutMs: 30_000, description: 'gone' })
      .then(
        () => assert.fail('the wait for a destroyed VM resolved'),
        (e: unknown) => e,
      );
    const staying = collector.wait(powerTarget(other), poweredOn(other), { timeoutMs: 30_000 });
    await sleep(300);
    const before = client.transport.requestCount;
    await rig.admin.tasks.wait(await rig.admin.session.invoke('Destroy_Task', { _this: vm }));
    const error = await waiting;
    assert.ok(error instanceof ObjectGoneError, String(error));
    assert.equal(error.code, 'OBJECT_GONE');
    assert.ok(error.obj.equals(vm));
    assert.ok(!(await rig.sim.listVms()).some((v) => v.name === 'wait-object-gone'), 'the VM is gone');
    // The other wait on the same collector goes on.
    await rig.admin.tasks.wait(await rig.admin.session.invoke('PowerOnVM_Task', { _this: other }));
    assert.equal(await staying, true);
    const calls = client.transport.requestCount - before;
    assert.ok(calls < 20, `${calls} calls`);
    collector.destroy();
    // An object that is already gone: the filter cannot be made, the answer is the same.
    await assert.rejects(
      waitForProperties(client.session, powerTarget(vm), poweredOn(vm), { timeoutMs: 10_000 }),
      (e: unknown) => e instanceof ObjectGoneError && e.obj.equals(vm),
    );
  });

  it('a session terminated mid-wait: the session logs in again, the filter is made again, the wait resolves', async () => {
    const vm = await newVm('wait-session');
    const c = newClient();
    const stats = { polls: 0, filtersCreated: 0, collectorsCreated: 0 };
    const collector = new WaitCollector(c.session, { maxWaitSeconds: 1, stats });
    const waiting = collector.wait(powerTarget(vm), poweredOn(vm), { timeoutMs: 30_000 });
    for (let i = 0; i < 100 && stats.polls === 0; i++) await sleep(20);
    const content = await c.session.serviceContent();
    const current = await c.collector.property<{ key: string }>(content.sessionManager!, 'currentSession');
    assert.ok(current?.key);
    await rig.admin.session.invoke('TerminateSession', {
      _this: content.sessionManager,
      sessionId: [current.key],
    });
    for (let i = 0; i < 200 && stats.collectorsCreated < 2; i++) await sleep(20);
    assert.equal(c.session.stats.relogins, 1, 'logged in again once');
    assert.equal(stats.collectorsCreated, 2, 'the filter died with the session: a new collector');
    await rig.admin.tasks.wait(await rig.admin.session.invoke('PowerOnVM_Task', { _this: vm }));
    assert.equal(await waiting, true);
    assert.equal(await powerState(vm), 'poweredOn');
    collector.destroy();
  });

  it('a vCenter that does not answer polls: bounded retries with backoff, then the cause', async () => {
    const vm = await newVm('wait-down');
    const c = newClient();
    await c.connect();
    const before = rig.proxy.count('WaitForUpdatesEx').requests;
    rig.proxy.setRules([{ method: 'WaitForUpdatesEx', fault: { kind: 'reset' } }]);
    const started = Date.now();
    try {
      const error = await waitForProperties(c.session, powerTarget(vm), poweredOn(vm), {
        timeoutMs: 60_000,
      }).then(
        () => assert.fail('a wait with no answers resolved'),
        (e: unknown) => e,
      );
      const ms = Date.now() - started;
      const polls = rig.proxy.count('WaitForUpdatesEx').requests - before;
      assert.ok(error instanceof TransportError, String(error));
      // Never a tight loop: a handful of polls, spread over seconds of backoff.
      assert.ok(polls >= 3 && polls <= 10, `${polls} polls`);
      assert.ok(ms >= 2000 && ms < 40_000, `${ms} ms`);
    } finally {
      rig.proxy.setRules([]);
    }
    // A short outage is ridden out: the poll is tried again and the wait resolves.
    rig.proxy.setRules([{ method: 'WaitForUpdatesEx', times: 2, fault: { kind: 'reset' } }]);
    const waiting = waitForProperties(c.session, powerTarget(vm), poweredOn(vm), { timeoutMs: 30_000 });
    await rig.admin.tasks.wait(await rig.admin.session.invoke('PowerOnVM_Task', { _this: vm }));
    assert.equal(await waiting, true);
  });
  it('a collector that gave up on its waits gives a later wait the whole failure budget again', async () => {
    const vm = await newVm('wait-budget');
    const c = newClient();
    await c.connect();
    const collector = new WaitCollector(c.session, { maxWaitSeconds: 1 });
    rig.proxy.setRules([{ method: 'WaitForUpdatesEx', fault: { kind: 'reset' } }]);
    try {
      await assert.rejects(
        collector.wait(powerTarget(vm), poweredOn(vm), { timeoutMs: 60_000 }),
        TransportError,
      );
    } finally {
      rig.proxy.setRules([]);
    }
    // One lost poll is ridden out, as on a collector that never failed.
    rig.proxy.setRules([{ method: 'WaitForUpdatesEx', times: 1, fault: { kind: 'reset' } }]);
    try {
      const waiting = collector.wait(powerTarget(vm), poweredOn(vm), { timeoutMs: 30_000 });
      await rig.admin.tasks.wait(await rig.admin.session.invoke('PowerOnVM_Task', { _this: vm }));
      assert.equal(await waiting, true);
      assert.equal(await powerState(vm), 'poweredOn');
    } finally {
      rig.proxy.setRules([]);
      collector.destroy();
    }
  });
  it('a process with nothing but a wait to do is kept alive through the backoff after a lost poll', async () => {
    const vm = await newVm('wait-alive');
    const dir = await mkdtemp(join(tmpdir(), 'ikv-wait-'));
    const script = join(dir, 'child.ts');
    // Its own process: nothing else (the proxy, the test runner) holds its event loop.
    await writeFile(
      script,
      [
        `import { VSphereClient, waitForProperties } from ${JSON.stringify(new URL('../../src/blocks.ts', import.meta.url).pathname)};`,
        `import { ManagedObjectReference } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).pathname)};`,
        'const [url, username, password, id] = process.argv.slice(2);',
        'const c = new VSphereClient({ url, username, password, keepAliveMs: 0 });',
        "const vm = new ManagedObjectReference('VirtualMachine', id);",
        "const on = await waitForProperties(c.session, [{ obj: vm, paths: ['runtime.powerState'] }], (v) =>",
        "  v.get(vm, 'runtime.powerState') === 'poweredOn' ? 'on' : undefined);",
        "console.log('resolved ' + on);",
        'await c.close();',
      ].join('\n'),
    );
    rig.proxy.setRules([{ method: 'WaitForUpdatesEx', times: 2, fault: { kind: 'reset' } }]);
    try {
      const child = spawn(process.execPath, [script, rig.proxy.sdkUrl, PROVIDER_USER, PASSWORD, vm.value], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const early = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
      assert.equal(
        early,
        false,
        `the process ended while its wait was pending (exit ${child.exitCode}): ${out}`,
      );
      await rig.admin.tasks.wait(await rig.admin.session.invoke('PowerOnVM_Task', { _this: vm }));
      assert.equal(await exited, 0, out);
      assert.match(out, /resolved on/);
    } finally {
      rig.proxy.setRules([]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('waits built on it', () => {
  it('the guest IP wait resolves when Tools report a routable address', async () => {
    const vm = await newVm('wait-guest-ip');
    const waiting = waitForGuestIp(client.collector, vm, 20_000);
    await sleep(300);
    await rig.admin.tasks.wait(
      await rig.admin.session.invoke('ReconfigVM_Task', {
        _this: vm,
        spec: {
          _type: 'VirtualMachineConfigSpec',
          extraConfig: [{ _type: 'OptionValue', key: 'SET.guest.ipAddress', value: '10.1.2.3' }],
        },
      }),
    );
    assert.equal(await waiting, '10.1.2.3');
    assert.equal(await rig.admin.collector.property(vm, 'guest.ipAddress'), '10.1.2.3');
    await assert.rejects(waitForGuestIp(client.collector, await newVm('wait-no-ip'), 300), TimeoutError);
  });

  it('a guest shutdown is waited for on runtime.powerState, with no hard power-off', async () => {
    const vm = await newVm('wait-shutdown');
    await rig.admin.tasks.wait(await rig.admin.session.invoke('PowerOnVM_Task', { _this: vm }));
    // vcsim runs no Tools; its SET.* extraConfig makes the VM say they run.
    await rig.admin.tasks.wait(
      await rig.admin.session.invoke('ReconfigVM_Task', {
        _this: vm,
        spec: {
          _type: 'VirtualMachineConfigSpec',
          extraConfig: [
            { _type: 'OptionValue', key: 'SET.guest.toolsRunningStatus', value: 'guestToolsRunning' },
          ],
        },
      }),
    );
    assert.equal(await rig.admin.collector.property(vm, 'guest.toolsRunningStatus'), 'guestToolsRunning');
    const powerOffs = rig.proxy.count('PowerOffVM_Task').requests;
    await new VmOps(client).stop(vm, 20_000);
    assert.equal(await powerState(vm), 'poweredOff');
    assert.equal(rig.proxy.count('ShutdownGuest').requests, 1);
    assert.equal(rig.proxy.count('PowerOffVM_Task').requests, powerOffs, 'no hard power-off');
  });
});
