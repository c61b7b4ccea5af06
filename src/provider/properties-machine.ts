/**
 * Validation of the machine-shape properties: disks, compute, firmware, VMX keys, and how
 * destroy powers the VM off. {@link parseProperties} runs the per-key parsers of
 * {@link MACHINE_KEYS} with the other keys, then {@link checkMachine} for what needs several keys
 * (and for the fields inside `Disks` and `ExtraConfig`, so each issue names its own field).
 * See docs/properties.md, "Disks, compute and firmware" and "Destroy".
 *
 * Pure: no I/O.
 */

import type { ValidationIssue } from '../errors.ts';
import type { DiskProvisioning, DiskSpec } from '../vsphere/disks.ts';
import { describeCharAt, findControlChar, findXmlInvalidChar, utf8Length } from './annotation.ts';
import { describeJsonType, isPlainObject, previewValue } from './spec.ts';

export type { DiskProvisioning, DiskSpec } from '../vsphere/disks.ts';

/** How destroy stops a running VM. */
export type PowerOffMode = 'hard' | 'soft' | 'trySoft';

/** Validated machine-shape properties. Absent values are omitted. */
export interface MachineProperties {
  /** Clones: the first virtual disk is grown to this size. */
  rootDiskMB?: number;
  /** Disks added after the VM's own, in order. */
  disks?: readonly DiskSpec[];
  coresPerSocket?: number;
  cpuHotAdd?: boolean;
  memoryHotAdd?: boolean;
  firmware?: 'bios' | 'efi';
  secureBoot?: boolean;
  /** `vmx-NN`; ISO VMs only. */
  hardwareVersion?: string;
  /** VMX keys written as the VM's `config.extraConfig`. */
  extraConfig?: Readonly<Record<string, string>>;
  /** Destroy's power-off mode; absent: `trySoft`. */
  powerOffMode?: PowerOffMode;
  /** Destroy's guest shutdown wait; absent: the provider's `shutdownTimeoutMs`. */
  powerOffTimeoutSeconds?: number;
}

/** Numeric bounds (inclusive) of the machine-shape keys. */
export const MACHINE_LIMITS = {
  /** 1 MB to 62 TiB (the VMFS / vSAN virtual disk maximum). */
  diskMB: { min: 1, max: 62 * 1024 * 1024 },
  disks: { min: 1, max: 16 },
  coresPerSocket: { min: 1, max: 768 },
  powerOffTimeoutSeconds: { min: 1, max: 3600 },
  extraConfigKeys: { max: 256 },
  /** Longest VMX key, and longest value in UTF-8 bytes. */
  extraConfigKeyLength: 256,
  extraConfigValueBytes: 64 * 1024,
} as const;

export const DISK_PROVISIONINGS: readonly DiskProvisioning[] = ['thin', 'thick', 'eagerZeroedThick'];
export const POWER_OFF_MODES: readonly PowerOffMode[] = ['hard', 'soft', 'trySoft'];

/**
 * Prefixes of the VMX keys the provider writes itself (compared lower-case: VMX keys are
 * case-insensitive). A key starting with one of them is refused in `ExtraConfig`.
 */
export const RESERVED_EXTRA_CONFIG_PREFIXES: readonly string[] = ['guestinfo.userdata', 'guestinfo.metadata'];

type Parsed<T> = { value: T } | { error: string } | undefined;

function notSet(value: unknown): boolean {
  return value === null || value === undefined || value === '';
}

function typeError(value: unknown, expected: string): { error: string } {
  return { error: `expected ${expected}, got ${describeJsonType(value)}` };
}

const DIGITS_RE = /^[0-9]{1,15}$/;

/** An integer (or a string of digits, like the other numeric keys) within `bounds`. */
function integerIn(bounds: { min: number; max: number }, unit: string): (value: unknown) => Parsed<number> {
  return (value) => {
    if (notSet(value)) return undefined;
    let number: number;
    if (typeof value === 'number' && Number.isInteger(value)) number = value;
    else if (typeof value === 'string' && DIGITS_RE.test(value)) number = Number(value);
    else return { error: `expected an integer${unit}, got ${previewValue(value)}` };
    if (number < bounds.min || number > bounds.max) {
      return { error: `${number} is out of range ${bounds.min}..${bounds.max}` };
    }
    return { value: number };
  };
}

/** A JSON boolean only: these keys are new, so they need not take the "true" strings old keys take. */
function strictBool(value: unknown): Parsed<boolean> {
  if (notSet(value)) return undefined;
  if (typeof value === 'boolean') return { value };
  return typeError(value, 'true or false (a JSON boolean, not a string)');
}

function oneOf<T extends string>(choices: readonly T[]): (value: unknown) => Parsed<T> {
  const shown = choices.map((c) => `"${c}"`).join(', ');
  return (value) => {
    if (notSet(value)) return undefined;
    if (typeof value === 'string' && (choices as readonly string[]).includes(value))
      return { value: value as T };
    if (typeof value !== 'string') return typeError(value, `one of ${shown}`);
    const near = choices.find((c) => c.toLowerCase() === value.toLowerCase());
    return {
      error: `${previewValue(value)} is not one of ${shown}${near ? ` (values are case-sensitive: "${near}")` : ''}`,
    };
  };
}

const HARDWARE_VERSION_RE = /^vmx-([0-9]{2,3})$/;

function parseHardwareVersion(value: unknown): Parsed<string> {
  if (notSet(value)) return undefined;
  if (typeof value !== 'string') return typeError(value, 'a string like "vmx-19"');
  const match = HARDWARE_VERSION_RE.exec(value);
  if (!match || Number(match[1]) < 4) {
    return { error: `${previewValue(value)} is not a hardware version like "vmx-19" (vmx-04 or later)` };
  }
  return { value };
}

/** Shape only; {@link checkMachine} checks each entry and names its field. */
function arrayShape(value: unknown): Parsed<unknown[]> {
  if (notSet(value)) return undefined;
  if (!Array.isArray(value)) return typeError(value, 'an array of disk objects');
  return { value };
}

/** Shape only; {@link checkMachine} checks each key and value and names its field. */
function objectShape(value: unknown): Parsed<Record<string, unknown>> {
  if (notSet(value)) return undefined;
  if (!isPlainObject(value)) return typeError(value, 'an object of VMX key to string value');
  return { value };
}

/**
 * The machine-shape keys, in the form of the properties key table (preferred spelling, other
 * spellings, parser); parseProperties adds them to its own.
 */
export const MACHINE_KEYS: readonly {
  key: string;
  aliases: readonly string[];
  parse: (value: unknown) => Parsed<unknown>;
}[] = [
  { key: 'RootDiskMB', aliases: [], parse: integerIn(MACHINE_LIMITS.diskMB, ' (MB)') },
  { key: 'Disks', aliases: [], parse: arrayShape },
  { key: 'CoresPerSocket', aliases: [], parse: integerIn(MACHINE_LIMITS.coresPerSocket, '') },
  { key: 'CPUHotAdd', aliases: [], parse: strictBool },
  { key: 'MemoryHotAdd', aliases: [], parse: strictBool },
  { key: 'Firmware', aliases: [], parse: oneOf(['bios', 'efi'] as const) },
  { key: 'SecureBoot', aliases: [], parse: strictBool },
  { key: 'HardwareVersion', aliases: [], parse: parseHardwareVersion },
  { key: 'ExtraConfig', aliases: [], parse: objectShape },
  { key: 'PowerOffMode', aliases: [], parse: oneOf(POWER_OFF_MODES) },
  {
    key: 'PowerOffTimeoutSeconds',
    aliases: [],
    parse: integerIn(MACHINE_LIMITS.powerOffTimeoutSeconds, ' (seconds)'),
  },
];

/** What {@link checkMachine} needs from parseProperties. */
export interface MachineContext {
  /** A parsed value by preferred key (undefined: not given, or rejected). */
  get: (key: string) => unknown;
  has: (key: string) => boolean;
  /** The key was given but its value was rejected (already reported). */
  failed: (key: string) => boolean;
  /** The field path of a key as the user spelled it, e.g. `Spec.Properties.Disks`. */
  field: (key: string) => string;
  /** The VM is a clone (`Template` given). */
  clone: boolean;
}

export const DISK_KEYS = ['SizeMB', 'Provisioning', 'Datastore'];
const parseSizeMB = integerIn(MACHINE_LIMITS.diskMB, ' (MB)');
const parseProvisioning = oneOf(DISK_PROVISIONINGS);

function parseDatastoreName(value: unknown): Parsed<string> {
  if (notSet(value)) return undefined;
  if (typeof value !== 'string') return typeError(value, 'a datastore name');
  if (value.trim() !== value) return { error: `${previewValue(value)} has leading or trailing whitespace` };
  if (value.startsWith('/')) return { error: `${previewValue(value)} is a path; give the datastore's name` };
  if (value.length > 2048) return { error: 'longer than 2048 characters' };
  const bad = findControlChar(value);
  if (bad >= 0) return { error: `contains the control character ${describeCharAt(value, bad)}` };
  return { value };
}

function checkDisks(raw: unknown[], field: string, issues: ValidationIssue[]): DiskSpec[] {
  const { min, max } = MACHINE_LIMITS.disks;
  if (raw.length < min || raw.length > max) {
    issues.push({ field, message: `has ${raw.length} entries; give ${min} to ${max} disks` });
    return [];
  }
  const disks: DiskSpec[] = [];
  raw.forEach((entry, index) => {
    const at = `${field}[${index}]`;
    if (!isPlainObject(entry)) {
      issues.push({
        field: at,
        message: `expected a disk object like {"SizeMB": 10240}, got ${describeJsonType(entry)}`,
      });
      return;
    }
    for (const key of Object.keys(entry)) {
      if (!DISK_KEYS.includes(key)) {
        const near = DISK_KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
        issues.push({
          field: `${at}.${key}`,
          message: near
            ? `unknown key; did you mean ${near}? (keys are case-sensitive)`
            : `unknown key; a disk takes ${DISK_KEYS.join(', ')}`,
        });
      }
    }
    let ok = true;
    const size = parseSizeMB(entry.SizeMB);
    if (size === undefined) {
      issues.push({ field: `${at}.SizeMB`, message: 'required: the disk size in MB' });
      ok = false;
    } else if ('error' in size) {
      issues.push({ field: `${at}.SizeMB`, message: size.error });
      ok = false;
    }
    const provisioning = parseProvisioning(entry.Provisioning);
    if (provisioning && 'error' in provisioning) {
      issues.push({ field: `${at}.Provisioning`, message: provisioning.error });
      ok = false;
    }
    const datastore = parseDatastoreName(entry.Datastore);
    if (datastore && 'error' in datastore) {
      issues.push({ field: `${at}.Datastore`, message: datastore.error });
      ok = false;
    }
    if (!ok || !size || 'error' in size) return;
    const disk: DiskSpec = {
      sizeMB: size.value,
      provisioning: provisioning && 'value' in provisioning ? provisioning.value : 'thin',
    };
    if (datastore && 'value' in datastore) disk.datastore = datastore.value;
    disks.push(Object.freeze(disk));
  });
  return disks;
}

const VMX_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:[\]-]*$/;

/** Is `key` (any case) one the provider writes itself? */
export function isReservedExtraConfigKey(key: string): boolean {
  const lower = key.toLowerCase();
  return RESERVED_EXTRA_CONFIG_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

function checkExtraConfig(
  raw: Record<string, unknown>,
  field: string,
  issues: ValidationIssue[],
): Record<string, string> {
  const entries = Object.entries(raw);
  if (entries.length > MACHINE_LIMITS.extraConfigKeys.max) {
    issues.push({
      field,
      message: `has ${entries.length} keys; at most ${MACHINE_LIMITS.extraConfigKeys.max}`,
    });
    return {};
  }
  const out: Record<string, string> = {};
  const seen = new Map<string, string>();
  for (const [key, value] of entries) {
    const at = `${field}[${previewValue(key, 40)}]`;
    if (key.length > MACHINE_LIMITS.extraConfigKeyLength || !VMX_KEY_RE.test(key)) {
      issues.push({
        field: at,
        message: `not a VMX key (letters, digits and "_", ".", ":", "-", "[", "]", at most ${MACHINE_LIMITS.extraConfigKeyLength} characters)`,
      });
      continue;
    }
    if (isReservedExtraConfigKey(key)) {
      issues.push({
        field: at,
        message:
          'the provider writes this key itself (guestinfo.userdata* from Spec.Init, guestinfo.metadata* from the network settings); it cannot be given here',
      });
      continue;
    }
    const earlier = seen.get(key.toLowerCase());
    if (earlier !== undefined) {
      issues.push({ field: at, message: `the same VMX key as "${earlier}" (VMX keys are case-insensitive)` });
      continue;
    }
    seen.set(key.toLowerCase(), key);
    if (typeof value !== 'string') {
      issues.push({
        field: at,
        message: `expected a string (VMX values are strings, e.g. "TRUE"), got ${describeJsonType(value)}`,
      });
      continue;
    }
    if (value === '') {
      issues.push({ field: at, message: 'empty: vSphere removes a VMX key set to ""; leave the key out' });
      continue;
    }
    if (utf8Length(value) > MACHINE_LIMITS.extraConfigValueBytes) {
      issues.push({ field: at, message: `longer than ${MACHINE_LIMITS.extraConfigValueBytes} UTF-8 bytes` });
      continue;
    }
    const bad = findXmlInvalidChar(value);
    if (bad >= 0) {
      issues.push({
        field: at,
        message: `contains ${describeCharAt(value, bad)} at index ${bad}, which XML 1.0 (and so vSphere) cannot carry`,
      });
      continue;
    }
    out[key] = value;
  }
  return out;
}

/**
 * Checks the machine-shape keys against each other and the rest (pushing every problem to
 * `issues`) and returns their values, or `{}` for none.
 */
export function checkMachine(ctx: MachineContext, issues: ValidationIssue[]): MachineProperties {
  const { get, has, field } = ctx;
  const result: MachineProperties = {};

  const rootDiskMB = get('RootDiskMB') as number | undefined;
  if (rootDiskMB !== undefined) {
    if (!ctx.clone) {
      issues.push({
        field: field('RootDiskMB'),
        message:
          'only applies with Template (it grows the clone’s first disk); an ISO VM’s disk is DiskMB or Disks',
      });
    }
    result.rootDiskMB = rootDiskMB;
  }

  const rawDisks = get('Disks') as unknown[] | undefined;
  if (rawDisks !== undefined) {
    if (has('DiskMB')) {
      issues.push({
        field: `${field('DiskMB')}, ${field('Disks')}`,
        message: 'give either DiskMB (one thin disk) or Disks, not both',
      });
    }
    const disks = checkDisks(rawDisks, field('Disks'), issues);
    if (disks.length > 0) result.disks = Object.freeze(disks);
  }

  const cores = get('CoresPerSocket') as number | undefined;
  if (cores !== undefined) {
    const cpus = get('CPUs') as number | undefined;
    if (cpus === undefined) {
      if (!ctx.failed('CPUs')) {
        issues.push({ field: field('CoresPerSocket'), message: 'requires CPUs (a multiple of it)' });
      }
    } else if (cpus % cores !== 0) {
      issues.push({
        field: `${field('CPUs')}, ${field('CoresPerSocket')}`,
        message: `CPUs (${cpus}) must be a multiple of CoresPerSocket (${cores})`,
      });
    }
    result.coresPerSocket = cores;
  }
  const cpuHotAdd = get('CPUHotAdd') as boolean | undefined;
  if (cpuHotAdd !== undefined) result.cpuHotAdd = cpuHotAdd;
  const memoryHotAdd = get('MemoryHotAdd') as boolean | undefined;
  if (memoryHotAdd !== undefined) result.memoryHotAdd = memoryHotAdd;

  const firmware = get('Firmware') as 'bios' | 'efi' | undefined;
  if (firmware !== undefined) result.firmware = firmware;
  const secureBoot = get('SecureBoot') as boolean | undefined;
  if (secureBoot !== undefined) {
    if (firmware === 'bios' || (secureBoot && firmware === undefined && !ctx.failed('Firmware'))) {
      issues.push({
        field: field('SecureBoot'),
        message: 'only applies with Firmware: "efi" (secure boot is a UEFI feature)',
      });
    }
    result.secureBoot = secureBoot;
  }
  const hardwareVersion = get('HardwareVersion') as string | undefined;
  if (hardwareVersion !== undefined) {
    if (ctx.clone) {
      issues.push({
        field: field('HardwareVersion'),
        message: "only applies with ISOPath; a clone keeps its template's hardware version",
      });
    }
    result.hardwareVersion = hardwareVersion;
  }

  const rawExtra = get('ExtraConfig') as Record<string, unknown> | undefined;
  if (rawExtra !== undefined) {
    const extra = checkExtraConfig(rawExtra, field('ExtraConfig'), issues);
    if (Object.keys(extra).length > 0) result.extraConfig = Object.freeze(extra);
  }

  const mode = get('PowerOffMode') as PowerOffMode | undefined;
  if (mode !== undefined) result.powerOffMode = mode;
  const timeout = get('PowerOffTimeoutSeconds') as number | undefined;
  if (timeout !== undefined) {
    if (mode === 'hard') {
      issues.push({
        field: field('PowerOffTimeoutSeconds'),
        message: 'does not apply with PowerOffMode: "hard" (the VM is powered off at once)',
      });
    }
    result.powerOffTimeoutSeconds = timeout;
  }
  return result;
}
