/**
 * The codes of `error` frames and close reasons the sync endpoint sends itself (docs/errors.md
 * lists them with what a user should do).
 */

/** Error codes the sync endpoint sends in `error` frames (besides PROTOCOL_*, FRAME_*, COMMAND_* and change-log codes). */
export const SyncErrorCode = {
  /** The first message was not `hello`. Closes with ProtocolError. */
  ExpectedHello: 'PROTOCOL_EXPECTED_HELLO',
  /** A second `hello` on a connection that already has one. */
  DuplicateHello: 'PROTOCOL_DUPLICATE_HELLO',
  /** A text frame: the protocol speaks binary frames only. */
  TextFrame: 'PROTOCOL_TEXT_FRAME',
  /** `hello` did not arrive in time (close reason). */
  HelloTimeout: 'PROTOCOL_HELLO_TIMEOUT',
  /** A frame over the size limit (close reason). */
  FrameTooLarge: 'PROTOCOL_FRAME_TOO_LARGE',
  /** Missing, unknown, expired or revoked token. Closes with Unauthorized. */
  InvalidToken: 'AUTH_TOKEN_INVALID',
  /** The access token of an open socket expired and no fresh `auth` came. Closes with Unauthorized. */
  TokenExpired: 'AUTH_TOKEN_EXPIRED',
  /** The token belongs to another device. Closes with Forbidden. */
  Forbidden: 'AUTH_FORBIDDEN',
  /** The device sent frames faster than its limit. Closes with RateLimited. */
  RateLimited: 'RATE_LIMITED',
  /** A reply that would not fit in one frame (pull a smaller page). */
  ReplyTooLarge: 'RELAY_REPLY_TOO_LARGE',
  /** The socket had more than `slowConsumerCloseBytes` unsent (close reason, with RateLimited 4429). */
  SlowConsumer: 'WS_SLOW_CONSUMER',
  /** The relay failed handling a message. Closes with InternalError. */
  Internal: 'RELAY_INTERNAL',
} as const;
