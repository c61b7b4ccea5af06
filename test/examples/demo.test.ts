/**
 * `npm run demo` (examples/demo.ts) as a user runs it: a child process that must exit 0 and print
 * the group at each step; and a clear failure (exit 1) when there is no vcsim. The demo imports
 * the built package, so dist/ is built first when it is missing or older than src/.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from '../../scripts/ensure-built.ts';

const DEMO = fileURLToPath(new URL('../../examples/demo.ts', import.meta.url));

async function runDemo(
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [DEMO], {
    env: { ...process.env, DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The table blocks the demo printed: each a list of [name, power, ip, tags]. */
function tables(stdout: string): string[][][] {
  const blocks: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of stdout.split('\n')) {
    if (/^NAME +POWER +IP +TAGS$/.test(line)) {
      current = [];
      blocks.push(current);
    } else if (current && /^worker-\d+ /.test(line)) {
      const [name, power, ip, ...tags] = line.split(/ +/);
      current.push([name!, power!, ip!, tags.join(' ')]);
    } else {
      current = undefined;
    }
  }
  return blocks;
}

describe('npm run demo', () => {
  before(() => {
    ensureBuilt();
  });

  it('provisions, labels, scales up and down, destroys, and exits 0', async () => {
    const { code, stdout, stderr } = await runDemo({});
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.equal(stderr, '');
    const blocks = tables(stdout);
    assert.deepEqual(
      blocks.map((b) => b.length),
      [3, 3, 5, 2],
      stdout,
    );
    for (const block of blocks) {
      for (const [, power, ip, tags] of block) {
        assert.equal(power, 'on');
        assert.match(ip!, /^\d+\.\d+\.\d+\.\d+$/);
        assert.match(tags!, /infrakit\.config\.hash=[a-z2-7]{32} infrakit\.group=demo-workers/);
      }
    }
    assert.equal(blocks[1]!.filter((row) => row[3]!.includes('role=leader')).length, 1);
    const leader = blocks[1]!.find((row) => row[3]!.includes('role=leader'))![0];
    assert.ok(
      blocks[3]!.some((row) => row[0] === leader),
      'the leader survives the scale-down',
    );
    assert.match(stdout, /==> Destroying group demo-workers[\s\S]*the group is empty/);
    assert.match(stdout, /==> Stopping vcsim\n\nDemo finished in \d+\.\d s\.\n$/);
  });

  it('without a vcsim, fails with exit 1 and says how to get one', async () => {
    const { code, stdout, stderr } = await runDemo({ VCSIM: '/nonexistent/vcsim' });
    assert.equal(code, 1, stdout);
    assert.match(stderr, /demo failed: VCSIM=\/nonexistent\/vcsim is not an executable file/);
    assert.match(stderr, /npm run vcsim:install/);
  });
});
