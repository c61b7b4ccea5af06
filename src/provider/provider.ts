/**
 * VSphereInstanceProvider: the InfraKit instance SPI on vCenter. Instances are VMs in a folder
 * named after the group, with the group id, config hash and tags in the VM's annotation, the
 * same way the original Go plugin kept them, so both can share a vCenter.
 */

import { VSphereClient, type VSphereClientOptions } from '../client.ts';
import { InstanceNotManagedError, ValidationError, type ValidationIssue } from '../errors.ts';
import { AmbiguousNameError, NotFoundError } from '../inventory/errors.ts';
import { type DatacenterInfo, Inventory } from '../inventory/inventory.ts';
import { logger } from '../log.ts';
import {
  booleanOption,
  checkAll,
  functionOption,
  integerOption,
  MAX_TIMER_MS,
  objectOption,
  stringOption,
} from '../options.ts';
import { type ObjectProperties, type PropertyCollector, toObjectProperties } from '../property/collector.ts';
import { checkMirrorOption, InventoryMirrors, type MirrorOptions } from '../property/mirror.ts';
import {
  type DestroyContext,
  type DestroyOptions,
  InfraKitTags,
  type InstanceDescription,
  type InstancePlugin,
  type InstanceSpec,
  type JsonValue,
  type ProvisionOptions,
} from '../spi/instance.ts';
import { TaskFailedError, TaskOutcomeUnknownError } from '../tasks/waiter.ts';
import { AbortError } from '../transport/errors.ts';
import { ManagedObjectReference, VimFault } from '../vim25/index.ts';
import type { ObjectContent } from '../vim25/types.ts';
import {
  belongsToGroup,
  DELETED_ANNOTATION,
  type DecodedAnnotation,
  decodeAnnotation,
  encodeAnnotation,
  type InstanceMetadata,
  type PowerOffSetting,
} from './annotation.ts';
import { type BuildRequest, IsoVmBuilder, TemplateCloner } from './build.ts';
import { ipv4Addresses, vmNameForLogicalId } from './cloud-init.ts';
import { rootDiskProblem } from './disks.ts';
import { type GroupFolder, GroupFolders } from './folders.ts';
import { describeGuestNics, type GuestNic, waitForGuestIp } from './guest.ts';
import { nicNetworkField, wantedNics } from './nics.ts';
import { type PendingProvision, PendingProvisions } from './pending.ts';
import { type ProviderDefaults, parseProperties, type VMProperties } from './properties.ts';
import { clonesNamed, runningClonesInto } from './recovery.ts';
import { parseInstanceSpec, parseTags } from './spec.ts';
import { type SizedStream, type UploadOptions, uploadToDatastore } from './upload.ts';
import { faultOf, isFault, VmOps } from './vm-ops.ts';

const log = logger('infrakit:vsphere:provider');

/** Builds a VM; the template cloner and ISO builder implement it (inject your own to change how). */
export interface VmBuilderLike {
  build(request: BuildRequest): Promise<ManagedObjectReference>;
  /** Resolves once clean-ups left running by aborted builds are over (awaited by `close()`). */
  settle?(): Promise<void>;
  /** Names of the VMs such clean-ups are still waiting for. */
  readonly reapingNames?: string[];
}

/** The annotation codec (inject to change the stored format; both must stay readable by the original plugin). */
export interface AnnotationCodec {
  encode(meta: InstanceMetadata): string;
  decode(text: string | undefined): DecodedAnnotation;
}

export interface VSphereInstanceProviderOptions extends VSphereClientOptions {
  /** Datacenter name or path (env VCDATACENTER). Without it: the only datacenter for provisions, every one for describe. */
  datacenter?: string;
  /** Default datastore (env VCDATASTORE). */
  datastore?: string;
  /** Default network (env VCNETWORK). */
  network?: string;
  /** Default ESXi host (env VCHOST). */
  host?: string;
  /** Base folder (name or inventory path) under which group folders live. Default: the datacenter's VM folder. */
  folder?: string;
  /** Default VM name prefix (default `vm`). */
  vmPrefix?: string;
  /** Destroy only marks the VM: its annotation becomes `Deleted by InfraKit`. */
  ignoreOnDestroy?: boolean;
  /** Tag that carries the config hash (default `infrakit.config.hash`; `infrakit.config_sha` is always read too). */
  configHashTag?: string;
  /** How long destroy waits for a guest shutdown before powering off (default 30 000 ms; 0 = power off at once). */
  shutdownTimeoutMs?: number;
  /**
   * Called when work that continues after `provision(…, { wait: false })` fails (also logged on
   * the `infrakit:vsphere:provider` debug namespace). The pending entry is dropped either way.
   */
  onBackgroundError?: (failure: BackgroundFailure) => void;
  /**
   * Answer describe from an inventory mirror per group folder (a PropertyCollector filter kept
   * current from WaitForUpdatesEx, drained before each answer) instead of reading the whole folder
   * each time; see docs/provider.md. Worth it on a long-lived provider (the plugin server turns it
   * on); default off, or env `INFRAKIT_VSPHERE_DESCRIBE_MIRROR` (`1`/`0`).
   */
  describeMirror?: boolean | Pick<MirrorOptions, 'idleMs' | 'maxObjects' | 'checkMembership'>;
  /** Environment for the VC* defaults (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Injected collaborators. */
  client?: VSphereClient;
  inventory?: Inventory;
  folders?: GroupFolders;
  vmOps?: VmOps;
  cloner?: VmBuilderLike;
  isoBuilder?: VmBuilderLike;
  annotationCodec?: AnnotationCodec;
}

/** A failure of work that went on after its call returned. */
export interface BackgroundFailure {
  operation: 'provision' | 'destroy';
  /** The instance ID. */
  id: string;
  group?: string;
  error: Error;
}

/**
 * A copy of `text` that keeps nothing else alive. V8 represents a long slice as a view into the
 * string it was cut from, so a name kept from a response would keep that response's text too.
 */
function ownCopy(text: string): string {
  return text.length < 13 ? text : ` ${text}`.slice(1);
}

/** A property of a decoded object, by path; undefined when it was not sent. */
function propertyOf(object: ObjectContent, path: string): unknown {
  for (const property of object.propSet ?? []) if (property.name === path) return property.val;
  return undefined;
}

/** The mirrors describe uses, when the option (or the environment) turns them on. */
function describeMirrors(
  collector: PropertyCollector,
  option: VSphereInstanceProviderOptions['describeMirror'],
  env: NodeJS.ProcessEnv,
): InventoryMirrors | undefined {
  const fromEnv = env.INFRAKIT_VSPHERE_DESCRIBE_MIRROR;
  const on = option ?? (fromEnv === undefined ? false : fromEnv === '1' || fromEnv === 'true');
  if (!on) return undefined;
  return new InventoryMirrors(collector, on === true ? {} : on);
}

/** A VM seen by describe: its name (for recovery) and its description, if it is an instance. */
interface ListedVm {
  name: unknown;
  description: InstanceDescription | undefined;
}

/** What a look-up of an instance by ID found. */
interface InstanceLookup {
  /** The instance's VM, when one VM of that name carries InfraKit's notes. */
  found: { vm: ManagedObjectReference; metadata: InstanceMetadata } | undefined;
  /** VMs of that name marked `Deleted by InfraKit` (destroyed with ignore-on-destroy). */
  deleted: ManagedObjectReference[];
  /** VMs of that name that InfraKit does not manage. */
  foreign: ManagedObjectReference[];
}

/** Options of {@link VSphereInstanceProvider.describe}. */
export interface DescribeOptions {
  /** Add vCenter details (power state, guest NICs, MoRef, instance UUID) as `Properties`. */
  properties?: boolean;
  signal?: AbortSignal;
}

/** What describe returns in `Properties` when asked. */
export interface VmDetails {
  MoRef: string;
  Datacenter: string;
  PowerState: string;
  InstanceUUID: string;
  GuestIP: string;
  GuestNICs: GuestNic[];
}

/**
 * How long destroy waits, after a clone of the instance's name by another process ends, for the
 * new VM to carry InfraKit's notes before calling it not managed.
 */
const CLONE_NOTES_WAIT_MS = 30_000;

const VM_PATHS = ['name', 'config.annotation', 'guest.ipAddress'];
const VM_DETAIL_PATHS = ['runtime.powerState', 'guest.net', 'config.instanceUuid'];

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/**
 * `work`, or an AbortError as soon as `signal` aborts. The calls that take the signal stop with it;
 * inventory lookups do not take it (they are cached and shared, and one caller's abort must not
 * fail the others), so they run on and end by their own deadline, unobserved.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(new AbortError(what, { cause: signal.reason }));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => undefined);
      reject(new AbortError(what, { cause: signal.reason }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function randomInt63(): bigint {
  return process.getBuiltinModule('node:crypto').randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
}

/** The annotation's power-off setting of `props`; none when neither key is given (the default). */
function powerOffOf(props: VMProperties): { powerOff?: PowerOffSetting } {
  if (props.powerOffMode === undefined && props.powerOffTimeoutSeconds === undefined) return {};
  return {
    powerOff: {
      mode: props.powerOffMode ?? 'trySoft',
      ...(props.powerOffTimeoutSeconds !== undefined ? { timeoutSeconds: props.powerOffTimeoutSeconds } : {}),
    },
  };
}

function hashOf(tags: Record<string, string>, preferred: string): string | undefined {
  return tags[preferred] ?? tags[InfraKitTags.configHash] ?? tags[InfraKitTags.legacyConfigHash];
}

/**
 * The provider's own options, checked once at construction (the connection options are checked
 * by the client): `ignoreOnDestroy: "false"` must not keep every VM it was told to destroy.
 */
function checkProviderOptions(options: VSphereInstanceProviderOptions): void {
  const names = ['datacenter', 'datastore', 'network', 'host', 'folder', 'vmPrefix'] as const;
  checkAll('invalid options', [
    ...names.map((name) => () => stringOption(options[name], name)),
    () => stringOption(options.configHashTag, 'configHashTag', { nonEmpty: true }),
    () => booleanOption(options.ignoreOnDestroy, 'ignoreOnDestroy'),
    () => integerOption(options.shutdownTimeoutMs, 'shutdownTimeoutMs', { max: MAX_TIMER_MS, unit: 'ms' }),
    () => functionOption(options.onBackgroundError, 'onBackgroundError'),
    () => objectOption(options.env, 'env'),
    () => checkMirrorOption(options.describeMirror, 'describeMirror'),
  ]);
}

/** The InfraKit instance plugin for vSphere. */
export class VSphereInstanceProvider implements InstancePlugin {
  readonly client: VSphereClient;
  readonly inventory: Inventory;
  readonly folders: GroupFolders;
  readonly vmOps: VmOps;
  private readonly cloner: VmBuilderLike;
  private readonly isoBuilder: VmBuilderLike;
  private readonly codec: AnnotationCodec;
  private readonly defaults: ProviderDefaults;
  private readonly datacenterName: string | undefined;
  private readonly baseFolder: string | undefined;
  private readonly ignoreOnDestroy: boolean;
  private readonly configHashTag: string;
  private readonly shutdownTimeoutMs: number;
  private readonly pending = new PendingProvisions();
  /**
   * Provisions in progress per (group, LogicalID), claimed before the first await so that two
   * provisions of one LogicalID never both create a VM.
   */
  private readonly logicalClaims = new Map<
    string,
    Promise<{ id: string; work?: Promise<ManagedObjectReference> }>
  >();
  /** Destroys in progress, by instance ID: a new VM of the same LogicalID waits for them. */
  private readonly destroying = new Map<string, Promise<void>>();
  /** Group folders already searched for clones left running by an earlier process. */
  private readonly recoveredFolders = new Set<string>();
  /** Base folders seen in provisions (Properties.Folder), searched by describe too. */
  private readonly seenBaseFolders = new Set<string | undefined>();
  private readonly ownsClient: boolean;
  private readonly onBackgroundError: ((failure: BackgroundFailure) => void) | undefined;
  /** Describe's group-folder mirrors, when on ({@link VSphereInstanceProviderOptions.describeMirror}). */
  readonly mirrors: InventoryMirrors | undefined;

  constructor(options: VSphereInstanceProviderOptions = {}) {
    checkProviderOptions(options);
    const env = options.env ?? process.env;
    this.ownsClient = !options.client;
    this.client = options.client ?? new VSphereClient({ ...options, env });
    this.inventory =
      options.inventory ?? new Inventory({ session: this.client.session, collector: this.client.collector });
    this.folders =
      options.folders ?? new GroupFolders({ session: this.client.session, inventory: this.inventory });
    this.vmOps = options.vmOps ?? new VmOps(this.client);
    const builderOptions = { client: this.client, inventory: this.inventory, vmOps: this.vmOps };
    this.cloner = options.cloner ?? new TemplateCloner(builderOptions);
    this.isoBuilder = options.isoBuilder ?? new IsoVmBuilder(builderOptions);
    this.codec = options.annotationCodec ?? { encode: encodeAnnotation, decode: decodeAnnotation };
    this.datacenterName = options.datacenter ?? env.VCDATACENTER ?? undefined;
    this.mirrors = describeMirrors(this.client.collector, options.describeMirror, env);
    this.baseFolder = options.folder;
    this.seenBaseFolders.add(this.baseFolder);
    const datastore = options.datastore ?? env.VCDATASTORE;
    const network = options.network ?? env.VCNETWORK;
    const host = options.host ?? env.VCHOST;
    this.defaults = {
      ...(this.datacenterName ? { datacenter: this.datacenterName } : {}),
      ...(datastore ? { datastore } : {}),
      ...(network ? { network } : {}),
      ...(host ? { host } : {}),
      ...(options.vmPrefix ? { vmPrefix: options.vmPrefix } : {}),
    };
    this.ignoreOnDestroy = options.ignoreOnDestroy ?? false;
    this.configHashTag = options.configHashTag ?? InfraKitTags.configHash;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    this.onBackgroundError = options.onBackgroundError;
  }

  private reportBackground(failure: BackgroundFailure): void {
    log(
      '%s of %s%s failed: %s',
      failure.operation,
      failure.id,
      failure.group ? ` (group ${failure.group})` : '',
      failure.error.message,
    );
    try {
      this.onBackgroundError?.(failure);
    } catch (hookError) {
      log('onBackgroundError threw: %s', (hookError as Error).message);
    }
  }

  /**
   * Checks instance properties: their shape (every problem at once), then that what they name
   * exists in vCenter (datacenter, datastore, network, template, host/cluster/pool, folder).
   */
  async validate(properties: JsonValue | undefined): Promise<void> {
    const props = parseProperties(properties, this.defaults);
    const issues: ValidationIssue[] = [];
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        if (error instanceof NotFoundError || error instanceof AmbiguousNameError) {
          issues.push({ field: error.field ?? 'Properties', message: error.detail });
        } else if (error instanceof ValidationError) {
          issues.push(...error.issues);
        } else {
          throw error;
        }
      }
    };
    let dc: DatacenterInfo | undefined;
    await check(async () => {
      dc = await this.inventory.datacenter(props.datacenter, 'Properties.Datacenter');
    });
    if (dc) {
      const at = dc;
      await Promise.all([
        check(() => this.inventory.datastore(at, props.datastore)),
        props.isoDatastore
          ? check(() => this.inventory.datastore(at, props.isoDatastore!, 'Properties.ISODatastore'))
          : undefined,
        ...wantedNics(props).map((nic, index) =>
          check(() => this.inventory.network(at, nic.network, nicNetworkField(props, index))),
        ),
        ...(props.disks ?? []).map((disk, i) =>
          disk.datastore !== undefined && disk.datastore !== props.datastore
            ? check(() => this.inventory.datastore(at, disk.datastore!, `Properties.Disks[${i}].Datastore`))
            : undefined,
        ),
        props.template
          ? check(async () => {
              const template = await this.inventory.template(at, props.template!);
              if (props.rootDiskMB === undefined) return;
              // Only read when RootDiskMB asks for it: a validate otherwise costs what it did.
              const devices = await this.client.collector.property<Record<string, unknown>[]>(
                template,
                'config.hardware.device',
              );
              const problem = rootDiskProblem(devices ?? [], props.rootDiskMB, props.template!);
              if (problem) issues.push({ field: 'Properties.RootDiskMB', message: problem });
            })
          : undefined,
        check(() => this.folders.baseFolder(at, props.folder ?? this.baseFolder)),
        check(() =>
          this.inventory.placement(at, {
            ...(props.resourcePool ? { resourcePool: props.resourcePool } : {}),
            ...(props.cluster ? { cluster: props.cluster } : {}),
            ...(props.host ? { host: props.host } : {}),
          }),
        ),
      ]);
    }
    if (issues.length > 0) throw new ValidationError(issues, 'invalid properties');
  }

  /**
   * Creates a VM for `spec` and returns its ID (the VM name). With `wait: false` it returns as
   * soon as the input is validated; describe then reports the instance as Provisioning until the
   * VM exists, and a failure is logged and drops the pending entry.
   */
  provision(rawSpec: InstanceSpec, options: ProvisionOptions = {}): Promise<string> {
    return untilAborted(this.provisionNow(rawSpec, options), options.signal, 'provision');
  }

  private async provisionNow(rawSpec: InstanceSpec, options: ProvisionOptions): Promise<string> {
    const spec = parseInstanceSpec(rawSpec);
    const props = parseProperties(spec.Properties, this.defaults, { field: 'Spec.Properties' });
    const tags = { ...(spec.Tags ?? {}) };
    const group = tags[InfraKitTags.group];
    const configHash = hashOf(tags, this.configHashTag);
    const issues: ValidationIssue[] = [];
    if (!group)
      issues.push({
        field: `Spec.Tags.${InfraKitTags.group}`,
        message: 'required: the group id names the VM folder',
      });
    else if (/[/\\%]/.test(group))
      issues.push({
        field: `Spec.Tags.${InfraKitTags.group}`,
        message:
          'must not contain "/", "\\" or "%": vCenter stores them escaped in folder names (%2f, %5c, %25), so the group folder would never be found again',
      });
    if (!configHash) {
      issues.push({
        field: `Spec.Tags.${this.configHashTag}`,
        message: `required (or ${InfraKitTags.legacyConfigHash}): the config hash is line 2 of the VM notes`,
      });
    }
    if (issues.length > 0) throw new ValidationError(issues, 'invalid instance spec');
    const logicalId = spec.LogicalID ?? undefined;
    if (logicalId) tags[InfraKitTags.logicalId] = logicalId;
    const meta: InstanceMetadata = {
      group: group!,
      configHash: configHash!,
      tags,
      ...(logicalId ? { logicalId } : {}),
      ...powerOffOf(props),
      ...(props.annotation !== undefined ? { userText: props.annotation } : {}),
    };
    const annotation = this.codec.encode(meta);
    // A NIC that takes its address from the LogicalID fails here, before anything is made.
    for (const nic of props.nics ?? []) ipv4Addresses(nic, logicalId);
    const base = props.folder ?? this.baseFolder;
    const buildProps = { ...props, ...(base ? { folder: base } : {}) };
    if (!logicalId) {
      const name = `${props.vmPrefix}-${randomInt63()}`;
      const work = this.build(name, group!, buildProps, annotation, spec.Init, undefined, options);
      return this.finish({ name, group: group!, tags }, work, options);
    }
    // One VM per (group, LogicalID): a provision of a LogicalID the group already has (made, or
    // being made) answers that instance's ID and makes nothing.
    const key = `${group}\u0000${logicalId}`;
    const claimed = this.logicalClaims.get(key);
    if (claimed) {
      const { id, work } = await claimed;
      log('%s: LogicalID %s of group %s is already being provisioned', id, logicalId, group);
      if (work && options.wait !== false) await work;
      return id;
    }
    const name = vmNameForLogicalId(props.vmPrefix, logicalId);
    const decided = (async () => {
      const existing = await this.instanceWithLogicalId(group!, logicalId, name);
      if (existing !== undefined) return { id: existing };
      // A VM of this name being destroyed (a rolling update) must be gone before its successor;
      // that wait is part of the work, so a `wait: false` provision still answers at once.
      const destroying = this.destroying.get(name);
      const build = () => this.build(name, group!, buildProps, annotation, spec.Init, logicalId, options);
      const work = destroying ? destroying.then(build, build) : build();
      return { id: name, work };
    })();
    this.logicalClaims.set(key, decided);
    // Once the VM exists (or failed to), describe answers for it: the claim is dropped.
    const drop = () => {
      if (this.logicalClaims.get(key) === decided) this.logicalClaims.delete(key);
    };
    let outcome: { id: string; work?: Promise<ManagedObjectReference> };
    try {
      outcome = await decided;
    } catch (error) {
      drop();
      throw error;
    }
    if (!outcome.work) {
      drop();
      log('%s: LogicalID %s of group %s exists already; nothing made', outcome.id, logicalId, group);
      return outcome.id;
    }
    outcome.work.then(drop, drop);
    return this.finish({ name, group: group!, tags, logicalId }, outcome.work, options);
  }

  /** Waits for `work`, or (`wait: false`) reports it as pending; returns the instance ID. */
  private async finish(
    instance: { name: string; group: string; tags: Record<string, string>; logicalId?: string },
    work: Promise<unknown>,
    options: ProvisionOptions,
  ): Promise<string> {
    if (options.wait !== false) {
      await work;
      return instance.name;
    }
    this.track(instance, work);
    return instance.name;
  }

  /** The ID of the group's instance with this LogicalID (not one being destroyed), if any. */
  private async instanceWithLogicalId(
    group: string,
    logicalId: string,
    name: string,
  ): Promise<string | undefined> {
    const described = await this.describeNow({ [InfraKitTags.group]: group }, {});
    // By name too: a clone an earlier process left running is described without its LogicalID.
    return described.find((d) => (d.LogicalID === logicalId || d.ID === name) && !this.destroying.has(d.ID))
      ?.ID;
  }

  /**
   * Reports `work` as a pending instance until it settles; a destroy asked meanwhile runs when
   * the VM exists, and a failure is reported and drops the entry so a controller provisions again.
   */
  private track(
    instance: { name: string; group: string; tags: Record<string, string>; logicalId?: string },
    work: Promise<unknown>,
  ): void {
    const { name, group } = instance;
    const entry: PendingProvision = {
      ...instance,
      startedAt: Date.now(),
      destroyRequested: false,
      done: Promise.resolve(),
    };
    // `done` covers the follow-up destroy too, so close() waits for it.
    entry.done = work.then(
      async () => {
        this.pending.delete(name);
        if (entry.destroyRequested) {
          log('%s: destroy was asked while it was being provisioned; destroying it now', name);
          entry.destroyed = this.destroyNow(name, { Reason: 'terminate' }, {}, true);
          await entry.destroyed.catch((error: Error) =>
            this.reportBackground({ operation: 'destroy', id: name, group, error }),
          );
        }
      },
      (error: Error) => {
        this.pending.delete(name);
        this.reportBackground({ operation: 'provision', id: name, group, error });
      },
    );
    this.pending.add(entry);
  }

  /**
   * Once per group folder and provider: clones into it that an earlier process started and
   * vCenter still runs become pending entries, followed until their task ends.
   */
  private async recoverRunningClones(
    folder: GroupFolder,
    group: string,
    names: ReadonlySet<unknown>,
  ): Promise<void> {
    if (this.recoveredFolders.has(folder.ref.value)) return;
    const clones = await runningClonesInto(this.client, folder.ref);
    // Marked only once searched: a failed search (its describe fails with it) is tried again.
    this.recoveredFolders.add(folder.ref.value);
    for (const clone of clones) {
      if (this.pending.get(clone.name) || names.has(clone.name)) continue;
      log(
        '%s: a clone into group %s started before this process is still running; reported as pending',
        clone.name,
        group,
      );
      this.track(
        { name: clone.name, group, tags: { [InfraKitTags.group]: group } },
        this.client.tasks.wait(clone.task, { description: `clone to ${clone.name}` }),
      );
    }
  }

  private async build(
    name: string,
    group: string,
    props: VMProperties,
    annotation: string,
    init: string | undefined,
    logicalId: string | undefined,
    options: ProvisionOptions,
  ): Promise<ManagedObjectReference> {
    const dc = await this.inventory.datacenter(props.datacenter, 'Properties.Datacenter');
    const builder = props.template ? this.cloner : this.isoBuilder;
    // What the properties name must exist before the group folder is made: a mistyped template or
    // network fails the provision without leaving an empty folder behind. The look-ups are cached
    // per login, so the builder's own costs nothing more.
    await Promise.all([
      this.inventory.datastore(dc, props.datastore),
      props.isoDatastore
        ? this.inventory.datastore(dc, props.isoDatastore, 'Properties.ISODatastore')
        : undefined,
      ...wantedNics(props).map((nic, index) =>
        this.inventory.network(dc, nic.network, nicNetworkField(props, index)),
      ),
      props.template ? this.inventory.template(dc, props.template) : undefined,
      this.inventory.placement(dc, {
        ...(props.resourcePool ? { resourcePool: props.resourcePool } : {}),
        ...(props.cluster ? { cluster: props.cluster } : {}),
        ...(props.host ? { host: props.host } : {}),
      }),
    ]);
    const attempt = async () => {
      const folder = await this.folders.ensure(dc, group, props.folder);
      // Only a base folder that exists joins describe's search: one provision naming a missing
      // Folder must not make every later describe, of every group, fail on it.
      this.seenBaseFolders.add(props.folder);
      const request: BuildRequest = {
        name,
        dc,
        folder,
        props,
        annotation,
        ...(init ? { init } : {}),
        ...(logicalId ? { logicalId } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      };
      try {
        return await builder.build(request);
      } catch (error) {
        // A fault may mean the cached group folder was deleted behind our back (vCenter says
        // ManagedObjectNotFound, vcsim a RuntimeFault): check the folder itself, never the text.
        if (faultOf(error) && !folder.shared && !(await this.folderExists(folder))) {
          log('group folder %s of %s is gone; creating it again', folder.ref.value, group);
          this.folders.forget(dc, group, props.folder);
          return undefined;
        }
        throw error;
      }
    };
    const vm = (await attempt()) ?? (await attempt());
    if (!vm)
      throw new NotFoundError('folder', group, `datacenter ${dc.path}`, {
        field: `Spec.Tags.${InfraKitTags.group}`,
      });
    log('provisioned %s (%s) in group %s', name, vm.value, group);
    if (props.waitForIP) {
      options.onProgress?.({ phase: 'wait-for-ip' });
      await waitForGuestIp(
        this.client.collector,
        vm,
        (props.waitForIPTimeoutSeconds ?? 300) * 1000,
        options.signal,
      );
    }
    return vm;
  }

  private async folderExists(folder: GroupFolder): Promise<boolean> {
    try {
      return (await this.client.collector.property<string>(folder.ref, 'name')) === folder.name;
    } catch (error) {
      if (isFault(error, 'ManagedObjectNotFound')) return false;
      throw error;
    }
  }

  /** Merges `labels` into the instance's stored tags. Changing the config hash tag changes line 2 of the notes too. */
  async label(id: string, labels: Record<string, string>): Promise<void> {
    const parsed = parseTags(labels, 'labels');
    const found = await this.findInstance(id);
    if (!found) throw new NotFoundError('vm', id, 'any group folder or datacenter', { field: 'Instance' });
    const { metadata } = found;
    const tags = { ...metadata.tags, ...parsed };
    const newGroup = parsed[InfraKitTags.group];
    if (newGroup !== undefined && newGroup !== metadata.group) {
      throw new ValidationError(
        [
          {
            field: `labels.${InfraKitTags.group}`,
            message: 'an instance cannot change group by label (it would stay in the old group folder)',
          },
        ],
        'invalid labels',
      );
    }
    const newHash =
      parsed[this.configHashTag] ?? parsed[InfraKitTags.configHash] ?? parsed[InfraKitTags.legacyConfigHash];
    const configHash = newHash ?? metadata.configHash;
    for (const hashTag of [InfraKitTags.configHash, InfraKitTags.legacyConfigHash]) {
      if (hashTag in tags) tags[hashTag] = configHash;
    }
    const annotation = this.codec.encode({ ...metadata, configHash, tags });
    await this.vmOps.setAnnotation(found.vm, annotation);
  }

  /**
   * Destroys the instance (guest shutdown, power-off, destroy), or with `ignoreOnDestroy` only
   * marks it `Deleted by InfraKit`. An ID no VM has (never made, or already gone) rejects with
   * {@link NotFoundError} (`kind: 'vm'`, field `Instance`); a VM of that name that InfraKit does
   * not manage is left alone and rejects with {@link InstanceNotManagedError}.
   */
  destroy(
    id: string,
    context: DestroyContext = { Reason: 'terminate' },
    options: DestroyOptions = {},
  ): Promise<void> {
    const work = this.destroyNow(id, context, options);
    // A provision of the same LogicalID (same VM name) waits for this destroy to end.
    this.destroying.set(id, work);
    const done = () => {
      if (this.destroying.get(id) === work) this.destroying.delete(id);
    };
    work.then(done, done);
    return untilAborted(work, options.signal, `destroy of ${id}`);
  }

  /** `created`: a creation of `id` just ended, so a VM of that name without our notes may be ours still. */
  private async destroyNow(
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
    const pending = this.pending.get(id);
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
    let lookup = await this.lookUpInstance(id);
    if (!lookup.found) {
      lookup = created
        ? await this.awaitNotes(id, lookup, options.signal)
        : await this.afterCloneInFlight(id, lookup, options.signal);
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
    if (this.ignoreOnDestroy) {
      await this.vmOps.setAnnotation(found.vm, DELETED_ANNOTATION);
      log('destroy %s (%s): marked "%s" (ignoreOnDestroy)', id, context.Reason, DELETED_ANNOTATION);
      return;
    }
    const powerOff = found.metadata.powerOff;
    const timeoutMs =
      powerOff?.timeoutSeconds !== undefined ? powerOff.timeoutSeconds * 1000 : this.shutdownTimeoutMs;
    await this.vmOps.stop(found.vm, timeoutMs, options.signal, powerOff?.mode ?? 'trySoft');
    const existed = await this.vmOps.destroy(found.vm, options.signal);
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
  private async afterCloneInFlight(
    id: string,
    lookup: InstanceLookup,
    signal: AbortSignal | undefined,
  ): Promise<InstanceLookup> {
    // Recent clones that succeeded count too: the look-up may have run just before the clone's
    // VM appeared, or found it before the process that made it wrote its notes.
    const clones = await clonesNamed(this.client, id, { finished: true });
    if (clones.length === 0) return lookup;
    log(
      'destroy %s: a clone of that name is running or just ended (task %s); waiting for it and its notes',
      id,
      clones.map((c) => c.task.value).join(', '),
    );
    for (const clone of clones) {
      try {
        await this.client.tasks.wait(clone.task, {
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
    return this.awaitNotes(id, await this.lookUpInstance(id), signal);
  }

  /**
   * After a creation of `id` ended: while a VM of that name exists without InfraKit's notes, looks
   * again with backoff, at most {@link CLONE_NOTES_WAIT_MS}: vcsim drops a clone's notes, and the
   * process that cloned writes them right after the task.
   */
  private async awaitNotes(
    id: string,
    lookup: InstanceLookup,
    signal: AbortSignal | undefined,
  ): Promise<InstanceLookup> {
    const deadline = Date.now() + CLONE_NOTES_WAIT_MS;
    let latest = lookup;
    for (let round = 0; ; round += 1) {
      if (latest.found || latest.foreign.length === 0 || Date.now() >= deadline || signal?.aborted)
        return latest;
      const ceiling = Math.min(2000, 100 * 2 ** Math.min(round, 5));
      await new Promise((resolve) => setTimeout(resolve, ceiling / 2 + (Math.random() * ceiling) / 2));
      latest = await this.lookUpInstance(id);
    }
  }

  /** Lists the instances of the group named in `tags` (all query tags must match). */
  describe(rawTags: Record<string, string>, options: DescribeOptions = {}): Promise<InstanceDescription[]> {
    return untilAborted(this.describeNow(rawTags, options), options.signal, 'describe');
  }

  private async describeNow(
    rawTags: Record<string, string>,
    options: DescribeOptions,
  ): Promise<InstanceDescription[]> {
    const tags = parseTags(rawTags ?? {}, 'tags');
    const group = tags[InfraKitTags.group];
    const datacenters = this.datacenterName
      ? [await this.inventory.datacenter(this.datacenterName)]
      : await this.inventory.datacenters();
    const withDetails = options.properties === true;
    const paths = withDetails ? [...VM_PATHS, ...VM_DETAIL_PATHS] : VM_PATHS;
    // Each VM becomes its row as soon as it is decoded: only the rows are kept, not the VMs'
    // properties (a 10,000-VM describe kept both, which set its peak memory: P5).
    const perDc = await Promise.all(
      datacenters.map(async (dc) => {
        const toRow = (o: ObjectContent): ListedVm => {
          const description = this.describeVm(dc, o, group, withDetails);
          return { name: description ? description.ID : propertyOf(o, 'name'), description };
        };
        return group
          ? await this.groupVms(dc, group, paths, toRow, options.signal)
          : await this.client.collector.findMapped(
              dc.vmFolder,
              'VirtualMachine',
              paths,
              (object) => (object.obj.type === 'VirtualMachine' ? toRow(object) : undefined),
              signalOption(options.signal),
            );
      }),
    );
    const out: InstanceDescription[] = [];
    const listed = new Set<string>();
    for (const rows of perDc) {
      for (const { description } of rows) {
        if (!description) continue;
        if (!Object.entries(tags).every(([k, v]) => description.Tags[k] === v)) continue;
        if (listed.has(description.ID)) continue;
        listed.add(description.ID);
        out.push(description);
      }
    }
    out.push(...this.pending.describe(tags, listed));
    return out;
  }

  /** VMs directly in the group folder: one round trip when the folder is known (its name and parent are checked in the same query). */
  private async groupVms(
    dc: DatacenterInfo,
    group: string,
    paths: string[],
    toRow: (o: ObjectContent) => ListedVm,
    signal: AbortSignal | undefined,
  ): Promise<ListedVm[]> {
    const out: ListedVm[] = [];
    for (const base of this.seenBaseFolders) {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const folder = await this.findGroupFolder(dc, group, base);
        if (!folder) break;
        const rows = await this.folderContents(folder, paths, toRow, signal);
        if (rows) {
          if (!folder.shared)
            await this.recoverRunningClones(folder, group, new Set(rows.map((r) => r.name)));
          for (const row of rows) out.push(row);
          break;
        }
        // The cached folder was deleted, renamed or moved: look it up again, once.
        this.folders.forget(dc, group, base);
      }
    }
    return out;
  }

  /**
   * The group folder under `base`. A base folder seen in an earlier provision that is gone now
   * (deleted or renamed since) holds no group folder: only the provider's own base folder, which
   * every describe depends on, is an error when missing.
   */
  private async findGroupFolder(
    dc: DatacenterInfo,
    group: string,
    base: string | undefined,
  ): Promise<GroupFolder | undefined> {
    try {
      return await this.folders.find(dc, group, base);
    } catch (error) {
      if (base !== this.baseFolder && error instanceof NotFoundError && error.kind === 'folder') {
        log('base folder %s of an earlier provision is gone from %s; not searched', base, dc.path);
        return undefined;
      }
      throw error;
    }
  }

  private async folderContents(
    folder: GroupFolder,
    paths: string[],
    toRow: (o: ObjectContent) => ListedVm,
    signal: AbortSignal | undefined,
  ): Promise<ListedVm[] | undefined> {
    let self: ObjectProperties | undefined;
    let rows: ListedVm[];
    try {
      rows = await (this.mirrors ?? this.client.collector).retrieveMapped(
        [
          {
            propSet: [
              { type: 'Folder', pathSet: ['name', 'parent'] },
              { type: 'VirtualMachine', pathSet: paths },
            ],
            objectSet: [
              {
                obj: folder.ref,
                skip: false,
                selectSet: [
                  {
                    _type: 'TraversalSpec',
                    name: 'children',
                    type: 'Folder',
                    path: 'childEntity',
                    skip: false,
                  },
                ],
              },
            ],
          },
        ],
        (object) => {
          if (object.obj.type === 'VirtualMachine') return toRow(object);
          if (object.obj.equals(folder.ref)) self = toObjectProperties(object);
          return undefined;
        },
        signalOption(signal),
      );
    } catch (error) {
      if (error instanceof VimFault && error.is('ManagedObjectNotFound')) return undefined;
      throw error;
    }
    const parent = self?.props.get('parent');
    if (
      !self ||
      self.props.get('name') !== folder.name ||
      !(parent instanceof ManagedObjectReference) ||
      !parent.equals(folder.parent)
    ) {
      return undefined;
    }
    return rows;
  }

  /** The description of a VM read by describe, or undefined when it is not an instance (of `group`). */
  private describeVm(
    dc: DatacenterInfo,
    o: ObjectContent,
    group: string | undefined,
    withDetails: boolean,
  ): InstanceDescription | undefined {
    // Read from the decoded propSet directly: a Map per VM was garbage for 10,000 VMs (P5).
    const get = (path: string): unknown => propertyOf(o, path);
    const name = get('name');
    if (typeof name !== 'string') return undefined; // deleted while the query ran
    const decoded = this.codec.decode(get('config.annotation') as string | undefined);
    if (decoded.kind !== 'ours' && decoded.kind !== 'legacy') return undefined;
    if (group !== undefined && !belongsToGroup(decoded, group)) return undefined;
    const meta = decoded.metadata;
    const guestIp = (get('guest.ipAddress') as string | undefined) ?? '';
    // Own copies of what is cut from the response: a description outlives the describe, and a
    // slice would keep the piece of the answer it came from (or the whole notes) alive with it.
    const tags: Record<string, string> = {
      ...meta.tags,
      [InfraKitTags.group]: ownCopy(meta.group),
      [this.configHashTag]: ownCopy(meta.configHash),
      guestIP: ownCopy(guestIp),
    };
    const description: InstanceDescription = { ID: ownCopy(name), Tags: tags };
    const logicalId = meta.logicalId ?? meta.tags[InfraKitTags.logicalId];
    if (logicalId) description.LogicalID = logicalId;
    if (withDetails) {
      const details: VmDetails = {
        MoRef: o.obj.value,
        Datacenter: dc.path,
        PowerState: (get('runtime.powerState') as string | undefined) ?? '',
        InstanceUUID: (get('config.instanceUuid') as string | undefined) ?? '',
        GuestIP: guestIp,
        GuestNICs: describeGuestNics(get('guest.net')),
      };
      description.Properties = details as unknown as JsonValue;
    }
    return description;
  }

  /**
   * Finds the VM of instance `id` (its name): in the group folders this process knows first,
   * then anywhere in the datacenter(s). Only a VM whose notes say InfraKit owns it is returned;
   * another tool's VM of the same name is never touched.
   */
  private async findInstance(
    id: string,
  ): Promise<{ vm: ManagedObjectReference; metadata: InstanceMetadata } | undefined> {
    return (await this.lookUpInstance(id)).found;
  }

  /**
   * {@link findInstance}, and when it finds no instance, what else has that name: VMs whose notes
   * say they were destroyed with ignore-on-destroy, and VMs InfraKit does not manage.
   */
  private async lookUpInstance(id: string): Promise<InstanceLookup> {
    const sort = (candidates: ObjectProperties[]) => {
      const owned: { vm: ManagedObjectReference; metadata: InstanceMetadata }[] = [];
      const deleted: ManagedObjectReference[] = [];
      const foreign: ManagedObjectReference[] = [];
      for (const c of candidates) {
        const decoded = this.codec.decode(c.props.get('config.annotation') as string | undefined);
        if (decoded.kind === 'ours' || decoded.kind === 'legacy')
          owned.push({ vm: c.obj, metadata: decoded.metadata });
        else if (decoded.kind === 'deleted') deleted.push(c.obj);
        else foreign.push(c.obj);
      }
      return { owned, deleted, foreign };
    };
    // A known folder, or a VM found in it, may be gone by now (deleted, or vCenter restarted under
    // a session that was renewed during this look-up): ManagedObjectNotFound there only means "not
    // here", and the datacenter-wide search below decides.
    const gone = (error: unknown) => {
      if (error instanceof VimFault && error.is('ManagedObjectNotFound')) return undefined;
      throw error;
    };
    const known = this.folders.knownFolders();
    const direct = (
      await Promise.all(known.map((f) => this.inventory.findChild(f.ref, id).catch(gone)))
    ).filter((r): r is ManagedObjectReference => r?.type === 'VirtualMachine');
    if (direct.length > 0) {
      const props = await this.client.collector.properties(direct, ['name', 'config.annotation']).catch(gone);
      const hits = props ? sort(props).owned : [];
      if (hits.length === 1) return { found: hits[0], deleted: [], foreign: [] };
    }
    const datacenters = this.datacenterName
      ? [await this.inventory.datacenter(this.datacenterName)]
      : await this.inventory.datacenters();
    const candidates = (
      await Promise.all(
        datacenters.map((dc) => this.inventory.vmsNamed(dc.vmFolder, id, ['config.annotation'])),
      )
    ).flat();
    const { owned, deleted, foreign } = sort(candidates);
    if (owned.length > 1) {
      throw new AmbiguousNameError(
        'vm',
        id,
        'vCenter',
        owned.map((h) => h.vm.value),
        'Instance',
      );
    }
    if (owned.length === 0 && candidates.length > 0) {
      log(
        'instance %s: %d VM(s) of that name exist but none is managed by InfraKit; leaving them alone',
        id,
        candidates.length,
      );
    }
    return { found: owned[0], deleted, foreign };
  }

  /**
   * Uploads an ISO (or any file) to a datastore: a file path, a Buffer, or `{ stream, size }`.
   * The datacenter defaults to the provider's.
   */
  async uploadIso(
    source: string | Buffer | SizedStream,
    options: UploadOptions,
  ): Promise<{ datastorePath: string; bytes: number }> {
    const datacenter = options.datacenter ?? this.datacenterName;
    return uploadToDatastore(
      this.client.session,
      this.inventory,
      source,
      {
        ...options,
        ...(datacenter ? { datacenter } : {}),
      },
      this.client.tasks,
    );
  }

  /**
   * Waits for work still in flight (background provisions, and the removal of VMs whose
   * provision was aborted while vCenter made them), at most `graceMs` (default 10 minutes), then
   * logs out and closes sockets. Instances still being made when the grace runs out are named
   * in the log (`infrakit:vsphere:provider`) and returned: vCenter goes on making them.
   */
  async close(options: { graceMs?: number } = {}): Promise<{ unfinished: string[] }> {
    const graceMs = options.graceMs ?? 10 * 60_000;
    const builders = [this.cloner, this.isoBuilder];
    let timer: NodeJS.Timeout | undefined;
    const inFlight = Promise.all([this.pending.settle(), ...builders.map((b) => b.settle?.())]);
    const finished = await Promise.race([
      inFlight.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    const unfinished = finished
      ? []
      : [...this.pending.names(), ...builders.flatMap((b) => b.reapingNames ?? [])];
    if (unfinished.length > 0) {
      log(
        'closing with %d instance(s) still being made by vCenter after %d ms: %s',
        unfinished.length,
        graceMs,
        unfinished.join(', '),
      );
    }
    this.mirrors?.close();
    if (this.ownsClient) await this.client.close();
    return { unfinished };
  }
}
