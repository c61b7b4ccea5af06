/**
 * The package as an npm user gets it: `npm pack`, installed into a fresh project with the newest
 * TypeScript, where the README's TypeScript blocks and a typed example must compile under
 * `strict`, `exactOptionalPropertyTypes` and `noUncheckedIndexedAccess`; a misspelt property key
 * must not; the example runs against vcsim as an ES module and as CommonJS; and api-extractor
 * finds no type in a public signature that its entry point (`.`, `./vsphere`, `./testing`) does
 * not export, and attw that each resolves under node10, node16 (CJS and ESM) and bundler.
 *
 * Needs the build (CI builds before testing) and the npm registry (CI reaches it): the temporary
 * project installs the tarball's dependencies, `typescript@latest` and `@types/node` there.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { locateVcsim } from '../vcsim/locate.ts';
import { apiProblems } from './api-extractor.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILT = existsSync(join(ROOT, 'dist', 'index.js'));
const FIXTURES = fileURLToPath(new URL('fixtures/', import.meta.url));

/** The compiler options a careful user has: the README promises its blocks compile under them. */
const USER_TSCONFIG = {
  compilerOptions: {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    types: ['node'],
    skipLibCheck: false,
    outDir: 'out',
  },
};

let project: string;
let tarball: string;

async function sh(command: string, args: string[], cwd = project, env: NodeJS.ProcessEnv = {}) {
  try {
    return await run(command, args, {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 240_000,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}

/** Compiles `files` with the user's options; returns the diagnostics (empty when it compiles). */
async function compile(name: string, files: string[], emit = false, rootDir = '.'): Promise<string> {
  await writeFile(
    join(project, `${name}.tsconfig.json`),
    JSON.stringify({
      ...USER_TSCONFIG,
      compilerOptions: { ...USER_TSCONFIG.compilerOptions, noEmit: !emit, rootDir },
      files,
    }),
  );
  try {
    await run(join(project, 'node_modules', '.bin', 'tsc'), ['-p', `${name}.tsconfig.json`], {
      cwd: project,
    });
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

describe('the packed package in a fresh project', {
  skip: BUILT ? false : 'dist/ is not built (npm run build; CI builds before testing)',
}, () => {
  before(async () => {
    project = await mkdtemp(join(tmpdir(), 'ikv-package-'));
    const { stdout } = await sh('npm', ['pack', '--silent', '--pack-destination', project], ROOT);
    tarball = join(project, stdout.trim().split('\n').pop()!);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
    );
    await sh('npm', [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      tarball,
      'typescript@latest',
      '@types/node@22',
    ]);
  });
  after(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('compiles every TypeScript block of the README on its own, with the newest TypeScript', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
    assert.ok(blocks.length >= 2, `found ${blocks.length} blocks`);
    const files: string[] = [];
    for (const [n, code] of blocks.entries()) {
      const file = `readme-${n}.ts`;
      await writeFile(join(project, file), `${code}\nexport {};\n`);
      files.push(file);
    }
    const { stdout: version } = await sh(join(project, 'node_modules', '.bin', 'tsc'), ['--version']);
    console.log(`README blocks compiled with TypeScript ${version.trim()}`);
    assert.equal(await compile('readme', files, true), '');
    // The first one is the five-minute example: it must also run, on a simulated vCenter.
    const first = blocks.findIndex((code) => code.includes("from 'infrakit-instance-vsphere/testing'"));
    assert.ok(first >= 0, 'the README has the testing-kit example');
    const started = performance.now();
    const { stdout } = await sh(process.execPath, [`out/readme-${first}.js`], project, {
      VCSIM: locateVcsim(),
    });
    console.log(`the README's first VM ran in ${Math.round(performance.now() - started)} ms`);
    assert.match(stdout, /^provisioned vm-\w+\n/);
    const id = /^provisioned (vm-\w+)\n/.exec(stdout)?.[1];
    assert.ok(stdout.includes(`\n${id} {`), `describe listed ${id}`);
    assert.match(stdout, /'infrakit\.group': 'workers',\n\s+'infrakit\.config\.hash': 'v1'/);
  });

  it('every type in a public signature is exported from its entry point (api-extractor)', async () => {
    // The packed files, outside node_modules: api-extractor takes what is under node_modules for
    // another package's, and would not look into it.
    const unpacked = join(project, 'unpacked');
    await mkdir(unpacked);
    await sh('tar', ['-xzf', tarball, '-C', unpacked]);
    const types = join(project, 'node_modules', '@types');
    for (const entry of ['dist/index.d.ts', 'dist/vsphere.d.ts', 'dist/testing.d.ts']) {
      assert.deepEqual(apiProblems(join(unpacked, 'package'), entry, types), [], entry);
    }
  });

  it('resolves under every moduleResolution a user may have (attw)', async () => {
    const attw = join(ROOT, 'node_modules', '.bin', 'attw');
    let stdout: string;
    try {
      ({ stdout } = await run(attw, [tarball, '--format', 'json'], {
        cwd: project,
        maxBuffer: 64 * 1024 * 1024,
      }));
    } catch (error) {
      // attw exits 1 when it finds problems; its JSON still says which.
      stdout = String((error as { stdout?: string }).stdout ?? '');
    }
    const report = JSON.parse(stdout) as {
      analysis: { entrypoints: Record<string, unknown> };
      problems: Record<string, unknown[]>;
    };
    assert.deepEqual(Object.keys(report.analysis.entrypoints).sort(), [
      '.',
      './package.json',
      './testing',
      './vsphere',
    ]);
    assert.deepEqual(report.problems, {});
  });

  it('runs a typed example against vcsim as an ES module and as CommonJS', async () => {
    await mkdir(join(project, 'src'), { recursive: true });
    for (const file of await readdir(FIXTURES)) {
      await writeFile(join(project, 'src', file), readFileSync(join(FIXTURES, file)));
    }
    assert.equal(await compile('example', ['src/example.mts', 'src/example.cts'], true, 'src'), '');
    // The typed API refuses a misspelt property key, in a typed spec and in a call.
    const misspelt = await compile('misspelt', ['src/misspelt.ts']);
    assert.match(misspelt, /misspelt\.ts\(6,\d+\): error TS2(353|561): .*'CPU' does not exist/);
    assert.match(misspelt, /misspelt\.ts\(10,\d+\): error TS2(353|561): .*'Templat' does not exist/);
    assert.equal(misspelt.match(/error TS/g)?.length, 2, misspelt);
    const env = { VCSIM: locateVcsim() };
    for (const file of ['out/example.mjs', 'out/example.cjs']) {
      const { stdout } = await sh(process.execPath, [file], project, env);
      const result = JSON.parse(stdout) as {
        module: string;
        described: number;
        destroyed: boolean;
        sameClass: boolean;
      };
      assert.deepEqual(
        result,
        { module: file.endsWith('mjs') ? 'esm' : 'cjs', described: 1, destroyed: true, sameClass: true },
        file,
      );
    }
  });
});
