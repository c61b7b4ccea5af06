/** The errors of a task wait: the task failed, or vCenter forgot it and its outcome is unknown. */
import { VSphereError } from '../errors.ts';
import type { ManagedObjectReference, VimFault } from '../vim25/index.ts';

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
   * @param options - `checked`: what the caller looked at instead, in words (e.g. `no VM named vm-1 in its
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
