/**
 * Turns flags, environment and the `--config` file into the provider options of each subtype:
 * credentials (password files, URLs, govc variables), trust (CA files, thumbprints) and defaults.
 */
import { readFile } from 'node:fs/promises';
import { delimiter, resolve } from 'node:path';
import { pemCertificateIssues } from '../index.ts';
import type { VSphereInstanceProviderOptions } from '../provider/provider.ts';
import { type ParsedArgs, stringFlag, UsageError } from './args.ts';
import { loadConfigFile, type SubtypeConfig } from './config-file.ts';
import type { CliIo, CliProvider, ProviderFactory } from './io.ts';
import type { Secrets } from './secrets.ts';

function envSetting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** A file the user named, read as text; one that cannot be read is a usage error naming it. */
async function readUserFile(path: string, what: string, command?: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${what} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      command,
    );
  }
}

async function readPasswordFile(path: string, what: string, command?: string): Promise<string> {
  const text = await readUserFile(path, what, command);
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '') throw new UsageError(`${what} ${path}: the first line is empty`, command);
  return password;
}

/** Reads a CA bundle and checks it is PEM certificates now, not at the first TLS handshake. */
async function readCaFile(path: string, what: string, command?: string): Promise<string> {
  const text = await readUserFile(path, what, command);
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
    ...(entry.maxConcurrentBuildsPerHost !== undefined
      ? { maxConcurrentBuildsPerHost: entry.maxConcurrentBuildsPerHost }
      : {}),
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
