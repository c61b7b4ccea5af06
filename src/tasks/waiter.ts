/**
 * Task completion is a property wait (src/property/wait.ts) on the task's `info.state`, with
 * `info.error` and `info.result` read in the same filter: no per-task polling.
 *
 * What this module adds is the choice of collector. A collector busy in a long poll is never
 * given a new wait: vcsim serialises every call on a managed object, so a CreateFilter on a
 * collector that is polling would block until the poll ends. New tasks go to a shared collector
 * that is not polling, or to a new one; one whose tasks are done is kept a moment for the next
 * ones. A burst of provisions thus shares a few polls (one WaitForUpdatesEx serving many
 * filters), and a lone task costs CreateFilter + WaitForUpdatesEx (+ DestroyPropertyFilter).
 */

import { logger } from '../log.ts';
import { ObjectGoneError, type ObservedProperties, WaitCollector, type WaitStats } from '../property/wait.ts';
import type { Session } from '../session/session.ts';
import { AbortError } from '../transport/errors.ts';
import { type ManagedObjectReference, vimFaultFromLocalized } from '../vim25/index.ts';
import { TaskFailedError, TaskOutcomeUnknownError } from './errors.ts';

export { TaskFailedError, TaskOutcomeUnknownError } from './errors.ts';

const log = logger('infrakit:vsphere:tasks');

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up waiting after this many ms (the task keeps running in vCenter). */
  timeoutMs?: number;
  /** Called when vCenter reports progress (0..100). */
  onProgress?: (percent: number) => void;
  /** Cancel the task in vCenter when the signal aborts (default true). */
  cancelOnAbort?: boolean;
  /** Words for error messages, e.g. `clone of vm-1`. */
  description?: string;
  /**
   * Wait on a collector of its own, destroyed with the wait (one call more than a shared one).
   * For tasks that run while many others change the inventory, such as a burst of destroys:
   * vcsim makes every poll of a shared collector pay for every change since its last poll.
   */
  ownCollector?: boolean;
  /**
   * Wait on the scope's collector (see {@link TaskWaiter.scope}): the waits of one job, one after
   * another, share a collector that is destroyed, with all their filters, when the scope closes.
   */
  scope?: WaitScope;
}

/**
 * A private PropertyCollector for the waits of one job (a provision: its clone, repair and
 * power-on), made at the first wait and destroyed, filters and all, by {@link close}. The job's
 * waits then pay neither for other jobs' changes (as on a shared collector) nor for a collector
 * each (as with `ownCollector`). Waits on a scope should come one after another; one that starts
 * while another is still polling goes to a shared collector instead.
 */
export class WaitScope {
  #closed = false;
  readonly #close: (scope: WaitScope) => void;

  /** @internal Made by {@link TaskWaiter.scope}. */
  constructor(close: (scope: WaitScope) => void) {
    this.#close = close;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Destroys the collector (if a wait made one); later waits on this scope use shared ones. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#close(this);
  }
}

/** Another object watched in the same filter as a task (see {@link TaskWaiter.waitWithProperties}). */
export interface WatchAlso {
  obj: ManagedObjectReference;
  paths: string[];
}

/** A task's result and the last values seen of the properties watched with it. */
export interface ResultWithProperties<T> {
  result: T;
  /** Values reported by the filter up to and including the update that ended the task; a path
   * is absent when no update carried it (e.g. after a lost poll): read it again then. */
  properties: Map<string, unknown>;
}

const TASK_PATHS = ['info.state', 'info.error', 'info.result', 'info.progress'];

/** How long a shared collector may sit without tasks before it is destroyed. */
const LANE_IDLE_MS = 500;

export interface TaskWaiterOptions {
  /** Seconds one WaitForUpdatesEx may block (default 30). */
  maxWaitSeconds?: number;
}

export class TaskWaiter {
  private readonly session: Session;
  private readonly maxWaitSeconds: number;
  /** Shared collectors, each serving many waits with one long poll. */
  private lanes: WaitCollector[] = [];
  /** The collector of each open scope of this waiter (kept here so WaitScope exposes nothing). */
  private readonly scopeLanes = new WeakMap<WaitScope, WaitCollector>();
  /** Scopes made by this waiter: another waiter's scope is ignored (its session differs). */
  private readonly ownScopes = new WeakSet<WaitScope>();
  /** Aborts every pending wait when the waiter closes. */
  private readonly closing = new AbortController();
  /** @internal Round trips spent on waiting, for benchmarks: not part of the public API. */
  readonly stats: WaitStats = { polls: 0, filtersCreated: 0, collectorsCreated: 0 };

  constructor(session: Session, options: TaskWaiterOptions = {}) {
    this.session = session;
    this.maxWaitSeconds = options.maxWaitSeconds ?? 30;
  }

  /** Resolves with the task's `info.result` when it succeeds; rejects with TaskFailedError when it fails. */
  wait<T = unknown>(task: ManagedObjectReference, options: WaitOptions = {}): Promise<T> {
    return this.watchTask(task, undefined, options).then((values) => values.get(task, 'info.result') as T);
  }

  /**
   * Waits for a task and watches properties of another object in the same filter, so that what
   * the task changed can be checked without another round trip (a reconfigure and the VM it
   * changes). The values are those the collector reported by the time the task ended.
   */
  waitWithProperties<T = unknown>(
    task: ManagedObjectReference,
    also: WatchAlso,
    options: WaitOptions = {},
  ): Promise<ResultWithProperties<T>> {
    return this.watchTask(task, also, options).then((values) => ({
      result: values.get(task, 'info.result') as T,
      properties: new Map(values.of(also.obj)),
    }));
  }

  private async watchTask(
    task: ManagedObjectReference,
    also: WatchAlso | undefined,
    options: WaitOptions,
  ): Promise<ObservedProperties> {
    const description = options.description ?? `task ${task.value}`;
    if (this.closing.signal.aborted) throw new AbortError(`${description}: the task waiter is closed`);
    const signal = options.signal;
    if (signal?.aborted) throw new AbortError(description, { cause: signal.reason });
    const onAbort = () => {
      if (options.cancelOnAbort === false) return;
      this.session
        .invoke('CancelTask', { _this: task })
        .catch((error: Error) => log('CancelTask %s: %s', task.value, error.message));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const targets = [{ obj: task, paths: TASK_PATHS }];
    if (also) targets.push({ obj: also.obj, paths: also.paths });
    let lastProgress: unknown;
    try {
      return await this.collectorFor(options).wait(
        targets,
        (values) => {
          const progress = values.get(task, 'info.progress');
          if (typeof progress === 'number' && progress !== lastProgress) options.onProgress?.(progress);
          lastProgress = progress;
          const state = values.get(task, 'info.state');
          if (state === 'error')
            throw new TaskFailedError(
              task,
              description,
              vimFaultFromLocalized(values.get(task, 'info.error')),
            );
          return state === 'success' ? values : undefined;
        },
        {
          description,
          signal: signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal,
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        },
      );
    } catch (error) {
      // The task, or what is watched with it, is not there: the task's outcome cannot be read.
      if (error instanceof ObjectGoneError) {
        log('%s: %s is gone', description, error.obj.value);
        throw new TaskOutcomeUnknownError(task, description, { cause: error.cause ?? error });
      }
      if (error instanceof AbortError && this.closing.signal.aborted && !signal?.aborted)
        throw new AbortError(description);
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The collector a wait goes to: its scope's, one of its own, or a shared one not polling. */
  private collectorFor(options: WaitOptions): WaitCollector {
    const scoped = options.scope && this.scopeLane(options.scope);
    if (scoped) return scoped;
    if (options.ownCollector) {
      return new WaitCollector(this.session, {
        singleUse: true,
        maxWaitSeconds: this.maxWaitSeconds,
        stats: this.stats,
      });
    }
    this.lanes = this.lanes.filter((lane) => !lane.destroyed);
    const idle = this.lanes.find((lane) => !lane.busy);
    if (idle) return idle;
    // Made for this wait, and joined by those arriving before its first poll starts: a burst of
    // 30 tasks shares one collector, not 30.
    const lane = new WaitCollector(this.session, {
      maxWaitSeconds: this.maxWaitSeconds,
      stats: this.stats,
      onIdle: (idleLane) => this.retireWhenIdle(idleLane),
    });
    this.lanes.push(lane);
    return lane;
  }

  /** A scope whose waits share one private collector until it is closed (see {@link WaitScope}). */
  scope(): WaitScope {
    const made = new WaitScope((scope) => {
      const lane = this.scopeLanes.get(scope);
      this.scopeLanes.delete(scope);
      // A wait still polling on it (abandoned by a timeout or an abort) delays the destroy.
      lane?.destroy();
    });
    this.ownScopes.add(made);
    return made;
  }

  /** The scope's collector, made at its first wait; undefined when a shared one must do. */
  private scopeLane(scope: WaitScope): WaitCollector | undefined {
    if (scope.closed || !this.ownScopes.has(scope)) return undefined;
    let lane = this.scopeLanes.get(scope);
    if (lane && (lane.busy || lane.destroyed)) return undefined;
    if (!lane) {
      lane = new WaitCollector(this.session, {
        maxWaitSeconds: this.maxWaitSeconds,
        keepFilters: true,
        stats: this.stats,
      });
      this.scopeLanes.set(scope, lane);
    }
    return lane;
  }

  /**
   * A shared collector with nothing to watch is destroyed after a short grace period (so a burst
   * of tasks reuses it): vcsim keeps queueing every inventory change for a collector that has
   * polled, and its next poll then costs time in proportion (P3 in docs/performance.md); on
   * vCenter an idle collector is memory held for nothing.
   */
  private retireWhenIdle(lane: WaitCollector): void {
    setTimeout(() => {
      if (lane.size > 0 || lane.busy || lane.running || !this.lanes.includes(lane)) return;
      this.lanes = this.lanes.filter((l) => l !== lane);
      lane.destroy();
    }, LANE_IDLE_MS).unref();
  }

  /** Stops watching everything (pending waits reject with AbortError). */
  close(): void {
    this.closing.abort();
  }
}
