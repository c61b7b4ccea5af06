/** Flags and helpers the operator commands share. */
import type { JsonValue } from '../../spi/instance.ts';
import { InfraKitTags } from '../../spi/instance.ts';
import { booleanFlag, type FlagSpec, type ParsedArgs } from '../args.ts';
import { type CommandContext, withProvider, writeJson } from '../command.ts';
import { CONNECTION_FLAGS, HELP_FLAG, LOG_LEVEL_FLAG, TYPE_FLAG } from '../flags.ts';
import type { CliProvider } from '../io.ts';
import { ExitCode } from '../output.ts';
import { COMMAND_TIMEOUT_FLAG } from '../timeout.ts';

export const JSON_FLAG: FlagSpec = { name: 'json', type: 'boolean', help: 'print JSON instead of text' };
export const GROUP_FLAG: FlagSpec = {
  name: 'group',
  type: 'string',
  value: 'GROUP',
  help: `group id (the ${InfraKitTags.group} tag)`,
};
export const TAG_FLAG: FlagSpec = { name: 'tag', type: 'list', value: 'K=V', help: 'a tag' };

/** Flags every operator command takes. */
export const COMMON: readonly FlagSpec[] = [
  ...CONNECTION_FLAGS,
  COMMAND_TIMEOUT_FLAG,
  TYPE_FLAG,
  LOG_LEVEL_FLAG('error'),
  HELP_FLAG,
];

export function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Runs one provider call and says it was done: `json` with --json, the `text` line otherwise. */
export async function runAndReport(
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
