/** Every command, in help order: `serve` (the default) first, then the operator commands. */
import type { Command } from '../command.ts';
import { describeCommand } from './describe.ts';
import { destroyCommand } from './destroy.ts';
import { labelCommand } from './label.ts';
import { provisionCommand } from './provision.ts';
import { pushIsoCommand } from './push-iso.ts';
import { serveCommand } from './serve.ts';
import { validateCommand } from './validate.ts';

/** Every operator command, in help order. */
export const OPERATOR_COMMANDS: readonly Command[] = [
  describeCommand,
  provisionCommand,
  destroyCommand,
  validateCommand,
  labelCommand,
  pushIsoCommand,
];

export const COMMANDS: readonly Command[] = [serveCommand, ...OPERATOR_COMMANDS];
