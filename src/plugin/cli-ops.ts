/**
 * Operator commands: describe, provision, destroy, validate, label and push-iso. Each connects to
 * vCenter with the shared connection flags, does one thing, prints a table (or `--json`) and exits.
 */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { ValidationError, VSphereError } from '../errors.ts';
import { FileExistsError } from '../provider/upload.ts';
import { InfraKitTags, type InstanceSpec, type JsonValue } from '../spi/instance.ts';
import {
  booleanFlag,
  type FlagSpec,
  listFlag,
  type ParsedArgs,
  parsePairs,
  stringFlag,
  UsageError,
} from './cli-args.ts';
import {
  type Command,
  type CommandContext,
  positionals,
  readJsonInput,
  setupLogging,
  withProvider,
  writeJson,
} from './cli-command.ts';
import {
  type CliProvider,
  CONNECTION_FLAGS,
  HELP_FLAG,
  LOG_LEVEL_FLAG,
  PLACEMENT_FLAGS,
  TYPE_FLAG,
} from './cli-options.ts';
import { ExitCode, instanceTable, ProgressReporter } from './cli-output.ts';
import { COMMAND_TIMEOUT_FLAG } from './cli-timeout.ts';

const JSON_FLAG: FlagSpec = { name: 'json', type: 'boolean', help: 'print JSON instead of text' };
const GROUP_FLAG: FlagSpec = {
  name: 'group',
  type: 'string',
  value: 'GROUP',
  help: `group id (the ${InfraKitTags.group} tag)`,
};
const TAG_FLAG: FlagSpec = { name: 'tag', type: 'list', value: 'K=V', help: 'a tag' };

const COMMON: readonly FlagSpec[] = [
  ...CONNECTION_FLAGS,
  COMMAND_TIMEOUT_FLAG,
  TYPE_FLAG,
  LOG_LEVEL_FLAG('error'),
  HELP_FLAG,
];

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const describeCommand: Command = {
  name: 'describe',
  summary: 'list the instances of a group (table or JSON)',
  usage: 'describe [--group GROUP] [--tag K=V ...] [--properties] [--json] [flags]',
  description:
    'Lists the instances whose tags include every given tag, as InfraKit sees them: NAME, POWER,\n' +
    'IP (the guest IP VMware Tools reports) and TAGS. Without --group, every InfraKit-managed VM of\n' +
    'the datacenter(s). --json prints InfraKit descriptions; --properties adds vCenter details\n' +
    '(MoRef, power state, guest NICs, instance UUID) to them.',
  flags: [
    GROUP_FLAG,
    { ...TAG_FLAG, help: 'only instances with this tag' },
    { name: 'properties', type: 'boolean', help: 'include vCenter details in --json output' },
    JSON_FLAG,
    ...COMMON,
  ],
  async run(parsed, ctx) {
    positionals(parsed, [], 'describe');
    setupLogging(parsed, ctx, 'error');
    const tags = parsePairs(listFlag(parsed, 'tag'), '--tag', 'describe');
    const group = stringFlag(parsed, 'group');
    if (group !== undefined) tags[InfraKitTags.group] = group;
    const json = booleanFlag(parsed, 'json') === true;
    const withProperties = booleanFlag(parsed, 'properties') === true;
    const found = await withProvider(parsed, ctx, 'describe', (provider, signal) =>
      provider.describe(tags, { properties: true, ...(signal ? { signal } : {}) }),
    );
    if (json) {
      writeJson(
        ctx,
        withProperties
          ? found
          : found.map(({ Properties: _omitted, ...description }) => ({ ...description })),
      );
    } else if (found.length === 0) {
      ctx.io.stderr.write(
        group === undefined ? 'no instances\n' : `no instances in group ${JSON.stringify(group)}\n`,
      );
    } else {
      ctx.io.stdout.write(instanceTable(found));
    }
    return ExitCode.ok;
  },
};

export const provisionCommand: Command = {
  name: 'provision',
  summary: 'create one instance from an InfraKit spec',
  usage: 'provision <spec.json | -> [--group GROUP] [--tag K=V ...] [--json] [flags]',
  description:
    'Creates one VM from an InfraKit instance spec ({"Properties": {...}, "Tags": {...}, "Init": "..."},\n' +
    'read from a file or "-" for standard input) and waits until it exists; prints its ID.\n' +
    `The tags must include ${InfraKitTags.group} (or give --group) and ${InfraKitTags.configHash}.`,
  flags: [
    { ...GROUP_FLAG, help: `sets the ${InfraKitTags.group} tag` },
    { ...TAG_FLAG, help: 'adds a tag to the spec' },
    JSON_FLAG,
    ...CONNECTION_FLAGS,
    COMMAND_TIMEOUT_FLAG,
    ...PLACEMENT_FLAGS,
    TYPE_FLAG,
    LOG_LEVEL_FLAG('error'),
    HELP_FLAG,
  ],
  async run(parsed, ctx) {
    const [source] = positionals(parsed, ['<spec.json | ->'], 'provision');
    setupLogging(parsed, ctx, 'error');
    const extraTags = parsePairs(listFlag(parsed, 'tag'), '--tag', 'provision');
    const group = stringFlag(parsed, 'group');
    if (group !== undefined) extraTags[InfraKitTags.group] = group;
    const raw = await readJsonInput(source!, ctx, 'provision');
    if (!isObject(raw)) {
      throw new ValidationError(
        [{ field: 'Spec', message: 'expected a JSON object {"Properties": {...}, "Tags": {...}}' }],
        'invalid instance spec',
      );
    }
    const spec = { ...raw } as InstanceSpec;
    if (Object.keys(extraTags).length > 0) {
      const tags = isObject(raw.Tags) ? raw.Tags : {};
      spec.Tags = { ...(tags as Record<string, string>), ...extraTags };
    }
    const json = booleanFlag(parsed, 'json') === true;
    const tty = ctx.io.stderr.isTTY === true;
    let shown = false;
    const id = await withProvider(parsed, ctx, 'provision', (provider, signal) =>
      provider.provision(spec, {
        wait: true,
        ...(signal ? { signal } : {}),
        ...(tty
          ? {
              onProgress: (event: { phase: string; percent?: number }) => {
                shown = true;
                const percent = event.percent === undefined ? '' : ` ${Math.round(event.percent)}%`;
                ctx.io.stderr.write(`\rprovisioning: ${event.phase}${percent}\x1b[K`);
              },
            }
          : {}),
      }),
    ).finally(() => {
      if (shown) ctx.io.stderr.write('\n');
    });
    if (json) writeJson(ctx, { ID: id });
    else ctx.io.stdout.write(`${id}\n`);
    return ExitCode.ok;
  },
};

export const destroyCommand: Command = {
  name: 'destroy',
  summary: 'destroy one instance',
  usage: 'destroy <id> [--reason terminate|rolling_update] [--json] [flags]',
  description:
    'Shuts the VM down (guest shutdown, then power-off) and destroys it; with --ignoreOnDestroy it\n' +
    'only marks it "Deleted by InfraKit". Only VMs whose notes say InfraKit manages them are touched.\n' +
    'Like govc vm.destroy, an ID that names no instance (never made, or already gone) exits 1 with\n' +
    'NOT_FOUND, and a VM InfraKit does not manage exits 1 with NOT_MANAGED, left alone. A clone of\n' +
    'that name still running in vCenter (started by another process) is waited for, within\n' +
    '--timeout, then destroyed.',
  flags: [
    {
      name: 'reason',
      type: 'string',
      value: 'REASON',
      choices: ['terminate', 'rolling_update'],
      default: 'terminate',
      help: 'why it is destroyed (InfraKit Context.Reason)',
    },
    {
      name: 'ignoreOnDestroy',
      aliases: ['ignore-on-destroy'],
      type: 'boolean',
      help: 'only mark the VM "Deleted by InfraKit" and keep it',
    },
    JSON_FLAG,
    ...COMMON,
  ],
  async run(parsed, ctx) {
    const [id] = positionals(parsed, ['<id>'], 'destroy');
    setupLogging(parsed, ctx, 'error');
    const reason = (stringFlag(parsed, 'reason') ?? 'terminate') as 'terminate' | 'rolling_update';
    return runAndReport(
      parsed,
      ctx,
      'destroy',
      (provider, signal) => provider.destroy(id!, { Reason: reason }, signal ? { signal } : {}),
      { json: { ID: id, OK: true }, text: `destroyed ${id}` },
    );
  },
};

/** Runs one provider call and says it was done: `json` with --json, the `text` line otherwise. */
async function runAndReport(
  parsed: ParsedArgs,
  ctx: CommandContext,
  command: string,
  call: (provider: CliProvider, signal: AbortSignal | undefined) => Promise<unknown>,
  done: { json: Record<string, unknown>; text: string },
): Promise<number> {
  await withProvider(parsed, ctx, command, call);
  if (booleanFlag(parsed, 'json') === true) writeJson(ctx, done.json);
  else ctx.io.stdout.write(`${done.text}\n`);
  return ExitCode.ok;
}

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check instance properties against vCenter',
  usage: 'validate <properties.json | -> [--json] [flags]',
  description:
    'Checks instance Properties (see docs/properties.md), read from a file or "-" for standard input:\n' +
    'their shape, then that the datacenter, datastore, network, template and host they name exist.\n' +
    'A whole spec ({"Properties": {...}, ...}) is accepted too. Every problem is listed; exit code 3\n' +
    'when there is one.',
  flags: [
    JSON_FLAG,
    ...CONNECTION_FLAGS,
    COMMAND_TIMEOUT_FLAG,
    ...PLACEMENT_FLAGS,
    TYPE_FLAG,
    LOG_LEVEL_FLAG('error'),
    HELP_FLAG,
  ],
  async run(parsed, ctx) {
    const [source] = positionals(parsed, ['<properties.json | ->'], 'validate');
    setupLogging(parsed, ctx, 'error');
    const raw = await readJsonInput(source!, ctx, 'validate');
    const properties = isObject(raw) && isObject(raw.Properties) ? raw.Properties : raw;
    return runAndReport(parsed, ctx, 'validate', (provider) => provider.validate(properties), {
      json: { OK: true },
      text: 'OK',
    });
  },
};

export const labelCommand: Command = {
  name: 'label',
  summary: 'merge labels into an instance’s tags',
  usage: 'label <id> K=V [K=V ...] [--json] [flags]',
  description:
    "Merges the labels into the instance's tags (kept in the VM notes). Changing the config hash\n" +
    `(${InfraKitTags.configHash}) is allowed; changing ${InfraKitTags.group} is not.`,
  flags: [JSON_FLAG, ...COMMON],
  async run(parsed, ctx) {
    const [id, ...pairs] = parsed.positionals;
    if (id === undefined) throw new UsageError('missing <id> K=V ...', 'label');
    if (pairs.length === 0) throw new UsageError('missing K=V: give at least one label', 'label');
    setupLogging(parsed, ctx, 'error');
    const labels = parsePairs(pairs, 'label', 'label');
    return runAndReport(parsed, ctx, 'label', (provider) => provider.label(id, labels), {
      json: { ID: id, OK: true },
      text: `labelled ${id}`,
    });
  },
};

export const pushIsoCommand: Command = {
  name: 'push-iso',
  summary: 'upload an ISO (or any file) to a datastore',
  usage: 'push-iso <file> --datastore DATASTORE [--path PATH] [--datacenter DC] [--overwrite] [flags]',
  description:
    'Uploads a local file to a datastore, as `linuxkit push vcenter` did, showing progress on stderr\n' +
    '(a bar on a terminal, percentage lines otherwise). The result can be booted with\n' +
    '"ISOPath": "PATH". An existing file is kept unless --overwrite.',
  flags: [
    {
      name: 'datastore',
      type: 'string',
      value: 'NAME',
      env: 'VCDATASTORE',
      help: 'datastore to upload to (required)',
    },
    {
      name: 'path',
      type: 'string',
      value: 'PATH',
      help: 'path inside the datastore, e.g. iso/linuxkit.iso (default: the file name)',
    },
    { name: 'overwrite', aliases: ['force'], type: 'boolean', help: 'replace an existing file' },
    JSON_FLAG,
    ...COMMON,
  ],
  async run(parsed, ctx) {
    const [file] = positionals(parsed, ['<file>'], 'push-iso');
    setupLogging(parsed, ctx, 'error');
    const local = resolve(ctx.io.cwd, file!);
    let size: number;
    try {
      const stats = await stat(local);
      if (!stats.isFile()) throw new UsageError(`${file}: not a regular file`, 'push-iso');
      size = stats.size;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(
        `${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        'push-iso',
      );
    }
    const datastore = stringFlag(parsed, 'datastore') ?? nonEmpty(ctx.io.env.VCDATASTORE);
    if (datastore === undefined)
      throw new UsageError('--datastore is required (or set VCDATASTORE)', 'push-iso');
    const path = stringFlag(parsed, 'path') ?? basename(local);
    const datacenter = stringFlag(parsed, 'datacenter');
    const progress = new ProgressReporter(ctx.io.stderr, `uploading ${basename(local)}`);
    const result = await withProvider(parsed, ctx, 'push-iso', (provider, signal) =>
      provider.uploadIso(local, {
        datastore,
        path,
        ...(signal ? { signal } : {}),
        ...(datacenter !== undefined ? { datacenter } : {}),
        overwrite: booleanFlag(parsed, 'overwrite') === true,
        onProgress: (sent, total) => progress.update(sent, total),
      }),
    )
      .catch((error: unknown) => {
        if (error instanceof FileExistsError) {
          throw new VSphereError(
            'FILE_EXISTS',
            `${error.message.replace(/ \(pass overwrite.*$/, '')}; use --overwrite to replace it`,
            { cause: error },
          );
        }
        throw error;
      })
      .finally(() => progress.finish());
    if (booleanFlag(parsed, 'json') === true) {
      writeJson(ctx, { DatastorePath: result.datastorePath, Bytes: result.bytes });
    } else {
      ctx.io.stdout.write(`uploaded ${result.datastorePath} (${result.bytes || size} bytes)\n`);
    }
    return ExitCode.ok;
  },
};

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Every operator command, in help order. */
export const OPERATOR_COMMANDS: readonly Command[] = [
  describeCommand,
  provisionCommand,
  destroyCommand,
  validateCommand,
  labelCommand,
  pushIsoCommand,
];
