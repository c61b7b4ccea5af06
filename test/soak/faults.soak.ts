/**
 * Soak: the seeded fault storm of reliability-faults.test.ts, longer and on several seeds: batches
 * of concurrent provisions, labels and destroys while 12% of all calls are reset, refused with
 * 503, truncated or answered into the void. Typed errors only; every VM in the group folder is one
 * a provision returned; destroying (retried like a controller would) leaves nothing.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import { VSphereError } from '../../src/index.ts';
import {
  cloneProps,
  describeError,
  foldersNamed,
  groupTags,
  PASSWORD,
  type Rig,
  settle,
  startRig,
  vmNamesInFolder,
} from '../reliability/harness.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const PROVISIONS = Number(process.env.RELIABILITY_SOAK_PROVISIONS ?? 200);
const SEEDS = [1, 2, 3, 4, 5];
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;

// A fresh vcsim per seed: vcsim's recent-task lists and collector queues only grow.
beforeEach(async () => {
  rig = await startRig();
  watch.cookiesFrom(rig.proxy);
});
afterEach(async () => {
  await rig?.close();
});

for (const seed of SEEDS) {
  it(`seed ${seed}: ${PROVISIONS} provisions under 12% faulty calls, no duplicate, no leak`, async (t) => {
    const p = rig.provider();
    const group = `soak-storm-${seed}`;
    const tags = groupTags(group);
    rig.proxy.reseed(seed);
    rig.proxy.setRules([
      { fault: { kind: 'latency', ms: 3, jitterMs: 3 } },
      { rate: 0.03, fault: { kind: 'reset' } },
      { rate: 0.03, fault: { kind: 'status', status: 503 } },
      { rate: 0.03, fault: { kind: 'drop' } },
      { rate: 0.03, fault: { kind: 'truncate' } },
    ]);
    const faultsBefore = rig.proxy.totals.faults;
    const ids: string[] = [];
    const failures = new Map<string, number>();
    const note = (what: string, error: unknown) => {
      watch.error(what, error);
      assert.ok(error instanceof VSphereError, `${what}: ${describeError(error)}`);
      failures.set(`${what} ${error.code}`, (failures.get(`${what} ${error.code}`) ?? 0) + 1);
    };
    const started = performance.now();
    for (let done = 0; done < PROVISIONS; done += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, PROVISIONS - done) }, () =>
          settle(p.provision({ Tags: tags, Properties: cloneProps })),
        ),
      );
      for (const o of batch) {
        if (o.ok) ids.push(o.value);
        else note('provision', o.error);
      }
    }
    for (const id of ids) {
      const o = await settle(p.label(id, { soak: 'yes' }));
      if (!o.ok) note('label', o.error);
    }
    const injected = rig.proxy.totals.faults - faultsBefore;
    rig.proxy.setRules([]);
    const inFolder = await vmNamesInFolder(rig, group);
    assert.deepEqual(inFolder.sort(), [...ids].sort(), 'no duplicate, no leak');
    assert.equal(await foldersNamed(rig.admin, group), 1);
    rig.proxy.setRules([
      { rate: 0.05, fault: { kind: 'reset' } },
      { rate: 0.05, fault: { kind: 'drop' } },
    ]);
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(
        ids.slice(i, i + 8).map(async (id) => {
          for (let attempt = 1; ; attempt++) {
            const o = await settle(p.destroy(id));
            if (o.ok) return;
            note('destroy', o.error);
            assert.ok(attempt < 8, `destroy ${id} kept failing`);
          }
        }),
      );
    }
    rig.proxy.setRules([]);
    assert.deepEqual(await vmNamesInFolder(rig, group), []);
    t.diagnostic(
      `SOAK faults seed ${seed}: ${ids.length}/${PROVISIONS} provisions succeeded, ${injected} faults injected (latency included), ` +
        `${Math.round((performance.now() - started) / 1000)} s; typed failures: ${JSON.stringify(Object.fromEntries(failures))}`,
    );
    await p.close();
  });
}

it('no password or session cookie leaked during the storms', () => {
  assert.deepEqual(watch.leaks(), []);
});
