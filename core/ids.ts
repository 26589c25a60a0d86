/**
 * Branded identifiers: values that are strings at run time but must not be mixed up.
 * Brand a value once, at the edge where it is validated.
 */
type Brand<T, B extends string> = T & { readonly __brand: B };

export type UserId = Brand<string, 'UserId'>;
export type DeviceId = Brand<string, 'DeviceId'>;
export type TaskId = Brand<string, 'TaskId'>;
export type WorkspaceId = Brand<string, 'WorkspaceId'>;
export type CommandId = Brand<string, 'CommandId'>;
/** A request id chosen by the sender of a request; every reply names it. */
export type RequestId = Brand<string, 'RequestId'>;

export const asUserId = (s: string) => s as UserId;
export const asDeviceId = (s: string) => s as DeviceId;
export const asTaskId = (s: string) => s as TaskId;
export const asWorkspaceId = (s: string) => s as WorkspaceId;
export const asCommandId = (s: string) => s as CommandId;
export const asRequestId = (s: string) => s as RequestId;
