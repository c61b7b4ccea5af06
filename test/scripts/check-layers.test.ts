import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Allowed, checkImports, importsOf, layerOf, readTree } from '../../scripts/check-layers.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-layers.ts', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/layers/src', import.meta.url));
const SRC = fileURLToPath(new URL('../../src', import.meta.url));

describe('layer check', () => {
  it('catches an import of a layer above in the fixture, and only that one', () => {
    const { violations, stale } = checkImports(readTree(FIXTURE), []);
    assert.deepEqual(violations, [
      {
        from: 'vsphere/bad.ts',
        to: 'provider/thing.ts',
        why: 'vsphere may not import provider, a layer above it',
      },
    ]);
    assert.deepEqual(stale, []);
  });

  it('accepts an import on the allow-list, and reports an entry that matches nothing', () => {
    const allowed: Allowed[] = [
      { from: 'vsphere/bad.ts', to: 'provider/thing.ts', reason: 'fixture' },
      { from: 'vsphere/gone.ts', to: 'provider/thing.ts', reason: 'paid off' },
    ];
    const { violations, stale } = checkImports(readTree(FIXTURE), allowed);
    assert.deepEqual(violations, []);
    assert.deepEqual(stale, [allowed[1]]);
  });

  it('applies the rules between layers beyond their order', () => {
    const files = new Map([
      [
        'provider/p.ts',
        "import { Session } from '../session/session.ts';\nimport { TimeoutError } from '../transport/errors.ts';",
      ],
      ['vsphere/v.ts', "import type { InstanceSpec } from '../spi/instance.ts';"],
      ['plugin/s.ts', "import { ManagedObjectReference } from '../vim25/index.ts';"],
      [
        'cli/c.ts',
        "export { Inventory } from '../vsphere/finder.ts';\nconst m = await import('../soap/client.ts');",
      ],
      ['nowhere/x.ts', "import { a } from '../errors.ts';"],
      ['cli/d.ts', "import { pemCertificateIssues } from '../index.ts';"],
      ['index.ts', "export { main } from './cli/main.ts';"],
      ['vim25/t.ts', "import { launch } from '../testing/vcsim.ts';"],
    ]);
    const { violations } = checkImports(files, []);
    assert.deepEqual(
      violations.map((v) => `${v.from} -> ${v.to}`),
      [
        'provider/p.ts -> session/session.ts',
        'vsphere/v.ts -> spi/instance.ts',
        'plugin/s.ts -> vim25/index.ts',
        'cli/c.ts -> soap/client.ts',
        'nowhere/x.ts -> errors.ts',
        'index.ts -> cli/main.ts',
        'vim25/t.ts -> testing/vcsim.ts',
      ],
    );
  });

  it('reads static, type-only, re-export and dynamic imports, not package imports', () => {
    const source = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      "export { c } from './c.ts';",
      "export * from './d.ts';",
      "const e = await import('./e.ts');",
      "import { readFile } from 'node:fs/promises';",
      "import createDebug from 'debug';",
    ].join('\n');
    assert.deepEqual(importsOf(source), ['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts']);
  });

  it('places the files at the root of src/ explicitly', () => {
    assert.equal(layerOf('errors.ts'), 'base');
    assert.equal(layerOf('client.ts'), 'client');
    assert.equal(layerOf('index.ts'), 'api');
    assert.equal(layerOf('stray.ts'), undefined);
  });

  it('the sources pass, and the command fails on the fixture', () => {
    assert.deepEqual(checkImports(readTree(SRC)), { violations: [], stale: [] });
    const run = spawnSync(process.execPath, [SCRIPT, FIXTURE], { encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /src\/vsphere\/bad\.ts imports src\/provider\/thing\.ts/);
  });
});
