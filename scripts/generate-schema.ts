/**
 * Generates `src/vim25/schema.generated.ts`: the vim25 type and method tables the codec needs, read from
 * govmomi's `vim25/types/types.go` at the version pinned in `test/vcsim/launcher/go.mod`.
 *
 * Run: `node scripts/generate-schema.ts` (writes the file) or `node scripts/generate-schema.ts --check`
 * (exits 1 when the committed file is stale). Needs the Go module cache filled by `npm run vcsim:install`.
 *
 * govmomi is used as a source of facts only: struct field order is vim25 schema order, an embedded struct
 * is the base type, `[]T` repeats, `BaseX` is a polymorphic X, `*T` or `omitempty` is optional, and the xml
 * tag gives the element name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..');
/** Where the generated schema goes. */
export const OUTPUT_PATH = join(repoRoot, 'src/vim25/schema.generated.ts');

/** Methods the codec knows; each brings its request parameters and return type. */
export const ROOT_METHODS: readonly string[] = [
  'RetrieveServiceContent',
  'CurrentTime',
  'Login',
  'Logout',
  'TerminateSession',
  'SessionIsActive',
  'RetrievePropertiesEx',
  'ContinueRetrievePropertiesEx',
  'CancelRetrievePropertiesEx',
  'CreateFilter',
  'DestroyPropertyFilter',
  'WaitForUpdatesEx',
  'CancelWaitForUpdates',
  'CreatePropertyCollector',
  'DestroyPropertyCollector',
  'CreateContainerView',
  'DestroyView',
  'CreateFolder',
  'CreateVM_Task',
  'MoveIntoFolder_Task',
  'FindChild',
  'FindByInventoryPath',
  'FindByUuid',
  'CloneVM_Task',
  'ReconfigVM_Task',
  'PowerOnVM_Task',
  'PowerOffVM_Task',
  'ShutdownGuest',
  'Destroy_Task',
  'DeleteDatastoreFile_Task',
  'CreateSnapshot_Task',
  'CancelTask',
  'QueryEvents',
  'UpdateOptions',
  'QueryOptions',
  'MarkAsTemplate',
  'MarkAsVirtualMachine',
  // The brief asked for a `RenameTask` if it exists; vim25 only has Rename_Task, so it is listed
  // here and skipped with a notice when absent rather than silently dropped.
  'RenameTask',
  'Rename_Task',
];

/** Data types the codec knows, with the closure of their field and base types. */
export const ROOT_TYPES: readonly string[] = [
  'ServiceContent',
  'AboutInfo',
  'UserSession',
  'RetrieveResult',
  'ObjectContent',
  'DynamicProperty',
  'MissingProperty',
  'PropertyFilterSpec',
  'PropertySpec',
  'ObjectSpec',
  'TraversalSpec',
  'SelectionSpec',
  'RetrieveOptions',
  'WaitOptions',
  'UpdateSet',
  'PropertyFilterUpdate',
  'ObjectUpdate',
  'PropertyChange',
  'MissingObject',
  'TaskInfo',
  'LocalizedMethodFault',
  'LocalizableMessage',
  'MethodFault',
  'VirtualMachineCloneSpec',
  'VirtualMachineRelocateSpec',
  'VirtualMachineConfigSpec',
  'VirtualMachineFileInfo',
  'VirtualDeviceConfigSpec',
  'OptionValue',
  'VirtualDevice',
  'VirtualCdrom',
  'VirtualCdromIsoBackingInfo',
  'VirtualCdromRemoteAtapiBackingInfo',
  'VirtualCdromRemotePassthroughBackingInfo',
  'VirtualDeviceConnectInfo',
  'Description',
  'VirtualController',
  'VirtualIDEController',
  'VirtualSCSIController',
  'ParaVirtualSCSIController',
  'VirtualLsiLogicController',
  'VirtualPCIController',
  'VirtualDisk',
  'VirtualDiskFlatVer2BackingInfo',
  'VirtualEthernetCard',
  'VirtualVmxnet3',
  'VirtualVmxnet',
  'VirtualE1000',
  'VirtualE1000e',
  'VirtualEthernetCardNetworkBackingInfo',
  'VirtualEthernetCardDistributedVirtualPortBackingInfo',
  'DistributedVirtualSwitchPortConnection',
  'VirtualEthernetCardOpaqueNetworkBackingInfo',
  'VirtualHardware',
  'GuestInfo',
  'GuestNicInfo',
  'VirtualMachineRuntimeInfo',
  'VirtualMachineSummary',
  'VirtualMachineSnapshotInfo',
  'VirtualMachineSnapshotTree',
  'VirtualMachineConfigInfo',
  'EventFilterSpec',
  'VmBeingClonedEvent',
  'VmClonedEvent',
  'VmBeingCreatedEvent',
  'CustomizationLinuxPrep',
  'CustomizationFixedName',
  'CustomizationFixedIp',
  'CustomizationDhcpIpGenerator',
  'CustomizationFixedIpV6',
  'CustomizationDhcpIpV6Generator',
];

/** Every known subtype of these is included (faults must decode by type and answer `is()`). */
export const POLYMORPHIC_ROOTS: readonly string[] = [
  'MethodFault',
  'TaskReason',
  'SelectionSpec',
  'VirtualDevice',
  'VirtualDeviceBackingInfo',
  'VirtualDeviceConnectInfo',
];

/**
 * The closure stops at these: they stay as field type names but are not described, so values of
 * these types decode generically and cannot be encoded. They are large trees a provider never
 * sends and reads only as opaque data (e.g. through a fault's detail).
 */
export const STOP_TYPES: readonly string[] = [];

/** One field of a parsed Go struct. */
interface GoField {
  /** XML element name. */
  name: string;
  /** Go type as written, e.g. `[]BaseVirtualDevice`. */
  goType: string;
  /** `omitempty` in the tag. */
  omitempty: boolean;
}

/** One parsed Go struct: its embedded base (if any) and its own fields in order. */
interface GoStruct {
  base: string | undefined;
  fields: GoField[];
}

/** What `parseTypesGo` finds. */
export interface ParsedGo {
  structs: Map<string, GoStruct>;
  /** `type A B` declarations (method request aliases, `XFault` aliases). */
  aliases: Map<string, string>;
  enums: Set<string>;
}

/** Reads the govmomi version pinned by the vcsim launcher, e.g. `v0.56.0`. */
export function pinnedGovmomiVersion(): string {
  const goMod = readFileSync(join(repoRoot, 'test/vcsim/launcher/go.mod'), 'utf8');
  const match = /github\.com\/vmware\/govmomi\s+(v\S+)/.exec(goMod);
  if (!match?.[1]) throw new Error('test/vcsim/launcher/go.mod does not require github.com/vmware/govmomi');
  return match[1];
}

/** The Go module cache, from `go env` when Go is installed, else the default location. */
function goModCache(): string {
  if (process.env.GOMODCACHE) return process.env.GOMODCACHE;
  try {
    const out = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
    if (out) return out;
  } catch {
    // Go may be missing where only the cache was copied; fall through to the default path.
  }
  return join(process.env.GOPATH ?? join(homedir(), 'go'), 'pkg/mod');
}

/** Directory of govmomi's `vim25/types` at the pinned version, or a readable error. */
export function govmomiTypesDir(): string {
  const version = pinnedGovmomiVersion();
  const dir = join(goModCache(), `github.com/vmware/govmomi@${version}`, 'vim25/types');
  if (!existsSync(join(dir, 'types.go'))) {
    throw new Error(
      `govmomi ${version} is not in the Go module cache (looked for ${dir}/types.go): run \`npm run vcsim:install\`, which builds the vcsim launcher and fills the cache`,
    );
  }
  return dir;
}

const STRUCT_START = /^type (\w+) struct \{$/;
const ALIAS = /^type (\w+) (\w+)$/;
const EMBEDDED = /^\t(\w+)$/;
const FIELD = /^\t(\w+)\s+(\S+)\s+`xml:"([^"]*)"/;

/** Parses the struct and alias declarations of Go source, and the enum (`type X string`) declarations. */
export function parseTypesGo(typesGo: string, enumGo: string): ParsedGo {
  const structs = new Map<string, GoStruct>();
  const aliases = new Map<string, string>();
  const lines = typesGo.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const alias = ALIAS.exec(line);
    if (alias) {
      aliases.set(alias[1]!, alias[2]!);
      continue;
    }
    const start = STRUCT_START.exec(line);
    if (!start) continue;
    const struct: GoStruct = { base: undefined, fields: [] };
    for (i++; i < lines.length && lines[i] !== '}'; i++) {
      const body = lines[i] ?? '';
      const embedded = EMBEDDED.exec(body);
      if (embedded) {
        struct.base = embedded[1];
        continue;
      }
      const field = FIELD.exec(body);
      if (!field) continue;
      const [name, ...options] = field[3]!.split(',');
      // XMLName only renames an element; attr/chardata belong to ManagedObjectReference, a primitive here.
      if (field[2] === 'xml.Name' || !name || options.includes('attr')) continue;
      struct.fields.push({ name, goType: field[2]!, omitempty: options.includes('omitempty') });
    }
    structs.set(start[1]!, struct);
  }
  const enums = new Set<string>();
  for (const match of enumGo.matchAll(/^type (\w+) string$/gm)) enums.add(match[1]!);
  return { structs, aliases, enums };
}

const PRIMITIVES: Record<string, string> = {
  string: 'string',
  bool: 'boolean',
  int8: 'byte',
  byte: 'byte',
  int16: 'short',
  int32: 'int',
  int64: 'long',
  float32: 'float',
  float64: 'double',
  'time.Time': 'dateTime',
  AnyType: 'anyType',
  ManagedObjectReference: 'ManagedObjectReference',
};

/** A field as the schema describes it. */
export interface SchemaFieldOut {
  name: string;
  type: string;
  array: boolean;
  optional: boolean;
}

/** Maps a Go field type to the XML type name, repetition and optionality. */
export function xmlTypeOf(goType: string, omitempty: boolean, parsed: ParsedGo): SchemaFieldOut {
  let t = goType;
  let array = false;
  let optional = omitempty;
  // []byte is xsd:base64Binary text; ByteSlice is a list of xsd:byte elements (govmomi's own type).
  if (t === '[][]byte') return { name: '', type: 'base64Binary', array: true, optional };
  if (t === '[]byte') return { name: '', type: 'base64Binary', array: false, optional };
  if (t === 'ByteSlice') return { name: '', type: 'byte', array: true, optional };
  if (t.startsWith('[]')) {
    array = true;
    t = t.slice(2);
  }
  if (t.startsWith('*')) {
    optional = true;
    t = t.slice(1);
  }
  let type = PRIMITIVES[t];
  if (type === undefined) {
    if (t.startsWith('Base') && parsed.structs.has(t.slice(4)) && !parsed.structs.has(t)) type = t.slice(4);
    else if (parsed.structs.has(t) || parsed.enums.has(t)) type = t;
    else throw new Error(`unknown Go type ${goType}`);
  }
  return { name: '', type, array, optional };
}

const XSD_TYPES = new Set([...Object.values(PRIMITIVES), 'base64Binary']);

/** The selected types and methods, ready to print. */
export interface Selection {
  types: Map<string, { base: string | undefined; fields: SchemaFieldOut[] }>;
  methods: Map<string, { params: SchemaFieldOut[]; returns: SchemaFieldOut | undefined }>;
  enums: Set<string>;
  skippedMethods: string[];
}

/** Computes the root list's closure over field types, base types and polymorphic roots' subtypes. */
export function select(parsed: ParsedGo): Selection {
  const stop = new Set(STOP_TYPES);
  const out: Selection = { types: new Map(), methods: new Map(), enums: new Set(), skippedMethods: [] };
  const queue: string[] = [];
  const want = (type: string): void => {
    if (XSD_TYPES.has(type)) return;
    if (parsed.enums.has(type)) {
      out.enums.add(type);
      return;
    }
    if (stop.has(type) || out.types.has(type) || queue.includes(type)) return;
    queue.push(type);
  };
  const fieldsOf = (struct: GoStruct): SchemaFieldOut[] =>
    struct.fields.map((f) => ({ ...xmlTypeOf(f.goType, f.omitempty, parsed), name: f.name }));

  for (const name of ROOT_METHODS) {
    const requestType = parsed.aliases.get(name);
    const request = requestType ? parsed.structs.get(requestType) : undefined;
    const response = parsed.structs.get(`${name}Response`);
    if (!request || !response) {
      out.skippedMethods.push(name);
      continue;
    }
    const params = fieldsOf(request);
    const returnval = response.fields.find((f) => f.name === 'returnval');
    const returns = returnval
      ? { ...xmlTypeOf(returnval.goType, returnval.omitempty, parsed), name: 'returnval' }
      : undefined;
    out.methods.set(name, { params, returns });
    for (const p of params) want(p.type);
    if (returns) want(returns.type);
  }
  for (const name of ROOT_TYPES) want(name);
  // Subtypes: any struct whose base chain reaches a polymorphic root.
  const isUnder = (name: string, root: string): boolean => {
    for (let t: string | undefined = name; t; t = parsed.structs.get(t)?.base) if (t === root) return true;
    return false;
  };
  for (const name of [...parsed.structs.keys()].sort()) {
    if (POLYMORPHIC_ROOTS.some((root) => isUnder(name, root))) want(name);
  }
  while (queue.length > 0) {
    const name = queue.shift()!;
    const struct = parsed.structs.get(name);
    if (!struct) throw new Error(`type ${name} is not a struct in types.go`);
    const fields = fieldsOf(struct);
    out.types.set(name, { base: struct.base, fields });
    if (struct.base) want(struct.base);
    for (const f of fields) want(f.type);
  }
  return out;
}

/** Prints a field as `name:Type`, `+` when it repeats, `?` when optional. */
function printField(f: SchemaFieldOut): string {
  return `${f.name}:${f.type}${f.array ? '+' : ''}${f.optional ? '?' : ''}`;
}

/** Renders the generated module's text (deterministic: sorted by name). */
export function render(selection: Selection, version: string, vim25Version: string): string {
  const typeLines = [...selection.types.keys()].sort().map((name) => {
    const t = selection.types.get(name)!;
    return [t.base ? `${name}<${t.base}` : name, ...t.fields.map(printField)].join(' ');
  });
  const methodLines = [...selection.methods.keys()].sort().map((name) => {
    const m = selection.methods.get(name)!;
    const parts = [name, ...m.params.map(printField)];
    if (m.returns) parts.push(`=${m.returns.type}${m.returns.array ? '+' : ''}`);
    return parts.join(' ');
  });
  const enums = [...selection.enums].sort();
  return `// Generated by \`node scripts/generate-schema.ts\` from govmomi ${version} vim25/types. Do not edit.
//
// One type per line: \`Name<Base field:Type ...\`, fields in schema order, \`+\` repeats, \`?\` optional.
// One method per line: \`Name param:Type ... =ReturnType\` (no \`=\` when it returns nothing).

/** govmomi version the tables were read from. */
export const GOVMOMI_VERSION = '${version}';

/** vim25 API version of that govmomi (its \`vim25.Version\`): the newest these tables describe. */
export const VIM25_VERSION = '${vim25Version}';

/** vim25 data types (see the format above); expanded lazily by schema.ts. */
export const TYPES = \`${typeLines.join('\n')}\`;

/** vim25 methods (see the format above). */
export const METHODS = \`${methodLines.join('\n')}\`;

/** Enumeration type names referenced by TYPES: their values travel as strings. */
export const ENUMS = \`${enums.join(' ')}\`;
`;
}

/** Reads govmomi at the pinned version and renders the generated module. */
export function generateSchema(): { text: string; selection: Selection } {
  const dir = govmomiTypesDir();
  // unreleased.go declares types that types.go fields already reference (vim 9.1 additions).
  const unreleased = readFileSync(join(dir, 'unreleased.go'), 'utf8');
  const parsed = parseTypesGo(
    `${readFileSync(join(dir, 'types.go'), 'utf8')}\n${unreleased}`,
    `${readFileSync(join(dir, 'enum.go'), 'utf8')}\n${unreleased}`,
  );
  const selection = select(parsed);
  return { text: render(selection, pinnedGovmomiVersion(), vim25VersionOf(dir)), selection };
}

/** The `Version` constant of govmomi's vim25/client.go (next to the types directory). */
export function vim25VersionOf(typesDir: string): string {
  const clientGo = readFileSync(join(typesDir, '..', 'client.go'), 'utf8');
  const match = /^\s*Version\s*=\s*"(\d+(?:\.\d+)+)"/m.exec(clientGo);
  if (!match?.[1]) throw new Error(`no vim25 Version constant in ${join(typesDir, '..', 'client.go')}`);
  return match[1];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { text, selection } = generateSchema();
  for (const name of selection.skippedMethods)
    console.error(`generate-schema: no method ${name} in vim25, skipped`);
  if (process.argv.includes('--check')) {
    const current = existsSync(OUTPUT_PATH) ? readFileSync(OUTPUT_PATH, 'utf8') : '';
    if (current !== text) {
      console.error(`${OUTPUT_PATH} is stale: run node scripts/generate-schema.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT_PATH, text);
    console.error(
      `generate-schema: ${selection.types.size} types, ${selection.methods.size} methods, ${selection.enums.size} enums, ${text.length} bytes -> ${OUTPUT_PATH}`,
    );
  }
}
