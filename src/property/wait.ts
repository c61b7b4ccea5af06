/**
 * The one way to wait for something in vCenter: a PropertyCollector filter on the objects and
 * paths that matter, a WaitForUpdatesEx long poll (`maxWaitSeconds`, `version`), and a check run
 * on the values known after each answer, until it gives a result. Task completion, a guest's IP
 * and a guest shutdown are all such waits.
 *
 * A {@link WaitCollector} is one collector and its poll loop; any number of waits can share it,
 * one filter each, all served by the same long poll. What can go wrong has one answer each:
 * - the deadline (`timeoutMs`) or the AbortSignal: the wait ends with TimeoutError / AbortError;
 * - a watched object vanishes (ManagedObjectNotFound naming it, or its `leave` in an update):
 *   that wait ends with {@link ObjectGoneError}, the others go on;
 * - the collector is lost (destroyed from outside, or gone with a session that expired and was
 *   renewed, or with a restarted vCenter): a new one is made and every filter created again,
 *   which re-reads the whole state;
 * - vCenter does not answer (an answer lost, a connection refused): the poll is tried again,
 *   and what it may have carried read directly.
 * The last two back off with jitter and are bounded: after more than `MAX_FAILURES` (6) in a
 * row without a poll going through, the waits fail with the cause.
 */

import { ValidationError, VSphereError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Session } from '../session/session.ts';
import { AbortError, answerMayBeLost, TimeoutError } from '../transport/errors.ts';
import { ManagedObjectReference, redactSessionIds, VimFault } from '../vim25/index.ts';
import type { ObjectUpdate, UpdateSet } from '../vim25/types.ts';
import { PropertyCollector } from './collector.ts';

const log = logger('infrakit:vsphere:wait');

/** A watched object no longer exists in vCenter (destroyed, or gone with a vCenter restart). */
export class ObjectGoneError extends VSphereError {
  readonly obj: ManagedObjectReference;
  constructor(obj: ManagedObjectReference, description: string, options: { cause?: unknown } = {}) {
    super('OBJECT_GONE', `${description}: ${obj.type} ${obj.value} no longer exists`, options);
    this.obj = obj;
  }
}

/** An object and the property paths of it to watch. */
export interface WaitTarget {
  obj: ManagedObjectReference;
  paths: readonly string[];
}

/** The last values a wait's filter reported, per object and path. */
export class ObservedProperties {
  readonly #values = new Map<string, Map<string, unknown>>();

  /** The value of `path` on `obj`; undefined when unset or not (yet) reported. */
  get(obj: ManagedObjectReference, path: string): unknown {
    return this.#values.get(key(obj))?.get(path);
  }

  /** Every reported value of `obj`, by path. */
  of(obj: ManagedObjectReference): ReadonlyMap<string, unknown> {
    return this.#values.get(key(obj)) ?? new Map();
  }

  /** @internal Applies one object's changes (or a full read of it). */
  apply(obj: ManagedObjectReference, changes: readonly { name: string; op?: string; val?: unknown }[]): void {
    let values = this.#values.get(key(obj));
    if (!values) {
      values = new Map();
      this.#values.set(key(obj), values);
    }
    for (const change of changes) {
      if (change.op === 'remove' || change.op === 'indirectRemove') values.delete(change.name);
      else values.set(change.name, change.val);
    }
  }
}

/**
 * Looks at the values after each answer: a defined result ends the wait with it, `undefined`
 * waits on, a throw ends the wait with that error.
 */
export type WaitCheck<T> = (values: ObservedProperties) => T | undefined;

export interface PropertyWaitOptions {
  signal?: AbortSignal;
  /** Give up after this many ms (TimeoutError); nothing in vCenter is changed by giving up. */
  timeoutMs?: number;
  /** Words for error messages, e.g. `the guest IP of vm-12`. */
  description?: string;
  /**
   * The collector to wait on, shared with other waits. Without one, the wait makes its own,
   * destroyed when it ends (CreatePropertyCollector and DestroyPropertyCollector more).
   */
  collector?: WaitCollector;
  /**
   * Seconds one WaitForUpdatesEx may block on the wait's own collector (default: `timeoutMs`
   * rounded up, between 1 and 30).
   */
  maxWaitSeconds?: number;
}

/** Round trips spent on waiting, for benchmarks and tests. */
export interface WaitStats {
  polls: number;
  filtersCreated: number;
  collectorsCreated: number;
}

export interface WaitCollectorOptions {
  /** Seconds one WaitForUpdatesEx may block (default 30). */
  maxWaitSeconds?: number;
  /** Destroyed as soon as it has no wait left: a collector made for one wait. */
  singleUse?: boolean;
  /** Filters of ended waits stay until the collector is destroyed (the waits of one job). */
  keepFilters?: boolean;
  /** Called when its last wait ended (a pool may retire it). */
  onIdle?: (collector: WaitCollector) => void;
  /** Counters to add to (shared by the collectors of one pool). */
  stats?: WaitStats;
}

/**
 * Failures in a row (lost collector, lost answer, vCenter not answering) without a poll going
 * through, before the waits fail with the cause. A collector vanishes with its session or with
 * vCenter itself; more than a few in a row means something else is wrong, and trying again would
 * only load a vCenter in trouble.
 */
export const MAX_FAILURES = 6;

/** @internal Exponential backoff with full jitter, so waits that failed together do not retry together. */
export function backoffMs(attempt: number, baseMs = 200, capMs = 5000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function key(obj: ManagedObjectReference): string {
  return `${obj.type}:${obj.value}`;
}

/** One wait on a collector (internal state; the caller holds its promise). */
interface Wait {
  readonly targets: readonly WaitTarget[];
  readonly description: string;
  readonly values: ObservedProperties;
  /** Its filter on the collector's current incarnation; undefined while it has none. */
  filter: ManagedObjectReference | undefined;
  /** A CreateFilter for it is in flight. */
  adding: boolean;
  settled: boolean;
  /** Runs the check; settles the wait when it gives a result or throws. */
  evaluate(): void;
  fail(error: Error): void;
}

/**
 * One PropertyCollector and its long-poll loop, shared by any number of waits (one filter each).
 * A call on a collector that is polling waits for the poll on vcsim (it serialises the calls on
 * one managed object): a pool hands new waits to collectors that are not {@link busy}.
 */
export class WaitCollector {
  readonly #session: Session;
  readonly #maxWaitSeconds: number;
  readonly #singleUse: boolean;
  readonly #keepFilters: boolean;
  readonly #onIdle: ((collector: WaitCollector) => void) | undefined;
  readonly #stats: WaitStats;
  #ref: ManagedObjectReference | undefined;
  /** The session generation the collector was made in: a re-login leaves it behind. */
  #generation = 0;
  #creating: Promise<ManagedObjectReference> | undefined;
  readonly #waits = new Set<Wait>();
  /** CreateFilter calls in flight: no poll starts before they end. */
  readonly #adds = new Set<Promise<void>>();
  #polling = false;
  #loop: Promise<void> | undefined;
  #version = '';
  /** Filters were added since the last poll: ask for their whole state (version ''). */
  #resync = true;
  #failures = 0;
  #lastFailure: Error | undefined;
  /** A CreateFilter failed for want of a collector or an answer since the last round of them. */
  #addFailed = false;
  /** The filter of the last ended wait, kept for the collector's destruction (one call fewer). */
  #staleFilters: ManagedObjectReference[] = [];
  #doomed = false;
  #destroyed = false;

  constructor(session: Session, options: WaitCollectorOptions = {}) {
    this.#session = session;
    this.#maxWaitSeconds = options.maxWaitSeconds ?? 30;
    this.#singleUse = options.singleUse === true;
    this.#keepFilters = options.keepFilters === true;
    this.#onIdle = options.onIdle;
    this.#stats = options.stats ?? { polls: 0, filtersCreated: 0, collectorsCreated: 0 };
  }

  /** Polling now: a call on it would wait for the poll to end (on vcsim). */
  get busy(): boolean {
    return this.#polling;
  }

  /** Its poll loop is running (it may be between two polls). */
  get running(): boolean {
    return this.#loop !== undefined;
  }

  /** The collector in vCenter now: undefined before its first wait and while it is being made again. */
  get reference(): ManagedObjectReference | undefined {
    return this.#ref;
  }

  /** Waits on it now. */
  get size(): number {
    return this.#waits.size;
  }

  /** Destroyed, or to be destroyed when its poll ends: give it no more waits. */
  get destroyed(): boolean {
    return this.#destroyed || this.#doomed;
  }

  /** Waits on this collector for `check` over `targets` (see {@link waitForProperties}). */
  wait<T>(
    targets: readonly WaitTarget[],
    check: WaitCheck<T>,
    options: PropertyWaitOptions = {},
  ): Promise<T> {
    if (targets.length === 0 || targets.some((t) => t.paths.length === 0)) {
      return Promise.reject(
        new ValidationError([
          { field: 'targets', message: 'at least one object, each with at least one path' },
        ]),
      );
    }
    const description = options.description ?? `${targets[0]!.obj.type} ${targets[0]!.obj.value}`;
    if (this.destroyed) return Promise.reject(new AbortError(`${description}: its collector is destroyed`));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AbortError(description, { cause: signal.reason }));
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const end = () => {
        wait.settled = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#remove(wait);
      };
      const onAbort = () => {
        if (wait.settled) return;
        end();
        reject(new AbortError(description, { cause: signal?.reason }));
      };
      const wait: Wait = {
        targets,
        description,
        values: new ObservedProperties(),
        filter: undefined,
        adding: false,
        settled: false,
        evaluate: () => {
          if (wait.settled) return;
          let result: T | undefined;
          try {
            result = check(wait.values);
          } catch (error) {
            end();
            reject(error);
            return;
          }
          if (result === undefined) return;
          end();
          resolve(result);
        },
        fail: (error) => {
          if (wait.settled) return;
          end();
          reject(error);
        },
      };
      if (options.timeoutMs !== undefined) {
        const ms = options.timeoutMs;
        timer = setTimeout(() => wait.fail(new TimeoutError(`waiting for ${description}`, ms)), ms);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waits.add(wait);
      this.#track(this.#addFilter(wait));
      this.#startLoop();
    });
  }

  /**
   * Destroys the collector with all its filters; one that is polling or getting a filter is
   * destroyed when that is over (a call on a polling collector would wait for the poll on vcsim).
   * Waits still on it (abandoned ones, or ones that run late) are served until they end; no new
   * wait is taken.
   */
  destroy(): void {
    this.#doomed = true;
    this.#destroyNowIfIdle();
  }

  #destroyNowIfIdle(): void {
    if (!this.#doomed || this.#destroyed || this.#polling || this.#loop || this.#adds.size > 0) return;
    if (this.#waits.size > 0) return;
    this.#destroyed = true;
    this.#staleFilters = [];
    this.#dropRef();
  }

  /** Forgets the collector in vCenter, destroying it when it may still exist. */
  #dropRef(): void {
    const ref = this.#ref;
    this.#ref = undefined;
    if (!ref || this.#session.isClosed || this.#generation !== this.#session.generation) return;
    this.#session.invoke('DestroyPropertyCollector', { _this: ref }).catch(() => undefined);
  }

  #track(add: Promise<void>): void {
    this.#adds.add(add);
    void add.finally(() => {
      this.#adds.delete(add);
      this.#destroyNowIfIdle();
    });
  }

  /** The collector in vCenter, made (once for all callers) when missing or left with an earlier session. */
  async #collector(): Promise<ManagedObjectReference> {
    if (this.#ref && this.#generation === this.#session.generation) return this.#ref;
    if (this.#ref) this.#lose();
    this.#creating ??= (async () => {
      try {
        const content = await this.#session.serviceContent();
        // Logged in first, so that the generation read below is the one the collector is made in.
        if (this.#session.generation === 0) await this.#session.login();
        // Read before the call: a re-login while it is in flight must leave the collector marked
        // as the earlier session's (whose collectors are gone), not the new one's.
        const generation = this.#session.generation;
        const ref = await this.#session.invoke<ManagedObjectReference>('CreatePropertyCollector', {
          _this: content.propertyCollector,
        });
        this.#stats.collectorsCreated += 1;
        this.#ref = ref;
        this.#generation = generation;
        this.#version = '';
        this.#resync = true;
        return ref;
      } finally {
        this.#creating = undefined;
      }
    })();
    return this.#creating;
  }

  async #addFilter(wait: Wait): Promise<void> {
    wait.adding = true;
    try {
      if (this.#ref && this.#generation === this.#session.generation) {
        for (const filter of this.#staleFilters.splice(0)) this.#destroyFilter(filter);
      }
      const collector = await this.#collector();
      const spec = {
        propSet: wait.targets.map((t) => ({ type: t.obj.type, pathSet: [...t.paths] })),
        objectSet: wait.targets.map((t) => ({ obj: t.obj, skip: false })),
      };
      const filter = await this.#session.invoke<ManagedObjectReference>('CreateFilter', {
        _this: collector,
        spec,
        partialUpdates: false,
      });
      this.#stats.filtersCreated += 1;
      if (wait.settled || !this.#waits.has(wait)) {
        if (!this.#singleUse) this.#destroyFilter(filter);
        return;
      }
      if (this.#ref?.equals(collector)) {
        wait.filter = filter;
        this.#resync = true;
      }
    } catch (error) {
      if (wait.settled) return;
      const gone = goneTarget(error, wait);
      if (gone) {
        // The collector is fine; the object is not there to watch.
        wait.fail(new ObjectGoneError(gone, wait.description, { cause: error }));
      } else if (isLostCollector(error) || answerMayBeLost(error)) {
        // Left without a filter: the loop makes it again after a backoff, a bounded number of
        // times (counted once per round, however many filters failed together).
        if (isLostCollector(error)) this.#lose();
        this.#addFailed = true;
        this.#lastFailure = error as Error;
      } else {
        wait.fail(error as Error);
      }
    } finally {
      wait.adding = false;
    }
  }

  /** The collector (or its session) is gone: every wait needs a new filter on a new one. */
  #lose(): void {
    // InvalidCollectorVersion leaves the collector alive, as does a vanished object on vcsim.
    this.#dropRef();
    for (const wait of this.#waits) wait.filter = undefined;
    this.#staleFilters = [];
    this.#version = '';
    this.#resync = true;
  }

  /** Counts a failure; past the bound every wait fails with it. */
  #failed(error: Error): void {
    this.#failures += 1;
    this.#lastFailure = error;
    if (this.#failures <= MAX_FAILURES) return;
    log('%d failures in a row on a wait collector; giving up: %s', this.#failures, error.message);
    for (const wait of [...this.#waits]) wait.fail(error);
  }

  #startLoop(): void {
    if (this.#loop) return;
    this.#loop = this.#run()
      .catch((error: Error) => {
        // A broken loop must not strand waits: fail them with the cause.
        for (const wait of [...this.#waits]) wait.fail(error);
      })
      .finally(() => {
        this.#loop = undefined;
        if (this.#waits.size > 0 && !this.#destroyed) this.#startLoop();
        else this.#destroyNowIfIdle();
      });
  }

  async #run(): Promise<void> {
    while (this.#waits.size > 0 && !this.#destroyed) {
      if (this.#adds.size > 0) {
        await Promise.allSettled([...this.#adds]);
        continue;
      }
      if (this.#ref && this.#generation !== this.#session.generation) {
        // The session was renewed: its filters died with the old one.
        log('collector of an earlier session: making a new one');
        this.#lose();
        this.#failed(
          new VimFault(
            'ManagedObjectNotFound',
            { _type: 'ManagedObjectNotFound' },
            'collector belongs to an earlier session',
          ),
        );
        continue;
      }
      if (this.#addFailed) {
        this.#addFailed = false;
        this.#failed(this.#lastFailure!);
        continue;
      }
      const bare = [...this.#waits].filter((wait) => !wait.filter && !wait.adding);
      if (bare.length > 0) {
        if (this.#failures > 0) await pause(backoffMs(this.#failures, 100));
        // Waits added during the pause already have a CreateFilter of their own in flight.
        for (const wait of bare) {
          if (!wait.settled && !wait.filter && !wait.adding) this.#track(this.#addFilter(wait));
        }
        continue;
      }
      await this.#poll();
    }
  }

  async #poll(): Promise<void> {
    const collector = this.#ref!;
    const version = this.#resync ? '' : this.#version;
    this.#resync = false;
    this.#polling = true;
    let updates: UpdateSet | undefined;
    try {
      this.#stats.polls += 1;
      updates = await this.#session.invoke<UpdateSet | undefined>(
        'WaitForUpdatesEx',
        { _this: collector, version, options: { maxWaitSeconds: this.#maxWaitSeconds } },
        { timeoutMs: (this.#maxWaitSeconds + 30) * 1000 },
      );
    } catch (error) {
      this.#polling = false;
      await this.#pollFailed(error);
      return;
    } finally {
      this.#polling = false;
    }
    this.#failures = 0;
    if (!updates) {
      // Nothing new for a whole poll: read everything once more, in case an update was lost.
      this.#resync = true;
      return;
    }
    this.#version = updates.version;
    const byFilter = new Map<string, Wait>();
    for (const wait of this.#waits) if (wait.filter) byFilter.set(wait.filter.value, wait);
    for (const filterUpdate of updates.filterSet ?? []) {
      const wait = byFilter.get(filterUpdate.filter?.value ?? '');
      if (wait) this.#applyUpdates(wait, filterUpdate.objectSet ?? []);
    }
  }

  async #pollFailed(error: unknown): Promise<void> {
    const vanished = vanishedObject(error);
    const goneWaits = vanished ? [...this.#waits].filter((w) => targets(w, vanished)) : [];
    // This module never cancels a poll: RequestCanceled means someone destroyed the collector
    // (or cancelled its poll) behind its back, which vCenter and vcsim answer at once.
    if (
      goneWaits.length > 0 ||
      isLostCollector(error) ||
      (error instanceof VimFault && error.is('RequestCanceled'))
    ) {
      // Either a watched object vanished (vcsim then faults every poll of the collector, so its
      // waits fail and the others move on) or the collector died with its session or with
      // vCenter: the others get filters on a new collector, after a backoff, a bounded number of times.
      log(
        'collector %s lost (%s%s); watching %d wait(s) again',
        redactSessionIds(this.#ref?.value ?? '?'),
        (error as VimFault).faultType,
        vanished ? ` of ${vanished.value}` : '',
        this.#waits.size - goneWaits.length,
      );
      for (const wait of goneWaits)
        wait.fail(new ObjectGoneError(vanished!, wait.description, { cause: error }));
      this.#lose();
      if (goneWaits.length === 0) this.#failed(error as Error);
      return;
    }
    if (!answerMayBeLost(error)) throw error;
    this.#failed(error as Error);
    if (this.#waits.size === 0) return;
    // The lost answer may have carried updates the server will not send again (vcsim hands each
    // out once, and even a version '' poll only re-sends objects new to the filter), so read the
    // watched values directly, then go on polling.
    log(
      'poll on %s lost (%s); reading its objects directly',
      redactSessionIds(this.#ref?.value ?? '?'),
      (error as Error).message,
    );
    await pause(backoffMs(this.#failures));
    await this.#reread();
  }

  /** Reads every wait's values in one RetrievePropertiesEx and checks them. */
  async #reread(): Promise<void> {
    const waits = [...this.#waits];
    if (waits.length === 0) return;
    const specSet = waits.map((wait) => ({
      propSet: wait.targets.map((t) => ({ type: t.obj.type, pathSet: [...t.paths] })),
      objectSet: wait.targets.map((t) => ({ obj: t.obj, skip: false })),
    }));
    try {
      const objects = await new PropertyCollector(this.#session).retrieve(specSet);
      for (const wait of waits) {
        for (const object of objects) {
          if (!targets(wait, object.obj)) continue;
          wait.values.apply(
            object.obj,
            [...object.props].map(([name, val]) => ({ name, val })),
          );
        }
        wait.evaluate();
      }
    } catch (error) {
      log('reading %d wait(s) directly failed: %s', waits.length, (error as Error).message);
    }
  }

  #applyUpdates(wait: Wait, objectSet: readonly ObjectUpdate[]): void {
    let left: ManagedObjectReference | undefined;
    for (const update of objectSet) {
      if (update.kind === 'leave') left = update.obj;
      wait.values.apply(update.obj, update.changeSet ?? []);
    }
    // The values first: the update that ends the wait may come with the object's last values.
    wait.evaluate();
    if (left && !wait.settled) wait.fail(new ObjectGoneError(left, wait.description));
  }

  #remove(wait: Wait): void {
    if (!this.#waits.delete(wait)) return;
    const filter = wait.filter;
    wait.filter = undefined;
    if (this.#singleUse) {
      if (this.#waits.size === 0) this.destroy();
      return;
    }
    if (!filter || this.#generation !== this.#session.generation || this.#keepFilters) {
      if (this.#waits.size === 0) this.#onIdle?.(this);
      return;
    }
    if (this.#waits.size > 0) {
      this.#destroyFilter(filter);
      return;
    }
    // The last filter goes with the collector if that retires, or is destroyed when the collector
    // is given a wait again: finished filters never pile up.
    this.#staleFilters.push(filter);
    this.#onIdle?.(this);
  }

  #destroyFilter(filter: ManagedObjectReference): void {
    this.#session.invoke('DestroyPropertyFilter', { _this: filter }).catch(() => undefined);
  }
}

/**
 * Waits until `check` gives a result for the values of `targets` (see {@link WaitCheck}), on
 * `options.collector` or on a collector of its own, destroyed when the wait ends. The model is
 * govmomi's `property.Wait`: one filter, a long poll, a predicate.
 *
 * @throws ObjectGoneError when a watched object vanishes; TimeoutError after `timeoutMs`;
 *   AbortError when the signal aborts; whatever `check` throws; the cause when the collector
 *   could not be kept (see `MAX_FAILURES` (6)).
 */
export function waitForProperties<T>(
  session: Session,
  targets: readonly WaitTarget[],
  check: WaitCheck<T>,
  options: PropertyWaitOptions = {},
): Promise<T> {
  // A poll on its own collector need not outlast the wait: the collector of a wait that timed
  // out is destroyed when its poll ends, not up to 30 s later.
  const maxWaitSeconds =
    options.maxWaitSeconds ??
    (options.timeoutMs !== undefined ? Math.min(30, Math.max(1, Math.ceil(options.timeoutMs / 1000))) : 30);
  const collector = options.collector ?? new WaitCollector(session, { singleUse: true, maxWaitSeconds });
  return collector.wait(targets, check, options);
}

/** @internal The collector a call was made on no longer exists (or no longer knows our version). */
export function isLostCollector(error: unknown): boolean {
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

function targets(wait: Wait, obj: ManagedObjectReference): boolean {
  return wait.targets.some((t) => t.obj.equals(obj));
}

/** The watched object a fault says is gone, if it names one of the wait's. */
function goneTarget(error: unknown, wait: Wait): ManagedObjectReference | undefined {
  const obj = vanishedObject(error);
  return obj && targets(wait, obj) ? obj : undefined;
}
