/** `destroy`: destroys (or, with ignoreOnDestroy, marks) one instance. */
import { stringFlag } from '../args.ts';
import { type Command, positionals, setupLogging } from '../command.ts';
import { COMMON, JSON_FLAG, runAndReport } from './common.ts';

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
