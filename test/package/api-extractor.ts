/**
 * api-extractor's view of one entry point of an installed package: the names its public
 * signatures use without the entry point exporting them (`ae-forgotten-export`), and any compiler
 * error in its declarations. Reports, API files and doc models are turned off: only the analysis.
 */
import { join } from 'node:path';
import {
  Extractor,
  ExtractorConfig,
  ExtractorLogLevel,
  type ExtractorMessage,
} from '@microsoft/api-extractor';

export function apiProblems(packageDir: string, entry: string, typeRoots: string): string[] {
  const entryFile = join(packageDir, entry);
  const config = ExtractorConfig.prepare({
    configObject: {
      mainEntryPointFilePath: entryFile,
      projectFolder: packageDir,
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            strict: true,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            types: ['node'],
            typeRoots: [typeRoots],
          },
          files: [entryFile],
        },
      },
      apiReport: { enabled: false },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
        extractorMessageReporting: {
          default: { logLevel: ExtractorLogLevel.None },
          'ae-forgotten-export': { logLevel: ExtractorLogLevel.Warning },
        },
        tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: join(packageDir, 'package.json'),
  });
  const problems: string[] = [];
  Extractor.invoke(config, {
    localBuild: true,
    messageCallback: (message: ExtractorMessage) => {
      if (message.category === 'Compiler' || message.messageId === 'ae-forgotten-export')
        problems.push(`${message.messageId}: ${message.text}`);
      message.handled = true;
    },
  });
  return problems;
}
