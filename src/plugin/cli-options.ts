/**
 * CLI plumbing shared by every command: the I/O the CLI writes to (with secrets redacted), the
 * connection and provider flags with their environment variables, the `--config` file of
 * subtypes, log levels, and turning all of that into provider options.
 */
import { readFile } from 'node:fs/promises';
import { delimiter, dirname, resolve } from 'node:path';
import { format } from 'node:util';
import createDebug from 'debug';
import { describeValue } from '../options.ts';
import type { VSphereInstanceProviderOptions } from '../provider/provider.ts';
import { VSphereInstanceProvider } from '../provider/provider.ts';
import type { SizedStream, UploadOptions } from '../provider/upload.ts';
import type { InstancePlugin } from '../spi/instance.ts';
import { pemCertificateIssues } from '../transport/tls.ts';
import { type FlagSpec, type ParsedArgs, stringFlag, suggest, UsageError } from './cli-args.ts';

/** Where the CLI writes: `process.stdout`/`process.stderr` or anything with `write`. */
export interface TextOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** What an operator command needs of a provider (VSphereInstanceProvider has it all). */
export interface CliProvider extends InstancePlugin {
  uploadIso(
    source: string | Buffer | SizedStream,
    options: UploadOptions,
  ): Promise<{ datastorePath: string; bytes: number }>;
  /** Logs in now (serve checks the credentials at start-up). */
  connect(signal?: AbortSignal): Promise<unknown>;
  /** Waits for work in flight at most `graceMs`, then logs out; says what was left unfinished. */
  close(options?: { graceMs?: number }): Promise<{ unfinished: string[] } | undefined>;
}

/** Makes the provider of one subtype. */
export type ProviderFactory = (options: VSphereInstanceProviderOptions, subtype: string) => CliProvider;

/** The process around {@link main}: streams, environment, and hooks for tests and embedding. */
export interface CliIo {
  stdout: TextOutput;
  stderr: TextOutput;
  stdin: AsyncIterable<string | Buffer>;
  env: NodeJS.ProcessEnv;
  /** Relative paths on the command line resolve against this. */
  cwd: string;
  /** `serve`: shuts down when aborted, like SIGTERM. */
  signal?: AbortSignal;
  /** `serve`: install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  /** Replaces `new VSphereInstanceProvider(options)`. */
  createProvider?: ProviderFactory;
}

/** The default factory: a VSphereInstanceProvider, with `connect` logging its session in. */
export const defaultProviderFactory: ProviderFactory = (options) => {
  const provider = new VSphereInstanceProvider(options);
  return Object.assign(provider, {
    connect: (signal?: AbortSignal) => provider.client.connect(signal),
  });
};

/** Secrets seen while resolving options; every line the CLI prints is scrubbed of them. */
export class Secrets {
  readonly #values = new Set<string>();

  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < 3) return;
    this.#values.add(secret);
    for (const encoded of [encodeURIComponent(secret), encodeURI(secret)]) this.#values.add(encoded);
  }

  /** Adds the password in a URL, if it has one. */
  addUrl(url: string | undefined): void {
    if (url === undefined) return;
    try {
      const parsed = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`);
      if (parsed.password !== '') {
        this.#values.add(parsed.password);
        try {
          this.add(decodeURIComponent(parsed.password));
        } catch {
          // not percent-encoded properly: the raw form is already covered
        }
      }
    } catch {
      // not a URL: no password to find; the whole value stays out of messages anyway
    }
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is replaced whole.
    for (const value of [...this.#values].sort((a, b) => b.length - a.length)) {
      if (out.includes(value)) out = out.split(value).join('***');
    }
    return out;
  }

  /** `output` with every write scrubbed. */
  wrap(output: TextOutput): TextOutput {
    return {
      write: (chunk: string) => output.write(this.redact(chunk)),
      ...(output.isTTY !== undefined ? { isTTY: output.isTTY } : {}),
      ...(output.columns !== undefined ? { columns: output.columns } : {}),
    };
  }
}

/** `--log-level` values and the `debug` namespaces each turns on. */
export const LOG_LEVELS = {
  error: '',
  info: 'infrakit:vsphere:plugin,infrakit:vsphere:provider',
  debug: 'infrakit:vsphere:*,-infrakit:vsphere:soap:body',
  trace: 'infrakit:vsphere:*',
} as const;

export type LogLevel = keyof typeof LOG_LEVELS;

/** Sends `debug` output for `level` (plus `$DEBUG`) to `stderr`. */
export function configureLogging(level: LogLevel, env: NodeJS.ProcessEnv, stderr: TextOutput): void {
  const namespaces = [LOG_LEVELS[level], env.DEBUG ?? ''].filter((n) => n !== '').join(',');
  createDebug.enable(namespaces);
  createDebug.log = (...args: unknown[]) => {
    stderr.write(`${format(...args)}\n`);
  };
}

export const HELP_FLAG: FlagSpec = { name: 'help', aliases: ['h'], type: 'boolean', help: 'show this help' };

export const LOG_LEVEL_FLAG = (fallback: LogLevel): FlagSpec => ({
  name: 'log-level',
  hidden: ['log_level', 'logLevel'],
  type: 'string',
  value: 'LEVEL',
  choices: Object.keys(LOG_LEVELS),
  default: fallback,
  help: 'log detail on stderr (debug namespaces; $DEBUG adds more)',
});

/** vCenter connection flags (every command). */
export const CONNECTION_FLAGS: readonly FlagSpec[] = [
  {
    name: 'url',
    type: 'string',
    value: 'URL',
    env: 'VCURL',
    help: 'vCenter SDK URL, https://[user[:password]@]host/sdk (prefer a password file or VCPASSWORD)',
  },
  {
    name: 'username',
    hidden: ['user'],
    type: 'string',
    value: 'USER',
    env: 'VCUSERNAME',
    help: 'vCenter user name (overrides the one in the URL)',
  },
  {
    name: 'password-file',
    hidden: ['passwordFile'],
    type: 'string',
    value: 'FILE',
    help: 'read the password from FILE (first line); else env VCPASSWORD; else the URL',
  },
  {
    name: 'ca-file',
    hidden: ['caFile'],
    type: 'string',
    value: 'FILE',
    env: 'VCCAFILE',
    help: 'PEM CA certificate(s) to trust besides the system roots (e.g. the VMCA root)',
  },
  {
    name: 'thumbprint',
    type: 'string',
    value: 'HEX',
    env: 'VCTHUMBPRINT',
    help: "pin vCenter's certificate by SHA-256 (or SHA-1) thumbprint",
  },
  {
    name: 'insecure',
    aliases: ['k'],
    type: 'boolean',
    help: 'accept any vCenter certificate (labs only)',
  },
  {
    name: 'datacenter',
    type: 'string',
    value: 'NAME',
    env: 'VCDATACENTER',
    help: 'default datacenter',
  },
  {
    name: 'config',
    type: 'string',
    value: 'FILE',
    help: 'JSON file of subtypes, each with its own vCenter and defaults (see docs/cli.md)',
  },
];

/** Defaults for new VMs (serve, provision, validate). */
export const PLACEMENT_FLAGS: readonly FlagSpec[] = [
  { name: 'datastore', type: 'string', value: 'NAME', env: 'VCDATASTORE', help: 'default datastore' },
  { name: 'network', type: 'string', value: 'NAME', env: 'VCNETWORK', help: 'default network (port group)' },
  {
    name: 'hostname',
    aliases: ['host'],
    type: 'string',
    value: 'NAME',
    env: 'VCHOST',
    help: 'default ESXi host for new VMs',
  },
  {
    name: 'folder',
    type: 'string',
    value: 'PATH',
    help: "base folder of the group folders (default: the datacenter's VM folder)",
  },
  {
    name: 'vm-prefix',
    hidden: ['vmPrefix'],
    type: 'string',
    value: 'PREFIX',
    help: 'default VM name prefix',
    default: 'vm',
  },
  {
    name: 'ignoreOnDestroy',
    aliases: ['ignore-on-destroy'],
    type: 'boolean',
    help: 'destroy only marks the VM "Deleted by InfraKit" and keeps it',
  },
];

export const TYPE_FLAG: FlagSpec = {
  name: 'type',
  hidden: ['subtype'],
  type: 'string',
  value: 'SUBTYPE',
  help: 'subtype of --config to use (default: its "" entry)',
};

/** One subtype's entry in the `--config` file. */
export interface SubtypeConfig {
  url?: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  passwordEnv?: string;
  datacenter?: string;
  datastore?: string;
  network?: string;
  hostname?: string;
  folder?: string;
  vmPrefix?: string;
  ignoreOnDestroy?: boolean;
  configHashTag?: string;
  shutdownTimeoutMs?: number;
  caFile?: string;
  thumbprint?: string;
  insecure?: boolean;
}

const STRING_KEYS = [
  'url',
  'username',
  'password',
  'passwordFile',
  'passwordEnv',
  'datacenter',
  'datastore',
  'network',
  'hostname',
  'folder',
  'vmPrefix',
  'configHashTag',
  'caFile',
  'thumbprint',
] as const;
const BOOLEAN_KEYS = ['ignoreOnDestroy', 'insecure'] as const;
const NUMBER_KEYS = ['shutdownTimeoutMs'] as const;
const SUBTYPE_KEYS: readonly string[] = [...STRING_KEYS, ...BOOLEAN_KEYS, ...NUMBER_KEYS];

const SUBTYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A parsed `--config` file: subtype name (`''` = default) → entry; file paths already absolute. */
export type ConfigFile = Map<string, SubtypeConfig>;

function configError(file: string, message: string, command?: string): UsageError {
  return new UsageError(`config ${file}: ${message}`, command);
}

/**
 * Reads and checks a `--config` file: `{"subtypes": {"": {...}, "lab": {...}}}`. Every problem is a
 * {@link UsageError} naming the file and the key. Relative `passwordFile`/`caFile` paths are
 * relative to the file's directory.
 */
export async function loadConfigFile(path: string, command?: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw configError(path, `cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`, command);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw configError(path, `not JSON: ${(error as Error).message}`, command);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw configError(path, 'expected an object {"subtypes": {...}}', command);
  }
  const top = data as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'subtypes') {
      const hint = suggest(key, ['subtypes']);
      throw configError(path, `unknown key ${JSON.stringify(key)}${hint ? ` (did you mean ${hint}?)` : ''}`);
    }
  }
  const subtypes = top.subtypes;
  if (typeof subtypes !== 'object' || subtypes === null || Array.isArray(subtypes)) {
    throw configError(path, '"subtypes" must be an object of subtype name → options', command);
  }
  const entries = Object.entries(subtypes as Record<string, unknown>);
  if (entries.length === 0) throw configError(path, '"subtypes" is empty', command);
  const base = dirname(resolve(path));
  const out: ConfigFile = new Map();
  const problems: string[] = [];
  for (const [rawName, raw] of entries) {
    const name = rawName === '.' ? '' : rawName;
    const where = `subtypes[${JSON.stringify(rawName)}]`;
    if (name !== '' && !SUBTYPE_NAME.test(name)) {
      problems.push(`${where}: a subtype name is letters, digits, ".", "_" or "-" (no "/")`);
      continue;
    }
    if (out.has(name)) {
      problems.push(`${where}: the default subtype is given twice ("" and ".")`);
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${where}: expected an object of options`);
      continue;
    }
    const entry: SubtypeConfig = {};
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      if (value === null) continue;
      const at = `${where}.${key}`;
      if ((STRING_KEYS as readonly string[]).includes(key)) {
        if (typeof value !== 'string' || value === '') problems.push(`${at}: expected a non-empty string`);
        else (entry as Record<string, unknown>)[key] = value;
      } else if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
        // JSON has booleans: a string here is a mistake, never a boolean spelled as text.
        if (typeof value !== 'boolean')
          problems.push(`${at}: expected true or false (a JSON boolean), got ${describeValue(value)}`);
        else (entry as Record<string, unknown>)[key] = value;
      } else if ((NUMBER_KEYS as readonly string[]).includes(key)) {
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
          problems.push(`${at}: expected a whole number >= 0`);
        } else (entry as Record<string, unknown>)[key] = value;
      } else {
        const hint = suggest(key, SUBTYPE_KEYS);
        problems.push(`${at}: unknown key${hint ? ` (did you mean ${hint}?)` : ''}`);
      }
    }
    const passwordSources = ['password', 'passwordFile', 'passwordEnv'].filter((k) => k in entry);
    if (passwordSources.length > 1) {
      problems.push(`${where}: give one of ${passwordSources.join(', ')}, not several`);
    }
    const trust = ['caFile', 'thumbprint'].filter((k) => k in entry);
    if (entry.insecure === true && trust.length > 0) {
      problems.push(
        `${where}: insecure cannot be combined with ${trust.join(' or ')} (choose one trust mode)`,
      );
    } else if (trust.length > 1) {
      problems.push(
        `${where}: give caFile or thumbprint, not both (a pinned certificate is trusted whatever its chain)`,
      );
    }
    if (entry.passwordFile !== undefined) entry.passwordFile = resolve(base, entry.passwordFile);
    if (entry.caFile !== undefined) entry.caFile = resolve(base, entry.caFile);
    out.set(name, entry);
  }
  if (problems.length > 0) throw configError(path, problems.join('; '), command);
  return out;
}

function envSetting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

async function readPasswordFile(path: string, what: string, command?: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${what} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      command,
    );
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '') throw new UsageError(`${what} ${path}: the first line is empty`, command);
  return password;
}

/** Reads a CA bundle and checks it is PEM certificates now, not at the first TLS handshake. */
async function readCaFile(path: string, what: string, command?: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${what} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      command,
    );
  }
  // The messages name the file and the certificate's position, never the file's content.
  const issues = pemCertificateIssues(text, path);
  if (issues.length > 0) {
    throw new UsageError(
      `${what} ${path}: not a PEM CA certificate file: ${issues.map((i) => i.message).join('; ')}`,
      command,
    );
  }
  return text;
}

function urlHas(url: string | undefined, part: 'username' | 'password'): boolean {
  if (url === undefined) return false;
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`)[part] !== '';
  } catch {
    return false;
  }
}

/** The provider options of one subtype, and a printable (credential-free) summary. */
export interface ResolvedSubtype {
  subtype: string;
  options: VSphereInstanceProviderOptions;
  /** `https://host/sdk` without credentials, for messages. */
  endpoint: string;
}

/** Shared flag/env values, before any subtype overrides them. */
interface SharedSettings {
  url: string | undefined;
  username: string | undefined;
  passwordFile: string | undefined;
  caFile: string | undefined;
  thumbprint: string | undefined;
  insecure: boolean;
  /**
   * CA files from `GOVC_TLS_CA_CERTS`, used (like `GOVC_INSECURE`) only when none of the plugin's
   * own trust flags and variables is given.
   */
  govcCaFiles: readonly string[];
  /** Where caFile and thumbprint came from (`--ca-file` or `VCCAFILE`), for messages. */
  caFileFrom: string;
  thumbprintFrom: string;
  datacenter: string | undefined;
  datastore: string | undefined;
  network: string | undefined;
  hostname: string | undefined;
  folder: string | undefined;
  vmPrefix: string | undefined;
  ignoreOnDestroy: boolean;
}

/** govc's boolean spelling (Go's strconv.ParseBool); anything else is a usage error. */
function govcBoolean(env: NodeJS.ProcessEnv, name: string, command: string | undefined): boolean {
  const value = envSetting(env, name);
  if (value === undefined) return false;
  if (/^(1|t|T|TRUE|true|True)$/.test(value)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(value)) return false;
  throw new UsageError(`${name}: expected a boolean (1, true, 0 or false), got an unreadable value`, command);
}

function sharedSettings(
  parsed: ParsedArgs,
  env: NodeJS.ProcessEnv,
  cwd: string,
  command: string | undefined,
): SharedSettings {
  const flagOrEnv = (flag: string, variable?: string) =>
    stringFlag(parsed, flag) ?? (variable === undefined ? undefined : envSetting(env, variable));
  // govc's variables come after the plugin's own flags and variables, so a shell set up for govc
  // works as it is: each fills only a setting that nothing of the plugin's own gave.
  const withGovc = (flag: string, variable: string | undefined, govc: string) =>
    flagOrEnv(flag, variable) ?? envSetting(env, govc);
  const pathOf = (value: string | undefined) => (value === undefined ? undefined : resolve(cwd, value));
  const caFile = pathOf(flagOrEnv('ca-file', 'VCCAFILE'));
  const thumbprint = flagOrEnv('thumbprint', 'VCTHUMBPRINT');
  const insecureFlag = parsed.flags.get('insecure') === true;
  const ownTrust = caFile !== undefined || thumbprint !== undefined || insecureFlag;
  const govcCaFiles = ownTrust
    ? []
    : (envSetting(env, 'GOVC_TLS_CA_CERTS') ?? '')
        .split(delimiter)
        .filter((file) => file !== '')
        .map((file) => resolve(cwd, file));
  const govcInsecure = !ownTrust && govcBoolean(env, 'GOVC_INSECURE', command);
  if (govcInsecure && govcCaFiles.length > 0)
    throw new UsageError(
      'GOVC_INSECURE cannot be combined with GOVC_TLS_CA_CERTS: insecure accepts any certificate (choose one trust mode)',
      command,
    );
  return {
    url: withGovc('url', 'VCURL', 'GOVC_URL'),
    username: withGovc('username', 'VCUSERNAME', 'GOVC_USERNAME'),
    passwordFile: pathOf(stringFlag(parsed, 'password-file')),
    caFile,
    thumbprint,
    insecure: insecureFlag || govcInsecure,
    govcCaFiles,
    caFileFrom: stringFlag(parsed, 'ca-file') !== undefined ? '--ca-file' : 'VCCAFILE',
    thumbprintFrom: stringFlag(parsed, 'thumbprint') !== undefined ? '--thumbprint' : 'VCTHUMBPRINT',
    datacenter: withGovc('datacenter', 'VCDATACENTER', 'GOVC_DATACENTER'),
    datastore: withGovc('datastore', 'VCDATASTORE', 'GOVC_DATASTORE'),
    network: withGovc('network', 'VCNETWORK', 'GOVC_NETWORK'),
    hostname: withGovc('hostname', 'VCHOST', 'GOVC_HOST'),
    folder: withGovc('folder', undefined, 'GOVC_FOLDER'),
    vmPrefix: flagOrEnv('vm-prefix'),
    ignoreOnDestroy: parsed.flags.get('ignoreOnDestroy') === true,
  };
}

function printableEndpoint(url: string): string {
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '/sdk' : u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

async function resolveOne(
  subtype: string,
  entry: SubtypeConfig,
  shared: SharedSettings,
  env: NodeJS.ProcessEnv,
  secrets: Secrets,
  command: string | undefined,
): Promise<ResolvedSubtype> {
  const label = subtype === '' ? '' : `subtype ${JSON.stringify(subtype)}: `;
  const url = entry.url ?? shared.url;
  secrets.addUrl(url);
  if (url === undefined) {
    throw new UsageError(
      `${label}no vCenter URL: give --url (or set VCURL)${entry === EMPTY ? '' : ' or "url" in the config file'}`,
      command,
    );
  }
  const entryUrl = entry.url !== undefined;

  // Password: the entry's own source, else (unless the entry's URL carries one) the shared one:
  // --password-file, then VCPASSWORD; the URL's password is the last resort.
  let password: string | undefined;
  if (entry.password !== undefined) password = entry.password;
  else if (entry.passwordFile !== undefined)
    password = await readPasswordFile(entry.passwordFile, `${label}passwordFile`, command);
  else if (entry.passwordEnv !== undefined) {
    password = envSetting(env, entry.passwordEnv);
    if (password === undefined)
      throw new UsageError(`${label}passwordEnv: ${entry.passwordEnv} is not set`, command);
  } else if (!(entryUrl && urlHas(url, 'password'))) {
    if (shared.passwordFile !== undefined)
      password = await readPasswordFile(shared.passwordFile, '--password-file', command);
    else password = envSetting(env, 'VCPASSWORD') ?? envSetting(env, 'GOVC_PASSWORD');
  }
  secrets.add(password);

  let username: string | undefined = entry.username;
  if (username === undefined && !(entryUrl && urlHas(url, 'username'))) username = shared.username;

  const entryTls =
    entry.caFile !== undefined || entry.thumbprint !== undefined || entry.insecure !== undefined;
  const caFile = entryTls ? entry.caFile : shared.caFile;
  const thumbprint = entryTls ? entry.thumbprint : shared.thumbprint;
  const insecure = entryTls ? entry.insecure === true : shared.insecure;
  let ca: string | undefined;
  if (caFile !== undefined)
    ca = await readCaFile(caFile, `${label}${entryTls ? 'caFile' : shared.caFileFrom}`, command);
  else if (!entryTls && shared.govcCaFiles.length > 0) {
    const bundles: string[] = [];
    for (const file of shared.govcCaFiles) bundles.push(await readCaFile(file, 'GOVC_TLS_CA_CERTS', command));
    ca = bundles.join('\n');
  }

  const pick = <K extends keyof SubtypeConfig & keyof SharedSettings>(key: K) => entry[key] ?? shared[key];
  const datacenter = pick('datacenter');
  const datastore = pick('datastore');
  const network = pick('network');
  const host = pick('hostname');
  const folder = pick('folder');
  const vmPrefix = pick('vmPrefix');
  const options: VSphereInstanceProviderOptions = {
    url,
    env: {},
    tls: {
      ...(ca !== undefined ? { ca } : {}),
      ...(thumbprint !== undefined ? { thumbprint } : {}),
      ...(insecure ? { insecure: true } : {}),
    },
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(datacenter !== undefined ? { datacenter } : {}),
    ...(datastore !== undefined ? { datastore } : {}),
    ...(network !== undefined ? { network } : {}),
    ...(host !== undefined ? { host } : {}),
    ...(folder !== undefined ? { folder } : {}),
    ...(vmPrefix !== undefined ? { vmPrefix } : {}),
    ignoreOnDestroy: entry.ignoreOnDestroy ?? shared.ignoreOnDestroy,
    ...(entry.configHashTag !== undefined ? { configHashTag: entry.configHashTag } : {}),
    ...(entry.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: entry.shutdownTimeoutMs } : {}),
  };
  return { subtype, options, endpoint: printableEndpoint(url) };
}

/** One trust mode from the flags and environment: insecure, a pin, or a CA bundle. */
function checkSharedTrust(shared: SharedSettings, command: string | undefined): void {
  const trust = [
    ...(shared.caFile !== undefined ? [shared.caFileFrom] : []),
    ...(shared.thumbprint !== undefined ? [shared.thumbprintFrom] : []),
  ];
  if (shared.insecure && trust.length > 0) {
    throw new UsageError(
      `--insecure cannot be combined with ${trust.join(' or ')}: insecure accepts any certificate (choose one trust mode)`,
      command,
    );
  }
  if (trust.length > 1) {
    throw new UsageError(
      `${trust.join(' and ')} given together: a pinned certificate is trusted whatever its chain, so give one`,
      command,
    );
  }
}

const EMPTY: SubtypeConfig = Object.freeze({});

/**
 * Resolves the provider options of every subtype: from `--config` when given (entry > flag > env),
 * else one default subtype from flags and environment. With `only`, just that subtype.
 */
export async function resolveSubtypes(
  parsed: ParsedArgs,
  io: Pick<CliIo, 'env' | 'cwd'>,
  secrets: Secrets,
  command: string | undefined,
  only?: string,
): Promise<ResolvedSubtype[]> {
  const shared = sharedSettings(parsed, io.env, io.cwd, command);
  // Before any file is read: a contradiction on the command line is refused even when every
  // subtype of --config brings its own trust.
  checkSharedTrust(shared, command);
  const configPath = stringFlag(parsed, 'config');
  if (configPath === undefined) {
    if (only !== undefined && only !== '' && only !== '.') {
      throw new UsageError(`--type ${only} needs --config (subtypes are defined there)`, command);
    }
    return [await resolveOne('', EMPTY, shared, io.env, secrets, command)];
  }
  const config = await loadConfigFile(resolve(io.cwd, configPath), command);
  const wanted = only === undefined ? undefined : only === '.' ? '' : only;
  if (wanted !== undefined && !config.has(wanted)) {
    const names = [...config.keys()].map((n) => JSON.stringify(n)).join(', ');
    throw new UsageError(
      `--type ${JSON.stringify(wanted)}: no such subtype in ${configPath} (${names})`,
      command,
    );
  }
  const out: ResolvedSubtype[] = [];
  for (const [name, entry] of config) {
    if (wanted !== undefined && name !== wanted) continue;
    out.push(await resolveOne(name, entry, shared, io.env, secrets, command));
  }
  return out;
}

/** Makes the provider of a resolved subtype; a bad URL or TLS option is a usage error. */
export function makeProvider(
  resolved: ResolvedSubtype,
  factory: ProviderFactory,
  command?: string,
): CliProvider {
  try {
    return factory(resolved.options, resolved.subtype);
  } catch (error) {
    const label = resolved.subtype === '' ? '' : `subtype ${JSON.stringify(resolved.subtype)}: `;
    throw new UsageError(`${label}${(error as Error).message}`, command);
  }
}
