/**
 * vSphere inventory paths: `/` separates names, so a `/` inside a name is written `%2f` (and
 * `%` as `%25`), the escaping vCenter's SearchIndex and govc use.
 */
export function escapeInventoryName(name: string): string {
  return name.replace(/%/g, '%25').replace(/\//g, '%2f');
}

export function unescapeInventoryName(segment: string): string {
  return segment.replace(/%2f/gi, '/').replace(/%25/g, '%');
}

export function splitInventoryPath(path: string): string[] {
  return path
    .split('/')
    .filter((segment) => segment !== '')
    .map(unescapeInventoryName);
}

export function joinInventoryPath(...names: string[]): string {
  return `/${names.map(escapeInventoryName).join('/')}`;
}
