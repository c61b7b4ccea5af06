/**
 * infrakit-instance-vsphere: provisions, labels, describes and destroys vCenter VMs for InfraKit
 * group controllers, over vim25 SOAP with no WSDL at run time.
 *
 * The root is the everyday API: the provider, its options and spec types, every error, the
 * InfraKit plugin server and the shared annotation format. The building blocks under the provider
 * (client, session, property collector and waits, task waiter, inventory, VM builders) are
 * `infrakit-instance-vsphere/vsphere`; the root names their types only where its own signatures
 * use them.
 */

// Types that the root's own signatures use: of the building blocks the provider's options take
// (their classes are at `infrakit-instance-vsphere/vsphere`), and of the values it returns.
export type * from './blocks.ts';
export {
  InstanceNotManagedError,
  ValidationError,
  type ValidationIssue,
  VSphereError,
  type VSphereErrorCode,
} from './errors.ts';
export {
  type ListenOptions,
  type LoopbackHost,
  type PluginBackgroundFailure,
  type PluginLogger,
  PluginServer,
  type PluginServerOptions,
  type VendorInfo,
} from './plugin/server.ts';
export {
  installSignalHandlers,
  PluginSocketInUseError,
  type RunningPluginServer,
  resolvePluginDir,
  type SignalHandlerOptions,
  type StartPluginServerOptions,
  startPluginServer,
} from './plugin/socket.ts';
export { ObjectGoneError } from './property/wait.ts';
export {
  AnnotationError,
  belongsToGroup,
  DELETED_ANNOTATION,
  type DecodedAnnotation,
  decodeAnnotation,
  encodeAnnotation,
  type InstanceMetadata,
  type PowerOffSetting,
} from './provider/annotation.ts';
export type { InstanceDisk, InstanceNic, InstanceProperties } from './provider/instance-properties.ts';
export type { ParsePropertiesOptions } from './provider/properties.ts';
export { type ProviderDefaults, parseProperties, type VMProperties } from './provider/properties.ts';
export type { CustomizationKind, NetworkProperties } from './provider/properties-network.ts';
export type {
  AnnotationCodec,
  BackgroundFailure,
  DescribeOptions,
  VmBuilderLike,
  VmDetails,
  VSphereInstanceProviderOptions,
  VSphereInstanceSpec,
} from './provider/provider.ts';
export { VSphereInstanceProvider } from './provider/provider.ts';
export { parseInstanceSpec, parseTags } from './provider/spec.ts';
export { LoginError, SessionClosedError } from './session/session.ts';
export type {
  Attachment,
  DestroyContext,
  DestroyOptions,
  InstanceDescription,
  InstanceID,
  InstancePlugin,
  InstanceSpec,
  JsonValue,
  LogicalID,
  ProvisionOptions,
} from './spi/instance.ts';
export { InfraKitTags } from './spi/instance.ts';
export { TaskFailedError, TaskOutcomeUnknownError } from './tasks/waiter.ts';
export { AbortError, HttpStatusError, TimeoutError, TlsError, TransportError } from './transport/errors.ts';
export { pemCertificateIssues, type TlsOptions } from './transport/tls.ts';
export type { VimFaultDetail } from './vim25/index.ts';
export { ManagedObjectReference, VimFault } from './vim25/index.ts';
export type { InventoryKind } from './vsphere/errors.ts';
export { AmbiguousNameError, NotFoundError } from './vsphere/errors.ts';
export type { GuestNic } from './vsphere/guest.ts';
export {
  FileExistsError,
  type SizedStream,
  type UploadOptions,
  UploadSizeMismatchError,
} from './vsphere/upload.ts';
export { faultOf, GuestShutdownError, isFault, VerificationError } from './vsphere/vm-ops.ts';
