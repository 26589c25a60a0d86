/**
 * WebSocket close codes the relay uses (4000-4999 is the application range).
 * A client reconnects after any of them except those listed in `FINAL_CLOSE_CODES`.
 */
export const CloseCode = {
  /** Normal shutdown of the connection by either side. */
  Normal: 1000,
  /** The relay is shutting down; reconnect (to another process). */
  GoingAway: 1001,
  /** A frame could not be decoded or was not a valid first message. */
  ProtocolError: 4400,
  /** Missing, bad or expired token. */
  Unauthorized: 4401,
  /** The device was revoked or belongs to another user. */
  Forbidden: 4403,
  /** No protocol version in common. */
  UnsupportedVersion: 4406,
  /** `hello` did not arrive in time. */
  HelloTimeout: 4408,
  /** A frame exceeded the size limit (raw or inflated). */
  FrameTooLarge: 4413,
  /** The device sent more than its rate limit allows. */
  RateLimited: 4429,
  /** The relay failed internally; reconnect later. */
  InternalError: 4500,
} as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** After these a client must not reconnect on its own: a person has to act. */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.Forbidden,
  CloseCode.UnsupportedVersion,
]);
