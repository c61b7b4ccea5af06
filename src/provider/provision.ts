/**
 * provision: parse and check the spec, claim the LogicalID, resolve what the properties name,
 * make the group folder, build the VM.
 */
import { ValidationError, type ValidationIssue } from '../errors.ts';
import { logger } from '../log.ts';
import { InfraKitTags, type InstanceSpec, type ProvisionOptions } from '../spi/instance.ts';
import { AbortError } from '../transport/errors.ts';
import type { ManagedObjectReference } from '../vim25/index.ts';
import type { BuildRequest } from '../vsphere/build.ts';
import { NotFoundError } from '../vsphere/errors.ts';
import type { GroupFolder } from '../vsphere/folders.ts';
import { waitForGuestIp } from '../vsphere/guest.ts';
import { faultOf, isFault } from '../vsphere/vm-ops.ts';
import type { InstanceMetadata, PowerOffSetting } from './annotation.ts';
import { track } from './background.ts';
import { ipv4Addresses, vmNameForLogicalId } from './cloud-init.ts';
import { describeNow } from './describe.ts';

import { parseProperties, type VMProperties } from './properties.ts';
import { parseInstanceSpec } from './spec.ts';
import { type ProviderState, untilAborted } from './state.ts';
import { nicNetworkField, vmSpecOf, wantedNics } from './vm-spec.ts';

const log = logger('infrakit:vsphere:provider');

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
 * Creates a VM for `spec` and returns its ID (the VM name). With `wait: false` it returns as
 * soon as the input is validated; describe then reports the instance as Provisioning until the
 * VM exists, and a failure is logged and drops the pending entry.
 */
export function provisionInstance(
  state: ProviderState,
  rawSpec: InstanceSpec,
  options: ProvisionOptions = {},
): Promise<string> {
  return untilAborted(provisionNow(state, rawSpec, options), options.signal, 'provision');
}

async function provisionNow(
  state: ProviderState,
  rawSpec: InstanceSpec,
  options: ProvisionOptions,
  rejoined = false,
): Promise<string> {
  const spec = parseInstanceSpec(rawSpec);
  const props = parseProperties(spec.Properties, state.defaults, { field: 'Spec.Properties' });
  const tags = { ...(spec.Tags ?? {}) };
  const group = tags[InfraKitTags.group];
  const configHash = hashOf(tags, state.configHashTag);
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
      field: `Spec.Tags.${state.configHashTag}`,
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
  const annotation = state.codec.encode(meta);
  // A NIC that takes its address from the LogicalID fails here, before anything is made.
  for (const nic of props.nics ?? []) ipv4Addresses(nic, logicalId);
  const base = props.folder ?? state.baseFolder;
  const buildProps = { ...props, ...(base ? { folder: base } : {}) };
  if (!logicalId) {
    const name = `${props.vmPrefix}-${randomInt63()}`;
    const work = buildVm(state, name, group!, buildProps, annotation, spec.Init, undefined, options);
    return finish(state, { name, group: group!, tags }, work, options);
  }
  // One VM per (group, LogicalID): a provision of a LogicalID the group already has (made, or
  // being made) answers that instance's ID and makes nothing.
  const key = `${group}\u0000${logicalId}`;
  const claimed = state.logicalClaims.get(key);
  if (claimed) {
    const { id, work } = await claimed;
    log('%s: LogicalID %s of group %s is already being provisioned', id, logicalId, group);
    if (work && options.wait !== false) {
      try {
        await work;
      } catch (error) {
        // The provision that made the claim was aborted by its own caller, and the VM it started
        // is being removed: this caller asked for the LogicalID and did not abort, so once that
        // removal is over it makes the VM itself (once: the claim was dropped with that work).
        if (error instanceof AbortError && !options.signal?.aborted && !rejoined) {
          log('%s: the provision this one joined was aborted; making LogicalID %s again', id, logicalId);
          await Promise.all([state.cloner.settle?.(), state.isoBuilder.settle?.()]);
          return provisionNow(state, rawSpec, options, true);
        }
        throw error;
      }
    }
    return id;
  }
  const name = vmNameForLogicalId(props.vmPrefix, logicalId);
  const decided = (async () => {
    const existing = await instanceWithLogicalId(state, group!, logicalId, name);
    if (existing !== undefined) return { id: existing };
    // A VM of this name being destroyed (a rolling update) must be gone before its successor;
    // that wait is part of the work, so a `wait: false` provision still answers at once.
    const destroying = state.destroying.get(name);
    const build = () => buildVm(state, name, group!, buildProps, annotation, spec.Init, logicalId, options);
    const work = destroying ? destroying.then(build, build) : build();
    return { id: name, work };
  })();
  state.logicalClaims.set(key, decided);
  // Once the VM exists (or failed to), describe answers for it: the claim is dropped.
  const drop = () => {
    if (state.logicalClaims.get(key) === decided) state.logicalClaims.delete(key);
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
  return finish(state, { name, group: group!, tags, logicalId }, outcome.work, options);
}

/** Waits for `work`, or (`wait: false`) reports it as pending; returns the instance ID. */
async function finish(
  state: ProviderState,
  instance: { name: string; group: string; tags: Record<string, string>; logicalId?: string },
  work: Promise<unknown>,
  options: ProvisionOptions,
): Promise<string> {
  if (options.wait !== false) {
    await work;
    return instance.name;
  }
  track(state, instance, work);
  return instance.name;
}

/** The ID of the group's instance with this LogicalID (not one being destroyed), if any. */
async function instanceWithLogicalId(
  state: ProviderState,
  group: string,
  logicalId: string,
  name: string,
): Promise<string | undefined> {
  const described = await describeNow(state, { [InfraKitTags.group]: group }, {});
  // By name too: a clone an earlier process left running is described without its LogicalID.
  return described.find((d) => (d.LogicalID === logicalId || d.ID === name) && !state.destroying.has(d.ID))
    ?.ID;
}

async function buildVm(
  state: ProviderState,
  name: string,
  group: string,
  props: VMProperties,
  annotation: string,
  init: string | undefined,
  logicalId: string | undefined,
  options: ProvisionOptions,
): Promise<ManagedObjectReference> {
  const dc = await state.inventory.datacenter(props.datacenter, 'Properties.Datacenter');
  const builder = props.template ? state.cloner : state.isoBuilder;
  // What the properties name must exist before the group folder is made: a mistyped template or
  // network fails the provision without leaving an empty folder behind. The look-ups are cached
  // per login, so the builder's own costs nothing more.
  await Promise.all([
    state.inventory.datastore(dc, props.datastore),
    props.isoDatastore
      ? state.inventory.datastore(dc, props.isoDatastore, 'Properties.ISODatastore')
      : undefined,
    ...wantedNics(props).map((nic, index) =>
      state.inventory.network(dc, nic.network, nicNetworkField(props, index)),
    ),
    props.template ? state.inventory.template(dc, props.template) : undefined,
    state.inventory.placement(dc, {
      ...(props.resourcePool ? { resourcePool: props.resourcePool } : {}),
      ...(props.cluster ? { cluster: props.cluster } : {}),
      ...(props.host ? { host: props.host } : {}),
    }),
  ]);
  const attempt = async () => {
    const folder = await state.folders.ensure(dc, group, props.folder);
    // Only a base folder that exists joins describe's search: one provision naming a missing
    // Folder must not make every later describe, of every group, fail on it.
    state.seenBaseFolders.add(props.folder);
    const request: BuildRequest = {
      name,
      dc,
      folder,
      spec: vmSpecOf(name, props, logicalId || undefined),
      annotation,
      ...(init ? { init } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    };
    try {
      return await builder.build(request);
    } catch (error) {
      // A fault may mean the cached group folder was deleted behind our back (vCenter says
      // ManagedObjectNotFound, vcsim a RuntimeFault): check the folder itself, never the text.
      if (faultOf(error) && !folder.shared && !(await folderExists(state, folder))) {
        log('group folder %s of %s is gone; creating it again', folder.ref.value, group);
        state.folders.forget(dc, group, props.folder);
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
      state.client.collector,
      vm,
      (props.waitForIPTimeoutSeconds ?? 300) * 1000,
      options.signal,
    );
  }
  return vm;
}

async function folderExists(state: ProviderState, folder: GroupFolder): Promise<boolean> {
  try {
    return (await state.client.collector.property<string>(folder.ref, 'name')) === folder.name;
  } catch (error) {
    if (isFault(error, 'ManagedObjectNotFound')) return false;
    throw error;
  }
}
