/**
 * vSphere inventory paths: `/` separates names, so a name's own `/` is written `%2f`, its `\`
 * `%5c` and its `%` `%25` — the escaping vSphere applies to `ManagedEntity.name` and expects in
 * SearchIndex paths. The one place paths are split and joined.
 */
export function escapeInventoryName(name: string): string {
  return name.replace(/[%/\\]/g, (c) => (c === '%' ? '%25' : c === '/' ? '%2f' : '%5c'));
}

/** Undoes {@link escapeInventoryName} (`%2f`, `%5c`, `%25`, any case); other text is kept. */
export function unescapeInventoryName(segment: string): string {
  return segment.replace(/%(2f|5c|25)/gi, (sequence) => {
    const code = sequence.toLowerCase();
    return code === '%2f' ? '/' : code === '%5c' ? '\\' : '%';
  });
}

/** The unescaped names of a path, empty segments dropped (`/DC0/vm/a%2fb` → `DC0, vm, a/b`). */
export function splitInventoryPath(path: string): string[] {
  return path
    .split('/')
    .filter((segment) => segment !== '')
    .map(unescapeInventoryName);
}

/** A rooted path from unescaped names. */
export function joinInventoryPath(...names: string[]): string {
  return `/${names.map(escapeInventoryName).join('/')}`;
}
