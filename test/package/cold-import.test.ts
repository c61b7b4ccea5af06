/**
 * What importing the package loads (P6 in docs/performance.md): `debug` and `p-retry` are loaded
 * when first needed, not at import, and loggers still print when their namespace is enabled.
 * Each check runs in a fresh Node process, since this one has long loaded everything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VIM25_VERSION } from '../../src/vim25/schema.generated.ts';

const INDEX = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const LOG = fileURLToPath(new URL('../../src/log.ts', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

function runModule(source: string, env: Record<string, string> = {}, inputType = 'module') {
  const result = spawnSync(process.execPath, [`--input-type=${inputType}`, '-e', source], {
    encoding: 'utf8',
    env: { ...process.env, DEBUG: '', ...env },
  });
  assert.equal(result.status, 0, result.stderr);
  return result;
}

describe('cold import', () => {
  it('importing the package resolves neither debug nor p-retry', () => {
    const { stdout } = runModule(`
      import { registerHooks } from 'node:module';
      const resolved = [];
      registerHooks({ resolve(specifier, context, next) { resolved.push(specifier); return next(specifier, context); } });
      const lib = await import(${JSON.stringify(INDEX)});
      console.log(JSON.stringify({ resolved, exports: Object.keys(lib).length }));
    `);
    const { resolved, exports } = JSON.parse(stdout) as { resolved: string[]; exports: number };
    assert.ok(exports > 20, `the package was imported (${exports} exports)`);
    assert.ok(resolved.length > 10, `the hook saw the imports (${resolved.length})`);
    assert.deepEqual(
      resolved.filter((s) => s === 'debug' || s === 'p-retry'),
      [],
    );
  });

  it('a logger loads debug on first use and prints when its namespace is enabled', () => {
    const { stderr, stdout } = runModule(
      `
      import { logger } from ${JSON.stringify(LOG)};
      const on = logger('infrakit:vsphere:cold-test');
      const off = logger('infrakit:vsphere:other');
      on('hello %s', 'there');
      off('not shown');
      console.log(JSON.stringify({ on: on.enabled, off: off.enabled }));
    `,
      { DEBUG: 'infrakit:vsphere:cold-test', DEBUG_COLORS: 'no' },
    );
    assert.deepEqual(JSON.parse(stdout), { on: true, off: false });
    assert.match(stderr, /infrakit:vsphere:cold-test hello there/);
    assert.doesNotMatch(stderr, /not shown/);
  });

  it('import and require give one copy of each class, so instanceof holds across them', {
    skip: existsSync(`${DIST}index.cjs`)
      ? false
      : 'dist/ is not built (npm run build; CI builds before testing)',
  }, () => {
    const { stdout, stderr } = runModule(
      `
      const required = require(${JSON.stringify(`${DIST}index.cjs`)});
      const requiredKit = require(${JSON.stringify(`${DIST}testing.cjs`)});
      import(${JSON.stringify(`${DIST}index.js`)}).then(async (imported) => {
        const kit = await import(${JSON.stringify(`${DIST}testing.js`)});
        const error = new required.TimeoutError('CurrentTime', 5);
        console.log(JSON.stringify({
          same: Object.keys(imported).filter((k) => required[k] !== imported[k]),
          count: Object.keys(imported).length,
          instanceOf: error instanceof imported.VSphereError && error instanceof imported.TimeoutError,
          kit: Object.keys(kit).filter((k) => requiredKit[k] !== kit[k]),
        }));
      });
    `,
      {},
      'commonjs',
    );
    const result = JSON.parse(stdout) as {
      same: string[];
      count: number;
      instanceOf: boolean;
      kit: string[];
    };
    assert.deepEqual(result.same, [], 'exports that differ between require and import');
    assert.ok(result.count > 20, `${result.count} exports compared`);
    assert.equal(result.instanceOf, true);
    assert.deepEqual(result.kit, [], 'testing kit exports that differ');
    assert.doesNotMatch(stderr, /ExperimentalWarning/);
  });

  // The bundles are what users run; the bundler rewrites module-loading code, so check them too.
  for (const [format, file, inputType] of [
    ['ES module', 'vsphere.js', 'module'],
    ['CommonJS', 'vsphere.cjs', 'commonjs'],
  ] as const) {
    const built = existsSync(`${DIST}${file}`);
    it(`the ${format} bundle loads debug and p-retry when first used, and logs`, {
      skip: built ? false : `dist/${file} is not built (npm run build; CI builds before testing)`,
    }, () => {
      const load =
        inputType === 'module'
          ? `const lib = await import(${JSON.stringify(`${DIST}${file}`)});`
          : `const lib = require(${JSON.stringify(`${DIST}${file}`)});`;
      const body = `
        const server = http.createServer((req, res) => { res.statusCode = 404; res.end('none'); });
        server.listen(0, '127.0.0.1', async () => {
          const transport = new lib.HttpTransport({ url: 'http://127.0.0.1:' + server.address().port + '/sdk' });
          const client = new lib.SoapClient({ transport });
          console.log(await client.negotiateVersion());
          transport.close();
          server.close();
        });`;
      const source =
        inputType === 'module'
          ? `import http from 'node:http'; ${load} ${body}`
          : `const http = require('node:http'); ${load} ${body}`;
      const { stdout, stderr } = runModule(
        source,
        { DEBUG: 'infrakit:vsphere:soap', DEBUG_COLORS: 'no' },
        inputType,
      );
      // A 404: no document, so the schema's own version (a real id, never `8.0`).
      assert.equal(stdout.trim(), VIM25_VERSION);
      assert.match(
        stderr,
        new RegExp(`infrakit:vsphere:soap vim25 version ${VIM25_VERSION.replace(/\./g, '\\.')}`),
      );
    });
  }
});
