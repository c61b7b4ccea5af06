#!/usr/bin/env node
/**
 * `infrakit-instance-vsphere`: the command-line tool. `serve` (the default) runs the InfraKit
 * instance plugin; describe, provision, destroy, validate, label and push-iso are for operators.
 * See docs/cli.md.
 *
 * Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 validation error, 4 connection or
 * login error, 5 timed out ({@link ExitCode}).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.ts';
import { TlsError } from '../transport/errors.ts';
import { formatFlags, parseArgs, suggest, UsageError } from './args.ts';
import type { Command, CommandContext } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { serveCommand } from './commands/serve.ts';
import { type CliIo, defaultProviderFactory } from './io.ts';
import { ExitCode, errorJson, errorLine, exitCodeFor, probeThumbprint } from './output.ts';
import { Secrets } from './secrets.ts';

export { UsageError } from './args.ts';
export { COMMANDS } from './commands/index.ts';
export type { CliIo, CliProvider, ProviderFactory, TextOutput } from './io.ts';
export { ExitCode } from './output.ts';

export const PROGRAM = 'infrakit-instance-vsphere';

/** The package version, read from the package.json above this file (src/ or dist/). */
export function packageVersion(): string {
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 4; i += 1) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: unknown;
          version?: unknown;
        };
        if (pkg.name === PROGRAM && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // no package.json here: look further up
      }
      dir = dirname(dir);
    }
  } catch {
    // import.meta.url unavailable (a CommonJS bundle)
  }
  return 'unknown';
}

function generalHelp(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `${PROGRAM} ${version}: InfraKit instance plugin and operator tool for VMware vCenter

Usage:
  ${PROGRAM} [serve] [flags]          run the plugin (the default command)
  ${PROGRAM} <command> [arguments] [flags]
  ${PROGRAM} <command> --help         flags of one command

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
  ${'help'.padEnd(width)}  show help of a command
  ${'version'.padEnd(width)}  print the version

Connection (every command): --url or VCURL (https://[user[:password]@]host/sdk), the password
from --password-file, VCPASSWORD or the URL, and TLS trust with --ca-file, --thumbprint or
--insecure; --timeout bounds the wait for vCenter (exit 5). Defaults for new VMs: --datacenter,
--datastore, --network, --hostname (VCDATACENTER, VCDATASTORE, VCNETWORK, VCHOST).

Exit codes:
  0  ok
  1  the operation failed
  2  usage error (command line or --config file)
  3  validation error (properties, spec or labels rejected; every problem is listed)
  4  vCenter unreachable, TLS not trusted, or login refused
  5  timed out: vCenter did not answer within --timeout (or a call's timeout)
`;
}

function commandHelp(command: Command): string {
  return `Usage: ${PROGRAM} ${command.usage}

${command.description}

Flags:
${formatFlags(command.flags)}
${command.footer === undefined ? '' : `\n${command.footer}\n`}
Exit codes: 0 ok, 1 failed, 2 usage, 3 validation, 4 connection/login, 5 timed out.
`;
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function defaultIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  };
}

function reportError(
  error: unknown,
  ctx: CommandContext,
  json: boolean,
  thumbprint: string | undefined,
): void {
  const { stderr } = ctx.io;
  if ((error as { reported?: unknown } | null)?.reported !== true) {
    if (error instanceof ValidationError && error.issues.length > 1) {
      const first = `${error.issues[0]!.field}: ${error.issues[0]!.message}`;
      const at = error.message.indexOf(`: ${first}`);
      stderr.write(`${PROGRAM}: ${at > 0 ? error.message.slice(0, at) : 'invalid input'}:\n`);
      for (const issue of error.issues) {
        // Some messages already start with their field; do not say it twice.
        const message = issue.message.startsWith(`${issue.field}: `)
          ? issue.message.slice(issue.field.length + 2)
          : issue.message;
        stderr.write(`  ${issue.field}: ${message}\n`);
      }
    } else {
      stderr.write(`${PROGRAM}: ${errorLine(error)}\n`);
    }
    const sha256 = error instanceof TlsError && error.code === 'TLS_UNTRUSTED' ? thumbprint : undefined;
    if (sha256 !== undefined) {
      stderr.write(
        `The server presents a certificate with SHA-256 thumbprint ${sha256}.\n` +
          'If that is your vCenter, pin it with --thumbprint (or VCTHUMBPRINT), or trust its CA with --ca-file.\n',
      );
    }
  }
  if (error instanceof UsageError) {
    stderr.write(
      `Run '${PROGRAM} ${error.command === undefined ? '' : `${error.command} `}--help' for usage.\n`,
    );
  }
  if (json && !(error instanceof UsageError))
    ctx.io.stdout.write(`${JSON.stringify(errorJson(error), null, 2)}\n`);
}

/**
 * Runs the CLI with `argv` (without node and the script) and returns the exit code. `io` replaces
 * the process's streams, environment and working directory (tests, embedding); `serve` resolves
 * once it has shut down.
 */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const base = { ...defaultIo(), ...io };
  const secrets = new Secrets();
  secrets.add(base.env.VCPASSWORD);
  secrets.addUrl(base.env.VCURL);
  const ctx: CommandContext = {
    io: { ...base, stdout: secrets.wrap(base.stdout), stderr: secrets.wrap(base.stderr) },
    secrets,
    factory: base.createProvider ?? defaultProviderFactory,
    version: packageVersion(),
  };
  const args = [...argv];
  const first = args[0];
  let command: Command;
  if (first === undefined || first.startsWith('-')) {
    if (first === '--help' || first === '-help' || first === '-h') {
      ctx.io.stdout.write(generalHelp(ctx.version));
      return ExitCode.ok;
    }
    if (first === '--version' || first === '-version') {
      ctx.io.stdout.write(`${ctx.version}\n`);
      return ExitCode.ok;
    }
    command = serveCommand;
  } else if (first === 'help') {
    const topic = args[1];
    const wanted = topic === undefined ? undefined : findCommand(topic);
    if (topic !== undefined && wanted === undefined) {
      ctx.io.stderr.write(`${PROGRAM}: unknown command ${JSON.stringify(topic)}\n`);
      return ExitCode.usage;
    }
    ctx.io.stdout.write(wanted === undefined ? generalHelp(ctx.version) : commandHelp(wanted));
    return ExitCode.ok;
  } else if (first === 'version') {
    ctx.io.stdout.write(`${ctx.version}\n`);
    return ExitCode.ok;
  } else {
    const found = findCommand(first);
    if (found === undefined) {
      const hint = suggest(first, [...COMMANDS.map((c) => c.name), 'help', 'version']);
      ctx.io.stderr.write(
        `${PROGRAM}: unknown command ${JSON.stringify(first)}${hint === undefined ? '' : ` (did you mean ${hint}?)`}\n` +
          `Run '${PROGRAM} --help' for the list of commands.\n`,
      );
      return ExitCode.usage;
    }
    command = found;
    args.shift();
  }

  let json = false;
  try {
    const parsed = parseArgs(args, command.flags, command.name);
    if (parsed.flags.get('help') === true) {
      ctx.io.stdout.write(commandHelp(command));
      return ExitCode.ok;
    }
    json = parsed.flags.get('json') === true;
    return await command.run(parsed, ctx);
  } catch (error) {
    const thumbprint =
      error instanceof TlsError && error.code === 'TLS_UNTRUSTED'
        ? (error.sha256 ?? (await probeThumbprint(ctx.endpoint)))
        : undefined;
    reportError(error, ctx, json, thumbprint);
    return exitCodeFor(error);
  }
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Whatever still holds the event loop (a slow logout) gets two seconds.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (error: unknown) => {
      process.stderr.write(`${PROGRAM}: ${errorLine(error)}\n`);
      process.exit(ExitCode.failed);
    },
  );
}
