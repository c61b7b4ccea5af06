/**
 * The vim25 codec under fast-check (issue 6, item 7): random values of random vim25 data types go
 * through encodeRequest, are reshaped into the XML vcsim answers with, and come back equal from
 * decodeResponse; arbitrary bytes never make the decoder throw anything but a typed error.
 * `npm run soak` runs ten times more (test/soak/fuzz.soak.ts). Rerun a failure with FUZZ_SEED.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fuzzSeed,
  vim25DecoderTotal,
  vim25PrimitivesRoundTrip,
  vim25RoundTrip,
} from '../reliability/fuzz.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const OBJECT_RUNS = Math.max(100, Math.round(RUNS / 5));

describe('vim25 codec, property-based', () => {
  it(`${OBJECT_RUNS} random objects of random vim25 types: encodeRequest → vcsim-shaped XML → decodeResponse gives them back`, (t) => {
    const { types, bytes, maxBytes } = vim25RoundTrip({ numRuns: OBJECT_RUNS, seed: fuzzSeed(0x25) });
    t.diagnostic(
      `${types} distinct root types; responses of ${Math.round(bytes / OBJECT_RUNS)} bytes on average, ${maxBytes} at most`,
    );
    assert.ok(bytes / OBJECT_RUNS > 1000, 'the values are not trivial');
    assert.ok(types > OBJECT_RUNS / 10, `covered ${types} types`);
  });

  it(`${RUNS} primitives, arrays and MoRefs in an anyType field come back with their types`, () => {
    vim25PrimitivesRoundTrip({ numRuns: RUNS, seed: fuzzSeed(0x26) });
  });

  it(`${RUNS} arbitrary or mutated responses: a value or a typed decode error, never anything else`, (t) => {
    const { decoded, refused } = vim25DecoderTotal({ numRuns: RUNS, seed: fuzzSeed(0x27) });
    t.diagnostic(`${decoded} decoded, ${refused} refused`);
    assert.ok(refused > 0 && decoded > 0, 'both outcomes occur');
  });
});
