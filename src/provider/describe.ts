/**
 * describe: the instances of a group (or all), read in one query per group folder, plus pending
 * provisions.
 */
import { logger } from '../log.ts';
import { InfraKitTags, type InstanceDescription, type JsonValue } from '../spi/instance.ts';
import type { ObjectContent } from '../vim25/types.ts';
import { NotFoundError } from '../vsphere/errors.ts';
import type { DatacenterInfo } from '../vsphere/finder.ts';
import type { GroupFolder } from '../vsphere/folders.ts';
import { describeGuestNics, type GuestNic } from '../vsphere/guest.ts';
import { belongsToGroup } from './annotation.ts';
import { recoverRunningClones, searchRunningClones } from './background.ts';
import { parseTags } from './spec.ts';
import { type ProviderState, signalOption, untilAborted } from './state.ts';

const log = logger('infrakit:vsphere:provider');

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

/** A VM seen by describe: its name (for recovery) and its description, if it is an instance. */
interface ListedVm {
  name: unknown;
  description: InstanceDescription | undefined;
}

const VM_PATHS = ['name', 'config.annotation', 'guest.ipAddress'];
const VM_DETAIL_PATHS = ['runtime.powerState', 'guest.net', 'config.instanceUuid'];

/**
 * A copy of `text` that keeps nothing else alive. V8 represents a long slice as a view into the
 * string it was cut from, so a name kept from a response would keep that response's text too.
 */
function ownCopy(text: string): string {
  return text.length < 13 ? text : ` ${text}`.slice(1);
}

/** A description no one else holds: its own Tags and Properties (a few objects, no strings copied). */
function copyDescription(description: InstanceDescription): InstanceDescription {
  const copy: InstanceDescription = { ...description, Tags: { ...description.Tags } };
  const details = description.Properties as VmDetails | undefined;
  if (details && typeof details === 'object') {
    const own: VmDetails = {
      ...details,
      GuestNICs: details.GuestNICs.map((nic) => ({ ...nic, IPs: [...nic.IPs] })),
    };
    copy.Properties = own as unknown as JsonValue;
  }
  return copy;
}

/** A property of a decoded object, by path; undefined when it was not sent. */
function propertyOf(object: ObjectContent, path: string): unknown {
  for (const property of object.propSet ?? []) if (property.name === path) return property.val;
  return undefined;
}

/** Lists the instances of the group named in `tags` (all query tags must match). */
export function describeInstances(
  state: ProviderState,
  rawTags: Record<string, string>,
  options: DescribeOptions = {},
): Promise<InstanceDescription[]> {
  return untilAborted(describeNow(state, rawTags, options), options.signal, 'describe');
}

export async function describeNow(
  state: ProviderState,
  rawTags: Record<string, string>,
  options: DescribeOptions,
): Promise<InstanceDescription[]> {
  const tags = parseTags(rawTags ?? {}, 'tags');
  const group = tags[InfraKitTags.group];
  const datacenters = state.datacenterName
    ? [await state.inventory.datacenter(state.datacenterName)]
    : await state.inventory.datacenters();
  const withDetails = options.properties === true;
  const paths = withDetails ? [...VM_PATHS, ...VM_DETAIL_PATHS] : VM_PATHS;
  // Each VM becomes its row as soon as it is decoded: only the rows are kept, not the VMs'
  // properties (a 10,000-VM describe kept both, which set its peak memory: P5).
  const perDc = await Promise.all(
    datacenters.map(async (dc) => {
      const toRow = (o: ObjectContent): ListedVm => {
        const description = describeVm(state, dc, o, group, withDetails);
        return { name: description ? description.ID : propertyOf(o, 'name'), description };
      };
      // A mirrored read gives back the rows of VMs unchanged since the last describe under the
      // same key (the row depends on nothing else: the codec and hash tag are the provider's).
      const memo = `${dc.ref.value}|${group}|${withDetails}`;
      return group
        ? await groupVms(state, dc, group, paths, toRow, options.signal, memo)
        : await state.client.collector.findMapped(
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
  const wanted = Object.entries(tags);
  // Loops without a closure or a destructured pair per VM: a describe of a big group would make
  // one of each for every VM, every time.
  const matches = (found: Record<string, string>): boolean => {
    for (let i = 0; i < wanted.length; i++) if (found[wanted[i]![0]] !== wanted[i]![1]) return false;
    return true;
  };
  for (const rows of perDc) {
    for (let i = 0; i < rows.length; i++) {
      const description = rows[i]!.description;
      if (!description) continue;
      if (!matches(description.Tags)) continue;
      if (listed.has(description.ID)) continue;
      listed.add(description.ID);
      // A copy: the row may be the mirror's, shared with every later describe, and the caller
      // owns what it is given.
      out.push(copyDescription(description));
    }
  }
  out.push(...state.pending.describe(tags, listed));
  return out;
}

/** VMs directly in the group folder: one round trip when the folder is known (its name and parent are checked in the same query). */
async function groupVms(
  state: ProviderState,
  dc: DatacenterInfo,
  group: string,
  paths: string[],
  toRow: (o: ObjectContent) => ListedVm,
  signal: AbortSignal | undefined,
  memo: string,
): Promise<ListedVm[]> {
  const out: ListedVm[] = [];
  for (const base of state.seenBaseFolders) {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const folder = await findGroupFolder(state, dc, group, base);
      if (!folder) break;
      // The first describe of a folder also searches vCenter's recent tasks: at the same time
      // as the read, not after it.
      const search = folder.shared ? undefined : searchRunningClones(state, folder);
      const rows = await state.inventory.vmsInFolder(folder, paths, toRow, signal, memo);
      if (rows) {
        if (!folder.shared)
          await recoverRunningClones(state, folder, group, () => new Set(rows.map((r) => r.name)), search);
        for (const row of rows) out.push(row);
        break;
      }
      // The cached folder was deleted, renamed or moved: look it up again, once.
      state.folders.forget(dc, group, base);
    }
  }
  return out;
}

/**
 * The group folder under `base`. A base folder seen in an earlier provision that is gone now
 * (deleted or renamed since) holds no group folder: only the provider's own base folder, which
 * every describe depends on, is an error when missing.
 */
async function findGroupFolder(
  state: ProviderState,
  dc: DatacenterInfo,
  group: string,
  base: string | undefined,
): Promise<GroupFolder | undefined> {
  try {
    return await state.folders.find(dc, group, base);
  } catch (error) {
    if (base !== state.baseFolder && error instanceof NotFoundError && error.kind === 'folder') {
      log('base folder %s of an earlier provision is gone from %s; not searched', base, dc.path);
      return undefined;
    }
    throw error;
  }
}

/** The description of a VM read by describe, or undefined when it is not an instance (of `group`). */
function describeVm(
  state: ProviderState,
  dc: DatacenterInfo,
  o: ObjectContent,
  group: string | undefined,
  withDetails: boolean,
): InstanceDescription | undefined {
  // Read from the decoded propSet directly: a Map per VM was garbage for 10,000 VMs (P5).
  const get = (path: string): unknown => propertyOf(o, path);
  const name = get('name');
  if (typeof name !== 'string') return undefined; // deleted while the query ran
  const decoded = state.codec.decode(get('config.annotation') as string | undefined);
  if (decoded.kind !== 'ours' && decoded.kind !== 'legacy') return undefined;
  if (group !== undefined && !belongsToGroup(decoded, group)) return undefined;
  const meta = decoded.metadata;
  const guestIp = (get('guest.ipAddress') as string | undefined) ?? '';
  // Own copies of what is cut from the response: a description outlives the describe, and a
  // slice would keep the piece of the answer it came from (or the whole notes) alive with it.
  const tags: Record<string, string> = {
    ...meta.tags,
    [InfraKitTags.group]: ownCopy(meta.group),
    [state.configHashTag]: ownCopy(meta.configHash),
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
