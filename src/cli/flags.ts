/** Flags shared by several commands: help, log level, the vCenter connection, placement, subtype. */
import type { FlagSpec } from './args.ts';
import { LOG_LEVELS, type LogLevel } from './logging.ts';

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
