/**
 * Task waits against vcsim: results, failures as typed faults, timeouts, aborts that cancel the
 * task in vCenter, many tasks sharing few long polls, and keep-alive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TaskWaiter, VSphereClient } from '../../src/blocks.ts';
import {
  AbortError,
  ManagedObjectReference,
  TaskFailedError,
  TaskOutcomeUnknownError,
  TimeoutError,
} from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

let sim: Vcsim;
let client: VSphereClient;
let template: ManagedObjectReference;
let vmFolder: ManagedObjectReference;
let pool: ManagedObjectReference;

function clone(name: string): Promise<ManagedObjectReference> {
  return client.session.invoke<ManagedObjectReference>('CloneVM_Task', {
    _this: template,
    folder: vmFolder,
    name,
    spec: { location: { pool }, template: false, powerOn: false },
  });
}

async function taskState(task: ManagedObjectReference): Promise<{ state: string; cancelled: boolean }> {
  const [info] = await client.collector.properties([task], ['info.state', 'info.cancelled']);
  return {
    state: String(info?.props.get('info.state')),
    cancelled: info?.props.get('info.cancelled') === true,
  };
}

before(async () => {
  sim = await Vcsim.start({ methodDelay: { CloneVm: 1500 } });
  client = new VSphereClient({
    url: sim.urlWithCredentials,
    tls: { thumbprint: sim.certificate!.sha256 },
    keepAliveMs: 0,
  });
  const content = await client.session.serviceContent();
  const vms = await client.collector.find(content.rootFolder, 'VirtualMachine', ['name', 'resourcePool']);
  const source = vms.find((vm) => vm.props.get('name') === 'DC0_H0_VM0')!;
  template = source.obj;
  pool = source.props.get('resourcePool') as ManagedObjectReference;
  const [dc] = await client.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
  vmFolder = dc!.props.get('vmFolder') as ManagedObjectReference;
});
after(async () => {
  await client?.close();
  await sim?.stop();
});

describe('task waits', () => {
  it('resolves with the task result and reports the vim25 version the server speaks', async () => {
    const started = performance.now();
    const vm = await client.tasks.wait<ManagedObjectReference>(await clone('task-result'), {
      description: 'clone',
    });
    assert.ok(vm instanceof ManagedObjectReference);
    assert.equal(vm.type, 'VirtualMachine');
    assert.ok(performance.now() - started >= 1000, 'waited for the delayed clone');
    assert.match(client.soap.apiVersion ?? '', /^\d+\.\d+/);
  });

  it('rejects a failed task with TaskFailedError carrying the typed fault', async () => {
    // vcsim starts its own VMs powered on: powering one on again fails.
    const running = (await sim.listVms()).find(
      (vm) => vm.name === 'DC0_H0_VM1' && vm.powerState === 'poweredOn',
    );
    assert.ok(running, 'DC0_H0_VM1 runs');
    const task = await client.session.invoke<ManagedObjectReference>('PowerOnVM_Task', {
      _this: new ManagedObjectReference('VirtualMachine', running.moref),
    });
    const error = await client.tasks.wait(task, { description: 'power-on' }).then(
      () => assert.fail('power-on of a running VM succeeded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.code, 'TASK_FAILED');
    assert.equal(error.fault.faultType, 'InvalidPowerState');
    assert.ok(error.fault.is('InvalidState'));
  });

  it('waitWithProperties reports what the task changed on the watched object, with no extra call', async () => {
    const vm = await client.tasks.wait<ManagedObjectReference>(await clone('task-watch'));
    const notes = 'watched\nline two & <three>';
    const before = client.transport.requestCount;
    const task = await client.session.invoke<ManagedObjectReference>('ReconfigVM_Task', {
      _this: vm,
      spec: { _type: 'VirtualMachineConfigSpec', annotation: notes, numCPUs: 3 },
    });
    const { result, properties } = await client.tasks.waitWithProperties(task, {
      obj: vm,
      paths: ['config.annotation', 'config.hardware.numCPU'],
    });
    const calls = client.transport.requestCount - before;
    assert.equal(result, undefined);
    assert.equal(properties.get('config.annotation'), notes);
    assert.equal(properties.get('config.hardware.numCPU'), 3);
    // ReconfigVM_Task, CreateFilter, one or two WaitForUpdatesEx, and at most a filter clean-up.
    assert.ok(calls <= 5, `${calls} calls`);
    // The values are what vCenter has: read them back the ordinary way.
    const [read] = await client.collector.properties([vm], ['config.annotation', 'config.hardware.numCPU']);
    assert.equal(read?.props.get('config.annotation'), notes);
    assert.equal(read?.props.get('config.hardware.numCPU'), 3);
    await client.tasks.wait(await client.session.invoke('Destroy_Task', { _this: vm }));
  });

  it('ownCollector waits on a collector of its own and destroys it with the wait', async () => {
    const vm = await client.tasks.wait<ManagedObjectReference>(await clone('task-own'));
    const methods: string[] = [];
    const send = client.transport.request.bind(client.transport);
    client.transport.request = (req) => {
      if (typeof req.body === 'string') methods.push(/<(\w+) xmlns="urn:vim25"/.exec(req.body)?.[1] ?? '?');
      return send(req);
    };
    try {
      const made = client.tasks.stats.collectorsCreated;
      const task = await client.session.invoke<ManagedObjectReference>('Destroy_Task', { _this: vm });
      await client.tasks.wait(task, { ownCollector: true });
      assert.equal(client.tasks.stats.collectorsCreated, made + 1);
      // The collector is destroyed as the wait ends; let that call go out.
      for (let i = 0; i < 50 && !methods.includes('DestroyPropertyCollector'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(
        methods.filter((m) => m !== 'WaitForUpdatesEx'),
        ['Destroy_Task', 'CreatePropertyCollector', 'CreateFilter', 'DestroyPropertyCollector'],
      );
      assert.ok(!(await sim.listVms()).some((v) => v.name === 'task-own'), 'the VM is gone');
    } finally {
      client.transport.request = send;
    }
  });

  it('waits in a scope share one collector, destroyed with its filters when the scope closes', async () => {
    // Shared collectors of earlier tests retire 500 ms after their last task: let them go first.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const methods: string[] = [];
    const send = client.transport.request.bind(client.transport);
    client.transport.request = (req) => {
      if (typeof req.body === 'string') methods.push(/<(\w+) xmlns="urn:vim25"/.exec(req.body)?.[1] ?? '?');
      return send(req);
    };
    const scope = client.tasks.scope();
    try {
      const made = client.tasks.stats.collectorsCreated;
      const vm = await client.tasks.wait<ManagedObjectReference>(await clone('task-scope'), { scope });
      const reconfigure = await client.session.invoke<ManagedObjectReference>('ReconfigVM_Task', {
        _this: vm,
        spec: { _type: 'VirtualMachineConfigSpec', annotation: 'scoped' },
      });
      const { properties } = await client.tasks.waitWithProperties(
        reconfigure,
        { obj: vm, paths: ['config.annotation'] },
        { scope },
      );
      assert.equal(properties.get('config.annotation'), 'scoped');
      await client.tasks.wait(await client.session.invoke('PowerOnVM_Task', { _this: vm }), { scope });
      assert.equal(client.tasks.stats.collectorsCreated, made + 1, 'one collector for the three waits');
      scope.close();
      assert.equal(scope.closed, true);
      for (let i = 0; i < 50 && !methods.includes('DestroyPropertyCollector'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const calls = methods.filter((m) => m !== 'WaitForUpdatesEx');
      assert.deepEqual(calls, [
        'CloneVM_Task',
        'CreatePropertyCollector',
        'CreateFilter',
        'ReconfigVM_Task',
        'CreateFilter',
        'PowerOnVM_Task',
        'CreateFilter',
        'DestroyPropertyCollector',
      ]);
      // A wait after close goes to a shared collector and still works.
      await client.tasks.wait(await client.session.invoke('PowerOffVM_Task', { _this: vm }), { scope });
      await client.tasks.wait(await client.session.invoke('Destroy_Task', { _this: vm }));
    } finally {
      client.transport.request = send;
      scope.close();
    }
  });

  it('a scope of another waiter is ignored, and a closed waiter refuses new waits', async () => {
    const other = new TaskWaiter(client.session);
    const foreign = other.scope();
    const made = client.tasks.stats.collectorsCreated;
    const vm = await client.tasks.wait<ManagedObjectReference>(await clone('task-foreign'), {
      scope: foreign,
    });
    assert.ok(vm instanceof ManagedObjectReference);
    assert.equal(other.stats.collectorsCreated, 0, 'nothing made in the other waiter');
    assert.ok(client.tasks.stats.collectorsCreated <= made + 1, 'at most a shared collector');
    other.close();
    foreign.close();
    const destroy = await client.session.invoke<ManagedObjectReference>('Destroy_Task', { _this: vm });
    await assert.rejects(other.wait(destroy), AbortError);
    await client.tasks.wait(destroy);
  });

  it('two waits for the same task both settle', async () => {
    const task = await clone('task-twice');
    const [first, second] = await Promise.all([client.tasks.wait(task), client.tasks.wait(task)]);
    assert.ok(first instanceof ManagedObjectReference);
    assert.ok(second instanceof ManagedObjectReference && second.equals(first));
    await client.tasks.wait(await client.session.invoke('Destroy_Task', { _this: first }));
  });

  it('times out without cancelling the task', async () => {
    const task = await clone('task-timeout');
    await assert.rejects(client.tasks.wait(task, { timeoutMs: 200 }), TimeoutError);
    const { state, cancelled } = await taskState(task);
    assert.ok(state === 'running' || state === 'queued' || state === 'success', state);
    assert.equal(cancelled, false);
    await client.tasks.wait(task);
  });

  it('a shared collector whose last wait timed out during its poll is destroyed once that poll ends', async () => {
    const c = new VSphereClient({
      url: sim.urlWithCredentials,
      tls: { thumbprint: sim.certificate!.sha256 },
      keepAliveMs: 0,
    });
    const methods: string[] = [];
    const send = c.transport.request.bind(c.transport);
    c.transport.request = (req) => {
      if (typeof req.body === 'string') methods.push(/<(\w+) xmlns="urn:vim25"/.exec(req.body)?.[1] ?? '?');
      return send(req);
    };
    try {
      const task = await c.session.invoke<ManagedObjectReference>('CloneVM_Task', {
        _this: template,
        folder: vmFolder,
        name: 'task-lane-retire',
        spec: { location: { pool }, template: false, powerOn: false },
      });
      // Ends while the lane's poll waits for the 1.5 s clone: the 500 ms retirement finds it polling.
      await assert.rejects(c.tasks.wait(task, { timeoutMs: 200 }), TimeoutError);
      assert.equal(c.tasks.stats.collectorsCreated, 1);
      for (let i = 0; i < 100 && !methods.includes('DestroyPropertyCollector'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(methods.includes('DestroyPropertyCollector'), `calls: ${methods.join(', ')}`);
      const vm = await client.tasks.wait<ManagedObjectReference>(task);
      await client.tasks.wait(await client.session.invoke('Destroy_Task', { _this: vm }));
    } finally {
      c.transport.request = send;
      await c.close();
    }
  });

  it('cancels the task in vCenter when the signal aborts', async () => {
    const task = await clone('task-abort');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('operator said stop')), 200);
    await assert.rejects(client.tasks.wait(task, { signal: controller.signal }), AbortError);
    let state = await taskState(task);
    for (let i = 0; i < 20 && !state.cancelled; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = await taskState(task);
    }
    assert.equal(state.cancelled, true, 'CancelTask reached vCenter');
  });

  it('a task vCenter does not know (gone with a restart) fails TASK_OUTCOME_UNKNOWN at once, without a storm of calls', async () => {
    const before = client.transport.requestCount;
    const started = Date.now();
    const error = await client.tasks
      .wait(new ManagedObjectReference('Task', 'task-987654321'), { description: 'a vanished clone' })
      .then(
        () => assert.fail('a wait for a task that does not exist resolved'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof TaskOutcomeUnknownError, `got ${String(error)}`);
    assert.equal(error.code, 'TASK_OUTCOME_UNKNOWN');
    assert.match(error.message, /a vanished clone: vCenter no longer knows task task-987654321/);
    const calls = client.transport.requestCount - before;
    // A collector, a filter, a poll and the collector's destroy: before, this re-watched in a
    // tight loop, about 1,000 calls a second for ever.
    assert.ok(calls <= 6, `${calls} calls`);
    assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
  });

  it('a vanished task fails only its own wait: a task polled on the same collector still resolves', async () => {
    const task = await clone('shared-lane-survivor');
    const [kept, gone] = await Promise.all([
      client.tasks.wait<ManagedObjectReference>(task).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      client.tasks.wait(new ManagedObjectReference('Task', 'task-987654322')).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    ]);
    assert.ok('value' in kept, `the real task's wait failed: ${String('error' in kept && kept.error)}`);
    assert.equal(kept.value.type, 'VirtualMachine');
    assert.ok(
      'error' in gone && gone.error instanceof TaskOutcomeUnknownError,
      'the vanished task failed typed',
    );
  });

  it('serves 30 concurrent tasks with far fewer long polls than tasks', async () => {
    // A vcsim without the clone delay: with it, clones of one template finish one at a time
    // (vcsim holds the template's lock through the delay), and each would need its own poll.
    const fast = await Vcsim.start();
    const c = new VSphereClient({ url: fast.urlWithCredentials, tls: { insecure: true }, keepAliveMs: 0 });
    try {
      const content = await c.session.serviceContent();
      const vms = await c.collector.find(content.rootFolder, 'VirtualMachine', ['name', 'resourcePool']);
      const source = vms.find((vm) => vm.props.get('name') === 'DC0_H0_VM0')!;
      const [dc] = await c.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
      const tasks = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          c.session.invoke<ManagedObjectReference>('CloneVM_Task', {
            _this: source.obj,
            folder: dc!.props.get('vmFolder'),
            name: `task-many-${i}`,
            spec: { location: { pool: source.props.get('resourcePool') }, template: false, powerOn: false },
          }),
        ),
      );
      const results = await Promise.all(tasks.map((task) => c.tasks.wait<ManagedObjectReference>(task)));
      assert.equal(new Set(results.map((r) => r.value)).size, 30);
      assert.ok(c.tasks.stats.polls < 30, `30 tasks took ${c.tasks.stats.polls} polls`);
    } finally {
      await c.close();
      await fast.stop();
    }
  });
});

describe('keep-alive', () => {
  it('keeps an idle session from expiring', async () => {
    const short = await Vcsim.start({ sessionTimeout: '1s', vms: 0 });
    const kept = new VSphereClient({
      url: short.urlWithCredentials,
      tls: { insecure: true },
      keepAliveMs: 300,
    });
    try {
      await kept.connect();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const content = await kept.session.serviceContent();
      await kept.collector.find(content.rootFolder, 'Datacenter', ['name']);
      assert.equal(kept.session.stats.relogins, 0, 'the keep-alive held the session');
    } finally {
      await kept.close();
      await short.stop();
    }
  });
});
