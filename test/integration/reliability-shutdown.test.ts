/**
 * Stopping while vCenter is making a VM: an aborted provision, `close()` with a grace period, and
 * `serve` receiving SIGTERM. Each VM that vCenter makes for this process ends up owned (in its
 * group folder with its notes) or removed, and the session is logged out; nothing waits for ever.
 * vcsim delays every clone by a few seconds so that each signal lands while one is running.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AbortError, VSphereInstanceProvider } from '../../src/index.ts';
import { call } from '../plugin/rpc-client.ts';
import {
  cloneProps,
  describeError,
  groupTags,
  instanceVmNames,
  liveSessions,
  PASSWORD,
  PROVIDER_USER,
  type Rig,
  settle,
  sleep,
  startRig,
} from '../reliability/harness.ts';
import { SecretWatch } from '../reliability/secrets.ts';
import { servedChildren, startServe } from '../reliability/serve-process.ts';

const CLONE_MS = 3000;
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;
let root: string;

before(async () => {
  rig = await startRig({ vcsim: { methodDelay: { CloneVm: CLONE_MS } } });
  watch.cookiesFrom(rig.proxy);
  root = await mkdtemp(join(tmpdir(), 'ikv-stop-'));
});
after(async () => {
  for (const child of servedChildren) child.kill('SIGKILL');
  await rig?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Resolves once the proxy has forwarded `n` CloneVM_Task calls in all. */
async function clonesStarted(n: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (rig.proxy.count('CloneVM_Task').forwarded < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} clones started`);
    await sleep(20);
  }
}

/** The instances of `tags`'s group as a provider of its own, straight to vcsim, sees them. */
async function ownedInstances(tags: Record<string, string>): Promise<string[]> {
  const observer = new VSphereInstanceProvider({
    url: rig.sim.sdkUrl,
    username: 'shutdown-observer',
    password: 'observer',
    datastore: 'LocalDS_0',
    keepAliveMs: 0,
  });
  try {
    return (await observer.describe(tags)).map((d) => d.ID).sort();
  } finally {
    await observer.close();
  }
}

describe('an aborted provision and close()', () => {
  it('abort while vCenter clones: AbortError at once; the VM vCenter still makes is removed, and close() waits for that', async () => {
    const provider = rig.provider();
    const tags = groupTags('abort-mid-clone');
    const controller = new AbortController();
    const clonesBefore = rig.proxy.count('CloneVM_Task').forwarded;
    const provisioning = settle(
      provider.provision({ Tags: tags, Properties: cloneProps }, { signal: controller.signal }),
    );
    await clonesStarted(clonesBefore + 1);
    await sleep(300);
    const abortedAt = Date.now();
    controller.abort(new Error('operator gave up'));
    const outcome = await provisioning;
    assert.ok(
      Date.now() - abortedAt < 1000,
      `the provision ended ${Date.now() - abortedAt} ms after the abort`,
    );
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && outcome.error instanceof AbortError, String(!outcome.ok && outcome.error));
    const closing = Date.now();
    const { unfinished } = await provider.close({ graceMs: 20_000 });
    assert.deepEqual(unfinished, []);
    assert.ok(Date.now() - closing >= 1000, 'close() waited for the clone to end and its VM to go');
    assert.deepEqual(await instanceVmNames(rig.sim), [], 'the VM made for the aborted provision is gone');
    assert.equal(await liveSessions(rig.admin, PROVIDER_USER), 0);
  });

  it("a provision that joined another's LogicalID is not aborted by the other's signal: it makes the VM itself", async () => {
    const provider = rig.provider();
    const tags = groupTags('abort-joined-claim');
    const spec = { Tags: tags, Properties: cloneProps, LogicalID: 'pet-0' };
    const controller = new AbortController();
    const clonesBefore = rig.proxy.count('CloneVM_Task').forwarded;
    const first = settle(provider.provision(spec, { signal: controller.signal }));
    await clonesStarted(clonesBefore + 1);
    const second = settle(provider.provision(spec));
    await sleep(300);
    controller.abort(new Error('operator gave up on the first'));
    const [a, b] = await Promise.all([first, second]);
    assert.ok(!a.ok && a.error instanceof AbortError, 'the first provision was aborted');
    assert.ok(b.ok, `the second provision went on: ${!b.ok ? describeError(b.error) : ''}`);
    assert.equal(b.ok && b.value, 'vm-pet-0');
    await provider.close({ graceMs: 20_000 });
    assert.deepEqual(await ownedInstances(tags), ['vm-pet-0'], 'exactly the one VM, made for the second');
  });

  it('close() whose grace runs out names the instances vCenter is still making, and logs out', async () => {
    const provider = rig.provider();
    const tags = groupTags('close-short-grace');
    const clonesBefore = rig.proxy.count('CloneVM_Task').forwarded;
    const id = await provider.provision({ Tags: tags, Properties: cloneProps }, { wait: false });
    await clonesStarted(clonesBefore + 1);
    const closing = Date.now();
    const { unfinished } = await provider.close({ graceMs: 200 });
    assert.ok(Date.now() - closing < 3000, `close() took ${Date.now() - closing} ms`);
    assert.deepEqual(unfinished, [id]);
    assert.equal(await liveSessions(rig.admin, PROVIDER_USER), 0);
    await sleep(CLONE_MS);
  });
});

describe('serve on SIGTERM', () => {
  function serveArgs(): string[] {
    const url = new URL(rig.proxy.sdkUrl);
    url.username = PROVIDER_USER;
    return [
      'serve',
      '--url',
      url.toString(),
      '--datacenter',
      'DC0',
      '--datastore',
      'LocalDS_0',
      '--hostname',
      'DC0_H0',
    ];
  }

  it('a clone in flight is finished and owned before serve logs out and exits 0', async () => {
    const served = await startServe(join(root, 'sigterm'), serveArgs(), { VCPASSWORD: PASSWORD });
    const tags = groupTags('sigterm-mid-clone');
    const clonesBefore = rig.proxy.count('CloneVM_Task').forwarded;
    const { reply } = await call({ socketPath: served.socketPath }, 'Instance.Provision', {
      Type: '',
      Spec: { Tags: tags, Properties: { Template: 'DC0_H0_VM0', PowerOn: true } },
    });
    const id = (reply.result as { ID: string }).ID;
    assert.match(id, /^vm-\d+$/, JSON.stringify(reply));
    await clonesStarted(clonesBefore + 1);
    const signalledAt = Date.now();
    served.child.kill('SIGTERM');
    const { code, signal } = await served.exited;
    const tookMs = Date.now() - signalledAt;
    assert.equal(signal, null, served.output());
    assert.equal(code, 0, served.output());
    assert.ok(tookMs >= 1000, `serve waited for the clone (${tookMs} ms)`);
    assert.deepEqual(await ownedInstances(tags), [id], 'the VM exists and its group sees it');
    assert.equal(await liveSessions(rig.admin, PROVIDER_USER), 0, 'serve logged out');
    assert.ok(!served.output().includes(PASSWORD));
  });

  it('a grace period shorter than the clone: serve exits 1 within it, naming the instance vCenter is still making', async () => {
    const served = await startServe(
      join(root, 'short-grace'),
      [...serveArgs(), '--shutdown-grace', '500ms'],
      {
        VCPASSWORD: PASSWORD,
      },
    );
    const tags = groupTags('sigterm-short-grace');
    const clonesBefore = rig.proxy.count('CloneVM_Task').forwarded;
    const { reply } = await call({ socketPath: served.socketPath }, 'Instance.Provision', {
      Type: '',
      Spec: { Tags: tags, Properties: { Template: 'DC0_H0_VM0' } },
    });
    const id = (reply.result as { ID: string }).ID;
    await clonesStarted(clonesBefore + 1);
    const signalledAt = Date.now();
    served.child.kill('SIGTERM');
    const { code } = await served.exited;
    assert.ok(Date.now() - signalledAt < 2500, `exited ${Date.now() - signalledAt} ms after SIGTERM`);
    assert.equal(code, 1, served.output());
    assert.match(served.output(), new RegExp(`still making ${id}`));
    assert.equal(await liveSessions(rig.admin, PROVIDER_USER), 0, 'serve logged out');
    await sleep(CLONE_MS);
  });

  it('a second SIGTERM while draining exits at once, non-zero', async () => {
    const served = await startServe(join(root, 'twice'), serveArgs(), { VCPASSWORD: PASSWORD });
    const tags = groupTags('sigterm-twice');
    const clonesBefore = rig.proxy.count('CloneVM_Task').forwarded;
    await call({ socketPath: served.socketPath }, 'Instance.Provision', {
      Type: '',
      Spec: { Tags: tags, Properties: { Template: 'DC0_H0_VM0' } },
    });
    await clonesStarted(clonesBefore + 1);
    served.child.kill('SIGTERM');
    await sleep(200);
    const secondAt = Date.now();
    served.child.kill('SIGTERM');
    const { code } = await served.exited;
    assert.ok(Date.now() - secondAt < 1500, `exited ${Date.now() - secondAt} ms after the second signal`);
    assert.notEqual(code, 0);
    await sleep(CLONE_MS);
  });

  it('no password or session cookie in any debug line, error or inspected object', () => {
    assert.deepEqual(watch.leaks(), []);
  });
});
