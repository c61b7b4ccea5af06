/** `push-iso`: uploads an ISO (or any file) to a datastore. */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { VSphereError } from '../../errors.ts';
import { FileExistsError } from '../../vsphere/upload.ts';
import { booleanFlag, stringFlag, UsageError } from '../args.ts';
import { type Command, positionals, setupLogging, withProvider, writeJson } from '../command.ts';
import { ExitCode, ProgressReporter } from '../output.ts';
import { COMMON, JSON_FLAG, nonEmpty } from './common.ts';

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
