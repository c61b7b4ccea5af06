/** `validate`: checks instance properties, as the plugin would before provisioning. */
import { type Command, positionals, readJsonInput, setupLogging } from '../command.ts';
import { CONNECTION_FLAGS, HELP_FLAG, LOG_LEVEL_FLAG, PLACEMENT_FLAGS, TYPE_FLAG } from '../flags.ts';
import { COMMAND_TIMEOUT_FLAG } from '../timeout.ts';
import { isObject, JSON_FLAG, runAndReport } from './common.ts';

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
