/**
 * `infrakit-instance-vsphere/testing`: run a vcsim (govmomi's vCenter simulator) from your own
 * integration tests, the way this package's tests do. See docs/testing.md.
 *
 * ```ts
 * import { startVcsim } from 'infrakit-instance-vsphere/testing';
 * const sim = await startVcsim();
 * const provider = new VSphereInstanceProvider({ ...sim.connection, datacenter: 'DC0' });
 * // ...
 * await provider.close();
 * await sim.stop();
 * ```
 */
export { LAUNCHER_SOURCE } from './launcher-source.ts';
export {
  howToGetVcsim,
  type InstallVcsimOptions,
  installVcsim,
  type LocateVcsimOptions,
  launcherPath,
  locateVcsim,
  pinnedGovmomiVersion,
  requiredGoVersion,
  VcsimInstallError,
  VcsimNotFoundError,
  vcsimCacheDir,
} from './locate.ts';
export {
  type RunningVcsim,
  type SimConnection,
  type SimToolsOptions,
  type SimVm,
  type StartVcsimOptions,
  startVcsim,
} from './vcsim.ts';
