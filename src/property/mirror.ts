/**
 * An inventory mirror: one PropertyCollector filter kept open on a part of the inventory (a group
 * folder and its children, say), kept current from WaitForUpdatesEx versions, so that reading it
 * again costs one small round trip instead of the whole set of objects on the wire.
 *
 * Freshness comes first. A read drains what is pending (WaitForUpdatesEx with `maxWaitSeconds: 0`,
 * every `truncated` answer continued) before it answers, so a change that completed before the
 * read started is in the answer, whoever made it. When the mirror cannot promise that — it is
 * still being built, its collector or filter is gone (destroyed from outside, gone with an
 * expired session or a restarted vCenter), it grew past its bound, an answer was lost — the read
 * is a full RetrievePropertiesEx, which is always right, and the mirror is dropped and built
 * again in the background. When vCenter only forgot the mirror's version
 * (`InvalidCollectorVersion`), the filter is still good: the drain reads the whole state again
 * from it, from no version, in the same read. Nothing of that is silent: every full
 * read that stands in for the mirror is counted ({@link MirrorStats}) and logged on
 * `infrakit:vsphere:mirror`.
 *
 * The mirror does not poll on its own: between reads, updates queue in vCenter. It is dropped
 * after an idle time and on {@link InventoryMirrors.close}.
 */

import { logger } from '../log.ts';
import { booleanOption, integerOption, MAX_TIMER_MS, objectOption } from '../options.ts';
import type { Session } from '../session/session.ts';
import { AbortError, untilAborted } from '../transport/errors.ts';
import { ManagedObjectReference, redactSessionIds, VimFault } from '../vim25/index.ts';
import type { ObjectContent, ObjectUpdate, PropertyFilterSpec, UpdateSet } from '../vim25/types.ts';
import {
  type ObjectProperties,
  type PropertyCollector,
  type RetrieveOptions,
  toObjectProperties,
} from './collector.ts';
import { backoffMs } from './wait.ts';

const log = logger('infrakit:vsphere:mirror');

/** What the mirrors did, for benchmarks, tests and operators. */
export interface MirrorStats {
  /** Reads answered from a mirror (after a drain). */
  mirrorReads: number;
  /** Reads answered by a full read because the mirror was still being built. */
  warmingReads: number;
  /**
   * Reads answered by a full read because the mirror broke (see the log for why; it is built
   * again), and drains that read the mirror's whole state again because vCenter no longer knew
   * its version (`InvalidCollectorVersion`: the filter is kept, read again from no version).
   */
  fallbacks: number;
  /** Mirrors built (a filter made and its initial state read). */
  builds: number;
  /** Mirrors dropped for being idle. */
  idleDrops: number;
  /** WaitForUpdatesEx calls, the initial reads' pages included. */
  polls: number;
  /** Objects read again because their version path changed (see {@link MirrorOptions.versionPaths}). */
  rereads: number;
  /** Objects mapped by reads with a {@link MapMemo}: the rest were answered from the memo. */
  mapped: number;
  /**
   * Reads of the members of the mirrored folders (see {@link MirrorOptions.checkMembership}):
   * one per drain after a folder move showed among vCenter's recent tasks, one per drain where
   * there are no recent tasks to read.
   */
  memberReads: number;
  /** Folder moves seen among vCenter's recent tasks. */
  movesSeen: number;
}

/**
 * Says that a read's `map` gives, for an object of one of `types` whose properties have not
 * changed, the same answer as the last map read under the same `key`: the mirror keeps each such
 * object's answer and maps again only the objects changed since. The answers are shared between
 * reads, so the caller must not change them (nor hand them out to anyone who might).
 */
export interface MapMemo {
  key: string;
  types: readonly string[];
}

/** {@link RetrieveOptions} of a read that may be answered from a mirror. */
export interface MirrorReadOptions extends RetrieveOptions {
  memo?: MapMemo;
  /**
   * Reads the spec's objects in full, in place of one RetrievePropertiesEx of the spec (e.g. in
   * concurrent parts), whenever the mirror cannot answer: it must give what that read would.
   */
  fullRead?: <T>(map: (object: ObjectContent) => T | undefined) => Promise<T[]>;
}

export interface MirrorOptions {
  /** A mirror not read for this long is dropped, its collector destroyed (default 10 minutes). */
  idleMs?: number;
  /**
   * Most objects one mirror may hold (default 60 000, above vCenter's maximum of 50 000
   * registered VMs). A mirror that grows past it is dropped and its reads are full reads.
   */
  maxObjects?: number;
  /**
   * Per type, a path whose change means "read this object again": vCenter (and vcsim) may report
   * a change of `config.annotation` only as a new `config.changeVersion`. Objects whose path
   * changed are read again, all in one RetrievePropertiesEx, before the read answers.
   * Default: `{ VirtualMachine: 'config.changeVersion' }`.
   */
  versionPaths?: Record<string, string>;
  /**
   * Check that the objects in the folders the spec lists the children of are still there, and
   * forget those moved out (default true). vcsim sends nothing when an object is moved out of
   * such a folder; vCenter sends `leave` (the object no longer satisfies the filter). Each drain
   * reads vCenter's recent tasks (`TaskManager.recentTask`, alongside the drain), and reads the
   * folders' `childEntity` (about 77 bytes a child) only after a folder move
   * (`Folder.moveInto*`) showed there, or when tasks may have left the list unseen; with every
   * drain where there is no task manager. Turning it off on vcsim leaves VMs moved out listed.
   */
  checkMembership?: boolean;
  /** Counters to add to. */
  stats?: MirrorStats;
}

/** Checks a `describeMirror`-style option: a boolean, or `{ idleMs, maxObjects }`. */
export function checkMirrorOption(value: unknown, field: string): void {
  if (value === undefined || typeof value === 'boolean') return;
  const given = objectOption(value, field)!;
  integerOption(given.idleMs, `${field}.idleMs`, { min: 1, max: MAX_TIMER_MS, unit: 'ms' });
  integerOption(given.maxObjects, `${field}.maxObjects`, { min: 1 });
  booleanOption(given.checkMembership, `${field}.checkMembership`);
}

export function newMirrorStats(): MirrorStats {
  return {
    mirrorReads: 0,
    warmingReads: 0,
    fallbacks: 0,
    builds: 0,
    idleDrops: 0,
    polls: 0,
    rereads: 0,
    mapped: 0,
    memberReads: 0,
    movesSeen: 0,
  };
}

const DEFAULT_IDLE_MS = 10 * 60_000;
/**
 * Tasks that can take an object out of a folder without a `leave` from vcsim: vCenter's
 * `Folder.moveInto`, vcsim's `Folder.moveIntoFolder` (`MoveIntoFolder_Task`, the only call that
 * does so without destroying or unregistering the object).
 */
const MOVE_TASK = /^Folder\.moveInto/;
/** How many tasks vCenter (the last 200 finished) and vcsim (the last 200) list in `recentTask`. */
const RECENT_TASKS_KEPT = 200;
/** Finished folder moves remembered so that they do not count twice (see `#movesDone`). */
const MOVES_DONE_KEPT = 1_024;
const DEFAULT_MAX_OBJECTS = 60_000;
/** Pages one drain may take before the mirror gives up on it (a queue that large is a full read anyway). */
const MAX_DRAIN_PAGES = 1_000;

function key(obj: ManagedObjectReference): string {
  return `${obj.type}:${obj.value}`;
}

/** What a drain's check read: the folders' members (without a task manager), the recent tasks. */
interface Checked {
  members: Map<string, ManagedObjectReference> | undefined;
  recent: ManagedObjectReference[] | undefined;
}

function recentTasks(manager: ObjectProperties | undefined): ManagedObjectReference[] {
  const list = manager?.props.get('recentTask');
  return Array.isArray(list)
    ? list.filter((t): t is ManagedObjectReference => t instanceof ManagedObjectReference)
    : [];
}

/** Adds a folder's `childEntity`, as read, to `members`. */
function addChildren(members: Map<string, ManagedObjectReference>, folder: ObjectProperties): void {
  for (const child of (folder.props.get('childEntity') as ManagedObjectReference[] | undefined) ?? []) {
    members.set(key(child), child);
  }
}

/** The object a `ManagedObjectNotFound` names, if that is what `error` is. */
function goneObject(error: unknown): ManagedObjectReference | undefined {
  const obj = error instanceof VimFault && error.is('ManagedObjectNotFound') ? error.detail.obj : undefined;
  return obj instanceof ManagedObjectReference ? obj : undefined;
}

/** Why a mirror cannot answer; the read falls back to a full read. */
class MirrorBroken extends Error {}

/** Where a mirror is in its life: building its first read, serving, broken (reads fall back), or closed. */
export type MirrorState = 'building' | 'ready' | 'broken' | 'closed';

/**
 * One filter and the objects it reported. Reads go through {@link InventoryMirrors}, which falls
 * back to a full read when {@link read} gives `undefined`.
 */
export class PropertyMirror {
  readonly #session: Session;
  readonly #collector: PropertyCollector;
  readonly #specSet: PropertyFilterSpec[];
  readonly #maxObjects: number;
  readonly #checkMembership: boolean;
  readonly #versionPaths: Record<string, string>;
  readonly #stats: MirrorStats;
  readonly #objects = new Map<string, ObjectContent>();
  /** Per object, what the last memoized map gave for it (`undefined` included); forgotten when it changes. */
  readonly #memo = new Map<string, unknown>();
  #memoKey: string | undefined;
  /**
   * The types and paths of the spec, each string once: a name decoded from an answer may be a
   * view into that answer's text, and 10,000 objects would keep their pages alive through them.
   */
  readonly #names = new Map<string, string>();
  /** `type:path` the mirror added to the caller's spec (the version paths). */
  readonly #ownPaths = new Set<string>();
  /**
   * Folders the spec lists the direct children of. vcsim sends nothing at all when an object is
   * moved out of such a folder (no `leave`, no change of `parent` or `childEntity`), so a drain
   * reads their `childEntity` after a folder move (or with every drain, without a task manager)
   * and forgets the objects no longer there.
   */
  readonly #folders = new Map<string, ManagedObjectReference>();
  /**
   * vCenter's TaskManager, whose `recentTask` each drain reads alongside: a folder move is a
   * task, so the folders' members need reading only after one. Undefined: members are read with
   * every drain.
   */
  #taskManager: ManagedObjectReference | undefined;
  /** `recentTask` at the last drain: the tasks after it are new. */
  #recent: Set<string> | undefined;
  /** Folder moves seen and not yet seen finished: each drain reads their state and the members. */
  readonly #moves = new Map<string, ManagedObjectReference>();
  /** Folder moves seen finished; bounded (the oldest go first). */
  readonly #movesDone = new Set<string>();
  /** Tasks may have left `recentTask` unseen since the last drain: the next reads the members. */
  #membersUnsure = false;
  #state: MirrorState = 'building';
  #ref: ManagedObjectReference | undefined;
  readonly #filters: ManagedObjectReference[] = [];
  #generation = 0;
  #version = '';
  /** The drain running now, and the one queued behind it (which later readers join). */
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  /** Settles when the initial read ends (either way). */
  readonly built: Promise<void>;

  constructor(
    session: Session,
    collector: PropertyCollector,
    specSet: PropertyFilterSpec[],
    options: MirrorOptions & { stats: MirrorStats },
  ) {
    this.#session = session;
    this.#collector = collector;
    this.#maxObjects = options.maxObjects ?? DEFAULT_MAX_OBJECTS;
    this.#checkMembership = options.checkMembership ?? true;
    this.#versionPaths = options.versionPaths ?? { VirtualMachine: 'config.changeVersion' };
    this.#stats = options.stats;
    for (const spec of specSet) {
      for (const entry of spec.objectSet) {
        const children = entry.selectSet?.some(
          (s) =>
            s._type === 'TraversalSpec' &&
            (s as { type?: string }).type === 'Folder' &&
            (s as { path?: string }).path === 'childEntity' &&
            !(s as { selectSet?: unknown[] }).selectSet?.length,
        );
        if (children && this.#checkMembership) this.#folders.set(key(entry.obj), entry.obj);
      }
    }
    // The version paths are watched along with what the caller reads.
    this.#specSet = specSet.map((spec) => ({
      ...spec,
      propSet: spec.propSet.map((p) => {
        const extra = [this.#versionPaths[p.type]];
        const pathSet = p.pathSet ?? [];
        const missing = extra.filter((e): e is string => e !== undefined && !pathSet.includes(e));
        for (const path of missing) this.#ownPaths.add(`${p.type}:${path}`);
        return missing.length > 0 ? { ...p, pathSet: [...pathSet, ...missing] } : p;
      }),
    }));
    for (const spec of this.#specSet) {
      for (const p of spec.propSet)
        for (const name of [p.type, ...(p.pathSet ?? [])]) this.#names.set(name, name);
    }
    this.built = this.#build().catch((error: unknown) => this.#break('building it failed', error));
  }

  get state(): MirrorState {
    return this.#state;
  }

  /** Objects held now. */
  get size(): number {
    return this.#objects.size;
  }

  /** Its filters in vCenter (tests). */
  get filters(): readonly ManagedObjectReference[] {
    return this.#filters;
  }

  /** The collector in vCenter, while there is one (tests). */
  get reference(): ManagedObjectReference | undefined {
    return this.#ref;
  }

  /**
   * Every object mapped by `map` (objects it maps to `undefined` are left out), after every
   * update pending in vCenter is applied; `undefined` when the mirror cannot answer (not built
   * yet, or broken: then it is dropped, and the caller reads in full). With `memo`, objects
   * unchanged since the last read under the same key are not mapped again (see {@link MapMemo}).
   * An aborted `signal` ends the wait for the drain with an AbortError; the drain itself goes on
   * for the other readers.
   */
  async read<T>(
    map: (object: ObjectContent) => T | undefined,
    options: { memo?: MapMemo; signal?: AbortSignal } = {},
  ): Promise<T[] | undefined> {
    if (this.#state !== 'ready') return undefined;
    const { memo, signal } = options;
    if (signal?.aborted) throw new AbortError('mirror read', { cause: signal.reason });
    try {
      await untilAborted(this.#drainAfterNow(), signal, 'mirror read');
    } catch (error) {
      if (error instanceof AbortError && signal?.aborted) throw error;
      this.#break('a drain failed', error);
      return undefined;
    }
    if (this.#state !== 'ready') return undefined;
    if (memo && memo.key !== this.#memoKey) {
      this.#memo.clear();
      this.#memoKey = memo.key;
    }
    const out: T[] = [];
    // Keys, not entries: a [key, value] pair per object per read was most of a read's garbage.
    for (const id of this.#objects.keys()) {
      const object = this.#objects.get(id)!;
      let mapped: T | undefined;
      if (memo?.types.includes(object.obj.type)) {
        if (this.#memo.has(id)) {
          mapped = this.#memo.get(id) as T | undefined;
        } else {
          mapped = map(object);
          this.#memo.set(id, mapped);
          this.#stats.mapped += 1;
        }
      } else {
        mapped = map(object);
      }
      if (mapped !== undefined) out.push(mapped);
    }
    this.#stats.mirrorReads += 1;
    return out;
  }

  /** @internal Objects held, as read would give them to `map` (tests). */
  objects(): ObjectContent[] {
    return [...this.#objects.values()];
  }

  /** Drops the mirror, destroying its collector (and with it the filter). */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#dropRef();
  }

  async #build(): Promise<void> {
    const content = await this.#session.serviceContent();
    if (this.#session.generation === 0) await this.#session.login();
    const generation = this.#session.generation;
    const ref = await this.#session.invoke<ManagedObjectReference>('CreatePropertyCollector', {
      _this: content.propertyCollector,
    });
    this.#ref = ref;
    this.#generation = generation;
    if (this.#state !== 'building') {
      this.#dropRef();
      return;
    }
    // Before the filters: a move that ends after their first read is new to the first drain.
    if (this.#folders.size > 0 && content.taskManager) {
      const [manager] = await this.#collector.properties([content.taskManager], ['recentTask']);
      this.#taskManager = content.taskManager;
      await this.#seeTasks(recentTasks(manager));
    }
    for (const spec of this.#specSet) {
      this.#filters.push(
        await this.#session.invoke<ManagedObjectReference>('CreateFilter', {
          _this: ref,
          spec,
          partialUpdates: false,
        }),
      );
    }
    // The initial state comes as `enter` updates, 100 objects a page on vCenter and vcsim.
    await this.#drain();
    if (this.#state !== 'building') return;
    this.#state = 'ready';
    this.#stats.builds += 1;
    log('mirror %s built: %d objects', redactSessionIds(ref.value), this.#objects.size);
  }

  /** Resolves once a drain that started after this call has ended. */
  #drainAfterNow(): Promise<void> {
    if (this.#queued) return this.#queued;
    const previous = this.#running ?? Promise.resolve();
    const queued = previous
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        const run = this.#drain();
        this.#running = run;
        void run
          .catch(() => undefined)
          .finally(() => {
            if (this.#running === run) this.#running = undefined;
          });
        return run;
      });
    this.#queued = queued;
    return queued;
  }

  /** Applies every pending update: WaitForUpdatesEx without waiting, truncated answers continued. */
  async #drain(): Promise<void> {
    const reread = new Map<string, ManagedObjectReference>();
    let checked: Promise<Checked> | undefined;
    let resynced = false;
    for (let page = 0; ; page += 1) {
      if (this.#state === 'broken' || this.#state === 'closed')
        throw new MirrorBroken(`mirror ${this.#state}`);
      if (page >= MAX_DRAIN_PAGES) throw new MirrorBroken(`more than ${MAX_DRAIN_PAGES} pages of updates`);
      const ref = this.#ref;
      if (!ref || this.#generation !== this.#session.generation) {
        throw new MirrorBroken('the session was renewed: the filter died with the old one');
      }
      this.#stats.polls += 1;
      const polled = this.#session.invoke<UpdateSet | undefined>('WaitForUpdatesEx', {
        _this: ref,
        version: this.#version,
        options: { maxWaitSeconds: 0 },
      });
      // Started with the first page: children moved out before the read began are not in it.
      if (page === 0 && this.#state === 'ready') {
        checked = this.#check(ref);
        checked.catch(() => undefined);
      }
      let updates: UpdateSet | undefined;
      try {
        updates = await polled;
      } catch (error) {
        // vCenter forgot the version (it keeps only so many): the collector is still good, so
        // the mirror reads its whole state again through it, from no version.
        if (error instanceof VimFault && error.is('InvalidCollectorVersion') && !resynced && this.#version) {
          resynced = true;
          // The check compares the collector's filters with the mirror's, which are replaced.
          await checked?.catch(() => undefined);
          await this.#resync(ref);
          checked = this.#state === 'ready' ? this.#check(ref) : undefined;
          checked?.catch(() => undefined);
          continue;
        }
        throw error;
      }
      // A re-login during the call replays it on a collector the new session does not have.
      if (this.#generation !== this.#session.generation) {
        throw new MirrorBroken('the session was renewed during a drain');
      }
      if (!updates) break;
      this.#version = updates.version;
      for (const filterUpdate of updates.filterSet ?? []) {
        for (const update of filterUpdate.objectSet ?? []) this.#apply(update, reread);
      }
      if (this.#objects.size > this.#maxObjects) {
        throw new MirrorBroken(`${this.#objects.size} objects, more than the bound of ${this.#maxObjects}`);
      }
      if (!updates.truncated) break;
    }
    if (reread.size > 0) await this.#reread([...reread.values()]);
    if (checked) {
      const { members, recent } = await checked;
      if (members) await this.#reconcile(members);
      else if (recent) {
        await this.#seeTasks(recent);
        if (this.#moves.size > 0 || this.#membersUnsure) await this.#checkMoves();
      }
    }
  }

  /**
   * Notes the folder moves among the tasks new since the last drain (their `info` read in one
   * call). When none of the tasks of the last drain is left in the list, tasks may have left it
   * unseen (vcsim lists the last 200; vCenter the last 200 finished, for 10 minutes, and not
   * strictly oldest first — there `leave` covers a move): the members are read to be sure.
   */
  async #seeTasks(recent: ManagedObjectReference[]): Promise<void> {
    const before = this.#recent;
    this.#recent = new Set(recent.map(key));
    // An empty list before says nothing of what a full one now may have pushed out.
    if (
      before &&
      (before.size > 0 ? !recent.some((t) => before.has(key(t))) : recent.length >= RECENT_TASKS_KEPT)
    ) {
      this.#membersUnsure = true;
    }
    let fresh = recent.filter(
      (t) => !before?.has(key(t)) && !this.#moves.has(key(t)) && !this.#movesDone.has(key(t)),
    );
    while (fresh.length > 0) {
      let found: ObjectProperties[];
      try {
        found = await this.#collector.properties(fresh, ['info.descriptionId']);
      } catch (error) {
        // Forgotten since the list was read: what it did is unknown, so the members are read.
        const gone = goneObject(error);
        if (!gone || !fresh.some((t) => t.equals(gone))) throw error;
        fresh = fresh.filter((t) => !t.equals(gone));
        this.#membersUnsure = true;
        continue;
      }
      if (fresh.some((t) => !found.some((o) => o.obj.equals(t)))) this.#membersUnsure = true;
      for (const task of found) {
        if (!MOVE_TASK.test(String(task.props.get('info.descriptionId') ?? ''))) continue;
        this.#moves.set(key(task.obj), this.#own(task.obj));
        this.#stats.movesSeen += 1;
      }
      return;
    }
  }

  /**
   * After a folder move: the states of the moves, then the folders' members, in one read, tasks
   * first — a server reads the objects in order, so a move read as finished is in the members
   * read after it. A move still running is read again by the next drain.
   */
  async #checkMoves(): Promise<void> {
    const folders = [...this.#folders.values()];
    this.#stats.memberReads += 1;
    for (;;) {
      let found: ObjectProperties[];
      try {
        found = await this.#collector.retrieve([
          {
            propSet: [
              { type: 'Task', pathSet: ['info.state'] },
              { type: 'Folder', pathSet: ['childEntity'] },
            ],
            objectSet: [...this.#moves.values(), ...folders].map((obj) => ({ obj, skip: false })),
          },
        ]);
      } catch (error) {
        // vCenter forgets a task some minutes after it ends: that move is long finished.
        const gone = goneObject(error);
        if (!gone || !this.#moves.has(key(gone))) throw error;
        this.#moveDone(key(gone));
        continue;
      }
      const members = new Map<string, ManagedObjectReference>();
      for (const [id, task] of [...this.#moves]) {
        // vcsim leaves a missing object out of the answer rather than fail the read.
        const read = found.find((o) => o.obj.equals(task));
        const state = read?.props.get('info.state');
        if (!read || state === 'success' || state === 'error') this.#moveDone(id);
      }
      for (const object of found) if (object.obj.type === 'Folder') addChildren(members, object);
      this.#membersUnsure = false;
      await this.#reconcile(members);
      return;
    }
  }

  #moveDone(id: string): void {
    this.#moves.delete(id);
    this.#movesDone.add(id);
    if (this.#movesDone.size > MOVES_DONE_KEPT) {
      for (const oldest of this.#movesDone) {
        this.#movesDone.delete(oldest);
        break;
      }
    }
  }

  /**
   * Read alongside the first page of a drain: the collector's filters, and vCenter's recent
   * tasks — or, where there is no task manager, the children of the folders the spec lists the
   * children of. A filter destroyed behind the mirror's back would otherwise only show as
   * silence, which looks like nothing changed.
   */
  async #check(ref: ManagedObjectReference): Promise<Checked> {
    const everyDrain = this.#folders.size > 0 && !this.#taskManager;
    const members = everyDrain ? new Map<string, ManagedObjectReference>() : undefined;
    if (everyDrain) this.#stats.memberReads += 1;
    const manager = this.#folders.size > 0 ? this.#taskManager : undefined;
    const found = await this.#collector.retrieve([
      {
        propSet: [
          { type: 'Folder', pathSet: ['childEntity'] },
          { type: 'PropertyCollector', pathSet: ['filter'] },
          { type: 'TaskManager', pathSet: ['recentTask'] },
        ],
        objectSet: [...(everyDrain ? this.#folders.values() : []), ref, ...(manager ? [manager] : [])].map(
          (obj) => ({ obj, skip: false }),
        ),
      },
    ]);
    let filters: ManagedObjectReference[] | undefined;
    let recent: ManagedObjectReference[] | undefined;
    for (const object of found) {
      if (object.obj.equals(ref)) {
        filters = (object.props.get('filter') as ManagedObjectReference[] | undefined) ?? [];
      } else if (manager && object.obj.equals(manager)) {
        recent = recentTasks(object);
      } else if (members) {
        addChildren(members, object);
      }
    }
    const missing = this.#filters.filter((f) => !filters?.some((g) => g.equals(f)));
    if (missing.length > 0) throw new MirrorBroken(`filter ${missing[0]!.value} is gone`);
    return { members, recent: manager ? (recent ?? []) : undefined };
  }

  /**
   * Forgets the objects moved out of the folders, and reads those moved back in (vcsim, which
   * never sent their `leave`, does not send their `enter` either).
   */
  async #reconcile(members: Map<string, ManagedObjectReference>): Promise<void> {
    // Keys and forEach, not entries: no [key, value] pair per object.
    for (const id of this.#objects.keys()) {
      if (this.#folders.has(id) || this.#objects.get(id)!.obj.type === 'Folder') continue;
      if (!members.has(id)) this.#forgetObject(id);
    }
    const read = new Set(this.#specSet.flatMap((s) => s.propSet.map((p) => p.type)));
    const unknown: ManagedObjectReference[] = [];
    members.forEach((obj, id) => {
      if (!this.#objects.has(id) && read.has(obj.type) && obj.type !== 'Folder') unknown.push(obj);
    });
    if (unknown.length > 0) await this.#reread(unknown, true);
  }

  #apply(update: ObjectUpdate, reread: Map<string, ManagedObjectReference>): void {
    const id = key(update.obj);
    this.#memo.delete(id);
    if (update.kind === 'leave') {
      this.#forgetObject(id);
      reread.delete(id);
      return;
    }
    let object = this.#objects.get(id);
    if (update.kind === 'enter') {
      // vcsim sends every object again as `enter` when one joins: a replace.
      object = { obj: this.#own(update.obj), propSet: [] };
      this.#objects.set(id, object);
    } else if (!object) {
      // A change of an object this mirror dropped as moved out (vcsim never sent its `leave`).
      return;
    }
    object.propSet ??= [];
    const propSet = object.propSet;
    const versionPath = this.#versionPaths[update.obj.type];
    for (const change of update.changeSet ?? []) {
      if (update.kind === 'modify' && change.name === versionPath) reread.set(id, update.obj);
      // Watched for the mirror's own sake: not kept (memory), not given to the caller.
      if (this.#ownPaths.has(`${update.obj.type}:${change.name}`)) continue;
      const at = propSet.findIndex((p) => p.name === change.name);
      if (change.op === 'remove' || change.op === 'indirectRemove' || change.val === undefined) {
        if (at >= 0) propSet.splice(at, 1);
      } else if (at >= 0) {
        propSet[at] = { name: this.#name(change.name), val: detach(change.val) };
      } else {
        propSet.push({ name: this.#name(change.name), val: detach(change.val) });
      }
    }
  }

  /** Reads changed objects again in one call: their changes may not all have been reported. */
  async #reread(objs: ManagedObjectReference[], add = false): Promise<void> {
    this.#stats.rereads += objs.length;
    const byType = new Map<string, ManagedObjectReference[]>();
    for (const obj of objs) byType.set(obj.type, [...(byType.get(obj.type) ?? []), obj]);
    const specSet: PropertyFilterSpec[] = [];
    for (const [type, list] of byType) {
      const pathSet = [
        ...new Set(
          this.#specSet.flatMap((s) =>
            s.propSet.filter((p) => p.type === type).flatMap((p) => p.pathSet ?? []),
          ),
        ),
      ];
      specSet.push({ propSet: [{ type, pathSet }], objectSet: list.map((obj) => ({ obj, skip: false })) });
    }
    let objects: ObjectContent[];
    try {
      objects = await this.#collector.retrieveMapped(specSet, (o) => o);
    } catch (error) {
      // One of them was destroyed since: its `leave` comes with the next drain; read the others.
      if (!(error instanceof VimFault && error.is('ManagedObjectNotFound')) || objs.length === 1) {
        if (error instanceof VimFault && error.is('ManagedObjectNotFound')) {
          this.#forgetObject(key(objs[0]!));
          return;
        }
        throw error;
      }
      for (const obj of objs) await this.#reread([obj], add);
      return;
    }
    for (const object of objects) {
      const props = toObjectProperties(object);
      const id = key(object.obj);
      if (!add && !this.#objects.has(id)) continue;
      this.#memo.delete(id);
      this.#objects.set(id, {
        obj: this.#own(object.obj),
        propSet: [...props.props]
          .filter(([name]) => !this.#ownPaths.has(`${object.obj.type}:${name}`))
          .map(([name, val]) => ({ name: this.#name(name), val: detach(val) })),
      });
    }
  }

  /**
   * Starts again from no version, with new filters: the next pages are the whole state, as when
   * the mirror was built. New filters, because a server need not send again from no version what
   * a filter already sent (vcsim does not).
   */
  async #resync(ref: ManagedObjectReference): Promise<void> {
    this.#stats.fallbacks += 1;
    log(
      'mirror %s: vCenter no longer knows its version; its whole state is read again',
      redactSessionIds(ref.value),
    );
    this.#version = '';
    this.#objects.clear();
    this.#memo.clear();
    for (const filter of this.#filters.splice(0)) {
      await this.#session.invoke('DestroyPropertyFilter', { _this: filter }).catch((error: unknown) => {
        if (!(error instanceof VimFault && error.is('ManagedObjectNotFound'))) throw error;
      });
    }
    for (const spec of this.#specSet) {
      this.#filters.push(
        await this.#session.invoke<ManagedObjectReference>('CreateFilter', {
          _this: ref,
          spec,
          partialUpdates: false,
        }),
      );
    }
  }

  #name(name: string): string {
    return this.#names.get(name) ?? detach(name);
  }

  /** A reference that keeps no answer's text alive (see {@link detach}). */
  #own(obj: ManagedObjectReference): ManagedObjectReference {
    return new ManagedObjectReference(this.#name(obj.type), detach(obj.value), obj.serverGuid);
  }

  #forgetObject(id: string): void {
    this.#objects.delete(id);
    this.#memo.delete(id);
  }

  #break(why: string, error: unknown): void {
    if (this.#state === 'broken' || this.#state === 'closed') return;
    this.#state = 'broken';
    const cause =
      error instanceof VimFault ? error.faultType : error instanceof Error ? error.message : String(error);
    log(
      'mirror %s dropped, %s (%s): reads are full reads until it is built again',
      redactSessionIds(this.#ref?.value ?? '?'),
      why,
      cause,
    );
    this.#objects.clear();
    this.#dropRef();
  }

  #dropRef(): void {
    const ref = this.#ref;
    this.#ref = undefined;
    this.#objects.clear();
    this.#memo.clear();
    if (!ref || this.#session.isClosed || this.#generation !== this.#session.generation) return;
    this.#session.invoke('DestroyPropertyCollector', { _this: ref }).catch(() => undefined);
  }
}

interface Entry {
  mirror: PropertyMirror;
  lastRead: number;
}

/**
 * The mirrors of one session, one per filter spec, with the same `retrieveMapped` as
 * {@link PropertyCollector}: the first read of a spec is a full read and starts building its
 * mirror in the background; later reads are answered by the mirror once it is built (after a
 * drain), by a full read otherwise. Shared by every caller of one provider.
 */
export class InventoryMirrors {
  readonly stats: MirrorStats;
  readonly #session: Session;
  readonly #collector: PropertyCollector;
  readonly #options: MirrorOptions;
  readonly #idleMs: number;
  readonly #mirrors = new Map<string, Entry>();
  /** Per spec: consecutive breaks, and when a new mirror may be built. */
  readonly #breaks = new Map<string, { count: number; retryAt: number }>();
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(collector: PropertyCollector, options: MirrorOptions = {}) {
    this.#collector = collector;
    this.#session = collector.session;
    this.#options = options;
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.stats = options.stats ?? newMirrorStats();
  }

  /** Mirrors held now (tests). */
  get size(): number {
    return this.#mirrors.size;
  }

  /** The mirror of `specSet`, if one is held (tests, benchmarks). */
  mirrorOf(specSet: PropertyFilterSpec[]): PropertyMirror | undefined {
    return this.#mirrors.get(specKey(specSet))?.mirror;
  }

  /** Every mirror held now (tests, benchmarks). */
  list(): PropertyMirror[] {
    return [...this.#mirrors.values()].map((e) => e.mirror);
  }

  /** {@link PropertyCollector.retrieveMapped}, answered from a mirror when one is ready. */
  async retrieveMapped<T>(
    specSet: PropertyFilterSpec[],
    map: (object: ObjectContent) => T | undefined,
    readOptions: MirrorReadOptions = {},
  ): Promise<T[]> {
    const { memo, fullRead, ...options } = readOptions;
    const full = (): Promise<T[]> =>
      fullRead ? fullRead(map) : this.#collector.retrieveMapped(specSet, map, options);
    if (this.#closed) return full();
    const id = specKey(specSet);
    let entry = this.#mirrors.get(id);
    if (entry && (entry.mirror.state === 'broken' || entry.mirror.state === 'closed')) {
      // Broken while nobody read it (its initial read failed): this read is the fallback.
      this.stats.fallbacks += 1;
      this.#forget(id, entry);
      entry = undefined;
    }
    if (entry) {
      entry.lastRead = Date.now();
      const rows = await entry.mirror.read(map, {
        ...(memo ? { memo } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (rows) return rows;
      if (entry.mirror.state === 'building') {
        this.stats.warmingReads += 1;
      } else {
        this.stats.fallbacks += 1;
        this.#forget(id, entry);
      }
      return full();
    }
    const rows = await full();
    this.#start(id, specSet);
    return rows;
  }

  /** Drops every mirror, destroying their collectors; later reads are full reads. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const [id, entry] of this.#mirrors) this.#forget(id, entry);
  }

  #start(id: string, specSet: PropertyFilterSpec[]): void {
    const breaks = this.#breaks.get(id);
    if (breaks && Date.now() < breaks.retryAt) return;
    const mirror = new PropertyMirror(this.#session, this.#collector, specSet, {
      ...this.#options,
      stats: this.stats,
    });
    this.#mirrors.set(id, { mirror, lastRead: Date.now() });
    void mirror.built.then(() => {
      if (mirror.state === 'ready') this.#breaks.delete(id);
    });
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(50, Math.min(this.#idleMs / 2, 60_000)));
    this.#sweeper.unref();
  }

  #forget(id: string, entry: Entry): void {
    if (this.#mirrors.get(id) === entry) this.#mirrors.delete(id);
    const broke = entry.mirror.state === 'broken';
    entry.mirror.close();
    if (broke) {
      // A mirror that keeps breaking is not built again at once: each rebuild re-reads everything.
      const count = (this.#breaks.get(id)?.count ?? 0) + 1;
      this.#breaks.set(id, { count, retryAt: Date.now() + backoffMs(count, 500, 60_000) });
    }
    if (this.#mirrors.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.#mirrors) {
      if (now - entry.lastRead < this.#idleMs) continue;
      log('mirror idle for %d ms: dropped', now - entry.lastRead);
      this.stats.idleDrops += 1;
      this.#forget(id, entry);
    }
  }
}

/**
 * `value` with its strings copied, in place for plain objects and arrays. A string decoded from
 * an answer can be a view into that answer's text (V8 keeps long slices as views), and a mirror
 * keeps its values for hours: one kept annotation would keep its whole page of XML alive.
 */
function detach<T>(value: T): T {
  if (typeof value === 'string') return (value.length < 13 ? value : ` ${value}`.slice(1)) as T;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = detach(value[i]);
    return value;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const k of Object.keys(record)) record[k] = detach(record[k]);
  }
  return value;
}

/** The identity of a filter spec: the same objects, traversal and paths. */
function specKey(specSet: PropertyFilterSpec[]): string {
  return JSON.stringify(specSet);
}
