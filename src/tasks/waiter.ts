/**
 * Waits for vCenter tasks the way vCenter wants: long-poll WaitForUpdatesEx on a private
 * PropertyCollector with one filter per task, many tasks per poll, no per-task polling.
 *
 * A collector busy in a long poll is never touched: vcsim serialises every call on a managed
 * object, so a CreateFilter or CancelWaitForUpdates on a collector that is polling would block
 * until the poll ends. New tasks go to a collector that is not polling ("lane"), or to a new
 * one; a lane whose tasks are done is kept for the next ones. A burst of provisions thus shares
 * a few polls, and a lone task costs CreateFilter + WaitForUpdatesEx (+ DestroyPropertyFilter).
 */

import { VSphereError } from '../errors.ts';
import { logger } from '../log.ts';
import { PropertyCollector } from '../property/collector.ts';
import type { Session } from '../session/session.ts';
import { AbortError, answerMayBeLost, TimeoutError } from '../transport/errors.ts';
import { ManagedObjectReference, redactSessionIds, VimFault, vimFaultFromLocalized } from '../vim25/index.ts';
import type { UpdateSet } from '../vim25/types.ts';

const log = logger('infrakit:vsphere:tasks');

/** A task ended in `error`: the VimFault it carried is the `cause` and also `fault`. */
export class TaskFailedError extends VSphereError {
  readonly fault: VimFault;
  readonly task: ManagedObjectReference;
  constructor(task: ManagedObjectReference, description: string, fault: VimFault) {
    super('TASK_FAILED', `${description} failed: ${fault.message}`, { cause: fault });
    this.fault = fault;
    this.task = task;
  }
}

/**
 * vCenter no longer knows the task (it restarted, or the task aged out of its memory): whether
 * the work was done cannot be read from the task. The caller looks for its result instead.
 */
export class TaskOutcomeUnknownError extends VSphereError {
  readonly task: ManagedObjectReference;
  /**
   * @param checked - what the caller looked at instead, in words (e.g. `no VM named vm-1 in its
   *   folder`), appended to the message
   */
  constructor(
    task: ManagedObjectReference,
    description: string,
    options: { cause?: unknown; checked?: string } = {},
  ) {
    super(
      'TASK_OUTCOME_UNKNOWN',
      `${description}: vCenter no longer knows task ${task.value} (restarted?), so its outcome is unknown${options.checked ? `; checked: ${options.checked}` : ''}`,
      { cause: options.cause },
    );
    this.task = task;
  }
}

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

interface Watched {
  task: ManagedObjectReference;
  ownCollector: boolean;
  scope: WaitScope | undefined;
  also: WatchAlso | undefined;
  alsoValues: Map<string, unknown>;
  lane?: Lane;
  filter?: ManagedObjectReference;
  settled: boolean;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  onProgress: ((percent: number) => void) | undefined;
  description: string;
  /** Re-watches in a row without a poll that went through (bounded: see MAX_REWATCHES). */
  rewatches: number;
  cleanup: () => void;
}

/** One private PropertyCollector and the tasks filtered on it. */
interface Lane {
  collector: ManagedObjectReference;
  generation: number;
  entries: Set<Watched>;
  /** CreateFilter calls in flight: the lane must not start polling before they finish. */
  adding: number;
  addingDone: Promise<void>;
  releaseAdding: () => void;
  polling: boolean;
  /** Filters were added since the last poll: ask for the whole state (version ''). */
  resync: boolean;
  version: string;
  loop: Promise<void> | undefined;
  /** Polls in a row whose answer was lost. */
  lostPolls: number;
  /** Filters of finished tasks left for the collector's retirement. */
  staleFilters: ManagedObjectReference[];
  /** Made for one task and destroyed with it; never shared. */
  own: boolean;
  /** Belongs to this scope: shared by its waits only, destroyed when it closes. */
  scope: WaitScope | undefined;
  /** To be destroyed once its poll (or a CreateFilter on it) is over. */
  doomed: boolean;
}

const TASK_PATHS = ['info.state', 'info.error', 'info.result', 'info.progress'];

/** How long a collector may sit without tasks before it is destroyed. */
const LANE_IDLE_MS = 500;

/** Polls in a row whose answer may be retried before the waiters fail with the cause. */
const MAX_LOST_POLLS = 5;

/**
 * Times one wait may be moved to a new collector without a poll going through in between. A
 * collector vanishes with its session or with vCenter itself; more than a few in a row means
 * something else is wrong, and re-watching again would only load a vCenter in trouble.
 */
const MAX_REWATCHES = 6;

/** Exponential backoff with full jitter, so many waiters that failed together do not retry together. */
function backoffMs(attempt: number, baseMs = 100, capMs = 5000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export interface TaskWaiterOptions {
  /** Seconds one WaitForUpdatesEx may block (default 30). */
  maxWaitSeconds?: number;
}

export class TaskWaiter {
  private readonly session: Session;
  private readonly maxWaitSeconds: number;
  /** Waits by task; a task may be waited for more than once at a time. */
  private readonly watched = new Map<string, Set<Watched>>();
  private lanes: Lane[] = [];
  private creatingLane: Promise<void> | undefined;
  /** The collector of each open scope of this waiter (kept here so WaitScope exposes nothing). */
  private readonly scopeLanes = new WeakMap<WaitScope, Lane>();
  /** Scopes made by this waiter: another waiter's scope is ignored (its session differs). */
  private readonly ownScopes = new WeakSet<WaitScope>();
  private closed = false;
  /** Round trips spent on waiting, for benchmarks. */
  readonly stats = { polls: 0, filtersCreated: 0, collectorsCreated: 0 };

  constructor(session: Session, options: TaskWaiterOptions = {}) {
    this.session = session;
    this.maxWaitSeconds = options.maxWaitSeconds ?? 30;
  }

  /** Resolves with the task's `info.result` when it succeeds; rejects with TaskFailedError when it fails. */
  wait<T = unknown>(task: ManagedObjectReference, options: WaitOptions = {}): Promise<T> {
    return this.watchTask<T>(task, undefined, options) as Promise<T>;
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
    return this.watchTask<T>(task, also, options) as Promise<ResultWithProperties<T>>;
  }

  private watchTask<T>(
    task: ManagedObjectReference,
    also: WatchAlso | undefined,
    options: WaitOptions,
  ): Promise<T | ResultWithProperties<T>> {
    const description = options.description ?? `task ${task.value}`;
    if (this.closed) return Promise.reject(new AbortError(`${description}: the task waiter is closed`));
    if (options.signal?.aborted)
      return Promise.reject(new AbortError(description, { cause: options.signal.reason }));
    return new Promise<T | ResultWithProperties<T>>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        entry.cleanup();
        if (options.cancelOnAbort !== false) {
          this.session
            .invoke('CancelTask', { _this: task })
            .catch((error: Error) => log('CancelTask %s: %s', task.value, error.message));
        }
        reject(new AbortError(description, { cause: options.signal?.reason }));
      };
      const entry: Watched = {
        task,
        ownCollector: options.ownCollector === true,
        scope: options.scope,
        also,
        alsoValues: new Map(),
        settled: false,
        resolve: (value) =>
          resolve(also ? { result: value as T, properties: entry.alsoValues } : (value as T)),
        reject,
        onProgress: options.onProgress,
        description,
        rewatches: 0,
        cleanup: () => {
          entry.settled = true;
          if (timer) clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          this.forget(entry);
        },
      };
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          entry.cleanup();
          reject(new TimeoutError(`waiting for ${description}`, options.timeoutMs!));
        }, options.timeoutMs);
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const waits = this.watched.get(task.value);
      if (waits) waits.add(entry);
      else this.watched.set(task.value, new Set([entry]));
      this.watchRetrying(entry).catch((error: Error) => {
        entry.cleanup();
        reject(error);
      });
    });
  }

  /** A lane that is not polling (or a new one), reserved for one more filter. */
  private async idleLane(): Promise<Lane> {
    for (;;) {
      const generation = this.session.generation;
      this.lanes = this.lanes.filter((l) => l.generation === generation);
      const idle = this.lanes.find((l) => !l.polling);
      if (idle) return this.reserve(idle);
      // One collector is made at a time: callers arriving meanwhile join it instead of each
      // making their own (a burst of 30 tasks would otherwise make 30 collectors).
      if (!this.creatingLane) {
        this.creatingLane = this.createLane().finally(() => {
          this.creatingLane = undefined;
        });
      }
      await this.creatingLane;
    }
  }

  private async createLane(): Promise<void> {
    // Not `this.lanes.push(await …)`: that would push into the array read before the await, which
    // idleLane may have replaced meanwhile, and the lane would be lost.
    const lane = await this.newLane(false);
    this.lanes.push(lane);
  }

  private async newLane(own: boolean): Promise<Lane> {
    // Read before the call: a re-login while it is in flight must leave the lane marked as the
    // earlier session's (whose collectors are gone), not the new one's.
    const generation = this.session.generation;
    const content = await this.session.serviceContent();
    const collector = await this.session.invoke<ManagedObjectReference>('CreatePropertyCollector', {
      _this: content.propertyCollector,
    });
    this.stats.collectorsCreated += 1;
    return {
      collector,
      generation,
      entries: new Set(),
      adding: 0,
      addingDone: Promise.resolve(),
      releaseAdding: () => undefined,
      polling: false,
      resync: true,
      version: '',
      loop: undefined,
      lostPolls: 0,
      staleFilters: [],
      own,
      scope: undefined,
      doomed: false,
    };
  }

  /** A scope whose waits share one private collector until it is closed (see {@link WaitScope}). */
  scope(): WaitScope {
    const made = new WaitScope((scope) => {
      const lane = this.scopeLanes.get(scope);
      this.scopeLanes.delete(scope);
      // A wait still polling on it (abandoned by a timeout or an abort) delays the destroy.
      if (lane) this.destroyCollector(lane);
    });
    this.ownScopes.add(made);
    return made;
  }

  /** The scope's collector, made at its first wait; undefined when a shared one must do. */
  private async scopeLane(scope: WaitScope): Promise<Lane | undefined> {
    if (scope.closed || !this.ownScopes.has(scope)) return undefined;
    let lane = this.scopeLanes.get(scope);
    // A lane whose loop is still winding down is fine: poll() waits for the filter being added,
    // and the loop restarts itself if it ends with entries (as for shared lanes).
    if (lane && (lane.generation !== this.session.generation || lane.polling || lane.doomed))
      return undefined;
    if (!lane) {
      lane = await this.newLane(false);
      const made = this.scopeLanes.get(scope);
      if (scope.closed || made) {
        // Closed, or another wait made one meanwhile: this one is not needed.
        this.destroyCollector(lane);
        return made && !made.polling && !made.doomed ? this.reserve(made) : undefined;
      }
      lane.scope = scope;
      this.scopeLanes.set(scope, lane);
    }
    return this.reserve(lane);
  }

  /** Reserves a lane for one more filter: it will not start polling until that is made. */
  private reserve(lane: Lane): Lane {
    for (const filter of lane.staleFilters.splice(0)) this.destroyFilter(filter);
    if (lane.adding === 0) {
      lane.addingDone = new Promise((resolve) => {
        lane.releaseAdding = resolve;
      });
    }
    lane.adding += 1;
    return lane;
  }

  /**
   * {@link watch}, tried again when an answer was lost: the task runs on in vCenter whatever
   * happened to CreateFilter, and a second filter (or collector) for one task is harmless.
   */
  private async watchRetrying(entry: Watched): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.watch(entry);
        return;
      } catch (error) {
        if (error instanceof LaneLost) {
          entry.rewatches += 1;
          if (entry.settled || this.closed || entry.rewatches > MAX_REWATCHES) throw error.fault;
          await pause(backoffMs(entry.rewatches));
          continue;
        }
        if (entry.settled || this.closed || !answerMayBeLost(error) || attempt >= MAX_LOST_POLLS) throw error;
        log('watching %s failed (%s); trying again', entry.task.value, (error as Error).message);
        await pause(backoffMs(attempt, 200));
      }
    }
  }

  /** Moves a wait whose collector was lost to another one, after a backoff (bounded per wait). */
  private rewatch(entry: Watched, fault: VimFault): void {
    entry.lane = undefined;
    entry.filter = undefined;
    entry.rewatches += 1;
    if (entry.rewatches > MAX_REWATCHES) {
      log('%s: collector lost %d times in a row; giving up', entry.description, entry.rewatches);
      entry.cleanup();
      entry.reject(fault);
      return;
    }
    pause(backoffMs(entry.rewatches))
      .then(() => {
        if (entry.settled || this.closed) return;
        return this.watchRetrying(entry);
      })
      .catch((watchError: Error) => {
        entry.cleanup();
        entry.reject(watchError);
      });
  }

  /** Fails a wait whose task vCenter no longer knows. */
  private taskGone(entry: Watched, fault: VimFault): void {
    log('%s: task %s is gone (%s)', entry.description, entry.task.value, fault.faultType);
    entry.cleanup();
    entry.reject(new TaskOutcomeUnknownError(entry.task, entry.description, { cause: fault }));
  }

  private async watch(entry: Watched): Promise<void> {
    const lane =
      (entry.scope && (await this.scopeLane(entry.scope))) ??
      (entry.ownCollector ? this.reserve(await this.newLane(true)) : await this.idleLane());
    const propSet = [{ type: 'Task', pathSet: TASK_PATHS }];
    const objectSet = [{ obj: entry.task, skip: false }];
    if (entry.also) {
      propSet.push({ type: entry.also.obj.type, pathSet: entry.also.paths });
      objectSet.push({ obj: entry.also.obj, skip: false });
    }
    try {
      const filter = await this.session.invoke<ManagedObjectReference>('CreateFilter', {
        _this: lane.collector,
        spec: { propSet, objectSet },
        partialUpdates: false,
      });
      this.stats.filtersCreated += 1;
      if (entry.settled) {
        if (lane.own) this.destroyCollector(lane);
        else this.destroyFilter(filter);
        return;
      }
      entry.filter = filter;
      entry.lane = lane;
      lane.entries.add(entry);
      lane.resync = true;
    } catch (error) {
      if (lane.own) this.destroyCollector(lane);
      const gone = vanishedObject(error);
      if (gone && (gone.equals(entry.task) || (entry.also && gone.equals(entry.also.obj)))) {
        // The collector is fine; the task (or what is watched with it) is not there to watch.
        throw new TaskOutcomeUnknownError(entry.task, entry.description, { cause: error });
      }
      if (isLostCollector(error)) {
        // The collector is gone (its session ended while it was being made): never reuse it.
        this.dropLane(lane);
        throw new LaneLost(error as VimFault);
      }
      throw error;
    } finally {
      lane.adding -= 1;
      if (lane.adding === 0) lane.releaseAdding();
      if (lane.doomed && lane.adding === 0 && !lane.loop && lane.entries.size === 0)
        this.destroyCollector(lane);
    }
    this.startLoop(lane);
  }

  private startLoop(lane: Lane): void {
    if (lane.loop) return;
    lane.loop = this.poll(lane)
      .catch((error: Error) => {
        const gone = vanishedObject(error);
        const goneEntries = gone
          ? [...lane.entries].filter((e) => gone.equals(e.task) || (e.also && gone.equals(e.also.obj)))
          : [];
        if (goneEntries.length > 0 || isLostCollector(error)) {
          // Either a watched object vanished (vcsim then faults every poll of the collector, so
          // its waits fail and the others move on) or the collector died with its session or
          // with vCenter: the others are watched again elsewhere, after a backoff, a bounded
          // number of times.
          log(
            'collector %s lost (%s%s); re-watching %d task(s)',
            redactSessionIds(lane.collector.value),
            (error as VimFault).faultType,
            gone ? ` of ${gone.value}` : '',
            lane.entries.size - goneEntries.length,
          );
          this.dropLane(lane);
          // InvalidCollectorVersion leaves the collector alive: destroy it (a no-op for a gone one).
          this.destroyCollector(lane);
          const entries = [...lane.entries];
          lane.entries.clear();
          for (const entry of entries) {
            if (goneEntries.includes(entry)) this.taskGone(entry, error as VimFault);
            else this.rewatch(entry, error as VimFault);
          }
          return;
        }
        // A broken poll must not strand waiters: fail them with the cause.
        for (const entry of [...lane.entries]) {
          entry.cleanup();
          entry.reject(error);
        }
      })
      .finally(() => {
        lane.loop = undefined;
        if (lane.entries.size > 0 && !this.closed) this.startLoop(lane);
        else if (lane.doomed && lane.adding === 0) this.destroyCollector(lane);
      });
  }

  private async poll(lane: Lane): Promise<void> {
    while (lane.entries.size > 0 && !this.closed) {
      if (lane.adding > 0) await lane.addingDone;
      if (lane.generation !== this.session.generation) throw lanesLost();
      const version = lane.resync ? '' : lane.version;
      lane.resync = false;
      lane.polling = true;
      let updates: UpdateSet | undefined;
      try {
        this.stats.polls += 1;
        updates = await this.session.invoke<UpdateSet | undefined>(
          'WaitForUpdatesEx',
          { _this: lane.collector, version, options: { maxWaitSeconds: this.maxWaitSeconds } },
          { timeoutMs: (this.maxWaitSeconds + 30) * 1000 },
        );
      } catch (error) {
        // The lost answer may have carried updates the server will not send again (vcsim hands
        // each out once, and even a version '' poll only re-sends objects new to the filter), so
        // read the tasks' state directly, then go on polling.
        if (!answerMayBeLost(error) || lane.lostPolls >= MAX_LOST_POLLS) throw error;
        lane.lostPolls += 1;
        log(
          'poll on %s lost (%s); reading its tasks directly',
          redactSessionIds(lane.collector.value),
          (error as Error).message,
        );
        await pause(backoffMs(lane.lostPolls, 200));
        await this.readTasks(lane);
        continue;
      } finally {
        lane.polling = false;
      }
      lane.lostPolls = 0;
      for (const entry of lane.entries) entry.rewatches = 0;
      if (!updates) {
        // Nothing new for a whole poll: read everything once more, in case an update was lost.
        lane.resync = true;
        continue;
      }
      lane.version = updates.version;
      // Objects watched with a task first: the update that ends the task may come before the
      // one carrying what it changed in the same answer.
      for (const filterUpdate of updates.filterSet ?? []) {
        for (const objectUpdate of filterUpdate.objectSet ?? []) {
          if (objectUpdate.obj.type !== 'Task')
            this.applyAlso(lane, filterUpdate.filter, objectUpdate.obj, objectUpdate.changeSet ?? []);
        }
      }
      for (const filterUpdate of updates.filterSet ?? []) {
        for (const objectUpdate of filterUpdate.objectSet ?? []) {
          if (objectUpdate.obj.type === 'Task')
            this.apply(objectUpdate.obj.value, objectUpdate.changeSet ?? []);
        }
      }
    }
  }

  /** Reads the state of a lane's tasks in one RetrievePropertiesEx and settles those that ended. */
  private async readTasks(lane: Lane): Promise<void> {
    const tasks = [...lane.entries].map((entry) => entry.task);
    if (tasks.length === 0) return;
    try {
      const objects = await new PropertyCollector(this.session).properties(tasks, TASK_PATHS);
      for (const object of objects) {
        this.apply(
          object.obj.value,
          [...object.props].map(([name, val]) => ({ name, val })),
        );
      }
    } catch (error) {
      log('reading %d task(s) directly failed: %s', tasks.length, (error as Error).message);
    }
  }

  private forget(entry: Watched): void {
    const waits = this.watched.get(entry.task.value);
    if (waits?.delete(entry) && waits.size === 0) this.watched.delete(entry.task.value);
    const lane = entry.lane;
    if (!lane) return;
    lane.entries.delete(entry);
    if (!entry.filter || lane.generation !== this.session.generation) return;
    if (lane.own) {
      this.destroyCollector(lane); // its filter goes with it
      return;
    }
    // A scope's filters go with its collector when it closes.
    if (lane.scope) return;
    if (lane.entries.size > 0) {
      this.destroyFilter(entry.filter);
      return;
    }
    // The last filter goes with its collector if that retires (one call fewer per lone task),
    // or is destroyed when the lane is taken again: finished filters never pile up on a lane.
    lane.staleFilters.push(entry.filter);
    this.retireWhenIdle(lane);
  }

  /**
   * A collector with nothing to watch is destroyed after a short grace period (so a burst of
   * tasks reuses it): vcsim keeps queueing every inventory change for a collector that has
   * polled, and its next poll then costs time in proportion (P3 in docs/performance.md); on
   * vCenter an idle collector is memory held for nothing.
   */
  private retireWhenIdle(lane: Lane): void {
    setTimeout(() => {
      if (lane.entries.size > 0 || lane.adding > 0 || lane.polling || lane.loop || !this.lanes.includes(lane))
        return;
      this.dropLane(lane);
      this.destroyCollector(lane);
    }, LANE_IDLE_MS).unref();
  }

  /** Forgets a lane: no wait will be given to it again. */
  private dropLane(lane: Lane): void {
    this.lanes = this.lanes.filter((l) => l !== lane);
    if (lane.scope && this.scopeLanes.get(lane.scope) === lane) this.scopeLanes.delete(lane.scope);
  }

  /**
   * Destroys a collector with its filters; one that is polling or getting a filter is destroyed
   * when that is over (a call on a polling collector would wait for the poll on vcsim).
   */
  private destroyCollector(lane: Lane): void {
    if (lane.polling || lane.loop || lane.adding > 0) {
      lane.doomed = true;
      return;
    }
    lane.doomed = false;
    if (this.session.isClosed || lane.generation !== this.session.generation) return;
    this.session.invoke('DestroyPropertyCollector', { _this: lane.collector }).catch(() => undefined);
  }

  private destroyFilter(filter: ManagedObjectReference): void {
    this.session.invoke('DestroyPropertyFilter', { _this: filter }).catch(() => undefined);
  }

  private applyAlso(
    lane: Lane,
    filter: ManagedObjectReference | undefined,
    obj: ManagedObjectReference,
    changes: { name: string; op?: string; val?: unknown }[],
  ): void {
    for (const entry of lane.entries) {
      // Only this entry's own filter: another filter on the lane may watch other paths of it.
      if (entry.settled || !entry.also?.obj.equals(obj) || (filter && !entry.filter?.equals(filter)))
        continue;
      for (const change of changes) {
        if (change.op === 'remove' || change.op === 'indirectRemove') entry.alsoValues.delete(change.name);
        else entry.alsoValues.set(change.name, change.val);
      }
    }
  }

  private apply(taskValue: string, changes: { name: string; val?: unknown }[]): void {
    const waits = this.watched.get(taskValue);
    if (!waits) return;
    const values = new Map(changes.map((change) => [change.name, change.val]));
    const progress = values.get('info.progress');
    const state = values.get('info.state');
    for (const entry of [...waits]) {
      if (entry.settled) continue;
      if (typeof progress === 'number') entry.onProgress?.(progress);
      if (state === 'success') {
        entry.cleanup();
        entry.resolve(values.get('info.result'));
      } else if (state === 'error') {
        entry.cleanup();
        entry.reject(
          new TaskFailedError(entry.task, entry.description, vimFaultFromLocalized(values.get('info.error'))),
        );
      }
    }
  }

  /** Stops watching everything (pending waits reject). */
  close(): void {
    this.closed = true;
    for (const entry of [...this.watched.values()].flatMap((waits) => [...waits])) {
      entry.cleanup();
      entry.reject(new AbortError(entry.description));
    }
  }
}

function lanesLost(): VimFault {
  return new VimFault(
    'ManagedObjectNotFound',
    { _type: 'ManagedObjectNotFound' },
    'collector belongs to an earlier session',
  );
}

/** The collector a call was made on no longer exists (or no longer knows our version). */
function isLostCollector(error: unknown): boolean {
  return (
    error instanceof VimFault && (error.is('ManagedObjectNotFound') || error.is('InvalidCollectorVersion'))
  );
}

/** The object a ManagedObjectNotFound names, when it names one. */
function vanishedObject(error: unknown): ManagedObjectReference | undefined {
  if (!(error instanceof VimFault) || !error.is('ManagedObjectNotFound')) return undefined;
  const obj = error.detail.obj;
  return obj instanceof ManagedObjectReference ? obj : undefined;
}

/** Thrown by watch() when its collector turned out to be gone: watch again elsewhere. */
class LaneLost extends Error {
  readonly fault: VimFault;
  constructor(fault: VimFault) {
    super(fault.message);
    this.fault = fault;
  }
}
