export { SKEIN_ERROR_CODES, SkeinError, describeValue, isSkeinError, isSkeinErrorCode } from "./errors.js";
export type { SkeinErrorCode } from "./errors.js";
export { KilledWorkerError, RemoteTaskError, decodeError, encodeError } from "./error-encoding.js";
export type { EncodedError } from "./error-encoding.js";
export {
  ATTACHMENT_MANIFEST_TAG,
  ATTACHMENT_TAG,
  MAX_ATTACHMENTS,
  MIN_ATTACHMENT_BYTES,
  TASK_REF_TAG,
  TaskRef,
  decodeAttachmentManifest,
  decodeFrame,
  decodeValue,
  encodeAttachmentManifest,
  encodeFrame,
  encodeFrameParts,
  encodeValue,
  registerRefClass,
} from "./codec.js";
export type { EncodeValueOptions, EncodedValue, FrameParts } from "./codec.js";
export {
  ANONYMOUS_FUNCTION_NAME,
  functionSpecOf,
  functionSpecOfReference,
  isFunctionReference,
  toExpressionSource,
} from "./function-spec.js";
export type { FunctionReference, FunctionSpec, ModuleFunctionSpec, SourceFunctionSpec } from "./function-spec.js";
export { MESSAGE_SCHEMAS, PROTOCOL_VERSION } from "./messages.js";
export type {
  ClientToScheduler,
  Dependency,
  Handlers,
  HelloMessage,
  Message,
  MessageOf,
  Op,
  PeerReply,
  PeerRequest,
  SchedulerToClient,
  SchedulerToWorker,
  TaskSpec,
  WorkerInfo,
  WorkerToScheduler,
} from "./messages.js";
export { isOp, parseMessage } from "./parse-message.js";
export { secretsEqual } from "./secret.js";
export { formatBytes, formatWalltime, parseBytes, parseWalltime } from "./units.js";
