/**
 * The VM config fields of the compute, firmware and VMX-key properties, for the clone or create
 * spec, and what is still to repair once the VM exists (a vcsim clone drops all but extraConfig;
 * real vCenter applies them). Pure: no I/O.
 */

/** The machine shape the object layer applies: CPU layout, hot-add, firmware and VMX keys. */
export interface MachineShape {
  coresPerSocket?: number;
  cpuHotAdd?: boolean;
  memoryHotAdd?: boolean;
  firmware?: 'bios' | 'efi';
  secureBoot?: boolean;
  /** `vmx-NN`; applied to new (ISO) VMs only. */
  hardwareVersion?: string;
  /** VMX keys written as the VM's `config.extraConfig`. */
  extraConfig?: Readonly<Record<string, string>>;
}

type Spec = Record<string, unknown>;

/** VM properties the builders read back to check {@link machineConfig}. */
export const MACHINE_PATHS: readonly string[] = [
  'config.hardware.numCoresPerSocket',
  'config.cpuHotAddEnabled',
  'config.memoryHotAddEnabled',
  'config.firmware',
  'config.bootOptions',
  'config.version',
];

/** `ExtraConfig` as vim25 OptionValues. */
export function machineExtraConfig(props: MachineShape): Spec[] {
  return Object.entries(props.extraConfig ?? {}).map(([key, value]) => ({
    _type: 'OptionValue',
    key,
    value,
  }));
}

/**
 * Adds the machine-shape fields to a VirtualMachineConfigSpec (its extraConfig is extended, not
 * replaced). An ISO VM gets BIOS firmware unless `Firmware` says otherwise, whatever vCenter's
 * default for its guest OS; a clone keeps its template's.
 */
export function applyMachineConfig(config: Spec, props: MachineShape, kind: 'clone' | 'iso'): void {
  if (props.coresPerSocket !== undefined) config.numCoresPerSocket = props.coresPerSocket;
  if (props.cpuHotAdd !== undefined) config.cpuHotAddEnabled = props.cpuHotAdd;
  if (props.memoryHotAdd !== undefined) config.memoryHotAddEnabled = props.memoryHotAdd;
  const firmware = props.firmware ?? (kind === 'iso' ? 'bios' : undefined);
  if (firmware !== undefined) config.firmware = firmware;
  if (props.secureBoot !== undefined) {
    config.bootOptions = { _type: 'VirtualMachineBootOptions', efiSecureBootEnabled: props.secureBoot };
  }
  if (kind === 'iso' && props.hardwareVersion !== undefined) config.version = props.hardwareVersion;
  const extra = machineExtraConfig(props);
  if (extra.length > 0)
    config.extraConfig = [...((config.extraConfig as Spec[] | undefined) ?? []), ...extra];
}

/**
 * The config fields (of {@link applyMachineConfig}, but extraConfig, which the builders check
 * with the user data) that `read` shows are not as asked: `{}` when all are. `read` gives a value
 * read back by path (of {@link MACHINE_PATHS}).
 */
export function machineRepair(props: MachineShape, read: (path: string) => unknown): Spec {
  const change: Spec = {};
  if (
    props.coresPerSocket !== undefined &&
    read('config.hardware.numCoresPerSocket') !== props.coresPerSocket
  ) {
    change.numCoresPerSocket = props.coresPerSocket;
  }
  if (props.cpuHotAdd !== undefined && (read('config.cpuHotAddEnabled') ?? false) !== props.cpuHotAdd) {
    change.cpuHotAddEnabled = props.cpuHotAdd;
  }
  if (
    props.memoryHotAdd !== undefined &&
    (read('config.memoryHotAddEnabled') ?? false) !== props.memoryHotAdd
  ) {
    change.memoryHotAddEnabled = props.memoryHotAdd;
  }
  if (props.firmware !== undefined && read('config.firmware') !== props.firmware) {
    change.firmware = props.firmware;
  }
  const boot = read('config.bootOptions') as { efiSecureBootEnabled?: boolean } | undefined;
  if (props.secureBoot !== undefined && (boot?.efiSecureBootEnabled ?? false) !== props.secureBoot) {
    change.bootOptions = { _type: 'VirtualMachineBootOptions', efiSecureBootEnabled: props.secureBoot };
    // Secure boot needs EFI; vCenter checks the firmware the same call sets.
    if (props.firmware !== undefined) change.firmware = props.firmware;
  }
  return change;
}

/** The hardware version is wrong (a reconfigure cannot change it: vCenter upgrades, never sets). */
export function hardwareVersionProblem(props: MachineShape, read: (path: string) => unknown): boolean {
  return props.hardwareVersion !== undefined && read('config.version') !== props.hardwareVersion;
}
