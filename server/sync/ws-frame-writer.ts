/**
 * Writes the relay's binary messages to one device's WebSocket as whole RFC 6455 frames, each
 * in one write of the socket the HTTP upgrade handed over (the socket `ws` itself writes to).
 *
 * Why: `ws` sends a message as two buffers (its frame header, then the payload) under
 * cork/uncork, which Node turns into a `writev`; with 10,000 sockets that system call was the
 * relay's largest cost during a burst (`npm run bench -- load`, CPU profiles). One buffer is
 * one plain write, and a live change that goes to many sockets is framed once for all of them
 * (`wsBinaryFrame`, the approach ws's maintainers describe for broadcast: frame once, write the
 * frame to every socket; websockets/ws#617, #1016).
 *
 * It is safe because `ws` writes every frame of its own (pongs, the close frame, `send`) to
 * that socket synchronously and whole, as long as it never queues: permessage-deflate is off
 * and no Blob is sent (the sync endpoint does neither; the option `raw` is only given then).
 * Frames written here and by `ws` then never interleave inside a frame. Bytes written here
 * count in `WebSocket.bufferedAmount` like ws's own (both are the socket's queue), so the
 * slow-consumer rule sees them. Without a raw socket, when the socket is not open, or for a
 * payload above `MAX_COPIED_PAYLOAD_BYTES` (copying a pull page of megabytes into a new frame
 * costs more than a writev), the message goes through `ws.send` as before.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** Payloads above this go through ws.send (two buffers, no copy). */
export const MAX_COPIED_PAYLOAD_BYTES = 64 * 1024;

/** FIN and the binary opcode (RFC 6455 5.2). */
const FIN_BINARY = 0x82;

/** One final, unmasked (server to client) binary WebSocket frame carrying `payload`. */
export function wsBinaryFrame(payload: Uint8Array): Buffer {
  const length = payload.length;
  const headerBytes = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerBytes + length);
  frame[0] = FIN_BINARY;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 0x10000) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.set(payload, headerBytes);
  return frame;
}

export class WsFrameWriter {
  /**
   * `raw`: the socket given to `WebSocketServer.handleUpgrade` for `socket`, only when that
   * server has permessage-deflate off (see the module comment); without it every message goes
   * through `socket.send`.
   */
  constructor(
    private readonly socket: WebSocket,
    private readonly raw?: Duplex,
  ) {}

  /**
   * Sends `payload` as one binary message. `framedOnce`: for a payload that goes to many sockets
   * (the same object each time, never changed), the WebSocket frames already made for such
   * payloads; this one's is taken from there, or made and kept there.
   */
  send(payload: Uint8Array, framedOnce?: Map<Uint8Array, Buffer>): void {
    const raw = this.raw;
    if (raw && raw.writable && this.socket.readyState === this.socket.OPEN && payload.length <= MAX_COPIED_PAYLOAD_BYTES) {
      let framed = framedOnce?.get(payload);
      if (!framed) {
        framed = wsBinaryFrame(payload);
        framedOnce?.set(payload, framed);
      }
      raw.write(framed);
      return;
    }
    this.socket.send(payload);
  }
}
