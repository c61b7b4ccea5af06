/** `provision`: makes one VM from an InfraKit instance spec (a file or stdin). */
import { ValidationError } from '../../errors.ts';
import { InfraKitTags, type InstanceSpec } from '../../spi/instance.ts';
import { booleanFlag, listFlag, parsePairs, stringFlag } from '../args.ts';
import {
  type Command,
  positionals,
  readJsonInput,
  setupLogging,
  withProvider,
  writeJson,
} from '../command.ts';
import { CONNECTION_FLAGS, HELP_FLAG, LOG_LEVEL_FLAG, PLACEMENT_FLAGS, TYPE_FLAG } from '../flags.ts';
import { ExitCode } from '../output.ts';
import { COMMAND_TIMEOUT_FLAG } from '../timeout.ts';
import { GROUP_FLAG, isObject, JSON_FLAG, TAG_FLAG } from './common.ts';

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
