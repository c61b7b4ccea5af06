// P6 baseline: an ES module that imports nothing (node start-up and ESM loader only).
export {};
