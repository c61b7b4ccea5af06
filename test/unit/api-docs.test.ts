/**
 * `npm run docs` builds the API reference from the TSDoc of the three entry points with warnings
 * as errors (typedoc.json), so a broken link or a stale @param in a public comment fails here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('API reference', () => {
  it('typedoc documents the public API without a warning', () => {
    const result = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  });
});
