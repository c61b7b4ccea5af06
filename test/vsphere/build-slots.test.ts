/**
 * The per-host limit on creations running at once: FIFO slots per key, handed straight to the
 * next waiter, keys independent, an abort gives up the place in line and takes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import { AbortError } from '../../src/transport/errors.ts';
import { BuildSlots, DEFAULT_BUILDS_PER_HOST } from '../../src/vsphere/build-slots.ts';

/** Whether `promise` has settled after the queued microtasks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('BuildSlots', () => {
  it('defaults to vCenter’s 8 provisioning operations per host', () => {
    assert.equal(DEFAULT_BUILDS_PER_HOST, 8);
    assert.equal(new BuildSlots().limit, 8);
  });

  it('refuses a limit that is not a whole number >= 0, naming the option', () => {
    for (const bad of [-1, 1.5, Number.NaN, '4' as unknown as number]) {
      assert.throws(
        () => new BuildSlots(bad),
        (error: unknown) =>
          error instanceof ValidationError &&
          error.issues.some((issue) => issue.field === 'maxConcurrentBuildsPerHost'),
        String(bad),
      );
    }
  });

  it('lets `limit` run per key, queues the rest in order, and keys do not limit each other', async () => {
    const slots = new BuildSlots(2);
    const a1 = await slots.acquire('HostSystem:h1');
    const a2 = await slots.acquire('HostSystem:h1');
    assert.equal(slots.inUse('HostSystem:h1'), 2);
    assert.equal(slots.free('HostSystem:h1'), false);
    const order: number[] = [];
    const w3 = slots.acquire('HostSystem:h1').then((release) => {
      order.push(3);
      return release;
    });
    const w4 = slots.acquire('HostSystem:h1').then((release) => {
      order.push(4);
      return release;
    });
    assert.equal(await settled(w3), false);
    assert.equal(slots.waiting('HostSystem:h1'), 2);
    // Another host is not held up by h1's queue.
    const b1 = await slots.acquire('HostSystem:h2');
    const b2 = await slots.acquire('HostSystem:h2');
    assert.equal(slots.inUse('HostSystem:h2'), 2);
    a1();
    a1(); // idempotent: the second call gives nothing back
    const r3 = await w3;
    assert.equal(await settled(w4), false, 'one release frees one slot');
    assert.equal(slots.inUse('HostSystem:h1'), 2);
    a2();
    const r4 = await w4;
    assert.deepEqual(order, [3, 4]);
    r3();
    r4();
    b1();
    b2();
    assert.equal(slots.inUse('HostSystem:h1'), 0);
    assert.equal(slots.inUse('HostSystem:h2'), 0);
    assert.equal(slots.waiting('HostSystem:h1'), 0);
  });

  it('an abort while waiting rejects with AbortError and takes no slot; an aborted signal never waits', async () => {
    const slots = new BuildSlots(1);
    const held = await slots.acquire('k');
    const controller = new AbortController();
    const queued = slots.acquire('k', controller.signal, 'clone of t to vm-1');
    const behind = slots.acquire('k');
    controller.abort(new Error('caller gave up'));
    await assert.rejects(queued, (error: unknown) => {
      assert.ok(error instanceof AbortError);
      assert.match(error.message, /clone of t to vm-1 was aborted/);
      return true;
    });
    assert.equal(slots.waiting('k'), 1);
    held();
    const next = await behind;
    assert.equal(slots.inUse('k'), 1);
    next();
    assert.equal(slots.inUse('k'), 0);
    await assert.rejects(slots.acquire('k', AbortSignal.abort()), AbortError);
    assert.equal(slots.inUse('k'), 0);
  });

  it('a limit of 0 never waits', async () => {
    const slots = new BuildSlots(0);
    const releases = await Promise.all(Array.from({ length: 50 }, () => slots.acquire('k')));
    assert.equal(releases.length, 50);
    assert.equal(slots.free('k'), true);
    for (const release of releases) release();
  });
});
