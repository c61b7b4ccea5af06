import { readdir, rm, writeFile } from 'node:fs/promises';
import { defineConfig } from 'tsup';

/** Entry points a CommonJS user can `require`. */
const REQUIRABLE = ['index', 'vsphere', 'testing'];

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    vsphere: 'src/blocks.ts',
    testing: 'src/testing/index.ts',
    cli: 'src/cli/main.ts',
  },
  // The CommonJS build is made for its declaration files (.d.cts) only; its JavaScript is replaced
  // below.
  format: ['esm', 'cjs'],
  // Members marked @internal (test counters, constructors only the library calls) are left out of
  // the declarations: they are not public API.
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  splitting: true,
  treeshake: true,
  async onSuccess() {
    // One copy of each class for `import` and `require`: a second, CommonJS copy would make
    // `instanceof VSphereError` false for errors from the other one. Node >= 22.12 (the engines
    // floor) can require() an ES module, so the .cjs entry points load the ES build.
    for (const name of REQUIRABLE) {
      await writeFile(
        `dist/${name}.cjs`,
        `'use strict';\n// The ES module build, so that import and require share one copy of every class.\nmodule.exports = require('./${name}.js');\n`,
      );
    }
    const kept = new Set(REQUIRABLE.map((name) => `${name}.cjs`));
    for (const file of await readdir('dist')) {
      if (/\.cjs(\.map)?$/.test(file) && !kept.has(file)) await rm(`dist/${file}`);
    }
  },
});
