/**
 * Validation of an instance's `Spec.Properties` into typed, frozen {@link VMProperties}.
 * Accepts both spellings the original Go plugin used (its README and its code disagreed).
 * See docs/properties.md.
 *
 * Pure: no I/O.
 */

import type { ValidationIssue } from '../errors.ts';
import { unescapeInventoryName } from '../vsphere/paths.ts';
import { describeCharAt, findControlChar, findXmlInvalidChar, utf8Length } from './annotation.ts';
import { checkMachine, MACHINE_KEYS, type MachineProperties } from './properties-machine.ts';
import { NETWORK_KEYS, type NetworkProperties, parseNetworkProperties } from './properties-network.ts';
import { describeJsonType, fieldPath, isPlainObject, previewValue, throwIssues } from './spec.ts';

/** Provider-wide defaults (plugin options / environment), used when a property is not given. */
export interface ProviderDefaults {
  datacenter?: string;
  datastore?: string;
  network?: string;
  host?: string;
  vmPrefix?: string;
}

/** Validated instance properties. Absent optional values are omitted (not `undefined`-valued). */
export interface VMProperties extends NetworkProperties, MachineProperties {
  /** Datacenter name; when absent the provider uses the only / default datacenter. */
  datacenter?: string;
  /** Datastore name for the VM's files and disks. */
  datastore: string;
  /** Datastore holding the ISO, when it is not {@link datastore}. Only with `isoPath`. */
  isoDatastore?: string;
  /** ESXi host name (as in the inventory). */
  host?: string;
  /** Cluster name or inventory path. */
  cluster?: string;
  /** Resource pool name or inventory path. */
  resourcePool?: string;
  /** Base folder (name or inventory path) under which the group folders are made. */
  folder?: string;
  /** Network (port group) name. */
  network?: string;
  /** Template (or VM) name or inventory path to clone. Exactly one of template / isoPath. */
  template?: string;
  /** Path of the ISO inside its datastore, e.g. `iso/linuxkit.iso`. */
  isoPath?: string;
  /** VM name prefix; the instance ID is `<vmPrefix>-<random int63>`. */
  vmPrefix: string;
  cpus?: number;
  memoryMB?: number;
  /** ISO VMs: size of the thin disk. Clones: size of an extra thin disk. */
  diskMB?: number;
  powerOn: boolean;
  /** Clone as a linked clone (from the template's current snapshot). Only with `template`. */
  linkedClone: boolean;
  /** Guest OS identifier of an ISO VM (`otherLinux64Guest` by default). */
  guestId: string;
  /** User text for the VM notes (kept after the metadata lines). */
  annotation?: string;
  /** Provision waits until the guest reports an IP address. Requires `powerOn`. */
  waitForIP: boolean;
  /** How long to wait for the IP; set (default 300) only when `waitForIP` is true. */
  waitForIPTimeoutSeconds?: number;
}

/** Options of {@link parseProperties}. */
export interface ParsePropertiesOptions {
  /** Path prefix of the fields in messages: `Properties` (default) or `Spec.Properties`. */
  field?: string;
}

export const DEFAULT_VM_PREFIX = 'vm';
export const DEFAULT_GUEST_ID = 'otherLinux64Guest';
export const DEFAULT_WAIT_FOR_IP_TIMEOUT_SECONDS = 300;
/** Longest VM prefix: `<prefix>-<int63>` is then at most 60 characters (vSphere allows 80). */
export const MAX_VM_PREFIX_LENGTH = 40;
/** Longest name or inventory path accepted. */
export const MAX_NAME_LENGTH = 2048;
/** Longest `Annotation` text, in UTF-8 bytes (the rest of the 32 KiB annotation holds tags). */
export const MAX_USER_ANNOTATION_BYTES = 16 * 1024;

/** Numeric bounds (inclusive). */
export const LIMITS = {
  cpus: { min: 1, max: 768 },
  /** 4 MB to 24 TiB, a multiple of 4. */
  memoryMB: { min: 4, max: 24 * 1024 * 1024, multipleOf: 4 },
  /** 1 MB to 62 TiB (the VMFS / vSAN virtual disk maximum). */
  diskMB: { min: 1, max: 62 * 1024 * 1024 },
  waitForIPTimeoutSeconds: { min: 1, max: 86400 },
} as const;

// ---------------------------------------------------------------------------------------------
// Inventory paths.

/**
 * Splits a path-capable property (Template, Folder, Cluster, ResourcePool) into names.
 * `absolute` is true when it starts with `/` (from the inventory root: `/<DC>/vm/...`);
 * otherwise it is relative (to the datacenter's `vm` folder for Template and Folder, its `host`
 * folder for Cluster and ResourcePool). Names come back unescaped (`a%2fb` → `a/b`).
 * Assumes a value accepted by {@link parseProperties}.
 */
export function splitPathProperty(path: string): { absolute: boolean; names: string[] } {
  const absolute = path.startsWith('/');
  const body = absolute ? path.slice(1) : path;
  return { absolute, names: body.split('/').map(unescapeInventoryName) };
}

// ---------------------------------------------------------------------------------------------
// Value parsers. Each returns the value, or a message; `null` and `""` mean "not set".

type Parsed<T> = { value: T } | { error: string } | undefined;

function notSet(value: unknown): boolean {
  return value === null || value === undefined || value === '';
}

function typeError(value: unknown, expected: string): { error: string } {
  return { error: `expected ${expected}, got ${describeJsonType(value)}` };
}

function nameLike(value: unknown): Parsed<string> {
  if (notSet(value)) return undefined;
  if (typeof value !== 'string') return typeError(value, 'a string');
  if (value.length > MAX_NAME_LENGTH) return { error: `longer than ${MAX_NAME_LENGTH} characters` };
  if (value.trim() !== value) {
    return { error: `${previewValue(value)} has leading or trailing whitespace` };
  }
  const bad = findControlChar(value);
  if (bad >= 0) return { error: `contains the control character ${describeCharAt(value, bad)}` };
  return { value };
}

/** A single inventory name (Datacenter, Datastore, ISODatastore, Network, Hostname). */
function parseName(value: unknown): Parsed<string> {
  const parsed = nameLike(value);
  if (!parsed || 'error' in parsed) return parsed;
  if (parsed.value.startsWith('/')) {
    return {
      error:
        `${previewValue(parsed.value)} looks like an inventory path; this key takes a name ` +
        '(as shown in the vSphere Client)',
    };
  }
  return parsed;
}

const ESCAPE_RE = /%(?!2f|5c|25)/i;

/** A name or an inventory path (Template, Folder, Cluster, ResourcePool). */
function parsePath(value: unknown): Parsed<string> {
  const parsed = nameLike(value);
  if (!parsed || 'error' in parsed) return parsed;
  const path = parsed.value;
  const shown = previewValue(path);
  if (path === '/') return { error: 'must name an inventory object, not the root "/"' };
  const { names } = splitPathProperty(path);
  const raw = (path.startsWith('/') ? path.slice(1) : path).split('/');
  for (const name of raw) {
    if (name === '') {
      return { error: `${shown} has an empty path component ("//" or a trailing "/")` };
    }
    if (name === '.' || name === '..') {
      return { error: `${shown} contains "${name}"; relative components are not supported` };
    }
    if (name.trim() !== name) {
      return { error: `${shown} has a path component with leading or trailing whitespace` };
    }
    if (ESCAPE_RE.test(name)) {
      return {
        error: `${shown} has a "%" that is not one of the escapes %2f ("/"), %5c ("\\") or %25 ("%")`,
      };
    }
  }
  if (names.length === 0) return { error: 'must not be empty' };
  return parsed;
}

function parseIsoPath(value: unknown): Parsed<{ datastore?: string; path: string }> {
  const parsed = nameLike(value);
  if (!parsed || 'error' in parsed) return parsed;
  let path = parsed.value;
  let datastore: string | undefined;
  const match = /^\[([^\]]*)\] ?(.*)$/s.exec(path);
  if (match) {
    datastore = match[1] ?? '';
    path = match[2] ?? '';
    if (datastore === '' || datastore.trim() !== datastore) {
      return { error: `${previewValue(parsed.value)}: the datastore between "[" and "]" is empty or padded` };
    }
    if (path === '') return { error: `${previewValue(parsed.value)}: no file path after the datastore` };
  }
  if (path.startsWith('/')) {
    return {
      error: `${previewValue(path)} starts with "/"; give the path inside the datastore, e.g. "iso/linuxkit.iso"`,
    };
  }
  if (path.split('/').some((part) => part === '' || part === '..')) {
    return { error: `${previewValue(path)} has an empty or ".." path component` };
  }
  return { value: datastore === undefined ? { path } : { datastore, path } };
}

const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function parsePrefix(value: unknown): Parsed<string> {
  if (notSet(value)) return undefined;
  if (typeof value !== 'string') return typeError(value, 'a string');
  if (value.length > MAX_VM_PREFIX_LENGTH) {
    return {
      error: `${previewValue(value)} is ${value.length} characters; at most ${MAX_VM_PREFIX_LENGTH} (VM names are <prefix>-<number>, at most 80 characters)`,
    };
  }
  if (!PREFIX_RE.test(value)) {
    return {
      error: `${previewValue(value)} must start with a letter or digit and contain only letters, digits, "-", "_" and "."`,
    };
  }
  return { value };
}

const GUEST_ID_RE = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;

function parseGuestId(value: unknown): Parsed<string> {
  if (notSet(value)) return undefined;
  if (typeof value !== 'string') return typeError(value, 'a string');
  if (!GUEST_ID_RE.test(value)) {
    return {
      error: `${previewValue(value)} is not a vSphere guest identifier (letters, digits and "_", like "otherLinux64Guest")`,
    };
  }
  return { value };
}

function parseText(value: unknown): Parsed<string> {
  if (notSet(value)) return undefined;
  if (typeof value !== 'string') return typeError(value, 'a string');
  const bytes = utf8Length(value);
  if (bytes > MAX_USER_ANNOTATION_BYTES) {
    return { error: `is ${bytes} UTF-8 bytes; at most ${MAX_USER_ANNOTATION_BYTES}` };
  }
  const bad = findXmlInvalidChar(value);
  if (bad >= 0) {
    return {
      error: `contains ${describeCharAt(value, bad)} at index ${bad}, which XML 1.0 (and so vSphere) cannot carry`,
    };
  }
  return { value };
}

const DIGITS_RE = /^[0-9]{1,15}$/;

function integerParser(
  bounds: { min: number; max: number; multipleOf?: number },
  unit: string,
): (value: unknown) => Parsed<number> {
  const expected = `an integer${unit ? ` (${unit})` : ''} or a string of digits`;
  return (value) => {
    if (notSet(value)) return undefined;
    let number: number;
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) return { error: `expected an integer, got ${previewValue(value)}` };
      number = value;
    } else if (typeof value === 'string') {
      if (!DIGITS_RE.test(value)) return { error: `expected ${expected}, got ${previewValue(value)}` };
      number = Number(value);
    } else {
      return typeError(value, expected);
    }
    if (number < bounds.min || number > bounds.max) {
      return { error: `${number} is out of range ${bounds.min}..${bounds.max}` };
    }
    if (bounds.multipleOf !== undefined && number % bounds.multipleOf !== 0) {
      return { error: `${number} is not a multiple of ${bounds.multipleOf}` };
    }
    return { value: number };
  };
}

function parseBool(value: unknown): Parsed<boolean> {
  if (notSet(value)) return undefined;
  if (typeof value === 'boolean') return { value };
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'true') return { value: true };
    if (lower === 'false') return { value: false };
    return { error: `expected true or false, got ${previewValue(value)}` };
  }
  return typeError(value, 'a boolean (or "true"/"false")');
}

// ---------------------------------------------------------------------------------------------
// Key table.

interface KeyDef {
  /** Preferred spelling (documented first). */
  key: string;
  /** Other accepted spellings. */
  aliases: readonly string[];
  parse: (value: unknown) => Parsed<unknown>;
}

const KEYS: readonly KeyDef[] = [
  { key: 'Datacenter', aliases: [], parse: parseName },
  { key: 'Datastore', aliases: [], parse: parseName },
  { key: 'ISODatastore', aliases: [], parse: parseName },
  { key: 'Hostname', aliases: [], parse: parseName },
  { key: 'Cluster', aliases: [], parse: parsePath },
  { key: 'ResourcePool', aliases: [], parse: parsePath },
  { key: 'Folder', aliases: [], parse: parsePath },
  { key: 'Network', aliases: [], parse: parseName },
  { key: 'Template', aliases: [], parse: parsePath },
  { key: 'ISOPath', aliases: ['isoPath'], parse: parseIsoPath },
  { key: 'VMPrefix', aliases: ['vmPrefix'], parse: parsePrefix },
  { key: 'CPUs', aliases: [], parse: integerParser(LIMITS.cpus, '') },
  { key: 'Memory', aliases: ['MEM'], parse: integerParser(LIMITS.memoryMB, 'MB') },
  { key: 'DiskMB', aliases: ['persistantSZ'], parse: integerParser(LIMITS.diskMB, 'MB') },
  { key: 'PowerOn', aliases: [], parse: parseBool },
  { key: 'LinkedClone', aliases: [], parse: parseBool },
  { key: 'GuestId', aliases: [], parse: parseGuestId },
  { key: 'Annotation', aliases: [], parse: parseText },
  { key: 'WaitForIP', aliases: [], parse: parseBool },
  {
    key: 'WaitForIPTimeoutSeconds',
    aliases: [],
    parse: integerParser(LIMITS.waitForIPTimeoutSeconds, 'seconds'),
  },
  // Checked together (and per element) by parseNetworkProperties.
  ...NETWORK_KEYS.map((key) => ({
    key,
    aliases: [],
    parse: (value: unknown) => (notSet(value) ? undefined : { value }),
  })),
  ...MACHINE_KEYS,
];

const BY_SPELLING = new Map<string, KeyDef>();
for (const def of KEYS) {
  BY_SPELLING.set(def.key, def);
  for (const alias of def.aliases) BY_SPELLING.set(alias, def);
}

/** Every accepted property key, both spellings. */
export const PROPERTY_KEYS: readonly string[] = [...BY_SPELLING.keys()];

const REJECTED_VCENTER_URL = 'vcenterurl';

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const above = rows[i - 1] ?? [];
      let best = Math.min((above[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (above[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? Math.max(a.length, b.length);
}

/** The accepted key closest to an unknown one, or undefined. */
export function suggestPropertyKey(unknown: string): string | undefined {
  if (unknown.length > 64) return undefined;
  const lower = unknown.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const spelling of PROPERTY_KEYS) {
    const candidate = spelling.toLowerCase();
    if (candidate === lower) return spelling;
    const distance = editDistance(lower, candidate);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = spelling;
    }
  }
  const allowed = unknown.length <= 4 ? 1 : unknown.length < 10 ? 2 : 3;
  return bestDistance <= allowed ? best : undefined;
}

function unknownKeyMessage(key: string): string {
  const suggestion = suggestPropertyKey(key);
  if (suggestion === undefined) {
    return `unknown property; accepted keys are ${KEYS.map((def) => def.key).join(', ')}`;
  }
  const def = BY_SPELLING.get(suggestion);
  const preferred = def && def.key !== suggestion ? ` (preferred spelling: ${def.key})` : '';
  const caseNote = suggestion.toLowerCase() === key.toLowerCase() ? ' (keys are case-sensitive)' : '';
  return `unknown property; did you mean ${suggestion}?${preferred}${caseNote}`;
}

// ---------------------------------------------------------------------------------------------
// parseProperties.

/**
 * Validates instance properties (`Spec.Properties`, or `Properties` of Instance.Validate).
 *
 * `undefined`, `null` and `{}` are allowed (everything then comes from `defaults`). Every key is
 * checked; every problem is reported at once. `null` and `""` values mean "not set".
 *
 * @throws ValidationError listing every problem, each naming the property (e.g. `Properties.CPUs`).
 */
/**
 * The issues ordered by where the input gave the key each names (`Properties.Networks[1].IPv4`
 * belongs to `Networks`), so a validate lists them as the user wrote them whichever check found
 * them; issues about keys the input lacks (a required one) keep their order after those.
 */
function inInputOrder(
  issues: readonly ValidationIssue[],
  root: string,
  record: Record<string, unknown>,
): ValidationIssue[] {
  const position = new Map(Object.keys(record).map((key, index) => [fieldPath(root, key), index]));
  const rank = (field: string): number => {
    for (let end = field.length; end > root.length; end--) {
      if (end < field.length && field[end] !== '.' && field[end] !== '[') continue;
      const index = position.get(field.slice(0, end));
      if (index !== undefined) return index;
    }
    return Number.POSITIVE_INFINITY;
  };
  return issues
    .map((issue, order) => ({ issue, order, rank: rank(issue.field) }))
    .sort((a, b) => a.rank - b.rank || a.order - b.order)
    .map(({ issue }) => issue);
}

export function parseProperties(
  raw: unknown,
  defaults: ProviderDefaults = {},
  options: ParsePropertiesOptions = {},
): VMProperties {
  const root = options.field ?? 'Properties';
  const issues: ValidationIssue[] = [];
  const values = new Map<string, unknown>();
  /** Which spelling gave each value, for messages. */
  const givenAs = new Map<string, string>();
  /** Keys (preferred spelling) whose value was rejected: no follow-up "required" issue for them. */
  const failed = new Set<string>();

  if (raw !== undefined && raw !== null && !isPlainObject(raw)) {
    throwIssues(
      [{ field: root, message: `expected an object, got ${describeJsonType(raw)}` }],
      'invalid properties',
    );
  }
  const record: Record<string, unknown> = isPlainObject(raw) ? raw : {};

  for (const key of Object.keys(record)) {
    const field = fieldPath(root, key);
    const def = BY_SPELLING.get(key);
    if (def === undefined) {
      if (key.toLowerCase() === REJECTED_VCENTER_URL) {
        issues.push({
          field,
          message:
            'choosing the vCenter per instance is not supported; set the vCenter URL in the provider ' +
            'options, and run one plugin subtype (or plugin) per vCenter',
        });
      } else {
        issues.push({ field, message: unknownKeyMessage(key) });
      }
      continue;
    }
    const parsed = def.parse(record[key]);
    if (parsed === undefined) continue;
    if ('error' in parsed) {
      issues.push({ field, message: parsed.error });
      failed.add(def.key);
      if (!givenAs.has(def.key)) givenAs.set(def.key, key);
      continue;
    }
    const earlier = values.has(def.key) ? givenAs.get(def.key) : undefined;
    if (earlier !== undefined) {
      if (!sameValue(values.get(def.key), parsed.value)) {
        issues.push({
          field,
          message: `conflicts with ${fieldPath(root, earlier)}: both spellings are given with different values`,
        });
      }
      continue;
    }
    values.set(def.key, parsed.value);
    givenAs.set(def.key, key);
  }

  const get = <T>(key: string): T | undefined => values.get(key) as T | undefined;
  const has = (key: string): boolean => values.has(key);
  const f = (key: string): string => fieldPath(root, givenAs.get(key) ?? key);

  // Defaults (validated like properties, reported as `defaults.<name>`).
  const fromDefault = (name: keyof ProviderDefaults, parse: (value: unknown) => Parsed<unknown>) => {
    const parsed = parse(defaults[name]);
    if (parsed === undefined) return undefined;
    if ('error' in parsed) {
      issues.push({ field: `defaults.${name}`, message: parsed.error });
      failed.add(`defaults.${name}`);
      return undefined;
    }
    return parsed.value as string;
  };
  const defaultDatacenter = fromDefault('datacenter', parseName);
  const defaultDatastore = fromDefault('datastore', parseName);
  const defaultNetwork = fromDefault('network', parseName);
  const defaultHost = fromDefault('host', parseName);
  const defaultPrefix = fromDefault('vmPrefix', parsePrefix);

  const template = get<string>('Template');
  const iso = get<{ datastore?: string; path: string }>('ISOPath');
  const cluster = get<string>('Cluster');
  const resourcePool = get<string>('ResourcePool');
  const powerOn = get<boolean>('PowerOn') ?? false;
  const waitForIP = get<boolean>('WaitForIP') ?? false;
  const linkedClone = get<boolean>('LinkedClone') ?? false;

  const sourceKeysOk = !failed.has('Template') && !failed.has('ISOPath');
  if (template !== undefined && iso !== undefined) {
    issues.push({
      field: `${f('Template')}, ${f('ISOPath')}`,
      message: 'give either Template (clone) or ISOPath (boot from ISO), not both',
    });
  } else if (template === undefined && iso === undefined && sourceKeysOk) {
    issues.push({
      field: `${f('Template')}, ${f('ISOPath')}`,
      message: 'one of Template (clone) or ISOPath (boot from ISO) is required',
    });
  }

  const datastore = get<string>('Datastore') ?? defaultDatastore;
  if (datastore === undefined && !failed.has('Datastore') && !failed.has('defaults.datastore')) {
    issues.push({ field: f('Datastore'), message: 'required (no provider default datastore is set)' });
  }

  let isoDatastore = get<string>('ISODatastore');
  if (iso?.datastore !== undefined) {
    if (isoDatastore !== undefined && isoDatastore !== iso.datastore) {
      issues.push({
        field: f('ISODatastore'),
        message: `conflicts with the datastore named in ${f('ISOPath')}`,
      });
    }
    isoDatastore = iso.datastore;
  }
  if (has('ISODatastore') && iso === undefined) {
    issues.push({ field: f('ISODatastore'), message: 'only applies with ISOPath' });
  }
  if (linkedClone && template === undefined) {
    issues.push({
      field: f('LinkedClone'),
      message: 'only applies with Template (a linked clone needs a template)',
    });
  }
  if (has('GuestId') && template !== undefined) {
    issues.push({
      field: f('GuestId'),
      message: "only applies with ISOPath; a clone keeps its template's guest OS",
    });
  }
  if (waitForIP && !powerOn) {
    issues.push({ field: f('WaitForIP'), message: 'requires PowerOn: true (a VM that is off gets no IP)' });
  }
  if (has('WaitForIPTimeoutSeconds') && !waitForIP) {
    issues.push({ field: f('WaitForIPTimeoutSeconds'), message: 'only applies with WaitForIP: true' });
  }

  // Placement: Hostname, or Cluster / ResourcePool. The provider's default host is used only
  // when the properties name none of the three; with none at all, the inventory picks the only
  // host or compute resource, or names the choices.
  let host = get<string>('Hostname');
  if (host === undefined && cluster === undefined && resourcePool === undefined) host = defaultHost;

  const network = parseNetworkProperties(
    {
      root,
      raw: new Map(NETWORK_KEYS.filter(has).map((key) => [key, values.get(key)])),
      networkGiven: has('Network'),
      clone: template !== undefined,
    },
    issues,
  );

  const machine = checkMachine(
    { get, has, failed: (key) => failed.has(key), field: f, clone: template !== undefined },
    issues,
  );

  if (issues.length > 0) throwIssues(inInputOrder(issues, root, record), 'invalid instance properties');

  const result: VMProperties = {
    ...machine,
    datastore: datastore ?? '',
    vmPrefix: get<string>('VMPrefix') ?? defaultPrefix ?? DEFAULT_VM_PREFIX,
    powerOn,
    linkedClone,
    guestId: get<string>('GuestId') ?? DEFAULT_GUEST_ID,
    waitForIP,
    ...network,
  };
  const datacenter = get<string>('Datacenter') ?? defaultDatacenter;
  if (datacenter !== undefined) result.datacenter = datacenter;
  if (isoDatastore !== undefined) result.isoDatastore = isoDatastore;
  if (host !== undefined) result.host = host;
  if (cluster !== undefined) result.cluster = cluster;
  if (resourcePool !== undefined) result.resourcePool = resourcePool;
  const folder = get<string>('Folder');
  if (folder !== undefined) result.folder = folder;
  const shorthand = get<string>('Network') ?? (network.nics ? undefined : defaultNetwork);
  if (shorthand !== undefined) result.network = shorthand;
  if (template !== undefined) result.template = template;
  if (iso !== undefined) result.isoPath = iso.path;
  const cpus = get<number>('CPUs');
  if (cpus !== undefined) result.cpus = cpus;
  const memoryMB = get<number>('Memory');
  if (memoryMB !== undefined) result.memoryMB = memoryMB;
  const diskMB = get<number>('DiskMB');
  if (diskMB !== undefined) result.diskMB = diskMB;
  const annotation = get<string>('Annotation');
  if (annotation !== undefined) result.annotation = annotation;
  if (waitForIP) {
    result.waitForIPTimeoutSeconds =
      get<number>('WaitForIPTimeoutSeconds') ?? DEFAULT_WAIT_FOR_IP_TIMEOUT_SECONDS;
  }
  return Object.freeze(result);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    return JSON.stringify(a) === JSON.stringify(b);
  }
  return a === b;
}
