/**
 * destroy: guest shutdown, power-off and destroy of an instance (or only marking it, with
 * ignoreOnDestroy), waiting first for a clone of its name still in flight.
 */
import { InstanceNotManagedError, ValidationError } from '../errors.ts';
import { logger } from '../log.ts';
import type { DestroyContext, DestroyOptions } from '../spi/instance.ts';
import { TaskFailedError, TaskOutcomeUnknownError } from '../tasks/errors.ts';
import { AbortError } from '../transport/errors.ts';
import { NotFoundError } from '../vsphere/errors.ts';
import { clonesNamed } from '../vsphere/recovery.ts';
import { DELETED_ANNOTATION } from './annotation.ts';
import { type InstanceLookup, lookUpInstance } from './lookup.ts';
import { type ProviderState, signalOption, untilAborted } from './state.ts';

const log = logger('infrakit:vsphere:provider');

/**
 * How long destroy waits, after a clone of the instance's name by another process ends, for the
 * new VM to carry InfraKit's notes before calling it not managed.
 */
const CLONE_NOTES_WAIT_MS = 30_000;

/**
 * Destroys the instance (guest shutdown, power-off, destroy), or with `ignoreOnDestroy` only
 * marks it `Deleted by InfraKit`. An ID no VM has (never made, or already gone) rejects with
 * {@link NotFoundError} (`kind: 'vm'`, field `Instance`); a VM of that name that InfraKit does
 * not manage is left alone and rejects with {@link InstanceNotManagedError}.
 */
export function destroyInstance(
  state: ProviderState,
  id: string,
  context: DestroyContext = { Reason: 'terminate' },
  options: DestroyOptions = {},
): Promise<void> {
  const work = destroyNow(state, id, context, options);
  // A provision of the same LogicalID (same VM name) waits for this destroy to end.
  state.destroying.set(id, work);
  const done = () => {
    if (state.destroying.get(id) === work) state.destroying.delete(id);
  };
  work.then(done, done);
  return untilAborted(work, options.signal, `destroy of ${id}`);
}

/** `created`: a creation of `id` just ended, so a VM of that name without our notes may be ours still. */
export async function destroyNow(
  state: ProviderState,
  id: string,
  context: DestroyContext,
  options: DestroyOptions,
  created = false,
): Promise<void> {
  if (typeof id !== 'string' || id === '')
    throw new ValidationError(
      [{ field: 'Instance', message: 'expected a non-empty instance ID' }],
      'invalid destroy',
    );
  const pending = state.pending.get(id);
  if (pending) {
    // Marked first: describe stops listing it, and the VM is destroyed as soon as it exists even
    // if this caller stops waiting (its signal, or the plugin server answering in time).
    pending.destroyRequested = true;
    log('%s is still being provisioned; it will be destroyed when it exists (%s)', id, context.Reason);
    await pending.done;
    if (pending.destroyed) return pending.destroyed;
    throw new NotFoundError('vm', id, 'vCenter (its provision failed: no VM was made)', {
      field: 'Instance',
    });
  }
  let lookup = await lookUpInstance(state, id);
  if (!lookup.found) {
    lookup = created
      ? await awaitNotes(state, id, lookup, options.signal)
      : await afterCloneInFlight(state, id, lookup, options.signal);
    // A caller that gave up while this waited has been answered: nothing more is done for it.
    if (options.signal?.aborted) throw new AbortError(`destroy of ${id}`, { cause: options.signal.reason });
  }
  const { found, deleted, foreign } = lookup;
  if (!found) {
    // Never success: the caller would believe a VM is gone that may never have existed, or
    // that belongs to someone else. A caller for whom "already gone" is fine (the plugin
    // server) tells NotFoundError apart from the rest.
    if (deleted.length === 0 && foreign.length > 0)
      throw new InstanceNotManagedError(
        id,
        foreign.map((vm) => vm.value),
      );
    throw new NotFoundError(
      'vm',
      id,
      deleted.length > 0 ? 'vCenter (its VM was already destroyed with ignoreOnDestroy)' : 'vCenter',
      { field: 'Instance' },
    );
  }
  if (state.ignoreOnDestroy) {
    await state.vmOps.setAnnotation(found.vm, DELETED_ANNOTATION);
    log('destroy %s (%s): marked "%s" (ignoreOnDestroy)', id, context.Reason, DELETED_ANNOTATION);
    return;
  }
  const powerOff = found.metadata.powerOff;
  const timeoutMs =
    powerOff?.timeoutSeconds !== undefined ? powerOff.timeoutSeconds * 1000 : state.shutdownTimeoutMs;
  await state.vmOps.stop(found.vm, timeoutMs, options.signal, powerOff?.mode ?? 'trySoft');
  const existed = await state.vmOps.destroy(found.vm, options.signal);
  log('destroy %s (%s): %s', id, context.Reason, existed ? 'destroyed' : 'was already gone');
}

/**
 * No instance `id` exists, but vCenter may still be cloning a VM of that name for another
 * process (or an earlier one): destroy must not report success and leave that VM behind. Waits
 * for such a clone to end (bounded by the caller's signal; the task is never cancelled, it is not
 * ours), then, at most {@link CLONE_NOTES_WAIT_MS}, for the new VM to carry InfraKit's notes
 * (vCenter applies them with the clone; on vcsim the process that cloned writes them right
 * after), and looks again.
 */
async function afterCloneInFlight(
  state: ProviderState,
  id: string,
  lookup: InstanceLookup,
  signal: AbortSignal | undefined,
): Promise<InstanceLookup> {
  // Recent clones that succeeded count too: the look-up may have run just before the clone's
  // VM appeared, or found it before the process that made it wrote its notes.
  const clones = await clonesNamed(state.client, id, { finished: true });
  if (clones.length === 0) return lookup;
  log(
    'destroy %s: a clone of that name is running or just ended (task %s); waiting for it and its notes',
    id,
    clones.map((c) => c.task.value).join(', '),
  );
  for (const clone of clones) {
    try {
      await state.client.tasks.wait(clone.task, {
        description: `clone to ${id}`,
        cancelOnAbort: false,
        ...signalOption(signal),
      });
    } catch (error) {
      // A clone that failed (or whose task vCenter forgot) made no VM, or one the look-up finds.
      if (!(error instanceof TaskFailedError || error instanceof TaskOutcomeUnknownError)) throw error;
      log('destroy %s: the clone in flight ended without success: %s', id, error.message);
    }
  }
  return awaitNotes(state, id, await lookUpInstance(state, id), signal);
}

/**
 * After a creation of `id` ended: while a VM of that name exists with no notes at all, looks
 * again with backoff, at most {@link CLONE_NOTES_WAIT_MS}: vcsim drops a clone's notes, and the
 * process that cloned writes them right after the task.
 */
async function awaitNotes(
  state: ProviderState,
  id: string,
  lookup: InstanceLookup,
  signal: AbortSignal | undefined,
): Promise<InstanceLookup> {
  const deadline = Date.now() + CLONE_NOTES_WAIT_MS;
  let latest = lookup;
  for (let round = 0; ; round += 1) {
    // Only a VM without any notes may still get ours: notes another tool wrote stay theirs.
    if (latest.found || latest.blank.length === 0 || Date.now() >= deadline || signal?.aborted) return latest;
    const ceiling = Math.min(2000, 100 * 2 ** Math.min(round, 5));
    await new Promise((resolve) => setTimeout(resolve, ceiling / 2 + (Math.random() * ceiling) / 2));
    latest = await lookUpInstance(state, id);
  }
}
