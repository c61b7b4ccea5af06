/** `describe`: lists the instances of a group (or all) with their tags and power state. */
import { InfraKitTags } from '../../spi/instance.ts';
import { booleanFlag, listFlag, parsePairs, stringFlag } from '../args.ts';
import { type Command, positionals, setupLogging, withProvider, writeJson } from '../command.ts';
import { ExitCode, instanceTable } from '../output.ts';
import { COMMON, GROUP_FLAG, JSON_FLAG, TAG_FLAG } from './common.ts';

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
