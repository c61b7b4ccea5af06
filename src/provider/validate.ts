/**
 * validate: checks instance properties, their shape and then that what they name exists in
 * vCenter.
 */
import { ValidationError, type ValidationIssue } from '../errors.ts';
import type { JsonValue } from '../spi/instance.ts';
import { rootDiskProblem } from '../vsphere/disks.ts';
import { AmbiguousNameError, NotFoundError } from '../vsphere/errors.ts';
import type { DatacenterInfo } from '../vsphere/finder.ts';
import type { InstanceProperties } from './instance-properties.ts';
import { parseProperties } from './properties.ts';
import type { ProviderState } from './state.ts';
import { nicNetworkField, wantedNics } from './vm-spec.ts';

/**
 * Checks instance properties: their shape (every problem at once), then that what they name
 * exists in vCenter (datacenter, datastore, network, template, host/cluster/pool, folder).
 */
export async function validateProperties(
  state: ProviderState,
  properties: InstanceProperties | JsonValue | undefined,
): Promise<void> {
  const props = parseProperties(properties, state.defaults);
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
    dc = await state.inventory.datacenter(props.datacenter, 'Properties.Datacenter');
  });
  if (dc) {
    const at = dc;
    await Promise.all([
      check(() => state.inventory.datastore(at, props.datastore)),
      props.isoDatastore
        ? check(() => state.inventory.datastore(at, props.isoDatastore!, 'Properties.ISODatastore'))
        : undefined,
      ...wantedNics(props).map((nic, index) =>
        check(() => state.inventory.network(at, nic.network, nicNetworkField(props, index))),
      ),
      ...(props.disks ?? []).map((disk, i) =>
        disk.datastore !== undefined && disk.datastore !== props.datastore
          ? check(() => state.inventory.datastore(at, disk.datastore!, `Properties.Disks[${i}].Datastore`))
          : undefined,
      ),
      props.template
        ? check(async () => {
            const template = await state.inventory.template(at, props.template!);
            if (props.rootDiskMB === undefined) return;
            // Only read when RootDiskMB asks for it: a validate otherwise costs what it did.
            const devices = await state.client.collector.property<Record<string, unknown>[]>(
              template,
              'config.hardware.device',
            );
            const problem = rootDiskProblem(devices ?? [], props.rootDiskMB, props.template!);
            if (problem) issues.push({ field: 'Properties.RootDiskMB', message: problem });
          })
        : undefined,
      check(() => state.folders.baseFolder(at, props.folder ?? state.baseFolder)),
      check(() =>
        state.inventory.placement(at, {
          ...(props.resourcePool ? { resourcePool: props.resourcePool } : {}),
          ...(props.cluster ? { cluster: props.cluster } : {}),
          ...(props.host ? { host: props.host } : {}),
        }),
      ),
    ]);
  }
  if (issues.length > 0) throw new ValidationError(issues, 'invalid properties');
}
