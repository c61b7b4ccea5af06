/**
 * The per-host limit on concurrent creations (`maxConcurrentBuildsPerHost`) on vcsim, with clones
 * (and ISO creations) slowed to seconds: never more creation tasks running per host than the
 * limit, from the states vCenter reports for the tasks the providers started; two hosts do not
 * hold each other up; a provision aborted while it waits for a slot makes nothing; a waiting
 * `wait: false` provision is described as Provisioning, and `close()` waits for it.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { VSphereClient } from '../../src/client.ts';
import { AbortError, VSphereInstanceProvider } from '../../src/index.ts';
import type { HttpRequest } from '../../src/transport/http.ts';
import { ManagedObjectReference } from '../../src/vim25/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

const CLONE_MS = 1500;
/**
 * vcsim runs the clones of one template one after another, so each host gets several templates
 * (`vms: 3` per resource pool): without a limit, a host would run one clone per template at once.
 * The stand-alone host DC0_H0 and the cluster host DC0_C0_H0, named by every provision.
 */
const HOSTS: Record<string, string[]> = {
  DC0_H0: ['DC0_H0_VM0', 'DC0_H0_VM1', 'DC0_H0_VM2'],
  DC0_C0_H0: ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1'],
};
const on = (host: string, index: number) => ({
  Template: HOSTS[host]![index % HOSTS[host]!.length]!,
  Hostname: host,
});
const tags = (group: string) => ({ 'infrakit.group': group, 'infrakit.config.hash': 'hash-1' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let sim: Vcsim;
let admin: VSphereClient;
const providers: VSphereInstanceProvider[] = [];
const templates = new Map<string, ManagedObjectReference>();

function provider(maxConcurrentBuildsPerHost: number, on = sim): VSphereInstanceProvider {
  const p = new VSphereInstanceProvider({
    url: on.sdkUrl,
    username: 'user',
    password: 'pass',
    tls: { thumbprint: on.certificate!.sha256 },
    datacenter: 'DC0',
    datastore: 'LocalDS_0',
    keepAliveMs: 0,
    shutdownTimeoutMs: 0,
    maxConcurrentBuildsPerHost,
    onBackgroundError: (failure) => assert.fail(`background ${failure.operation}: ${failure.error.message}`),
  });
  providers.push(p);
  return p;
}

/** Every creation task the providers started: its method, its `_this` MoRef value, the task. */
const cloneTasks: { method: string; template: string; task: ManagedObjectReference }[] = [];

/**
 * Records the `CloneVM_Task` / `CreateVM_Task` calls a provider sends, at its own transport, with
 * the task each answer names (vcsim lists a slowed clone in no `recentTask` until it ends, so the
 * test asks vCenter about these tasks themselves). Returns the count of clone calls sent.
 */
function countClones(p: VSphereInstanceProvider): () => number {
  let count = 0;
  const transport = p.client.transport;
  const send = transport.request.bind(transport);
  transport.request = (req: HttpRequest) => {
    const pending = send(req);
    const method =
      typeof req.body === 'string' ? /<(CloneVM_Task|CreateVM_Task)\b/.exec(req.body)?.[1] : undefined;
    if (method) {
      if (method === 'CloneVM_Task') count += 1;
      const template = /<_this[^>]*>([^<]+)<\/_this>/.exec(req.body as string)?.[1];
      pending.then(
        (response) => {
          const task = /<returnval[^>]*>([^<]+)<\/returnval>/.exec(response.body.toString())?.[1];
          if (template && task)
            cloneTasks.push({ method, template, task: new ManagedObjectReference('Task', task) });
        },
        () => undefined,
      );
    }
    return pending;
  };
  return () => count;
}

/**
 * Holds back the answer to the first `CloneVM_Task` call `p` sends (vCenter has started the task;
 * the provider only learns it when the returned function is called), so that provision keeps its
 * slot until then.
 */
function holdFirstClone(p: VSphereInstanceProvider): () => void {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = false;
  const transport = p.client.transport;
  const send = transport.request.bind(transport);
  transport.request = (req: HttpRequest) => {
    const pending = send(req);
    if (held || typeof req.body !== 'string' || !/<CloneVM_Task\b/.test(req.body)) return pending;
    held = true;
    return pending.then(async (response) => {
      await gate;
      return response;
    });
  };
  return release;
}

/** Polls `done` every 50 ms for up to 30 s (the provisions log in and look the inventory up first). */
async function until(done: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    assert.ok(Date.now() < deadline, what());
    await sleep(50);
  }
}

/** Clone tasks (of the templates) on `host` that vCenter reports queued or running, now. */
async function runningClones(host: string): Promise<number> {
  const sources = new Set(HOSTS[host]!.map((name) => templates.get(name)!.value));
  return runningOf(cloneTasks.filter((t) => t.method === 'CloneVM_Task' && sources.has(t.template)));
}

/** How many of `recorded` vCenter reports queued or running, now. */
async function runningOf(recorded: typeof cloneTasks): Promise<number> {
  const tasks = recorded.map((t) => t.task);
  if (tasks.length === 0) return 0;
  const states = await admin.collector.properties(tasks, ['info.state']);
  return states.filter((t) => ['queued', 'running'].includes(String(t.props.get('info.state')))).length;
}

/**
 * Samples the running clones of each host every 100 ms until `work` settles; returns the
 * highest count seen per host and the highest sum over both at one instant.
 */
async function watch(
  work: Promise<unknown>,
): Promise<{ peak: Map<string, number>; peakTogether: number; samples: number }> {
  let done = false;
  const ended = work.finally(() => {
    done = true;
  });
  // Awaited at the end; until then a sampling call that fails (vcsim gone) must not leave the
  // work's own later failure unhandled.
  ended.catch(() => undefined);
  const peak = new Map<string, number>();
  let peakTogether = 0;
  let samples = 0;
  while (!done) {
    let together = 0;
    for (const name of Object.keys(HOSTS)) {
      const n = await runningClones(name);
      peak.set(name, Math.max(peak.get(name) ?? 0, n));
      together += n;
    }
    peakTogether = Math.max(peakTogether, together);
    samples += 1;
    await sleep(100);
  }
  await ended;
  return { peak, peakTogether, samples };
}

async function vmsOfGroup(group: string, on = sim): Promise<string[]> {
  return (await on.listVms())
    .filter((vm) => vm.annotation?.startsWith(`${group}\n`))
    .map((vm) => vm.name)
    .sort();
}

/**
 * Each test has a vcsim of its own: one that dies (or is left busy with clones an aborted test
 * started) does not fail the tests after it, and a test's failure names its own vcsim's output.
 */
beforeEach(async () => {
  sim = await Vcsim.start({ vms: 3, methodDelay: { CloneVm: CLONE_MS } });
  admin = new VSphereClient({
    url: sim.sdkUrl,
    username: 'user',
    password: 'pass',
    tls: { thumbprint: sim.certificate!.sha256 },
    keepAliveMs: 0,
  });
  cloneTasks.length = 0;
  templates.clear();
  for (const vm of await sim.listVms()) {
    if (Object.values(HOSTS).flat().includes(vm.name))
      templates.set(vm.name, new ManagedObjectReference('VirtualMachine', vm.moref));
  }
  assert.equal(templates.size, 5, 'every template found');
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close({ graceMs: 30_000 })));
  await admin?.close();
  const died = sim.exited;
  const output = sim.output;
  await sim.stop();
  // A failing test reports its own error, not this hook's: the output is written out as well.
  if (died) process.stderr.write(`vcsim died during the test; its output:\n${output}\n`);
  assert.equal(died, false, `vcsim died during the test: ${output}`);
});

describe('maxConcurrentBuildsPerHost on vcsim (clones slowed to 1.5 s)', () => {
  it('never runs more than the limit of clone tasks on one host, and uses all of it', async () => {
    const p = provider(2);
    const sent = countClones(p);
    const started = Date.now();
    const work = Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        p.provision({ Tags: tags('limit-2'), Properties: on('DC0_H0', i) }),
      ),
    );
    const seen = await watch(work);
    const ids = await work;
    const elapsed = Date.now() - started;
    assert.ok(seen.samples >= 10, `sampled often enough (${seen.samples})`);
    assert.equal(seen.peak.get('DC0_H0'), 2, 'at most 2 clone tasks at once on the host, and 2 were reached');
    assert.equal(sent(), 6, 'one clone call per provision');
    // 6 clones of 1.5 s, 2 at a time: three waves (three templates at once would take two).
    assert.ok(elapsed >= 3 * CLONE_MS, `the limit made them take three waves (${elapsed} ms)`);
    assert.deepEqual(await vmsOfGroup('limit-2'), [...ids].sort(), 'every VM made, read back from vCenter');
  });

  it('two hosts do not hold each other up', async () => {
    const p = provider(1);
    countClones(p);
    const work = Promise.all([
      ...[0, 1].map((i) => p.provision({ Tags: tags('two-hosts'), Properties: on('DC0_H0', i) })),
      ...[0, 1].map((i) => p.provision({ Tags: tags('two-hosts'), Properties: on('DC0_C0_H0', i) })),
    ]);
    const seen = await watch(work);
    const ids = await work;
    assert.equal(seen.peak.get('DC0_H0'), 1, 'one at a time on DC0_H0 (two templates)');
    assert.equal(seen.peak.get('DC0_C0_H0'), 1, 'one at a time on DC0_C0_H0 (two templates)');
    // From the task states vCenter reports, not from wall-clock time (a loaded machine stretches
    // the log-ins and look-ups around the clones).
    assert.equal(seen.peakTogether, 2, 'both hosts cloned at the same time');
    assert.deepEqual(await vmsOfGroup('two-hosts'), [...ids].sort());
  });

  it('ISO creations (CreateVM_Task) count against the host they name too', async () => {
    // A vcsim of its own: a CreateVm delay would slow every clone too (vcsim clones through it).
    const isoSim = await Vcsim.start({ methodDelay: { CreateVm: CLONE_MS } });
    try {
      const p = provider(1, isoSim);
      countClones(p);
      const iso = { ISOPath: 'iso/limit.iso', Hostname: 'DC0_H0', Network: 'VM Network' };
      const started = Date.now();
      // Two group folders: vcsim would run the two creations side by side without the limit.
      const work = Promise.all(
        ['iso-a', 'iso-b'].map((group) => p.provision({ Tags: tags(group), Properties: iso })),
      );
      let done = false;
      work
        .finally(() => {
          done = true;
        })
        .catch(() => undefined);
      let peak = 0;
      while (!done) {
        const creations = cloneTasks.filter((t) => t.method === 'CreateVM_Task');
        const states = creations.length
          ? await p.client.collector.properties(
              creations.map((t) => t.task),
              ['info.state'],
            )
          : [];
        const running = states.filter((t) =>
          ['queued', 'running'].includes(String(t.props.get('info.state'))),
        );
        peak = Math.max(peak, running.length);
        await sleep(100);
      }
      const [a, b] = await work;
      assert.equal(peak, 1, 'one ISO creation at a time on DC0_H0');
      assert.ok(Date.now() - started >= 2 * CLONE_MS, 'the second waited for the first');
      assert.deepEqual(await vmsOfGroup('iso-a', isoSim), [a]);
      assert.deepEqual(await vmsOfGroup('iso-b', isoSim), [b]);
      await p.close({ graceMs: 30_000 });
    } finally {
      await isoSim.stop();
    }
  });

  it('a provision aborted while it waits makes nothing; a waiting wait:false one is Provisioning, and close() waits for it', async () => {
    const p = provider(1);
    const sent = countClones(p);
    // The first clone's answer is held back until the end, so the first provision holds the
    // host's only slot for as long as the test needs, whatever the machine's load.
    const releaseFirst = holdFirstClone(p);
    const group = 'abort-queued';
    const first = await p.provision(
      { Tags: tags(group), LogicalID: 'first', Properties: on('DC0_H0', 0) },
      { wait: false },
    );
    await until(
      () => sent() === 1,
      () => `the first clone was sent (${sent()})`,
    );
    // Each of the others is started once the one before it waits in line, so the order in
    // which they reach the slot is the order they were asked in.
    const queuedPhases: string[] = [];
    const queued = await p.provision(
      { Tags: tags(group), LogicalID: 'queued', Properties: on('DC0_H0', 0) },
      { wait: false, onProgress: (e) => queuedPhases.push(e.phase) },
    );
    await until(
      () => queuedPhases.includes('queued'),
      () => `the second waits for the slot (${queuedPhases})`,
    );
    const controller = new AbortController();
    const phases: string[] = [];
    const aborted = p.provision(
      { Tags: tags(group), LogicalID: 'aborted', Properties: on('DC0_H0', 0) },
      { signal: controller.signal, onProgress: (e) => phases.push(e.phase) },
    );
    // The same LogicalID asked again answers the same ID (no deadlock with the claim).
    const again = p.provision({ Tags: tags(group), LogicalID: 'queued', Properties: on('DC0_H0', 0) });
    await until(
      () => phases.includes('queued'),
      () => `the third waits for the slot (${phases})`,
    );
    assert.equal(sent(), 1, 'only the first clone was sent');
    assert.ok((await runningClones('DC0_H0')) <= 1, 'one clone at a time on the host');
    const described = new Map(
      (await p.describe({ 'infrakit.group': group })).map((d) => [d.LogicalID, d.Tags['infrakit.state']]),
    );
    assert.ok(described.has('first'), 'the first is listed (being made, or made)');
    assert.equal(described.get('queued'), 'Provisioning', 'the waiting wait:false provision is Provisioning');
    assert.equal(described.has('aborted'), false, 'a waiting wait:true provision is not pending');
    controller.abort(new Error('the caller gave up'));
    const abortedAt = Date.now();
    await assert.rejects(aborted, (error: unknown) => error instanceof AbortError);
    assert.ok(Date.now() - abortedAt < 500, 'the abort was honoured at once');
    assert.ok(!phases.includes('clone'), 'the aborted provision did not start its clone');
    releaseFirst();
    assert.equal(await again, queued, 'the repeated LogicalID got the queued instance');
    // The queued wait:false provision is work in flight: close() waits for it.
    await p.close({ graceMs: 30_000 });
    assert.equal(sent(), 2, 'the aborted provision never sent its clone');
    assert.ok(queuedPhases.includes('clone'), 'the queued provision cloned once the slot was free');
    assert.deepEqual(await vmsOfGroup(group), [first, queued].sort(), 'nothing left behind by the abort');
  });
});
