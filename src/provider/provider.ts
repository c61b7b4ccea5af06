/**
 * VSphereInstanceProvider: the InfraKit instance SPI on vCenter. Instances are VMs in a folder
 * named after the group, with the group id, config hash and tags in the VM's annotation, the
 * same way the original Go plugin kept them, so both can share a vCenter.
 */

import { VSphereClient, type VSphereClientOptions } from '../client.ts';
import { InstanceNotManagedError } from '../errors.ts';
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
import { IsoVmBuilder, TemplateCloner } from '../vsphere/build.ts';
import { BuildSlots, DEFAULT_BUILDS_PER_HOST } from '../vsphere/build-slots.ts';
import { NotFoundError } from '../vsphere/errors.ts';
import {
  checkMirrorOption,
  Inventory,
  type InventoryMirrors,
  type MirrorOptions,
} from '../vsphere/finder.ts';
import { GroupFolders } from '../vsphere/folders.ts';
import { type SizedStream, type UploadOptions, uploadToDatastore } from '../vsphere/upload.ts';
import { VmOps } from '../vsphere/vm-ops.ts';
import { decodeAnnotation, encodeAnnotation } from './annotation.ts';
import { type DescribeOptions, describeInstances } from './describe.ts';
import { destroyInstance } from './destroy.ts';
import type { InstanceProperties } from './instance-properties.ts';
import { labelInstance } from './label.ts';
import { PendingProvisions } from './pending.ts';
import { provisionInstance } from './provision.ts';
import type { AnnotationCodec, BackgroundFailure, ProviderState, VmBuilderLike } from './state.ts';
import { validateProperties } from './validate.ts';

const log = logger('infrakit:vsphere:provider');

export type { DescribeOptions, VmDetails } from './describe.ts';
export type { AnnotationCodec, BackgroundFailure, VmBuilderLike } from './state.ts';

/**
 * An instance spec with typed properties: in an object literal, a misspelt or unknown property key
 * is a compile error. What InfraKit sends as JSON goes through the same run-time checks.
 */
export interface VSphereInstanceSpec extends Omit<InstanceSpec, 'Properties'> {
  /** See {@link InstanceProperties} and docs/properties.md. */
  Properties?: InstanceProperties;
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
  /**
   * Clones and ISO creations this provider runs at once per ESXi host (default 8, vCenter's own
   * limit of concurrent provisioning operations per host; `0`: no limit). More wait in the
   * provider, in order, where an abort still drops them with nothing made; describe reports a
   * waiting `wait: false` provision as Provisioning. A clone counts against the host it names
   * (`Hostname`), else its template's host; an ISO VM without a host against its resource pool
   * (a cluster's root pool: the whole cluster). See docs/provider.md.
   */
  maxConcurrentBuildsPerHost?: number;
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

/** Far above any host's limit: a larger number is a typo, not a setting (0 turns the limit off). */
const MAX_BUILDS_PER_HOST = 1024;

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
    () =>
      integerOption(options.maxConcurrentBuildsPerHost, 'maxConcurrentBuildsPerHost', {
        max: MAX_BUILDS_PER_HOST,
      }),
    () => functionOption(options.onBackgroundError, 'onBackgroundError'),
    () => objectOption(options.env, 'env'),
    () => checkMirrorOption(options.describeMirror, 'describeMirror'),
  ]);
}

/**
 * The InfraKit instance plugin for vSphere: validate, provision, label, destroy and describe VMs
 * of InfraKit groups (see docs/provider.md). Each operation is a module of its own working on the
 * provider's shared state; this class holds that state and hands it to them.
 */
export class VSphereInstanceProvider implements InstancePlugin {
  readonly client: VSphereClient;
  readonly inventory: Inventory;
  readonly folders: GroupFolders;
  readonly vmOps: VmOps;
  private readonly state: ProviderState;
  private readonly ownsClient: boolean;
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
    const fromEnv = env.INFRAKIT_VSPHERE_DESCRIBE_MIRROR;
    const mirror = options.describeMirror ?? (fromEnv === '1' || fromEnv === 'true');
    this.mirrors = mirror ? this.inventory.useMirrors(mirror === true ? {} : mirror) : undefined;
    const builderOptions = {
      client: this.client,
      inventory: this.inventory,
      vmOps: this.vmOps,
      slots: new BuildSlots(options.maxConcurrentBuildsPerHost ?? DEFAULT_BUILDS_PER_HOST),
    };
    const datacenterName = options.datacenter ?? env.VCDATACENTER ?? undefined;
    const datastore = options.datastore ?? env.VCDATASTORE;
    const network = options.network ?? env.VCNETWORK;
    const host = options.host ?? env.VCHOST;
    this.state = {
      client: this.client,
      inventory: this.inventory,
      folders: this.folders,
      vmOps: this.vmOps,
      cloner: options.cloner ?? new TemplateCloner(builderOptions),
      isoBuilder: options.isoBuilder ?? new IsoVmBuilder(builderOptions),
      codec: options.annotationCodec ?? { encode: encodeAnnotation, decode: decodeAnnotation },
      defaults: {
        ...(datacenterName ? { datacenter: datacenterName } : {}),
        ...(datastore ? { datastore } : {}),
        ...(network ? { network } : {}),
        ...(host ? { host } : {}),
        ...(options.vmPrefix ? { vmPrefix: options.vmPrefix } : {}),
      },
      datacenterName,
      baseFolder: options.folder,
      ignoreOnDestroy: options.ignoreOnDestroy ?? false,
      configHashTag: options.configHashTag ?? InfraKitTags.configHash,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 30_000,
      pending: new PendingProvisions(),
      logicalClaims: new Map(),
      destroying: new Map(),
      recoveredFolders: new Set(),
      seenBaseFolders: new Set([options.folder]),
      onBackgroundError: options.onBackgroundError,
    };
  }

  /**
   * Checks instance properties: their shape (every problem at once), then that what they name
   * exists in vCenter (datacenter, datastore, network, template, host/cluster/pool, folder).
   */
  validate(properties: InstanceProperties | JsonValue | undefined): Promise<void> {
    return validateProperties(this.state, properties);
  }

  /**
   * Creates a VM for `spec` and returns its ID (the VM name). With `wait: false` it returns as
   * soon as the input is validated; describe then reports the instance as Provisioning until the
   * VM exists, and a failure is logged and drops the pending entry.
   */
  provision(rawSpec: VSphereInstanceSpec, options: ProvisionOptions = {}): Promise<string> {
    return provisionInstance(this.state, rawSpec, options);
  }

  /** Merges `labels` into the instance's stored tags. Changing the config hash tag changes line 2 of the notes too. */
  label(id: string, labels: Record<string, string>): Promise<void> {
    return labelInstance(this.state, id, labels);
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
    return destroyInstance(this.state, id, context, options);
  }

  /** Lists the instances of the group named in `tags` (all query tags must match). */
  describe(rawTags: Record<string, string>, options: DescribeOptions = {}): Promise<InstanceDescription[]> {
    return describeInstances(this.state, rawTags, options);
  }

  /**
   * Uploads an ISO (or any file) to a datastore: a file path, a Buffer, or `{ stream, size }`.
   * The datacenter defaults to the provider's.
   */
  async uploadIso(
    source: string | Buffer | SizedStream,
    options: UploadOptions,
  ): Promise<{ datastorePath: string; bytes: number }> {
    const datacenter = options.datacenter ?? this.state.datacenterName;
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
    const builders = [this.state.cloner, this.state.isoBuilder];
    let timer: NodeJS.Timeout | undefined;
    const inFlight = Promise.all([this.state.pending.settle(), ...builders.map((b) => b.settle?.())]);
    const finished = await Promise.race([
      inFlight.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    const unfinished = finished
      ? []
      : [...this.state.pending.names(), ...builders.flatMap((b) => b.reapingNames ?? [])];
    if (unfinished.length > 0) {
      log(
        'closing with %d instance(s) still being made by vCenter after %d ms: %s',
        unfinished.length,
        graceMs,
        unfinished.join(', '),
      );
    }
    if (this.mirrors) this.inventory.closeMirrors();
    if (this.ownsClient) await this.client.close();
    return { unfinished };
  }
}
