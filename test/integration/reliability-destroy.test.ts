/**
 * Destroy tells the truth when another process is still making the instance: two providers (two
 * processes' worth of state) on one vcsim whose clones take seconds. The destroy waits for the
 * other's clone, bounded by its signal, then destroys the VM; it never reports success while the
 * VM stays.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortError, type BackgroundFailure, VSphereInstanceProvider } from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

const CLONE_MS = 2500;
const cloneProps = { Template: 'DC0_H0_VM0', Hostname: 'DC0_H0' };
const tags = (group: string) => ({ 'infrakit.group': group, 'infrakit.config.hash': 'hash-1' });

let sim: Vcsim;
const providers: VSphereInstanceProvider[] = [];

function provider(onBackgroundError?: (failure: BackgroundFailure) => void): VSphereInstanceProvider {
  const p = new VSphereInstanceProvider({
    url: sim.sdkUrl,
    username: 'user',
    password: 'pass',
    tls: { thumbprint: sim.certificate!.sha256 },
    datastore: 'LocalDS_0',
    keepAliveMs: 0,
    shutdownTimeoutMs: 0,
    ...(onBackgroundError ? { onBackgroundError } : {}),
  });
  providers.push(p);
  return p;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function vmsNamed(name: string) {
  return (await sim.listVms()).filter((vm) => vm.name === name);
}

/**
 * Gives `maker`'s provision time to start its clone task (which then runs {@link CLONE_MS});
 * with `observer`, that process also describes the group once (it then reports the clone as
 * pending, learnt from vCenter's recent tasks).
 */
async function cloneStarted(group: string, id: string, observer?: VSphereInstanceProvider): Promise<void> {
  await sleep(700);
  if (observer) {
    const seen = await observer.describe({ 'infrakit.group': group });
    assert.deepEqual(
      seen.map((d) => [d.ID, d.Tags['infrakit.state']]),
      [[id, 'Provisioning']],
    );
  }
}

before(async () => {
  sim = await Vcsim.start({ methodDelay: { CloneVm: CLONE_MS } });
});
after(async () => {
  await Promise.all(providers.map((p) => p.close({ graceMs: 20_000 })));
  await sim?.stop();
});

describe('destroy of an instance another process is still cloning', () => {
  // The destroying process either never looked at the group (it learns of the clone from
  // vCenter's recent tasks when the ID is not found), or described it first and so already
  // reports the clone as pending.
  for (const described of [false, true]) {
    it(`waits for the clone to end, then destroys the VM (${described ? 'after' : 'without'} a describe by the destroyer)`, async () => {
      const failures: BackgroundFailure[] = [];
      const maker = provider((f) => failures.push(f));
      const destroyer = provider();
      const group = described ? 'in-flight-described' : 'in-flight';
      const provisioned = Date.now();
      const id = await maker.provision({ Tags: tags(group), Properties: cloneProps }, { wait: false });
      await cloneStarted(group, id, described ? destroyer : undefined);
      const askedMs = Date.now() - provisioned;
      assert.ok(askedMs < CLONE_MS - 500, `destroy is asked while the clone runs (${askedMs} ms in)`);
      await destroyer.destroy(id, { Reason: 'terminate' });
      const doneMs = Date.now() - provisioned;
      assert.ok(doneMs >= CLONE_MS, `destroy resolved after the clone ended (${doneMs} ms in)`);
      assert.deepEqual(await vmsNamed(id), [], 'the VM is gone once destroy resolves');
      // The maker's own follow-up (notes, power) may have met the destroyed VM: typed, reported.
      await maker.close({ graceMs: 20_000 });
      for (const f of failures) assert.equal(f.id, id);
      assert.deepEqual(await vmsNamed(id), [], 'nothing brought it back');
      assert.deepEqual(await destroyer.describe({ 'infrakit.group': group }), []);
    });
  }

  it('gives up with AbortError when its signal ends first, leaves the clone running, and a later destroy finishes', async () => {
    const maker = provider(() => undefined);
    const destroyer = provider();
    const id = await maker.provision({ Tags: tags('in-flight-2'), Properties: cloneProps }, { wait: false });
    await cloneStarted('in-flight-2', id);
    const started = Date.now();
    await assert.rejects(
      destroyer.destroy(id, { Reason: 'terminate' }, { signal: AbortSignal.timeout(300) }),
      (e: unknown) => e instanceof AbortError,
    );
    assert.ok(Date.now() - started < 2000, 'the abort was honoured while the clone ran');
    // Not our task: it was not cancelled, and the maker finishes its instance.
    await maker.close({ graceMs: 20_000 });
    const made = await vmsNamed(id);
    assert.equal(made.length, 1, 'the clone made its VM');
    assert.match(made[0]!.annotation ?? '', /^in-flight-2\nhash-1/);
    await destroyer.destroy(id, { Reason: 'terminate' });
    assert.deepEqual(await vmsNamed(id), []);
  });

  it('a missing ID with no clone in flight: NOT_FOUND at once', async () => {
    const destroyer = provider();
    const started = Date.now();
    await assert.rejects(destroyer.destroy('vm-404', { Reason: 'terminate' }), { code: 'NOT_FOUND' });
    assert.ok(Date.now() - started < CLONE_MS, 'nothing was waited for');
  });
});
