/**
 * Errors stay with the request that caused them: a provision naming things that do not exist
 * (folder, template, network, datastore, host, cluster, resource pool, datacenter) fails on its
 * own, and another group's describe and provision go on working in the same process, in the
 * library and through `serve`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BackgroundFailure, VSphereInstanceProvider } from '../../src/index.ts';
import { call, type JsonRpcReply } from '../plugin/rpc-client.ts';
import { type Served, servedChildren, startServe } from '../reliability/serve-process.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

let sim: Vcsim;
let root: string;
const providers: VSphereInstanceProvider[] = [];

const GOOD = { Template: 'DC0_H0_VM0', Hostname: 'DC0_H0' };

/** [what is wrong, properties of the bad provision, the field the failure names] */
const BAD: [string, Record<string, string>, string][] = [
  ['a Folder that does not exist', { ...GOOD, Folder: 'no-such-folder' }, 'Properties.Folder'],
  ['a Template that does not exist', { ...GOOD, Template: 'no-such-template' }, 'Properties.Template'],
  ['a Network that does not exist', { ...GOOD, Network: 'no-such-network' }, 'Properties.Network'],
  ['a Datastore that does not exist', { ...GOOD, Datastore: 'NoSuchDS' }, 'Properties.Datastore'],
  [
    'a Hostname that does not exist',
    { Template: 'DC0_H0_VM0', Hostname: 'no-such-host' },
    'Properties.Hostname',
  ],
  [
    'a Cluster that does not exist',
    { Template: 'DC0_H0_VM0', Cluster: 'no-such-cluster' },
    'Properties.Cluster',
  ],
  [
    'a ResourcePool that does not exist',
    { Template: 'DC0_H0_VM0', ResourcePool: 'no-such-pool' },
    'Properties.ResourcePool',
  ],
  ['a Datacenter that does not exist', { ...GOOD, Datacenter: 'NoSuchDC' }, 'Properties.Datacenter'],
];

const tags = (group: string) => ({ 'infrakit.group': group, 'infrakit.config.hash': 'hash-1' });

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

async function waitUntil(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

before(async () => {
  sim = await Vcsim.start();
  root = await mkdtemp(join(tmpdir(), 'ikv-isolation-'));
});
after(async () => {
  for (const child of servedChildren) child.kill('SIGKILL');
  await Promise.all(providers.map((p) => p.close({ graceMs: 5000 })));
  await sim?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('a bad provision in one group leaves every other group working (library)', () => {
  it('describes and provisions group B after each bad provision into group A, waited for or not', async () => {
    const failures: BackgroundFailure[] = [];
    const p = provider((f) => failures.push(f));
    // Group B exists before the bad input arrives, and keeps its instance visible throughout.
    const b = await p.provision({ Tags: tags('iso-b'), Properties: GOOD });
    const made = [b];
    for (const [what, properties, field] of BAD) {
      await assert.rejects(
        p.provision({ Tags: tags('iso-a'), Properties: properties }),
        (e: Error & { field?: string; issues?: { field: string }[] }) => {
          const fields = [e.field, ...(e.issues ?? []).map((i) => i.field)];
          assert.ok(fields.includes(field), `${what}: failure names ${field}, got ${e.message}`);
          return true;
        },
        what,
      );
      // The same input without waiting: the failure comes in the background.
      const reported = failures.length;
      await p.provision({ Tags: tags('iso-a'), Properties: properties }, { wait: false });
      await waitUntil(`the background failure of ${what}`, () => failures.length > reported);
      assert.equal(failures.at(-1)?.group, 'iso-a');
      const described = await p.describe({ 'infrakit.group': 'iso-b' });
      assert.deepEqual(
        described.map((d) => d.ID).sort(),
        [...made].sort(),
        `after ${what}: group B still describes its instances`,
      );
    }
    const again = await p.provision({ Tags: tags('iso-b'), Properties: GOOD });
    made.push(again);
    assert.deepEqual(
      (await p.describe({ 'infrakit.group': 'iso-b' })).map((d) => d.ID).sort(),
      [...made].sort(),
    );
    assert.deepEqual(
      (await p.describe({ 'infrakit.group': 'iso-a' })).map((d) => d.ID),
      [],
      'the failed provisions left no instance',
    );
    assert.equal(failures.length, BAD.length, 'each background failure was reported');
    for (const id of made) await p.destroy(id);
  });
});

describe('a bad provision in one group leaves every other group working (serve)', () => {
  let served: Served;
  const rpc = async (method: string, params: unknown): Promise<JsonRpcReply> => {
    const { status, reply } = await call({ socketPath: served.socketPath }, method, params);
    assert.equal(status, 200);
    return reply;
  };
  const describeIds = async (group: string): Promise<{ ID: string; Tags: Record<string, string> }[]> => {
    const reply = await rpc('Instance.DescribeInstances', { Type: '', Tags: { 'infrakit.group': group } });
    assert.equal(reply.error, undefined, `describe ${group}: ${reply.error?.message}`);
    return (reply.result as { Descriptions: { ID: string; Tags: Record<string, string> }[] }).Descriptions;
  };
  const provisionRpc = (group: string, properties: Record<string, string>) =>
    rpc('Instance.Provision', { Type: '', Spec: { Properties: properties, Tags: tags(group) } });

  before(async () => {
    served = await startServe(
      join(root, 'serve'),
      [
        '-url',
        `https://user@${sim.sdkUrl.slice('https://'.length)}`,
        '-datastore',
        'LocalDS_0',
        '--thumbprint',
        sim.certificate!.sha256,
      ],
      { VCPASSWORD: 'pass' },
    );
  });
  after(async () => {
    served?.child.kill('SIGTERM');
    await served?.exited;
  });

  it('describes and provisions group B after each bad provision into group A', async () => {
    const first = await provisionRpc('serve-b', GOOD);
    assert.equal(first.error, undefined, first.error?.message);
    const made = [(first.result as { ID: string }).ID];
    const settledB = async () => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const rows = await describeIds('serve-b');
        if (rows.every((r) => r.Tags['infrakit.state'] === undefined)) return rows;
        if (Date.now() > deadline) throw new Error('group B stayed Provisioning');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await settledB();
    for (const [what] of BAD) {
      const properties = BAD.find(([w]) => w === what)![1];
      const reply = await provisionRpc('serve-a', properties);
      if (reply.error === undefined) {
        // Accepted (the check runs after the answer): wait for the pending entry to drop.
        const deadline = Date.now() + 30_000;
        while ((await describeIds('serve-a')).length > 0) {
          if (Date.now() > deadline) throw new Error(`${what}: the failed provision stayed pending`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      assert.deepEqual(
        (await describeIds('serve-b')).map((d) => d.ID).sort(),
        [...made].sort(),
        `after ${what}: group B still describes its instance`,
      );
    }
    const again = await provisionRpc('serve-b', GOOD);
    assert.equal(again.error, undefined, again.error?.message);
    made.push((again.result as { ID: string }).ID);
    assert.deepEqual((await settledB()).map((d) => d.ID).sort(), [...made].sort());
    assert.deepEqual(await describeIds('serve-a'), [], 'the failed provisions left no instance');
    for (const id of made) {
      const destroyed = await rpc('Instance.Destroy', {
        Type: '',
        Instance: id,
        Context: { Reason: 'terminate' },
      });
      assert.equal(destroyed.error, undefined, destroyed.error?.message);
    }
  });
});
