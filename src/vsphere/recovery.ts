/**
 * After a restart, clones that an earlier process started are still running in vCenter, and
 * nothing in this process knows about them. Reporting them as pending keeps a group controller
 * from provisioning again. vCenter's recent tasks say which clones run; the VmBeingClonedEvent of
 * each says where the new VM goes and its name.
 */
import type { VSphereClient } from '../client.ts';
import { ManagedObjectReference } from '../vim25/index.ts';

export interface RunningClone {
  /** The name the new VM will have: the instance ID. */
  name: string;
  task: ManagedObjectReference;
}

interface TaskRow {
  task: ManagedObjectReference;
  source: ManagedObjectReference | undefined;
  chainId: number;
  queued: number;
}

interface ClonedEvent {
  chainId?: number;
  createdTime?: string;
  destName?: string;
  destFolder?: { folder?: ManagedObjectReference };
  vm?: { vm?: ManagedObjectReference };
}

/** Clones still queued or running whose target is `folder`. Two round trips, or one when no clone runs. */
export function runningClonesInto(
  client: VSphereClient,
  folder: ManagedObjectReference,
): Promise<RunningClone[]> {
  return runningClones(client, (event) => event.destFolder?.folder?.equals(folder) === true);
}

/**
 * Clones that make a VM named `name`, in any folder: another process may be making the instance
 * a destroy is asked for. Those still queued or running, and with `finished`, those among
 * vCenter's recent tasks that succeeded too (their VM may still lack the notes its maker writes
 * after the clone).
 */
export function clonesNamed(
  client: VSphereClient,
  name: string,
  options: { finished?: boolean } = {},
): Promise<RunningClone[]> {
  return runningClones(client, (event) => event.destName === name, options.finished === true);
}

async function runningClones(
  client: VSphereClient,
  wanted: (event: ClonedEvent) => boolean,
  finished = false,
): Promise<RunningClone[]> {
  const content = await client.session.serviceContent();
  if (!content.taskManager || !content.eventManager) return [];
  const tasks = await client.collector.retrieve([
    {
      propSet: [
        {
          type: 'Task',
          pathSet: ['info.state', 'info.descriptionId', 'info.entity', 'info.eventChainId', 'info.queueTime'],
        },
      ],
      objectSet: [
        {
          obj: content.taskManager,
          skip: true,
          selectSet: [
            { _type: 'TraversalSpec', name: 'recent', type: 'TaskManager', path: 'recentTask', skip: false },
          ],
        },
      ],
    },
  ]);
  const running: TaskRow[] = [];
  for (const t of tasks) {
    const state = t.props.get('info.state');
    // vCenter says VirtualMachine.clone, vcsim VirtualMachine.cloneVm.
    if (
      (state !== 'queued' && state !== 'running' && !(finished && state === 'success')) ||
      !/^VirtualMachine\.clone/.test(String(t.props.get('info.descriptionId')))
    ) {
      continue;
    }
    const source = t.props.get('info.entity');
    running.push({
      task: t.obj,
      source: source instanceof ManagedObjectReference ? source : undefined,
      chainId: Number(t.props.get('info.eventChainId') ?? 0),
      queued: Date.parse(String(t.props.get('info.queueTime') ?? '')) || Date.now(),
    });
  }
  if (running.length === 0) return [];
  const since = new Date(Math.min(...running.map((r) => r.queued)) - 60_000).toISOString();
  const events =
    (await client.session.invoke<ClonedEvent[] | undefined>('QueryEvents', {
      _this: content.eventManager,
      filter: { _type: 'EventFilterSpec', time: { beginTime: since }, eventTypeId: ['VmBeingClonedEvent'] },
    })) ?? [];
  const out: RunningClone[] = [];
  const taken = new Set<string>();
  // Newest first: a source cloned many times matches its newest events to its running tasks.
  const ordered = [...events].sort((a, b) => String(b.createdTime).localeCompare(String(a.createdTime)));
  for (const event of ordered) {
    const dest = event.destFolder?.folder;
    if (!event.destName || !(dest instanceof ManagedObjectReference) || !wanted(event)) continue;
    // vCenter links a task to its events by chain id; vcsim does not, so fall back to the source VM.
    const match =
      running.find((r) => !taken.has(r.task.value) && r.chainId !== 0 && r.chainId === event.chainId) ??
      running.find(
        (r) =>
          !taken.has(r.task.value) &&
          r.chainId === 0 &&
          r.source &&
          event.vm?.vm instanceof ManagedObjectReference &&
          r.source.equals(event.vm.vm),
      );
    if (!match) continue;
    taken.add(match.task.value);
    out.push({ name: event.destName, task: match.task });
  }
  return out;
}
