/**
 * The layer check of `npm run lint`: reads every import in src/ and fails when a module imports
 * one from a layer above its own, or breaks one of the rules between particular layers. The
 * layers and the rules are docs/architecture.md's; a rule that cannot hold yet has an entry in
 * {@link ALLOWED} saying why, so the debt stays visible.
 *
 *   node scripts/check-layers.ts [srcDir]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Layers bottom-up. A module may import its own layer and any layer below it. `base` is what
 * every layer shares (the error base class, logging, option checks).
 */
export const LAYERS = [
  'base',
  'vim25',
  'transport',
  'soap',
  'session',
  'property',
  // Task completion is a property wait: tasks sits on property.
  'tasks',
  // The connection: assembles transport, soap, session, property and tasks.
  'client',
  'vsphere',
  // The InfraKit SPI's types: above the object layer, which must not know them.
  'spi',
  'provider',
  'plugin',
  // The public API (src/index.ts, and src/blocks.ts behind ./vsphere) exports from every layer
  // but the CLI, which sits above it: the CLI is one of its clients.
  'api',
  'cli',
] as const;

export type Layer = (typeof LAYERS)[number] | 'testing';

/** Files at the root of src/, placed by hand. */
const ROOT_FILES: Readonly<Record<string, Layer>> = {
  'errors.ts': 'base',
  'log.ts': 'base',
  'options.ts': 'base',
  'client.ts': 'client',
  'index.ts': 'api',
  'blocks.ts': 'api',
};

/** The layer of a path relative to src/ (posix separators), or undefined when it has none. */
export function layerOf(file: string): Layer | undefined {
  const slash = file.indexOf('/');
  if (slash < 0) return ROOT_FILES[file];
  const folder = file.slice(0, slash);
  if (folder === 'testing') return 'testing';
  return (LAYERS as readonly string[]).includes(folder) ? (folder as Layer) : undefined;
}

/** Error modules: any layer may import them, so an error can travel up unchanged. */
function isErrorModule(file: string): boolean {
  return /(^|\/)errors\.ts$/.test(file);
}

/** Rules beyond the order of the layers: `from` may not import `to`, except where `unless` holds. */
interface Rule {
  from: Layer;
  to: readonly Layer[];
  why: string;
  unless?: (target: string) => boolean;
}

const RULES: readonly Rule[] = [
  {
    from: 'provider',
    to: ['transport', 'soap', 'session', 'property', 'tasks'],
    why: 'the provider reaches vCenter only through src/vsphere',
    unless: isErrorModule,
  },
  { from: 'vsphere', to: ['spi'], why: 'the object layer knows no InfraKit' },
  {
    from: 'plugin',
    to: ['vim25', 'transport', 'soap', 'session'],
    why: 'the plugin server never sees the wire',
  },
  {
    from: 'cli',
    to: ['vim25', 'transport', 'soap', 'session', 'property', 'tasks'],
    why: 'the CLI is a client of the public API and the plugin server',
    unless: isErrorModule,
  },
];

/** An import that breaks a rule today, and why it is still there. */
export interface Allowed {
  from: string;
  to: string;
  reason: string;
}

/** Known debt: each entry is one import that breaks a rule, with the reason it still does. */
export const ALLOWED: readonly Allowed[] = [];

/** One import that breaks a rule. */
export interface Violation {
  from: string;
  to: string;
  why: string;
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative import specifiers of a module's source. */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2];
    if (spec?.startsWith('.')) out.push(spec);
  }
  return out;
}

/**
 * Checks the imports of `files` (path relative to src/ → source). Returns every import that breaks
 * a rule and is not in `allowed`, and every entry of `allowed` that no longer matches an import
 * (a debt paid off must leave the list).
 */
export function checkImports(
  files: ReadonlyMap<string, string>,
  allowed: readonly Allowed[] = ALLOWED,
): { violations: Violation[]; stale: Allowed[] } {
  const violations: Violation[] = [];
  const used = new Set<Allowed>();
  for (const [from, source] of files) {
    const fromLayer = layerOf(from);
    for (const spec of importsOf(source)) {
      const to = posix.normalize(posix.join(posix.dirname(from), spec));
      const why = breaks(from, fromLayer, to);
      if (why === undefined) continue;
      const entry = allowed.find((a) => a.from === from && a.to === to);
      if (entry) used.add(entry);
      else violations.push({ from, to, why });
    }
  }
  return { violations, stale: allowed.filter((a) => !used.has(a)) };
}

function breaks(from: string, fromLayer: Layer | undefined, to: string): string | undefined {
  if (to.startsWith('../')) return undefined;
  const toLayer = layerOf(to);
  if (fromLayer === undefined) return `${from} is in no layer: place it in scripts/check-layers.ts`;
  if (toLayer === undefined) return `${to} is in no layer: place it in scripts/check-layers.ts`;
  if (toLayer === 'testing' || fromLayer === 'testing') {
    return toLayer === fromLayer
      ? undefined
      : 'src/testing is a kit of its own: it and src/ import nothing of each other';
  }
  if (LAYERS.indexOf(toLayer) > LAYERS.indexOf(fromLayer)) {
    return `${fromLayer} may not import ${toLayer}, a layer above it`;
  }
  for (const rule of RULES) {
    if (rule.from === fromLayer && rule.to.includes(toLayer) && !(rule.unless?.(to) ?? false))
      return rule.why;
  }
  return undefined;
}

/** Every .ts file under `dir`, relative to it with posix separators. */
export function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts'))
        files.set(relative(dir, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const src = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src'));
  const { violations, stale } = checkImports(readTree(src));
  for (const v of violations) process.stderr.write(`layers: src/${v.from} imports src/${v.to}: ${v.why}\n`);
  for (const a of stale) {
    process.stderr.write(
      `layers: allow-list entry src/${a.from} -> src/${a.to} matches no import: remove it\n`,
    );
  }
  if (violations.length > 0 || stale.length > 0) process.exitCode = 1;
}
