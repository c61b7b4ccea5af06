/** `label`: replaces the InfraKit tags of one instance. */
import { InfraKitTags } from '../../spi/instance.ts';
import { parsePairs, UsageError } from '../args.ts';
import { type Command, setupLogging } from '../command.ts';
import { COMMON, JSON_FLAG, runAndReport } from './common.ts';

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
