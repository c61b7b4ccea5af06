/**
 * TypeScript shapes of the vim25 data objects the provider reads and writes. Field names, order and
 * optionality follow the generated schema (a unit test checks that every field here exists there
 * with the same repetition); types the provider does not look inside are left as {@link DataObject}.
 *
 * Decoded values always carry `_type`; values built for a request need `_type` only where a subtype
 * is meant (a `VirtualCdrom` in `VirtualDeviceConfigSpec.device`). vim25 `long` is typed `number`:
 * the decoder yields a `bigint` only for values past 2^53, which the fields here never reach.
 * `dateTime` values are decoded as the ISO strings the server sent.
 */
import type { ManagedObjectReference } from './moref.ts';

/** Any vim25 data object: `_type` names its runtime type. */
export interface DataObject {
  /** Runtime vim25 type, e.g. `VirtualCdrom`; set on every decoded object. */
  _type?: string;
  /** Fields not described by the interface (decoded objects keep everything the server sent). */
  [field: string]: unknown;
}

/** vim25 enum `VirtualMachineRecordReplayState`. */
export type VirtualMachineRecordReplayState = 'recording' | 'replaying' | 'inactive';

/** vim25 enum `VirtualMachineFaultToleranceState`. */
export type VirtualMachineFaultToleranceState =
  | 'notConfigured'
  | 'disabled'
  | 'enabled'
  | 'needSecondary'
  | 'starting'
  | 'running';

/** vim25 enum `VirtualMachinePowerState`. */
export type VirtualMachinePowerState = 'poweredOff' | 'poweredOn' | 'suspended';

/** vim25 enum `VirtualMachineConnectionState`. */
export type VirtualMachineConnectionState =
  | 'connected'
  | 'disconnected'
  | 'orphaned'
  | 'inaccessible'
  | 'invalid';

/** vim25 enum `VirtualMachineToolsStatus`. */
export type VirtualMachineToolsStatus = 'toolsNotInstalled' | 'toolsNotRunning' | 'toolsOld' | 'toolsOk';

/** vim25 enum `VirtualSCSISharing`. */
export type VirtualSCSISharing = 'noSharing' | 'virtualSharing' | 'physicalSharing';

/** vim25 enum `VirtualDeviceConfigSpecFileOperation`. */
export type VirtualDeviceConfigSpecFileOperation = 'create' | 'destroy' | 'replace';

/** vim25 enum `VirtualDeviceConfigSpecOperation`. */
export type VirtualDeviceConfigSpecOperation = 'add' | 'remove' | 'edit';

/** vim25 enum `VirtualMachineRelocateTransformation`. */
export type VirtualMachineRelocateTransformation = 'flat' | 'sparse';

/** vim25 enum `TaskInfoState`. */
export type TaskInfoState = 'queued' | 'running' | 'success' | 'error';

/** vim25 enum `PropertyChangeOp`. */
export type PropertyChangeOp = 'add' | 'remove' | 'assign' | 'indirectRemove';

/** vim25 enum `ObjectUpdateKind`. */
export type ObjectUpdateKind = 'modify' | 'enter' | 'leave';

/** vim25 `ServiceContent`. */
export interface ServiceContent extends DataObject {
  rootFolder: ManagedObjectReference;
  propertyCollector: ManagedObjectReference;
  viewManager?: ManagedObjectReference;
  about: AboutInfo;
  setting?: ManagedObjectReference;
  userDirectory?: ManagedObjectReference;
  sessionManager?: ManagedObjectReference;
  authorizationManager?: ManagedObjectReference;
  serviceManager?: ManagedObjectReference;
  perfManager?: ManagedObjectReference;
  scheduledTaskManager?: ManagedObjectReference;
  alarmManager?: ManagedObjectReference;
  eventManager?: ManagedObjectReference;
  taskManager?: ManagedObjectReference;
  extensionManager?: ManagedObjectReference;
  customizationSpecManager?: ManagedObjectReference;
  guestCustomizationManager?: ManagedObjectReference;
  customFieldsManager?: ManagedObjectReference;
  accountManager?: ManagedObjectReference;
  diagnosticManager?: ManagedObjectReference;
  licenseManager?: ManagedObjectReference;
  searchIndex?: ManagedObjectReference;
  fileManager?: ManagedObjectReference;
  datastoreNamespaceManager?: ManagedObjectReference;
  virtualDiskManager?: ManagedObjectReference;
  virtualizationManager?: ManagedObjectReference;
  snmpSystem?: ManagedObjectReference;
  vmProvisioningChecker?: ManagedObjectReference;
  vmCompatibilityChecker?: ManagedObjectReference;
  ovfManager?: ManagedObjectReference;
  ipPoolManager?: ManagedObjectReference;
  dvSwitchManager?: ManagedObjectReference;
  hostProfileManager?: ManagedObjectReference;
  clusterProfileManager?: ManagedObjectReference;
  complianceManager?: ManagedObjectReference;
  localizationManager?: ManagedObjectReference;
  storageResourceManager?: ManagedObjectReference;
  guestOperationsManager?: ManagedObjectReference;
  overheadMemoryManager?: ManagedObjectReference;
  certificateManager?: ManagedObjectReference;
  ioFilterManager?: ManagedObjectReference;
  vStorageObjectManager?: ManagedObjectReference;
  hostSpecManager?: ManagedObjectReference;
  cryptoManager?: ManagedObjectReference;
  healthUpdateManager?: ManagedObjectReference;
  failoverClusterConfigurator?: ManagedObjectReference;
  failoverClusterManager?: ManagedObjectReference;
  tenantManager?: ManagedObjectReference;
  siteInfoManager?: ManagedObjectReference;
  storageQueryManager?: ManagedObjectReference;
  directPathProfileManager?: ManagedObjectReference;
}

/** vim25 `AboutInfo`. */
export interface AboutInfo extends DataObject {
  name: string;
  fullName: string;
  vendor: string;
  version: string;
  patchLevel?: string;
  build: string;
  localeVersion?: string;
  localeBuild?: string;
  osType: string;
  productLineId: string;
  apiType: string;
  apiVersion: string;
  instanceUuid?: string;
  licenseProductName?: string;
  licenseProductVersion?: string;
}

/** vim25 `UserSession`. */
export interface UserSession extends DataObject {
  key: string;
  userName: string;
  fullName: string;
  loginTime: string;
  lastActiveTime: string;
  locale: string;
  messageLocale: string;
  extensionSession: boolean;
  ipAddress: string;
  userAgent: string;
  callCount: number;
}

/** vim25 `RetrieveResult`. */
export interface RetrieveResult extends DataObject {
  token?: string;
  objects: ObjectContent[];
}

/** vim25 `ObjectContent`. */
export interface ObjectContent extends DataObject {
  obj: ManagedObjectReference;
  propSet?: DynamicProperty[];
  missingSet?: MissingProperty[];
}

/** vim25 `DynamicProperty`. */
export interface DynamicProperty extends DataObject {
  name: string;
  val: unknown;
}

/** vim25 `MissingProperty`. */
export interface MissingProperty extends DataObject {
  path: string;
  fault: LocalizedMethodFault;
}

/** vim25 `PropertyFilterSpec`. */
export interface PropertyFilterSpec extends DataObject {
  propSet: PropertySpec[];
  objectSet: ObjectSpec[];
  reportMissingObjectsInResults?: boolean;
}

/** vim25 `PropertySpec`. */
export interface PropertySpec extends DataObject {
  type: string;
  all?: boolean;
  pathSet?: string[];
}

/** vim25 `ObjectSpec`. */
export interface ObjectSpec extends DataObject {
  obj: ManagedObjectReference;
  skip?: boolean;
  selectSet?: SelectionSpec[];
}

/** vim25 `SelectionSpec`. */
export interface SelectionSpec extends DataObject {
  name?: string;
}

/** vim25 `TraversalSpec`. */
export interface TraversalSpec extends SelectionSpec {
  type: string;
  path: string;
  skip?: boolean;
  selectSet?: SelectionSpec[];
}

/** vim25 `RetrieveOptions`. */
export interface RetrieveOptions extends DataObject {
  maxObjects?: number;
}

/** vim25 `WaitOptions`. */
export interface WaitOptions extends DataObject {
  maxWaitSeconds?: number;
  maxObjectUpdates?: number;
}

/** vim25 `UpdateSet`. */
export interface UpdateSet extends DataObject {
  version: string;
  filterSet?: PropertyFilterUpdate[];
  truncated?: boolean;
}

/** vim25 `PropertyFilterUpdate`. */
export interface PropertyFilterUpdate extends DataObject {
  filter: ManagedObjectReference;
  objectSet?: ObjectUpdate[];
  missingSet?: MissingObject[];
}

/** vim25 `ObjectUpdate`. */
export interface ObjectUpdate extends DataObject {
  kind: ObjectUpdateKind;
  obj: ManagedObjectReference;
  changeSet?: PropertyChange[];
  missingSet?: MissingProperty[];
}

/** vim25 `PropertyChange`. */
export interface PropertyChange extends DataObject {
  name: string;
  op: PropertyChangeOp;
  val: unknown;
}

/** vim25 `MissingObject`. */
export interface MissingObject extends DataObject {
  obj: ManagedObjectReference;
  fault: LocalizedMethodFault;
}

/** vim25 `TaskInfo`. */
export interface TaskInfo extends DataObject {
  key: string;
  task: ManagedObjectReference;
  description?: LocalizableMessage;
  name?: string;
  descriptionId: string;
  entity?: ManagedObjectReference;
  entityName?: string;
  locked?: ManagedObjectReference[];
  state: TaskInfoState;
  cancelled: boolean;
  cancelable: boolean;
  error?: LocalizedMethodFault;
  result?: unknown;
  progress?: number;
  progressDetails?: KeyAnyValue[];
  reason: TaskReason;
  queueTime: string;
  startTime?: string;
  completeTime?: string;
  eventChainId: number;
  changeTag?: string;
  parentTaskKey?: string;
  rootTaskKey?: string;
  activationId?: string;
}

/** vim25 `TaskReason`. */
export interface TaskReason extends DataObject {}

/** vim25 `TaskReasonUser`. */
export interface TaskReasonUser extends TaskReason {
  userName: string;
}

/** vim25 `TaskReasonSystem`. */
export interface TaskReasonSystem extends TaskReason {}

/** vim25 `TaskReasonAlarm`. */
export interface TaskReasonAlarm extends TaskReason {
  alarmName: string;
  alarm: ManagedObjectReference;
  entityName: string;
  entity: ManagedObjectReference;
}

/** vim25 `TaskReasonSchedule`. */
export interface TaskReasonSchedule extends TaskReason {
  name: string;
  scheduledTask: ManagedObjectReference;
}

/** vim25 `LocalizedMethodFault`. */
export interface LocalizedMethodFault extends DataObject {
  fault: MethodFault;
  localizedMessage?: string;
}

/** vim25 `LocalizableMessage`. */
export interface LocalizableMessage extends DataObject {
  key: string;
  arg?: KeyAnyValue[];
  message?: string;
}

/** vim25 `KeyAnyValue`. */
export interface KeyAnyValue extends DataObject {
  key: string;
  value: unknown;
}

/** vim25 `MethodFault`. */
export interface MethodFault extends DataObject {
  faultCause?: LocalizedMethodFault;
  faultMessage?: LocalizableMessage[];
}

/** vim25 `OptionValue`. */
export interface OptionValue extends DataObject {
  key: string;
  value: unknown;
}

/** vim25 `VirtualMachineFileInfo`. */
export interface VirtualMachineFileInfo extends DataObject {
  vmPathName?: string;
  snapshotDirectory?: string;
  suspendDirectory?: string;
  logDirectory?: string;
  ftMetadataDirectory?: string;
}

/** vim25 `VirtualMachineConfigSpec`. */
export interface VirtualMachineConfigSpec extends DataObject {
  changeVersion?: string;
  name?: string;
  version?: string;
  createDate?: string | Date;
  uuid?: string;
  instanceUuid?: string;
  npivNodeWorldWideName?: number[];
  npivPortWorldWideName?: number[];
  npivWorldWideNameType?: string;
  npivDesiredNodeWwns?: number;
  npivDesiredPortWwns?: number;
  npivTemporaryDisabled?: boolean;
  npivOnNonRdmDisks?: boolean;
  npivWorldWideNameOp?: string;
  locationId?: string;
  guestId?: string;
  alternateGuestName?: string;
  annotation?: string;
  files?: VirtualMachineFileInfo;
  tools?: DataObject;
  flags?: DataObject;
  consolePreferences?: DataObject;
  powerOpInfo?: DataObject;
  rebootPowerOff?: boolean;
  numCPUs?: number;
  vcpuConfig?: DataObject[];
  numCoresPerSocket?: number;
  memoryMB?: number;
  memoryHotAddEnabled?: boolean;
  cpuHotAddEnabled?: boolean;
  cpuHotRemoveEnabled?: boolean;
  virtualICH7MPresent?: boolean;
  virtualSMCPresent?: boolean;
  deviceChange?: VirtualDeviceConfigSpec[];
  cpuAllocation?: DataObject;
  memoryAllocation?: DataObject;
  latencySensitivity?: DataObject;
  cpuAffinity?: DataObject;
  memoryAffinity?: DataObject;
  networkShaper?: DataObject;
  cpuFeatureMask?: DataObject[];
  extraConfig?: OptionValue[];
  swapPlacement?: string;
  bootOptions?: DataObject;
  vAppConfig?: DataObject;
  ftInfo?: DataObject;
  repConfig?: DataObject;
  vAppConfigRemoved?: boolean;
  vAssertsEnabled?: boolean;
  changeTrackingEnabled?: boolean;
  firmware?: string;
  maxMksConnections?: number;
  guestAutoLockEnabled?: boolean;
  managedBy?: DataObject;
  memoryReservationLockedToMax?: boolean;
  nestedHVEnabled?: boolean;
  vPMCEnabled?: boolean;
  scheduledHardwareUpgradeInfo?: DataObject;
  vmProfile?: DataObject[];
  messageBusTunnelEnabled?: boolean;
  crypto?: DataObject;
  migrateEncryption?: string;
  sgxInfo?: DataObject;
  ftEncryptionMode?: string;
  guestMonitoringModeInfo?: DataObject;
  sevEnabled?: boolean;
  virtualNuma?: DataObject;
  motherboardLayout?: string;
  pmemFailoverEnabled?: boolean;
  vmxStatsCollectionEnabled?: boolean;
  vmOpNotificationToAppEnabled?: boolean;
  vmOpNotificationTimeout?: number;
  deviceSwap?: DataObject;
  simultaneousThreads?: number;
  pmem?: DataObject;
  deviceGroups?: DataObject;
  fixedPassthruHotPlugEnabled?: boolean;
  metroFtEnabled?: boolean;
  metroFtHostGroup?: string;
  tdxEnabled?: boolean;
  sevSnpEnabled?: boolean;
  tagSpecs?: DataObject[];
  vmPlacementPolicies?: DataObject[];
  extensionCompatibilityConstraint?: DataObject;
  skipExtensionCompatibilityChecks?: boolean;
}

/** vim25 `VirtualMachineCloneSpec`. */
export interface VirtualMachineCloneSpec extends DataObject {
  location: VirtualMachineRelocateSpec;
  template: boolean;
  config?: VirtualMachineConfigSpec;
  customization?: DataObject;
  powerOn: boolean;
  snapshot?: ManagedObjectReference;
  memory?: boolean;
  tpmProvisionPolicy?: string;
}

/** vim25 `VirtualMachineRelocateSpec`. */
export interface VirtualMachineRelocateSpec extends DataObject {
  service?: DataObject;
  folder?: ManagedObjectReference;
  datastore?: ManagedObjectReference;
  diskMoveType?: string;
  pool?: ManagedObjectReference;
  host?: ManagedObjectReference;
  disk?: DataObject[];
  transform?: VirtualMachineRelocateTransformation;
  deviceChange?: VirtualDeviceConfigSpec[];
  profile?: DataObject[];
  cryptoSpec?: DataObject;
  tagSpecs?: DataObject[];
  vmPlacementPolicies?: DataObject[];
  skipExtensionCompatibilityChecks?: boolean;
}

/** vim25 `VirtualDeviceConfigSpec`. */
export interface VirtualDeviceConfigSpec extends DataObject {
  operation?: VirtualDeviceConfigSpecOperation;
  fileOperation?: VirtualDeviceConfigSpecFileOperation;
  device: VirtualDevice;
  profile?: DataObject[];
  backing?: DataObject;
  filterSpec?: DataObject[];
  changeMode?: string;
}

/** vim25 `Description`. */
export interface Description extends DataObject {
  label: string;
  summary: string;
}

/** vim25 `VirtualDeviceConnectInfo`. */
export interface VirtualDeviceConnectInfo extends DataObject {
  migrateConnect?: string;
  startConnected: boolean;
  allowGuestControl: boolean;
  connected: boolean;
  status?: string;
}

/** vim25 `VirtualDeviceBusSlotInfo`. */
export interface VirtualDeviceBusSlotInfo extends DataObject {}

/** vim25 `VirtualDeviceBackingInfo`. */
export interface VirtualDeviceBackingInfo extends DataObject {}

/** vim25 `VirtualDeviceDeviceBackingInfo`. */
export interface VirtualDeviceDeviceBackingInfo extends VirtualDeviceBackingInfo {
  deviceName: string;
  useAutoDetect?: boolean;
}

/** vim25 `VirtualDeviceFileBackingInfo`. */
export interface VirtualDeviceFileBackingInfo extends VirtualDeviceBackingInfo {
  fileName: string;
  datastore?: ManagedObjectReference;
  backingObjectId?: string;
}

/** vim25 `VirtualDeviceRemoteDeviceBackingInfo`. */
export interface VirtualDeviceRemoteDeviceBackingInfo extends VirtualDeviceBackingInfo {
  deviceName: string;
  useAutoDetect?: boolean;
}

/** vim25 `VirtualDevice`. */
export interface VirtualDevice extends DataObject {
  key: number;
  deviceInfo?: Description;
  backing?: VirtualDeviceBackingInfo;
  connectable?: VirtualDeviceConnectInfo;
  slotInfo?: VirtualDeviceBusSlotInfo;
  controllerKey?: number;
  unitNumber?: number;
  numaNode?: number;
  deviceGroupInfo?: DataObject;
}

/** vim25 `VirtualCdrom`. */
export interface VirtualCdrom extends VirtualDevice {}

/** vim25 `VirtualCdromIsoBackingInfo`. */
export interface VirtualCdromIsoBackingInfo extends VirtualDeviceFileBackingInfo {}

/** vim25 `VirtualCdromRemoteAtapiBackingInfo`. */
export interface VirtualCdromRemoteAtapiBackingInfo extends VirtualDeviceRemoteDeviceBackingInfo {}

/** vim25 `VirtualCdromRemotePassthroughBackingInfo`. */
export interface VirtualCdromRemotePassthroughBackingInfo extends VirtualDeviceRemoteDeviceBackingInfo {
  exclusive: boolean;
}

/** vim25 `VirtualController`. */
export interface VirtualController extends VirtualDevice {
  busNumber: number;
  device?: number[];
}

/** vim25 `VirtualIDEController`. */
export interface VirtualIDEController extends VirtualController {}

/** vim25 `VirtualPCIController`. */
export interface VirtualPCIController extends VirtualController {}

/** vim25 `VirtualSCSIController`. */
export interface VirtualSCSIController extends VirtualController {
  hotAddRemove?: boolean;
  sharedBus: VirtualSCSISharing;
  scsiCtlrUnitNumber?: number;
}

/** vim25 `ParaVirtualSCSIController`. */
export interface ParaVirtualSCSIController extends VirtualSCSIController {}

/** vim25 `VirtualLsiLogicController`. */
export interface VirtualLsiLogicController extends VirtualSCSIController {}

/** vim25 `VirtualDisk`. */
export interface VirtualDisk extends VirtualDevice {
  capacityInKB: number;
  capacityInBytes?: number;
  shares?: DataObject;
  storageIOAllocation?: DataObject;
  diskObjectId?: string;
  vFlashCacheConfigInfo?: DataObject;
  iofilter?: string[];
  vDiskId?: DataObject;
  vDiskVersion?: number;
  virtualDiskFormat?: string;
  nativeUnmanagedLinkedClone?: boolean;
  independentFilters?: DataObject[];
  guestReadOnly?: boolean;
}

/** vim25 `VirtualDiskFlatVer2BackingInfo`. */
export interface VirtualDiskFlatVer2BackingInfo extends VirtualDeviceFileBackingInfo {
  diskMode: string;
  split?: boolean;
  writeThrough?: boolean;
  thinProvisioned?: boolean;
  eagerlyScrub?: boolean;
  uuid?: string;
  contentId?: string;
  changeId?: string;
  parent?: VirtualDiskFlatVer2BackingInfo;
  deltaDiskFormat?: string;
  digestEnabled?: boolean;
  deltaGrainSize?: number;
  deltaDiskFormatVariant?: string;
  sharing?: string;
  keyId?: DataObject;
}

/** vim25 `VirtualEthernetCard`. */
export interface VirtualEthernetCard extends VirtualDevice {
  addressType?: string;
  macAddress?: string;
  wakeOnLanEnabled?: boolean;
  resourceAllocation?: DataObject;
  externalId?: string;
  uptCompatibilityEnabled?: boolean;
  subnetId?: string;
}

/** vim25 `VirtualVmxnet`. */
export interface VirtualVmxnet extends VirtualEthernetCard {}

/** vim25 `VirtualVmxnet3`. */
export interface VirtualVmxnet3 extends VirtualVmxnet {
  uptv2Enabled?: boolean;
  strictLatencyConfig?: DataObject;
}

/** vim25 `VirtualE1000`. */
export interface VirtualE1000 extends VirtualEthernetCard {}

/** vim25 `VirtualE1000e`. */
export interface VirtualE1000e extends VirtualEthernetCard {}

/** vim25 `VirtualEthernetCardNetworkBackingInfo`. */
export interface VirtualEthernetCardNetworkBackingInfo extends VirtualDeviceDeviceBackingInfo {
  network?: ManagedObjectReference;
  inPassthroughMode?: boolean;
}

/** vim25 `VirtualEthernetCardDistributedVirtualPortBackingInfo`. */
export interface VirtualEthernetCardDistributedVirtualPortBackingInfo extends VirtualDeviceBackingInfo {
  port: DistributedVirtualSwitchPortConnection;
}

/** vim25 `DistributedVirtualSwitchPortConnection`. */
export interface DistributedVirtualSwitchPortConnection extends DataObject {
  switchUuid: string;
  portgroupKey?: string;
  portKey?: string;
  connectionCookie?: number;
}

/** vim25 `VirtualEthernetCardOpaqueNetworkBackingInfo`. */
export interface VirtualEthernetCardOpaqueNetworkBackingInfo extends VirtualDeviceBackingInfo {
  opaqueNetworkId: string;
  opaqueNetworkType: string;
}

/** vim25 `VirtualHardware`. */
export interface VirtualHardware extends DataObject {
  numCPU: number;
  numCoresPerSocket?: number;
  autoCoresPerSocket?: boolean;
  memoryMB: number;
  virtualICH7MPresent?: boolean;
  virtualSMCPresent?: boolean;
  device?: VirtualDevice[];
  motherboardLayout?: string;
  simultaneousThreads?: number;
}

/** vim25 `GuestInfo`. */
export interface GuestInfo extends DataObject {
  toolsStatus?: VirtualMachineToolsStatus;
  toolsVersionStatus?: string;
  toolsVersionStatus2?: string;
  toolsRunningStatus?: string;
  toolsVersion?: string;
  toolsInstallType?: string;
  guestId?: string;
  guestFamily?: string;
  guestFullName?: string;
  guestDetailedData?: string;
  hostName?: string;
  ipAddress?: string;
  net?: GuestNicInfo[];
  ipStack?: DataObject[];
  disk?: DataObject[];
  screen?: DataObject;
  guestState: string;
  appHeartbeatStatus?: string;
  guestKernelCrashed?: boolean;
  appState?: string;
  guestOperationsReady?: boolean;
  interactiveGuestOperationsReady?: boolean;
  guestStateChangeSupported?: boolean;
  generationInfo?: DataObject[];
  hwVersion?: string;
  customizationInfo?: DataObject;
}

/** vim25 `GuestNicInfo`. */
export interface GuestNicInfo extends DataObject {
  network?: string;
  ipAddress?: string[];
  macAddress?: string;
  connected: boolean;
  deviceConfigId: number;
  dnsConfig?: DataObject;
  ipConfig?: NetIpConfigInfo;
  netBIOSConfig?: DataObject;
}

/** vim25 `NetIpConfigInfo`. */
export interface NetIpConfigInfo extends DataObject {
  ipAddress?: NetIpConfigInfoIpAddress[];
  dhcp?: DataObject;
  autoConfigurationEnabled?: boolean;
}

/** vim25 `NetIpConfigInfoIpAddress`. */
export interface NetIpConfigInfoIpAddress extends DataObject {
  ipAddress: string;
  prefixLength: number;
  origin?: string;
  state?: string;
  lifetime?: string;
}

/** vim25 `VirtualMachineRuntimeInfo`. */
export interface VirtualMachineRuntimeInfo extends DataObject {
  device?: DataObject[];
  host?: ManagedObjectReference;
  connectionState: VirtualMachineConnectionState;
  powerState: VirtualMachinePowerState;
  vmFailoverInProgress?: boolean;
  faultToleranceState: VirtualMachineFaultToleranceState;
  dasVmProtection?: DataObject;
  toolsInstallerMounted: boolean;
  suspendTime?: string;
  bootTime?: string;
  suspendInterval?: number;
  question?: DataObject;
  memoryOverhead?: number;
  maxCpuUsage?: number;
  maxMemoryUsage?: number;
  numMksConnections: number;
  recordReplayState: VirtualMachineRecordReplayState;
  cleanPowerOff?: boolean;
  needSecondaryReason?: string;
  onlineStandby: boolean;
  minRequiredEVCModeKey?: string;
  consolidationNeeded: boolean;
  offlineFeatureRequirement?: DataObject[];
  featureRequirement?: DataObject[];
  featureMask?: DataObject[];
  vFlashCacheAllocation?: number;
  paused?: boolean;
  snapshotInBackground?: boolean;
  quiescedForkParent?: boolean;
  instantCloneFrozen?: boolean;
  cryptoState?: string;
  suspendedToMemory?: boolean;
  opNotificationTimeout?: number;
  iommuActive?: boolean;
}

/** vim25 `VirtualMachineSnapshotInfo`. */
export interface VirtualMachineSnapshotInfo extends DataObject {
  currentSnapshot?: ManagedObjectReference;
  rootSnapshotList: VirtualMachineSnapshotTree[];
}

/** vim25 `VirtualMachineSnapshotTree`. */
export interface VirtualMachineSnapshotTree extends DataObject {
  snapshot: ManagedObjectReference;
  vm: ManagedObjectReference;
  name: string;
  description: string;
  id: number;
  createTime: string;
  state: VirtualMachinePowerState;
  quiesced: boolean;
  backupManifest?: string;
  childSnapshotList?: VirtualMachineSnapshotTree[];
  replaySupported?: boolean;
}
