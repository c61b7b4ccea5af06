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
  describeError,
  foldersNamed,
  groupTags,
  PASSWORD,
  type Rig,
  startRig,
  vmNamesInFolder,
} from '../reliability/harness.ts';
import { destroyInStorm, provisionAndLabelInStorm, type StormNote } from '../reliability/scenarios.ts';
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
    const failures = new Map<string, number>();
    const note: StormNote = (what, _id, error) => {
      watch.error(what, error);
      assert.ok(error instanceof VSphereError, `${what}: ${describeError(error)}`);
      failures.set(`${what} ${error.code}`, (failures.get(`${what} ${error.code}`) ?? 0) + 1);
    };
    const started = performance.now();
    const { ids, injected } = await provisionAndLabelInStorm({
      rig,
      provider: p,
      tags,
      provisions: PROVISIONS,
      batch: 8,
      labels: { soak: 'yes' },
      seed,
      note,
    });
    const inFolder = await vmNamesInFolder(rig, group);
    assert.deepEqual(inFolder.sort(), [...ids].sort(), 'no duplicate, no leak');
    assert.equal(await foldersNamed(rig.admin, group), 1);
    await destroyInStorm({ rig, provider: p, ids, concurrency: 8, attempts: 8, note });
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
