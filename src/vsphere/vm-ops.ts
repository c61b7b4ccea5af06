/**
 * Operations on one existing VM, each verified by reading back (vcsim accepts and drops things;
 * real vCenter may too under concurrent edits): annotation, power, graceful shutdown, destroy.
 */

import type { VSphereClient } from '../client.ts';
import { VSphereError } from '../errors.ts';
import { logger } from '../log.ts';
import { ObjectGoneError, waitForProperties } from '../property/wait.ts';
import { TaskFailedError, type WaitOptions, type WaitScope } from '../tasks/waiter.ts';
import { TimeoutError } from '../transport/errors.ts';
import { type ManagedObjectReference, VimFault } from '../vim25/index.ts';

const log = logger('infrakit:vsphere:vm');

/** A write to a VM did not stick: what was read back differs from what was written. */
export class VerificationError extends VSphereError {
  constructor(what: string, vm: string) {
    super('VERIFY_FAILED', `${what} of ${vm} did not take effect (read back a different value)`);
  }
}

/**
 * A `soft` power-off did not stop the guest: VMware Tools were not running, the guest refused the
 * shutdown, or it was still running when the timeout passed. The VM is left running. Code
 * `GUEST_SHUTDOWN`.
 */
export class GuestShutdownError extends VSphereError {
  /** The VM (its MoRef value). */
  readonly vm: string;
  readonly reason: 'tools-not-running' | 'refused' | 'timeout';

  constructor(
    vm: string,
    reason: GuestShutdownError['reason'],
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      'GUEST_SHUTDOWN',
      `guest shutdown of ${vm} failed (${detail}); PowerOffMode is "soft", so it is left running`,
      options,
    );
    this.vm = vm;
    this.reason = reason;
  }
}

/** How {@link VmOps.stop} stops a running VM; see docs/properties.md, "Destroy". */
export type StopMode = 'hard' | 'soft' | 'trySoft';

/** The VimFault of an error: the error itself, or the fault a failed task carried. */
export function faultOf(error: unknown): VimFault | undefined {
  if (error instanceof VimFault) return error;
  if (error instanceof TaskFailedError) return error.fault;
  return undefined;
}

/**
 * True when `error` is a vCenter fault of `type` or of a subtype of it, whether vCenter returned it
 * from a call ({@link VimFault}) or a task ended with it ({@link TaskFailedError}):
 * `isFault(error, 'InvalidState')` holds for an `InvalidPowerState`. The one way to match a fault.
 */
export function isFault(error: unknown, type: string): boolean {
  return faultOf(error)?.is(type) ?? false;
}

export class VmOps {
  private readonly client: VSphereClient;

  constructor(client: VSphereClient) {
    this.client = client;
  }

  /** Runs a *_Task method and waits for it. */
  async runTask<T = unknown>(
    method: string,
    params: Record<string, unknown>,
    description: string,
    signal?: AbortSignal,
    wait: Pick<WaitOptions, 'scope' | 'ownCollector'> = {},
  ): Promise<T> {
    const task = await this.startTask(method, params, signal);
    return this.client.tasks.wait<T>(task, { description, ...(signal ? { signal } : {}), ...wait });
  }

  private startTask(
    method: string,
    params: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<ManagedObjectReference> {
    return this.client.session.invoke<ManagedObjectReference>(method, params, signal ? { signal } : {});
  }

  async reconfigure(
    vm: ManagedObjectReference,
    spec: Record<string, unknown>,
    description: string,
  ): Promise<void> {
    await this.runTask(
      'ReconfigVM_Task',
      { _this: vm, spec: { _type: 'VirtualMachineConfigSpec', ...spec } },
      `${description} of ${vm.value}`,
    );
  }

  /**
   * Reconfigures and returns the values of `paths` the task's own filter reported by the time
   * it ended (no extra round trip); a path may be missing or stale, so a caller that finds a
   * value wrong must read it again before concluding anything.
   */
  async reconfigureWatching(
    vm: ManagedObjectReference,
    spec: Record<string, unknown>,
    description: string,
    paths: string[],
    scope?: WaitScope,
  ): Promise<Map<string, unknown>> {
    const task = await this.startTask('ReconfigVM_Task', {
      _this: vm,
      spec: { _type: 'VirtualMachineConfigSpec', ...spec },
    });
    const { properties } = await this.client.tasks.waitWithProperties(
      task,
      { obj: vm, paths },
      { description: `${description} of ${vm.value}`, ...(scope ? { scope } : {}) },
    );
    return properties;
  }

  /** Writes the annotation and reads it back. */
  async setAnnotation(vm: ManagedObjectReference, annotation: string): Promise<void> {
    await this.reconfigure(vm, { annotation }, 'annotation update');
    const stored = (await this.client.collector.property<string>(vm, 'config.annotation')) ?? '';
    if (stored !== annotation) throw new VerificationError('annotation update', vm.value);
  }

  async powerState(vm: ManagedObjectReference): Promise<string> {
    return (await this.client.collector.property<string>(vm, 'runtime.powerState')) ?? 'unknown';
  }

  /** Powers on; a VM already on is fine. */
  async powerOn(vm: ManagedObjectReference, signal?: AbortSignal, scope?: WaitScope): Promise<void> {
    try {
      await this.runTask('PowerOnVM_Task', { _this: vm }, `power-on of ${vm.value}`, signal, {
        ...(scope ? { scope } : {}),
      });
    } catch (error) {
      if (isFault(error, 'InvalidPowerState') && (await this.powerState(vm)) === 'poweredOn') return;
      throw error;
    }
  }

  /** Powers off; a VM already off is fine. */
  async powerOff(vm: ManagedObjectReference, signal?: AbortSignal): Promise<void> {
    try {
      await this.runTask('PowerOffVM_Task', { _this: vm }, `power-off of ${vm.value}`, signal);
    } catch (error) {
      if (isFault(error, 'InvalidPowerState') && (await this.powerState(vm)) !== 'poweredOn') return;
      throw error;
    }
  }

  /**
   * Stops a VM. `trySoft` (the default): a guest shutdown when VMware Tools run (so the guest can
   * leave its cluster cleanly), waiting on `runtime.powerState` until off or `timeoutMs`, then a
   * hard power-off. `soft`: the same, but instead of powering off, throws
   * {@link GuestShutdownError} and leaves the VM running. `hard`: a power-off at once.
   */
  async stop(
    vm: ManagedObjectReference,
    timeoutMs: number,
    signal?: AbortSignal,
    mode: StopMode = 'trySoft',
  ): Promise<void> {
    let info: Awaited<ReturnType<VSphereClient['collector']['properties']>>[number] | undefined;
    try {
      [info] = await this.client.collector.properties(
        [vm],
        ['runtime.powerState', 'guest.toolsRunningStatus'],
      );
    } catch (error) {
      // A VM that is gone needs no stopping; destroy then says it was already gone.
      if (isFault(error, 'ManagedObjectNotFound')) return;
      throw error;
    }
    if (info?.props.get('runtime.powerState') !== 'poweredOn') return;
    if (mode === 'soft' && info.props.get('guest.toolsRunningStatus') !== 'guestToolsRunning') {
      throw new GuestShutdownError(vm.value, 'tools-not-running', 'VMware Tools are not running');
    }
    if (
      mode !== 'hard' &&
      (timeoutMs > 0 || mode === 'soft') &&
      info.props.get('guest.toolsRunningStatus') === 'guestToolsRunning'
    ) {
      try {
        await this.client.session.invoke('ShutdownGuest', { _this: vm });
      } catch (error) {
        if (mode === 'soft') {
          throw new GuestShutdownError(
            vm.value,
            'refused',
            `the guest refused: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        }
        log('%s: guest shutdown refused (%s); powering off', vm.value, (error as Error).message);
        await this.powerOff(vm, signal);
        return;
      }
      try {
        await waitForProperties(
          this.client.session,
          [{ obj: vm, paths: ['runtime.powerState'] }],
          (values) => {
            const state = values.get(vm, 'runtime.powerState');
            return state !== undefined && state !== 'poweredOn' ? state : undefined;
          },
          { timeoutMs, description: `the guest shutdown of ${vm.value}`, ...(signal ? { signal } : {}) },
        );
        return;
      } catch (error) {
        if (error instanceof ObjectGoneError) return;
        if (mode === 'soft') {
          if (error instanceof TimeoutError)
            throw new GuestShutdownError(
              vm.value,
              'timeout',
              `the guest was still running after ${timeoutMs} ms`,
            );
          throw error;
        }
        log('%s: guest shutdown did not finish (%s); powering off', vm.value, (error as Error).message);
      }
    }
    await this.powerOff(vm, signal);
  }

  /** Destroys the VM; one that is already gone is fine. Returns false when it was already gone. */
  async destroy(vm: ManagedObjectReference, signal?: AbortSignal): Promise<boolean> {
    try {
      // Destroys come in bursts (a group scaled down) while the inventory changes fast: a
      // collector of their own keeps each wait from paying for the others' changes (P3).
      await this.runTask('Destroy_Task', { _this: vm }, `destroy of ${vm.value}`, signal, {
        ownCollector: true,
      });
      return true;
    } catch (error) {
      if (isFault(error, 'ManagedObjectNotFound')) return false;
      throw error;
    }
  }
}
