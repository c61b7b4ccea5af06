/**
 * mulberry32: a small, fast, seeded PRNG, so a fault schedule can be replayed from its seed.
 * Returns floats in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a run: `RELIABILITY_SEED` when set (to replay a failure), else `fallback`. */
export function runSeed(fallback: number): number {
  const fromEnv = process.env.RELIABILITY_SEED;
  return fromEnv === undefined || fromEnv === '' ? fallback : Number(fromEnv) >>> 0;
}
