/**
 * A limit on the VM creations (CloneVM_Task / CreateVM_Task) running at once per host. vCenter
 * charges each provisioning operation (clone, deploy, cold migration) a cost of 1 against a host
 * whose maximum cost is 8, and queues what goes beyond it; a client that sends more only moves the
 * queue from its own process into vCenter's task list, where a queued task counts against the
 * vCenter-wide limit on concurrent operations and cannot be cancelled cleanly. Waiting here keeps
 * that queue where an abort can still drop a creation before anything is made.
 */
import { integerOption } from '../options.ts';
import { AbortError } from '../transport/errors.ts';

/** vCenter's derived limit of concurrent provisioning operations per host (cost 1, maximum 8). */
export const DEFAULT_BUILDS_PER_HOST = 8;

interface Waiter {
  grant: () => void;
}

/** A slot that is not given back for ever; its `release` is idempotent. */
export type ReleaseSlot = () => void;

/**
 * Counting semaphores by key (a host's MoRef), first come first served. A limit of 0 means none.
 * A slot is handed straight to the next waiter on release, so a late arrival never overtakes one
 * that has been waiting.
 */
export class BuildSlots {
  readonly limit: number;
  private readonly running = new Map<string, number>();
  private readonly queues = new Map<string, Waiter[]>();

  constructor(limit: number = DEFAULT_BUILDS_PER_HOST) {
    integerOption(limit, 'maxConcurrentBuildsPerHost');
    this.limit = limit;
  }

  /** Creations holding a slot of `key`. */
  inUse(key: string): number {
    return this.running.get(key) ?? 0;
  }

  /** Creations waiting for a slot of `key`. */
  waiting(key: string): number {
    return this.queues.get(key)?.length ?? 0;
  }

  /** Whether a slot of `key` is free now (an `acquire` would not wait). */
  free(key: string): boolean {
    return this.limit === 0 || (this.inUse(key) < this.limit && this.waiting(key) === 0);
  }

  /**
   * Takes a slot of `key`, waiting in line for one. Rejects with an {@link AbortError} naming
   * `what` when `signal` aborts first (the place in line is given up; nothing was taken).
   */
  acquire(key: string, signal?: AbortSignal, what = 'build'): Promise<ReleaseSlot> {
    if (signal?.aborted) return Promise.reject(new AbortError(what, { cause: signal.reason }));
    if (this.limit === 0) return Promise.resolve(() => undefined);
    if (this.free(key)) {
      this.running.set(key, this.inUse(key) + 1);
      return Promise.resolve(this.releaser(key));
    }
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const queue = this.queues.get(key) ?? [];
      this.queues.set(key, queue);
      const onAbort = () => {
        const at = queue.indexOf(waiter);
        if (at >= 0) queue.splice(at, 1);
        if (queue.length === 0 && this.queues.get(key) === queue) this.queues.delete(key);
        reject(new AbortError(what, { cause: signal?.reason }));
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser(key));
        },
      };
      queue.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private releaser(key: string): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = this.queues.get(key);
      const next = queue?.shift();
      if (queue && queue.length === 0) this.queues.delete(key);
      // The slot passes to the next in line: the count of running creations stays as it is.
      if (next) next.grant();
      else {
        const left = this.inUse(key) - 1;
        if (left > 0) this.running.set(key, left);
        else this.running.delete(key);
      }
    };
  }
}
