/**
 * The deadline a call carries through its layers: what is left, the error it ends with, a signal
 * for code that only takes one, and a bounded wait on work shared with other callers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deadline } from '../../src/transport/deadline.ts';
import { AbortError, TimeoutError } from '../../src/transport/errors.ts';

describe('Deadline', () => {
  it('counts down and names the method and the whole budget in its error', async () => {
    const deadline = new Deadline('RetrievePropertiesEx', 200);
    assert.ok(deadline.remaining() <= 200 && deadline.remaining() > 100);
    assert.equal(deadline.expired, false);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(deadline.remaining(), 0);
    assert.equal(deadline.expired, true);
    const error = deadline.error();
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.timeoutMs, 200);
    assert.equal(error.message, 'RetrievePropertiesEx timed out after 200 ms');
  });

  it('link: aborts with its TimeoutError when it passes, or with the caller signal reason', async () => {
    const linked = new Deadline('Login', 50).link();
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.ok(linked.signal.reason instanceof TimeoutError);
    linked.dispose();
    const caller = new AbortController();
    const second = new Deadline('Login', 10_000).link(caller.signal);
    caller.abort('stop');
    assert.equal(second.signal.reason, 'stop');
    second.dispose();
  });

  it('race: a shared wait ends at the deadline or on abort, without cancelling the work', async () => {
    const never = new Promise<never>(() => undefined);
    await assert.rejects(
      new Deadline('CurrentTime', 50).race(never, undefined, () => new AbortError('x')),
      TimeoutError,
    );
    const controller = new AbortController();
    const waiting = new Deadline('CurrentTime', 10_000).race(
      never,
      controller.signal,
      () => new AbortError('login'),
    );
    controller.abort();
    await assert.rejects(waiting, AbortError);
    assert.equal(
      await new Deadline('CurrentTime', 1000).race(Promise.resolve(3), undefined, () => new AbortError('x')),
      3,
    );
  });
});
