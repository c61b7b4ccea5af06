/**
 * Waits for vCenter tasks the way vCenter wants: one private PropertyCollector per session, one
 * filter per watched task, and a single WaitForUpdatesEx long-poll loop that serves every task
 * at once. No per-task polling, however many clones run.
 */
import createDebug from 'debug';
import { VSphereError } from '../errors.ts';
import type { Session } from '../session/session.ts';
import { AbortError, TimeoutError } from '../transport/errors.ts';
import { type ManagedObjectReference, VimFault, vimFaultFromLocalized } from '../vim25/index.ts';
import type { UpdateSet } from '../vim25/types.ts';

const log = createDebug('infrakit:vsphere:tasks');

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
}

interface Watched {
  task: ManagedObjectReference;
  filter?: ManagedObjectReference;
  filterGeneration: number;
  /** A CreateFilter for this entry is in flight. */
  watching: boolean;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  onProgress: ((percent: number) => void) | undefined;
  description: string;
  cleanup: () => void;
}

const TASK_PATHS = ['info.state', 'info.error', 'info.result', 'info.progress'];

export interface TaskWaiterOptions {
  /** Seconds one WaitForUpdatesEx may block (default 30). */
  maxWaitSeconds?: number;
}

export class TaskWaiter {
  private readonly session: Session;
  private readonly maxWaitSeconds: number;
  private readonly watched = new Map<string, Watched>();
  private collector: ManagedObjectReference | undefined;
  private collectorGeneration = 0;
  private collectorPromise: Promise<ManagedObjectReference> | undefined;
  private version = '';
  private looping = false;
  /** Round trips spent on waiting, for benchmarks. */
  readonly stats = { waits: 0, filtersCreated: 0 };

  constructor(session: Session, options: TaskWaiterOptions = {}) {
    this.session = session;
    this.maxWaitSeconds = options.maxWaitSeconds ?? 30;
  }

  /** Resolves with the task's `info.result` when it succeeds; rejects with TaskFailedError when it fails. */
  wait<T = unknown>(task: ManagedObjectReference, options: WaitOptions = {}): Promise<T> {
    const description = options.description ?? `task ${task.value}`;
    if (options.signal?.aborted)
      return Promise.reject(new AbortError(description, { cause: options.signal.reason }));
    return new Promise<T>((resolve, reject) => {
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
        filterGeneration: 0,
        watching: false,
        resolve: (value) => resolve(value as T),
        reject,
        onProgress: options.onProgress,
        description,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          this.forget(task.value);
        },
      };
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          entry.cleanup();
          reject(new TimeoutError(`waiting for ${description}`, options.timeoutMs!));
        }, options.timeoutMs);
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.watched.set(task.value, entry);
      this.watch(entry).then(
        () => this.ensureLoop(),
        (error: Error) => {
          entry.cleanup();
          reject(error);
        },
      );
    });
  }

  private async ensureCollector(): Promise<ManagedObjectReference> {
    if (this.collector && this.collectorGeneration === this.session.generation) return this.collector;
    if (!this.collectorPromise) {
      this.collectorPromise = (async () => {
        const content = await this.session.serviceContent();
        const generationBefore = this.session.generation;
        const collector = await this.session.invoke<ManagedObjectReference>('CreatePropertyCollector', {
          _this: content.propertyCollector,
        });
        this.collector = collector;
        // A login may have happened inside invoke; the collector belongs to the newest session.
        this.collectorGeneration = Math.max(generationBefore, this.session.generation);
        this.version = '';
        return collector;
      })().finally(() => {
        this.collectorPromise = undefined;
      });
    }
    return this.collectorPromise;
  }

  private async watch(entry: Watched): Promise<void> {
    entry.watching = true;
    let filter: ManagedObjectReference;
    try {
      const collector = await this.ensureCollector();
      filter = await this.session.invoke<ManagedObjectReference>('CreateFilter', {
        _this: collector,
        spec: {
          propSet: [{ type: 'Task', pathSet: TASK_PATHS }],
          objectSet: [{ obj: entry.task, skip: false }],
        },
        partialUpdates: false,
      });
    } finally {
      entry.watching = false;
    }
    this.stats.filtersCreated += 1;
    if (!this.watched.has(entry.task.value)) {
      this.destroyFilter(filter);
      return;
    }
    entry.filter = filter;
    entry.filterGeneration = this.collectorGeneration;
  }

  private forget(taskValue: string): void {
    const entry = this.watched.get(taskValue);
    if (!entry) return;
    this.watched.delete(taskValue);
    if (entry.filter && entry.filterGeneration === this.session.generation) this.destroyFilter(entry.filter);
  }

  private destroyFilter(filter: ManagedObjectReference): void {
    this.session.invoke('DestroyPropertyFilter', { _this: filter }).catch(() => undefined);
  }

  private ensureLoop(): void {
    if (this.looping) return;
    this.looping = true;
    this.loop()
      .catch((error: Error) => {
        // A broken loop must not strand waiters: fail them all with the cause.
        for (const entry of [...this.watched.values()]) {
          entry.cleanup();
          entry.reject(error);
        }
      })
      .finally(() => {
        this.looping = false;
        if (this.watched.size > 0) this.ensureLoop();
      });
  }

  private async loop(): Promise<void> {
    while (this.watched.size > 0) {
      const collector = await this.ensureCollector();
      if (this.collectorGeneration !== this.session.generation) continue;
      await this.rewatchStale();
      let updates: UpdateSet | undefined;
      try {
        this.stats.waits += 1;
        updates = await this.session.invoke<UpdateSet | undefined>(
          'WaitForUpdatesEx',
          { _this: collector, version: this.version, options: { maxWaitSeconds: this.maxWaitSeconds } },
          { timeoutMs: (this.maxWaitSeconds + 30) * 1000 },
        );
      } catch (error) {
        if (
          error instanceof VimFault &&
          (error.is('ManagedObjectNotFound') || error.is('InvalidCollectorVersion'))
        ) {
          // The collector died with its session (re-login, vCenter restart): build it again.
          log('collector lost (%s); recreating', error.faultType);
          this.collector = undefined;
          continue;
        }
        throw error;
      }
      if (!updates) continue;
      this.version = updates.version;
      for (const filterUpdate of updates.filterSet ?? []) {
        for (const objectUpdate of filterUpdate.objectSet ?? []) {
          this.apply(objectUpdate.obj.value, objectUpdate.changeSet ?? []);
        }
      }
    }
  }

  /** Filters made under an older session are gone; make them again for the tasks still watched. */
  private async rewatchStale(): Promise<void> {
    const stale = [...this.watched.values()].filter(
      (entry) => !entry.watching && entry.filterGeneration !== this.collectorGeneration,
    );
    await Promise.all(stale.map((entry) => this.watch(entry)));
  }

  private apply(taskValue: string, changes: { name: string; val?: unknown }[]): void {
    const entry = this.watched.get(taskValue);
    if (!entry) return;
    const values = new Map(changes.map((change) => [change.name, change.val]));
    const progress = values.get('info.progress');
    if (typeof progress === 'number') entry.onProgress?.(progress);
    const state = values.get('info.state');
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

  /** Stops watching everything (pending waits reject). */
  close(): void {
    for (const entry of [...this.watched.values()]) {
      entry.cleanup();
      entry.reject(new AbortError(entry.description));
    }
  }
}
