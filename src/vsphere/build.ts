/**
 * Builds a new VM, by template clone or around an ISO, then checks what vCenter really made and
 * repairs what it dropped (vcsim ignores most of a clone's config; real vCenter may drop an
 * edit under load). If any step after the VM exists fails, the VM is destroyed before the
 * error is returned: a half-built VM is never left behind silently.
 */

import type { VSphereClient } from '../client.ts';
import { ValidationError } from '../errors.ts';
import { logger } from '../log.ts';
import { TaskOutcomeUnknownError, type WaitScope } from '../tasks/waiter.ts';
import { AbortError, answerMayBeLost, TimeoutError } from '../transport/errors.ts';
import { ManagedObjectReference } from '../vim25/index.ts';
import type { BuildSlots, ReleaseSlot } from './build-slots.ts';
import { addIsoCdrom, addPvscsi, addThinDisk, datastorePath, userdataExtraConfig } from './devices.ts';
import { diskChanges, disksOf, rootDiskProblem, SCSI_CONTROLLER_TYPES } from './disks.ts';
import type { DatacenterInfo, Inventory, Placement } from './finder.ts';
import type { GroupFolder } from './folders.ts';
import {
  applyMachineConfig,
  hardwareVersionProblem,
  MACHINE_PATHS,
  machineExtraConfig,
  machineRepair,
} from './machine.ts';
import {
  addNic,
  manualMacs,
  nicChanges,
  nicMacs,
  nicMatches,
  orderedNics,
  type ResolvedNic,
} from './nics.ts';
import { type ExtraConfigOption, specField, type VmSpec } from './spec.ts';
import { isFault, VerificationError, type VmOps } from './vm-ops.ts';

const log = logger('infrakit:vsphere:build');

export interface BuildRequest {
  name: string;
  dc: DatacenterInfo;
  folder: GroupFolder;
  /** The VM to make. */
  spec: VmSpec;
  annotation: string;
  /** User data, written for the guest as `guestinfo.userdata`. */
  init?: string;
  signal?: AbortSignal;
  onProgress?: (event: { phase: string; percent?: number }) => void;
}

export type Device = Record<string, unknown> & { _type?: string; key?: number };

const SCSI_TYPES = SCSI_CONTROLLER_TYPES;
/** First placeholder key of the devices that `RootDiskMB` / `Disks` add. */
const DISK_KEYS_FROM = -300;

/** What a builder needs resolved from the inventory. */
export interface Resolved {
  placement: Placement;
  datastore: ManagedObjectReference;
  /** The NICs asked for, in device order, with their networks. */
  nics: ResolvedNic[];
}

export interface VmBuilderOptions {
  client: VSphereClient;
  inventory: Inventory;
  vmOps: VmOps;
  /**
   * The limit on creations running at once per host, shared by every builder of one provider
   * (both ways of building count against the same hosts). None: no limit.
   */
  slots?: BuildSlots;
}

/** Tasks that make a VM: vCenter's `VirtualMachine.clone`/`Folder.createVm` (vcsim: `cloneVm`). */
const CREATION_TASK = /\.(clone|createVm)/i;
const RUNNING_STATES = new Set(['queued', 'running']);
/** Errors about a VM this build did not make: the clean-up must not touch it. */
const notOurs = new WeakSet<Error>();
/** Tries at removing a half-built VM before giving up on it. */
const CLEANUP_ATTEMPTS = 4;
/** Tries at finding the VM after a lost answer (each read is retried by the SOAP layer too). */
const LOOKUP_ATTEMPTS = 8;
/** How long a lost answer's creation task is waited for before its VM is looked up. */
const CREATION_LOOKUP_MS = 30 * 60_000;

/** Common to both ways of building: resolve, create, verify, repair, power on, clean up on failure. */
export abstract class VmBuilder {
  protected readonly client: VSphereClient;
  protected readonly inventory: Inventory;
  protected readonly vmOps: VmOps;
  private readonly slots: BuildSlots | undefined;
  /** The collector scope of each build in progress: its waits share one private collector. */
  private readonly scopes = new WeakMap<BuildRequest, WaitScope>();
  /** Creations whose provision was aborted: followed until vCenter ends them, then removed. */
  private readonly reaping = new Map<BuildRequest, Promise<void>>();

  constructor(options: VmBuilderOptions) {
    this.client = options.client;
    this.inventory = options.inventory;
    this.vmOps = options.vmOps;
    this.slots = options.slots;
  }

  protected async resolve(req: BuildRequest): Promise<Resolved> {
    const { dc, spec } = req;
    const wanted = spec.nics ?? [];
    const [placement, datastore, networks] = await Promise.all([
      this.inventory.placement(dc, spec.placement ?? {}),
      this.inventory.datastore(dc, spec.datastore, specField(spec, 'datastore')),
      Promise.all(
        wanted.map((nic, index) =>
          this.inventory.network(dc, nic.network, specField(spec, `nics[${index}].network`)),
        ),
      ),
      // A disk on a datastore that does not exist must fail before the VM is made.
      Promise.all(
        (spec.disks ?? []).map((disk, i) =>
          disk.datastore !== undefined && disk.datastore !== spec.datastore
            ? this.inventory.datastore(dc, disk.datastore, specField(spec, `disks[${i}].datastore`))
            : undefined,
        ),
      ),
    ]);
    const nics = wanted.map((nic, index) => ({ nic, network: networks[index]! }));
    return { placement, datastore: datastore.ref, nics };
  }

  /** Creates the VM; returns its reference once the vCenter task succeeded. */
  protected abstract create(req: BuildRequest, resolved: Resolved): Promise<ManagedObjectReference>;

  /** Checks the new VM's devices; returns config changes still needed, or throws if it cannot be repaired. */
  protected abstract repairDevices(
    req: BuildRequest,
    resolved: Resolved,
    devices: Device[],
  ): Record<string, unknown>[];

  async build(req: BuildRequest): Promise<ManagedObjectReference> {
    const resolved = await this.resolve(req);
    // The creation, repair and power-on waits share one private collector, destroyed at the end:
    // on a shared one each poll pays (on vcsim) for every change other builds made (P3).
    const scope = this.client.tasks.scope();
    this.scopes.set(req, scope);
    try {
      return await this.buildIn(req, resolved);
    } finally {
      // An aborted creation is still waited for on the scope's collector.
      const closeScope = () => {
        scope.close();
        this.scopes.delete(req);
      };
      const reaping = this.reaping.get(req);
      if (reaping) void reaping.finally(closeScope);
      else closeScope();
    }
  }

  /**
   * Resolves once every VM whose provision was aborted while vCenter was making it has been
   * removed (or given up on, logged by name); for `close()` and shutdown.
   */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.reaping.values()]);
  }

  /** Names of the VMs still being made for aborted provisions, to be removed when they exist. */
  get reapingNames(): string[] {
    return [...this.reaping.keys()].map((req) => req.name);
  }

  /**
   * Removes a VM this build made (stop, destroy), trying a few times: the failure that led here
   * may be a flaky connection, which the clean-up meets too. A VM of another name (a task id
   * reused after a vCenter restart) is never touched. Throws the last clean-up error.
   */
  private async removeMadeVm(req: BuildRequest, vm: ManagedObjectReference): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const name = await this.client.collector.property<string>(vm, 'name').catch((error) => {
          if (isFault(error, 'ManagedObjectNotFound')) return req.name;
          throw error;
        });
        if (name !== req.name) {
          log('%s: %s is named %s, not ours: left alone', req.name, vm.value, name);
          return;
        }
        await this.vmOps.stop(vm, 0);
        await this.vmOps.destroy(vm);
        return;
      } catch (cleanupError) {
        log('%s: cleanup attempt %d failed: %s', req.name, attempt, (cleanupError as Error).message);
        if (attempt >= CLEANUP_ATTEMPTS) throw cleanupError;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  private async buildIn(req: BuildRequest, resolved: Resolved): Promise<ManagedObjectReference> {
    req.onProgress?.({ phase: 'create' });
    let vm = await this.create(req, resolved);
    try {
      try {
        await this.verifyAndRepair(req, resolved, vm);
      } catch (error) {
        if (!notOurs.has(error as Error)) throw error;
        // The task answered with another VM: the one this build made is found by its name.
        const found = await this.inventory.findChild(req.folder.ref, req.name);
        if (found?.type !== 'VirtualMachine') throw error;
        log('%s: found by name as %s; going on with it', req.name, found.value);
        vm = found;
        await this.verifyAndRepair(req, resolved, vm);
      }
      if (req.spec.powerOn) {
        req.onProgress?.({ phase: 'power-on' });
        await this.vmOps.powerOn(vm, req.signal, this.scopes.get(req));
      }
      return vm;
    } catch (error) {
      if (notOurs.has(error as Error)) throw error;
      log(
        '%s (%s): finishing failed, destroying the half-built VM: %s',
        req.name,
        vm.value,
        (error as Error).message,
      );
      await this.removeMadeVm(req, vm).catch((cleanupError: unknown) => {
        (error as Error & { cleanupError?: unknown }).cleanupError = cleanupError;
      });
      throw error;
    }
  }

  /**
   * Sends the call that starts the creation task, then waits for the task. The call is never sent
   * twice: when its answer is lost (connection reset, timeout, gateway error) vCenter may or may not
   * have started the task, so once no creation task on `entity` is queued or running any more, the
   * VM is looked up by its name in the group folder. Found (the name is random, so it is this
   * provision's VM): that VM is the result. Not found: the original error, nothing was made, and
   * provisioning again is safe.
   */
  protected async startCreation(
    req: BuildRequest,
    method: string,
    params: Record<string, unknown>,
    entity: ManagedObjectReference,
    description: string,
    phase: string,
    host: ManagedObjectReference,
  ): Promise<ManagedObjectReference> {
    // Waiting for a slot is the last step that an abort ends with nothing made.
    const release = await this.takeSlot(req, host, description);
    // The call is not aborted once sent: vCenter may start the task whatever happens to the
    // answer, and a VM it makes must then be found and removed, which needs that answer.
    const creation = this.createAndWait(req, method, params, entity, description, phase);
    // The slot is held until vCenter's task really ends, even when the provision was aborted
    // meanwhile: the host is busy with it until then.
    creation.then(release, release);
    const signal = req.signal;
    if (!signal) return creation;
    return new Promise<ManagedObjectReference>((resolve, reject) => {
      const onAbort = () => {
        reject(new AbortError(description, { cause: signal.reason }));
        // vCenter finishes (or fails) the creation; its VM is then removed. Cancelling is no
        // shortcut: vcsim marks a cancelled clone failed at once and still makes the VM later.
        log('%s: provision aborted while vCenter makes it; it is removed once made', req.name);
        const reaping = creation
          .then(
            (vm) => this.removeMadeVm(req, vm),
            (error: Error) => log('%s: the aborted creation ended without a VM: %s', req.name, error.message),
          )
          .then(
            () => log('%s: removed after its provision was aborted', req.name),
            (error: Error) =>
              log('%s: could NOT remove it after its provision was aborted: %s', req.name, error.message),
          )
          .finally(() => this.reaping.delete(req));
        this.reaping.set(req, reaping);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      creation.then(
        (vm) => {
          signal.removeEventListener('abort', onAbort);
          resolve(vm);
        },
        (error: Error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /**
   * A slot of `host` for one creation, waiting in line when the host has as many running as the
   * limit allows; rejects with an AbortError (nothing made) when the provision is aborted first.
   */
  private async takeSlot(
    req: BuildRequest,
    host: ManagedObjectReference,
    description: string,
  ): Promise<ReleaseSlot> {
    const slots = this.slots;
    if (!slots) return () => undefined;
    const key = `${host.type}:${host.value}`;
    if (!slots.free(key)) {
      log(
        '%s: %d creation(s) already running on %s (limit %d), %d waiting: queued',
        req.name,
        slots.inUse(key),
        host.value,
        slots.limit,
        slots.waiting(key),
      );
      req.onProgress?.({ phase: 'queued' });
    }
    return slots.acquire(key, req.signal, description);
  }

  private async createAndWait(
    req: BuildRequest,
    method: string,
    params: Record<string, unknown>,
    entity: ManagedObjectReference,
    description: string,
    phase: string,
  ): Promise<ManagedObjectReference> {
    let task: ManagedObjectReference;
    try {
      task = await this.client.session.invoke<ManagedObjectReference>(method, params);
    } catch (error) {
      if (!answerMayBeLost(error)) throw error;
      log(
        '%s: the answer to %s was lost (%s); looking the VM up by name',
        req.name,
        method,
        (error as Error).message,
      );
      // The look-up meets the same flaky connection: it only reads, so it may try for longer than
      // the SOAP layer's own retries before the VM is given up on.
      let found: ManagedObjectReference | undefined;
      const deadline = Date.now() + CREATION_LOOKUP_MS;
      for (let attempt = 1; ; attempt += 1) {
        try {
          found = await this.findAfterLostAnswer(req, entity, deadline);
          break;
        } catch (lookupError) {
          if (!answerMayBeLost(lookupError) || attempt >= LOOKUP_ATTEMPTS || Date.now() >= deadline) {
            log('%s: looking for it failed (%s); it may exist', req.name, (lookupError as Error).message);
            throw error;
          }
          await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)));
        }
      }
      if (!found) throw error;
      log('%s: %s had made %s; continuing with it', req.name, method, found.value);
      return found;
    }
    const scope = this.scopes.get(req);
    try {
      return await this.client.tasks.wait<ManagedObjectReference>(task, {
        description,
        ...(scope ? { scope } : {}),
        onProgress: (percent) => req.onProgress?.({ phase, percent }),
      });
    } catch (error) {
      if (!(error instanceof TaskOutcomeUnknownError)) throw error;
      // The task is gone (vCenter restarted under it): what it made, if anything, is found by
      // the VM's name, which is this provision's alone.
      const found = await this.inventory.findChild(req.folder.ref, req.name).catch((lookupError) => {
        if (isFault(lookupError, 'ManagedObjectNotFound')) return undefined;
        throw lookupError;
      });
      if (found?.type === 'VirtualMachine') {
        log(
          '%s: its creation task vanished, but the VM exists as %s; going on with it',
          req.name,
          found.value,
        );
        return found;
      }
      throw new TaskOutcomeUnknownError(task, description, {
        cause: error.cause,
        checked: `no VM named ${req.name} in group folder ${req.folder.name} (or the folder is gone too), so none was made`,
      });
    }
  }

  /** Waits until no creation task on `entity` runs, then finds `req.name` in the group folder. */
  private async findAfterLostAnswer(
    req: BuildRequest,
    entity: ManagedObjectReference,
    deadline: number,
  ): Promise<ManagedObjectReference | undefined> {
    for (let round = 1; ; round += 1) {
      const tasks = await this.client.collector.retrieve([
        {
          propSet: [{ type: 'Task', pathSet: ['info.state', 'info.descriptionId'] }],
          objectSet: [
            {
              obj: entity,
              skip: true,
              selectSet: [
                {
                  _type: 'TraversalSpec',
                  name: 'recentTask',
                  type: entity.type,
                  path: 'recentTask',
                  skip: false,
                },
              ],
            },
          ],
        },
      ]);
      const running = tasks.filter(
        (t) =>
          RUNNING_STATES.has(String(t.props.get('info.state'))) &&
          CREATION_TASK.test(String(t.props.get('info.descriptionId') ?? '')),
      );
      if (running.length === 0) break;
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `waiting for the creation tasks on ${entity.value} to end`,
          CREATION_LOOKUP_MS,
        );
      }
      // Backoff with jitter, up to 5 s between reads: a clone may take many minutes.
      const ceiling = Math.min(5000, 250 * 2 ** Math.min(round, 5));
      await new Promise((resolve) => setTimeout(resolve, ceiling / 2 + (Math.random() * ceiling) / 2));
    }
    const found = await this.inventory.findChild(req.folder.ref, req.name);
    return found?.type === 'VirtualMachine' ? found : undefined;
  }

  private async verifyAndRepair(
    req: BuildRequest,
    resolved: Resolved,
    vm: ManagedObjectReference,
    round = 1,
  ): Promise<void> {
    req.onProgress?.({ phase: 'verify' });
    const paths = [
      'name',
      'config.annotation',
      'config.hardware.numCPU',
      'config.hardware.memoryMB',
      'config.hardware.device',
      'config.extraConfig',
      ...MACHINE_PATHS,
    ];
    const [info] = await this.client.collector.properties([vm], paths);
    if (!info) throw new VerificationError('creation', vm.value);
    // The task's result must be the VM this build made. After a vCenter restart a re-watched task
    // id can name another task, whose result is another VM: never repair, power on or destroy it.
    const name = info.props.get('name');
    if (name !== req.name) {
      log(
        '%s: the creation task answered %s, which is named %s: not ours, left alone',
        req.name,
        vm.value,
        name,
      );
      const error = new VerificationError('creation', req.name);
      notOurs.add(error);
      throw error;
    }
    const change: Record<string, unknown> = {};
    if ((info.props.get('config.annotation') ?? '') !== req.annotation) change.annotation = req.annotation;
    const { spec } = req;
    if (spec.cpus !== undefined && info.props.get('config.hardware.numCPU') !== spec.cpus)
      change.numCPUs = spec.cpus;
    if (spec.memoryMB !== undefined && info.props.get('config.hardware.memoryMB') !== spec.memoryMB)
      change.memoryMB = spec.memoryMB;
    const extra =
      (info.props.get('config.extraConfig') as { key: string; value: unknown }[] | undefined) ?? [];
    const devices = (info.props.get('config.hardware.device') as Device[] | undefined) ?? [];
    // The guest's metadata names the MACs vCenter gave the NICs: known once the NICs are right.
    const metadata = guestExtraConfig(req, nicMacs(devices, resolved.nics));
    const wantedExtra = [
      ...userdataExtraConfig(req.init),
      ...machineExtraConfig(spec),
      ...(metadata ?? []),
    ].filter((o) => !extra.some((e) => e.key === o.key && e.value === o.value));
    if (wantedExtra.length > 0) change.extraConfig = wantedExtra;
    if (hardwareVersionProblem(spec, (path) => info.props.get(path))) {
      throw new VerificationError('hardware version', req.name);
    }
    Object.assign(
      change,
      machineRepair(spec, (path) => info.props.get(path)),
    );
    const deviceChange = this.repairDevices(req, resolved, devices);
    if (deviceChange.length > 0) change.deviceChange = deviceChange;
    if (Object.keys(change).length === 0) return;
    log('%s: repairing %s', req.name, Object.keys(change).join(', '));
    req.onProgress?.({ phase: 'repair' });
    // The repair's own filter reports the VM's new values with the task's end: one read fewer.
    const seen = await this.vmOps.reconfigureWatching(vm, change, 'repair', paths, this.scopes.get(req));
    // NICs added by this repair got their MACs only now: one more round writes the metadata.
    if (metadata === undefined && round === 1) return this.verifyAndRepair(req, resolved, vm, 2);
    if (this.repairProblem(req, resolved, seen, false) === undefined) return;
    const [after] = await this.client.collector.properties([vm], paths);
    const problem = this.repairProblem(req, resolved, after?.props ?? new Map(), true);
    if (problem !== undefined) throw new VerificationError(problem, vm.value);
  }

  /**
   * What is still not as asked after a repair (undefined: all of it is). `complete`: `props` is a
   * full read, where no devices means an empty list; in a filter's reports it means "not seen".
   */
  private repairProblem(
    req: BuildRequest,
    resolved: Resolved,
    props: Map<string, unknown>,
    complete: boolean,
  ): string | undefined {
    if ((props.get('config.annotation') ?? '') !== req.annotation) return 'annotation';
    const { spec } = req;
    if (spec.cpus !== undefined && props.get('config.hardware.numCPU') !== spec.cpus) return 'CPU count';
    if (spec.memoryMB !== undefined && props.get('config.hardware.memoryMB') !== spec.memoryMB)
      return 'memory size';
    if (Object.keys(machineRepair(spec, (path) => props.get(path))).length > 0)
      return 'compute and firmware settings';
    const devices =
      (props.get('config.hardware.device') as Device[] | undefined) ?? (complete ? [] : undefined);
    if (devices === undefined || this.repairDevices(req, resolved, devices).length > 0)
      return 'device configuration';
    const metadata = guestExtraConfig(req, nicMacs(devices, resolved.nics));
    const extra = props.get('config.extraConfig') as { key: string; value: unknown }[] | undefined;
    if (
      metadata === undefined ||
      (metadata.length > 0 &&
        !metadata.every((o) => extra?.some((e) => e.key === o.key && e.value === o.value)))
    )
      return 'guest metadata';
    return undefined;
  }
}

/** The guest metadata's extraConfig for NICs with `macs`: `[]` when none is asked for. */
function guestExtraConfig(
  req: BuildRequest,
  macs: readonly string[] | undefined,
): ExtraConfigOption[] | undefined {
  const hook = req.spec.guest?.extraConfig;
  return hook ? hook.call(req.spec.guest, macs) : [];
}

function diskSizesMB(devices: Device[]): number[] {
  return devices.filter((d) => d._type === 'VirtualDisk').map((d) => Number(d.capacityInKB ?? 0) / 1024);
}

/** What a clone needs of its template, read once per login. */
interface TemplateInfo {
  devices: Device[];
  snapshot?: ManagedObjectReference;
  /** The host the template is registered on: it reads the disks of every clone of it. */
  host?: ManagedObjectReference;
}

/** Clones a template (full or linked). */
export class TemplateCloner extends VmBuilder {
  protected async create(req: BuildRequest, resolved: Resolved): Promise<ManagedObjectReference> {
    const { spec, dc } = req;
    const template = await this.inventory.template(dc, spec.template!, specField(spec, 'template'));
    const templateInfo = await this.templateInfo(template);
    const location: Record<string, unknown> = {
      _type: 'VirtualMachineRelocateSpec',
      datastore: resolved.datastore,
      pool: resolved.placement.pool,
      ...(resolved.placement.host ? { host: resolved.placement.host } : {}),
    };
    let snapshot: ManagedObjectReference | undefined;
    if (spec.linkedClone) {
      snapshot = templateInfo.snapshot;
      if (!snapshot) {
        throw new ValidationError(
          [
            {
              field: specField(spec, 'linkedClone'),
              message: `template "${spec.template}" has no snapshot; a linked clone needs one`,
            },
          ],
          'cannot clone',
        );
      }
      location.diskMoveType = 'createNewChildDiskBacking';
    }
    const config: Record<string, unknown> = { _type: 'VirtualMachineConfigSpec', annotation: req.annotation };
    if (spec.cpus !== undefined) config.numCPUs = spec.cpus;
    if (spec.memoryMB !== undefined) config.memoryMB = spec.memoryMB;
    // With every MAC manual the guest's metadata is known now and goes in the clone itself.
    const extraConfig = [
      ...userdataExtraConfig(req.init),
      ...(guestExtraConfig(req, manualMacs(resolved.nics)) ?? []),
    ];
    if (extraConfig.length > 0) config.extraConfig = extraConfig;
    applyMachineConfig(config, spec, 'clone');
    this.checkRootDisk(req, templateInfo.devices);
    this.templateDisks.set(req, disksOf(templateInfo.devices).length);
    const deviceChange = this.repairDevices(req, resolved, templateInfo.devices);
    if (deviceChange.length > 0) config.deviceChange = deviceChange;
    const cloneSpec: Record<string, unknown> = {
      _type: 'VirtualMachineCloneSpec',
      location,
      template: false,
      config,
      ...(spec.guest?.customization
        ? { customization: spec.guest.customization(orderedNics(templateInfo.devices).length) }
        : {}),
      powerOn: false, // powered on after verification, so a repair never needs a power cycle
      ...(snapshot ? { snapshot } : {}),
    };
    return this.startCreation(
      req,
      'CloneVM_Task',
      { _this: template, folder: req.folder.ref, name: req.name, spec: cloneSpec },
      template,
      `clone of ${spec.template} to ${req.name}`,
      'clone',
      // Counted against the host named for the clone, else the template's (the clone's source,
      // charged by vCenter too, and where it lands when nothing else decides), else the pool.
      resolved.placement.host ?? templateInfo.host ?? resolved.placement.pool,
    );
  }

  /** How many disks each build's template has: the clone's disks beyond them are its `Disks`. */
  private readonly templateDisks = new WeakMap<BuildRequest, number>();

  /** `RootDiskMB` cannot shrink the template's first disk (vCenter never shrinks a disk). */
  private checkRootDisk(req: BuildRequest, templateDevices: Device[]): void {
    const { spec } = req;
    const problem = rootDiskProblem(templateDevices, spec.rootDiskMB, spec.template!);
    if (problem) {
      throw new ValidationError([{ field: specField(spec, 'rootDiskMB'), message: problem }], 'cannot clone');
    }
  }

  private readonly templates = new Map<string, { generation: number; info: Promise<TemplateInfo> }>();

  private templateInfo(template: ManagedObjectReference): Promise<TemplateInfo> {
    const cached = this.templates.get(template.value);
    if (cached && cached.generation === this.client.session.generation) return cached.info;
    const info = this.client.collector
      .properties([template], ['config.hardware.device', 'snapshot.currentSnapshot', 'runtime.host'])
      .then(([t]) => {
        const snapshot = t?.props.get('snapshot.currentSnapshot');
        const host = t?.props.get('runtime.host');
        return {
          devices: (t?.props.get('config.hardware.device') as Device[] | undefined) ?? [],
          ...(snapshot instanceof ManagedObjectReference ? { snapshot } : {}),
          ...(host instanceof ManagedObjectReference ? { host } : {}),
        };
      });
    info.catch(() => this.templates.delete(template.value));
    this.templates.set(template.value, { generation: this.client.session.generation, info });
    return info;
  }

  protected repairDevices(
    req: BuildRequest,
    resolved: Resolved,
    devices: Device[],
  ): Record<string, unknown>[] {
    // Without any network asked for, the template's NICs are kept as they are.
    const changes: Record<string, unknown>[] =
      resolved.nics.length > 0 ? nicChanges(devices, resolved.nics) : [];
    const { spec } = req;
    if (spec.diskMB !== undefined && !diskSizesMB(devices).includes(spec.diskMB)) {
      const controller = devices.find((d) => SCSI_TYPES.has(d._type ?? ''));
      let controllerKey: number;
      if (controller?.key !== undefined) {
        controllerKey = controller.key;
      } else {
        controllerKey = -201;
        changes.push(addPvscsi(controllerKey));
      }
      const used = new Set(
        devices.filter((d) => d.controllerKey === controllerKey).map((d) => Number(d.unitNumber)),
      );
      let unit = 0;
      while (used.has(unit) || unit === 7) unit += 1;
      changes.push(addThinDisk(-202, controllerKey, unit, spec.diskMB, spec.datastore));
    }
    // create() records the template's disk count before anything else runs; were it missing,
    // the Disks are not planned again: a disk added twice is worse than one missing.
    const templateDisks = this.templateDisks.get(req);
    const wanted = templateDisks === undefined ? { ...spec, disks: undefined } : spec;
    changes.push(
      ...diskChanges(devices, wanted, templateDisks ?? 0, DISK_KEYS_FROM, specField(spec, 'disks')),
    );
    return changes;
  }
}

/** Builds a VM around a LinuxKit (or any) ISO in one CreateVM_Task. */
export class IsoVmBuilder extends VmBuilder {
  protected async create(req: BuildRequest, resolved: Resolved): Promise<ManagedObjectReference> {
    const { spec, dc } = req;
    const isoDatastoreName = spec.isoDatastore ?? spec.datastore;
    const isoDatastore = spec.isoDatastore
      ? (await this.inventory.datastore(dc, isoDatastoreName, specField(spec, 'isoDatastore'))).ref
      : resolved.datastore;
    const deviceChange: Record<string, unknown>[] = [
      addPvscsi(-100),
      addIsoCdrom(-101, datastorePath(isoDatastoreName, spec.isoPath!), isoDatastore),
    ];
    resolved.nics.forEach((nic, index) => {
      deviceChange.push(addNic(-110 - index, nic));
    });
    if (spec.diskMB !== undefined) deviceChange.push(addThinDisk(-103, -100, 0, spec.diskMB, spec.datastore));
    const controller = { _type: 'ParaVirtualSCSIController', key: -100, busNumber: 0 };
    deviceChange.push(...diskChanges([controller], spec, 0, DISK_KEYS_FROM, specField(spec, 'disks')));
    const config: Record<string, unknown> = {
      _type: 'VirtualMachineConfigSpec',
      name: req.name,
      guestId: spec.guestId ?? 'otherLinux64Guest',
      files: { _type: 'VirtualMachineFileInfo', vmPathName: `[${spec.datastore}]` },
      numCPUs: spec.cpus ?? 1,
      memoryMB: spec.memoryMB ?? 1024,
      annotation: req.annotation,
      deviceChange,
    };
    const extraConfig = userdataExtraConfig(req.init);
    if (extraConfig.length > 0) config.extraConfig = extraConfig;
    applyMachineConfig(config, spec, 'iso');
    return this.startCreation(
      req,
      'CreateVM_Task',
      {
        _this: req.folder.ref,
        config,
        pool: resolved.placement.pool,
        ...(resolved.placement.host ? { host: resolved.placement.host } : {}),
      },
      req.folder.ref,
      `creation of ${req.name}`,
      'create',
      // Without a host, vCenter (or DRS) picks one of the pool's: the limit is then the pool's.
      resolved.placement.host ?? resolved.placement.pool,
    );
  }

  protected repairDevices(
    req: BuildRequest,
    resolved: Resolved,
    devices: Device[],
  ): Record<string, unknown>[] {
    // CreateVM_Task is applied whole or not at all: a missing device means vCenter refused it
    // silently, which no reconfigure should paper over.
    const { spec } = req;
    const isoFile = datastorePath(spec.isoDatastore ?? spec.datastore, spec.isoPath!);
    const missing: string[] = [];
    if (!devices.some((d) => d._type === 'ParaVirtualSCSIController')) missing.push('pvscsi controller');
    if (
      !devices.some(
        (d) =>
          d._type === 'VirtualCdrom' &&
          (d.backing as { fileName?: string } | undefined)?.fileName === isoFile,
      )
    )
      missing.push(`CD-ROM with ${isoFile}`);
    const nics = orderedNics(devices);
    if (
      nics.length !== resolved.nics.length ||
      resolved.nics.some((want, i) => nics[i]?._type !== 'VirtualVmxnet3' || !nicMatches(nics[i]!, want))
    )
      missing.push(`${resolved.nics.length} vmxnet3 NIC(s) as asked`);
    if (spec.diskMB !== undefined && !diskSizesMB(devices).includes(spec.diskMB))
      missing.push(`${spec.diskMB} MB disk`);
    if (spec.disks && disksOf(devices).length < spec.disks.length) missing.push('disks of Disks');
    if (missing.length > 0) throw new VerificationError(`devices (${missing.join(', ')})`, req.name);
    return [];
  }
}
