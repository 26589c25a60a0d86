/**
 * Binary frames of the sync WebSocket (DESIGN.md "Wire protocol"): one header byte, then the
 * JSON body, compressed or not.
 *
 *   header = (FRAME_FORMAT_VERSION << 4) | codecId
 *   codecId 0 none, 1 deflate, 2 brotli, 3 deflate with the connection context
 *
 * Connection context: both ends keep the last 32 KB of the bodies of the compressed frames
 * (codec id != 0) they sent and received, in order. A frame with codec id 3 is raw deflate
 * with that window as its preset dictionary, so a small frame that repeats what came before
 * (the next message of a task, the same keys and ids) costs a few dozen bytes. The header
 * says which frames took part, so both ends agree on the window without negotiation; every
 * peer of format 1 can decode id 3 (pure fflate). WebSocket delivers frames in order and a
 * lost frame ends the connection, which is what keeps the two windows equal.
 */
import { SyncError } from '../errors';
import { jsonBytesWithChanges } from '../model/change-json';
import {
  CODEC_IDS,
  CONTEXT_DEFLATE_ID,
  defaultCodecRegistry,
  deflateCodec,
  type Codec,
  type CodecRegistry,
} from './codecs';
import type { ClientMessage, CodecName, HelloMessage, ServerMessage } from './messages';

export const FRAME_FORMAT_VERSION = 1;
/** Bodies smaller than this go uncompressed (stateless codecs: smaller frames barely shrink). */
export const DEFAULT_COMPRESS_THRESHOLD = 1024;
/** With the connection context even small bodies shrink by more than half (measured). */
export const DEFAULT_CONTEXT_COMPRESS_THRESHOLD = 128;
/**
 * On a brotli connection with context, bodies up to this size use the context (they gain
 * most from what came before); larger ones use brotli, whose larger window wins on them.
 * Measured (wire benchmark): 64 KiB beats 4 KiB, 16 KiB and "always context".
 */
export const DEFAULT_CONTEXT_MAX_BYTES = 64 * 1024;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_INFLATED_BYTES = 64 * 1024 * 1024;
/** The hello frame comes before authentication: keep what a stranger can make us parse small. */
export const MAX_HELLO_FRAME_BYTES = 64 * 1024;
/** Deflate's window: a preset dictionary longer than this is never used. */
export const CONTEXT_WINDOW_BYTES = 32 * 1024;

export interface FrameCodecOptions {
  /** The codec negotiated at hello for frames this side sends. */
  codec: CodecName;
  /** Bodies below this many bytes are sent uncompressed. Default 1024, or 128 with context. */
  compressThreshold?: number;
  /** Largest frame accepted or produced, header included. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Largest body accepted or produced after inflating; the decompression-bomb cap. Default 64 MiB. */
  maxInflatedBytes?: number;
  /** Codecs this side has. Default: none + deflate (the pure registry). */
  codecs?: CodecRegistry;
  /**
   * Compress with the connection context (codec id 3) when the negotiated codec is deflate or
   * brotli. Default true. Decoding id 3 frames is always on.
   */
  context?: boolean;
  /** Brotli connections with context: bodies above this use brotli. Default 64 KiB. */
  contextMaxBytes?: number;
}

/** Byte counts of one FrameCodec, for metrics and the wire benchmark. */
export interface FrameStats {
  framesEncoded: number;
  /** JSON bytes before compression. */
  bodyBytesEncoded: number;
  /** Bytes on the wire, headers included. */
  wireBytesEncoded: number;
  framesDecoded: number;
  bodyBytesDecoded: number;
  wireBytesDecoded: number;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function frameHeaderByte(codecId: number): number {
  return (FRAME_FORMAT_VERSION << 4) | (codecId & 0x0f);
}

/** Reads the header byte; throws FRAME_EMPTY or FRAME_BAD_VERSION. */
export function readFrameHeader(bytes: Uint8Array): { version: number; codecId: number } {
  if (bytes.length === 0) throw new SyncError('FRAME_EMPTY', 'empty frame');
  const version = bytes[0]! >> 4;
  if (version !== FRAME_FORMAT_VERSION) {
    throw new SyncError('FRAME_BAD_VERSION', `frame format ${version} is not ${FRAME_FORMAT_VERSION}`, { version });
  }
  return { version, codecId: bytes[0]! & 0x0f };
}

/** The last `CONTEXT_WINDOW_BYTES` of the compressed bodies one direction carried. */
class ContextWindow {
  bytes = new Uint8Array(0);

  append(body: Uint8Array): void {
    const size = Math.min(CONTEXT_WINDOW_BYTES, this.bytes.length + body.length);
    const next = new Uint8Array(size);
    const fromBody = Math.min(body.length, size);
    const fromOld = size - fromBody;
    next.set(this.bytes.subarray(this.bytes.length - fromOld), 0);
    next.set(body.subarray(body.length - fromBody), fromOld);
    this.bytes = next;
  }
}

/**
 * Encodes and decodes the frames of one connection. Owns that connection's compression
 * context, so use one instance per connection, both directions, frames in order.
 */
export class FrameCodec {
  private currentCodec: CodecName;
  private readonly threshold: number | undefined;
  readonly maxFrameBytes: number;
  readonly maxInflatedBytes: number;
  readonly stats: FrameStats = {
    framesEncoded: 0,
    bodyBytesEncoded: 0,
    wireBytesEncoded: 0,
    framesDecoded: 0,
    bodyBytesDecoded: 0,
    wireBytesDecoded: 0,
  };
  private readonly codecs: CodecRegistry;
  /** Compresses context frames (header id CONTEXT_DEFLATE_ID). */
  private readonly contextDeflate: Codec;
  private encoder: Codec;
  private readonly contextWanted: boolean;
  private readonly contextMaxBytes: number;
  private readonly sent = new ContextWindow();
  private readonly received = new ContextWindow();

  constructor(options: FrameCodecOptions) {
    this.codecs = options.codecs ?? defaultCodecRegistry();
    this.contextDeflate = this.codecs.get('deflate') ?? deflateCodec();
    this.encoder = this.codecFor(options.codec);
    this.currentCodec = options.codec;
    this.contextWanted = options.context ?? true;
    this.threshold = options.compressThreshold;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxInflatedBytes = options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES;
    this.contextMaxBytes = options.contextMaxBytes ?? DEFAULT_CONTEXT_MAX_BYTES;
  }

  /** The codec frames are sent with. */
  get codec(): CodecName {
    return this.currentCodec;
  }

  /** Bodies below this many bytes are sent uncompressed. */
  get compressThreshold(): number {
    return this.threshold ?? (this.usesContext ? DEFAULT_CONTEXT_COMPRESS_THRESHOLD : DEFAULT_COMPRESS_THRESHOLD);
  }

  private get usesContext(): boolean {
    return this.contextWanted && this.encoder.id !== CODEC_IDS.none;
  }

  /**
   * Switches the codec of frames sent from now on, keeping the connection context: a client
   * decodes `welcome` before it knows the codec, then adopts the one the relay chose.
   */
  setCodec(name: CodecName): void {
    this.encoder = this.codecFor(name);
    this.currentCodec = name;
  }

  private codecFor(name: CodecName): Codec {
    const codec = this.codecs.get(name);
    if (!codec) throw new SyncError('FRAME_UNKNOWN_CODEC', `codec ${name} is not available here`, { codec: name });
    return codec;
  }

  /**
   * One frame for `message`. Throws FRAME_TOO_LARGE when the body or the frame passes a
   * limit the peer would refuse, so the sender can split the message instead.
   */
  encode(message: ClientMessage | ServerMessage): Uint8Array {
    // A push's changes were serialised when the outbox journal wrote them (change-json.ts).
    if (message.type === 'push') return this.encodeBody(jsonBytesWithChanges(message, 'take'));
    return this.encodeJson(JSON.stringify(message));
  }

  /**
   * One frame for a message the caller already serialised: `json` must be the JSON text of
   * one ClientMessage or ServerMessage (a relay splices a pull page from stored JSON instead
   * of parsing and re-serialising it). Same limits and errors as `encode`. `shared`, made for
   * this `json`, lets the connections a relay fans one message out to share its UTF-8 bytes
   * and its stateless compression (context frames are always made per connection).
   */
  encodeJson(json: string, shared?: SharedFrameBody): Uint8Array {
    return this.encodeBody(shared ? (shared.bytes ??= utf8.encode(json)) : utf8.encode(json), shared);
  }

  /**
   * One frame for `body`, the UTF-8 JSON text of one message the caller wrote itself (a relay
   * writes pull pages into a reused buffer). The frame never shares memory with `body`, so the
   * caller may reuse it once this returns. Same limits and errors as `encode`.
   */
  encodeBody(body: Uint8Array, shared?: SharedFrameBody): Uint8Array {
    if (body.length > this.maxInflatedBytes) {
      throw new SyncError('FRAME_TOO_LARGE', `message body of ${body.length} bytes exceeds ${this.maxInflatedBytes}`, {
        bytes: body.length,
        limit: this.maxInflatedBytes,
      });
    }
    let codecId: number = CODEC_IDS.none;
    let payload: Uint8Array = body;
    if (this.encoder.id !== CODEC_IDS.none && body.length >= this.compressThreshold) {
      const viaContext = this.usesContext && (this.encoder.id === CODEC_IDS.deflate || body.length <= this.contextMaxBytes);
      // Context frames are raw deflate with the window as dictionary, through the registry's
      // deflate (zlib on Node peers, fflate elsewhere: the same format).
      const compressed = viaContext ? this.contextDeflate.compress(body, this.sent.bytes) : compressOnce(this.encoder, body, shared);
      if (compressed.length < body.length) {
        codecId = viaContext ? CONTEXT_DEFLATE_ID : this.encoder.id;
        payload = compressed;
      }
    }
    // A frame without the connection context is the same bytes on every connection: made once.
    const frame = shared && codecId !== CONTEXT_DEFLATE_ID ? frameOnce(shared, codecId, payload) : withHeader(codecId, payload);
    if (frame.length > this.maxFrameBytes) {
      throw new SyncError('FRAME_TOO_LARGE', `frame of ${frame.length} bytes exceeds ${this.maxFrameBytes}`, {
        bytes: frame.length,
        limit: this.maxFrameBytes,
      });
    }
    // Only a frame that is returned (and so sent) may enter the context the peer mirrors.
    if (codecId !== CODEC_IDS.none) this.sent.append(body);
    this.stats.framesEncoded++;
    this.stats.bodyBytesEncoded += body.length;
    this.stats.wireBytesEncoded += frame.length;
    return frame;
  }

  /**
   * The parsed JSON of one frame, not yet validated (see validate.ts). Throws FRAME_EMPTY,
   * FRAME_TOO_LARGE, FRAME_BAD_VERSION, FRAME_UNKNOWN_CODEC, FRAME_INFLATE_LIMIT,
   * FRAME_CORRUPT or FRAME_BAD_JSON. After any of these the connection cannot go on (its
   * context may be out of step): close it (CloseCode.ProtocolError / FrameTooLarge).
   */
  decode(bytes: Uint8Array): unknown {
    if (bytes.length > this.maxFrameBytes) {
      throw new SyncError('FRAME_TOO_LARGE', `frame of ${bytes.length} bytes exceeds ${this.maxFrameBytes}`, {
        bytes: bytes.length,
        limit: this.maxFrameBytes,
      });
    }
    const { codecId } = readFrameHeader(bytes);
    const payload = bytes.subarray(1);
    let body: Uint8Array;
    if (codecId === CONTEXT_DEFLATE_ID) {
      body = this.contextDeflate.decompress(payload, this.maxInflatedBytes, this.received.bytes);
    } else {
      const codec = this.codecs.byId(codecId);
      if (!codec) throw new SyncError('FRAME_UNKNOWN_CODEC', `codec id ${codecId} is not available here`, { codecId });
      body = codec.decompress(payload, this.maxInflatedBytes);
    }
    if (codecId !== CODEC_IDS.none) this.received.append(body);
    this.stats.framesDecoded++;
    this.stats.bodyBytesDecoded += body.length;
    this.stats.wireBytesDecoded += bytes.length;
    return parseJsonBody(body);
  }
}

/**
 * One message's encoding work that frames for several connections can share: its UTF-8 body,
 * its compressed bytes per stateless codec (the same codec object gives the same bytes), and
 * its whole frames that do not use a connection's context, by codec id. Create one (`{}`) per
 * message and pass it with that message's JSON only. A frame encoded with it may be the same
 * object for every connection: the caller must not change it.
 */
export interface SharedFrameBody {
  bytes?: Uint8Array;
  compressed?: Map<Codec, Uint8Array>;
  frames?: Map<number, Uint8Array>;
}

/** Whether `frame` is one of `shared`'s frames, the same object for every connection that sends it. */
export function isSharedFrame(shared: SharedFrameBody, frame: Uint8Array): boolean {
  if (!shared.frames) return false;
  for (const made of shared.frames.values()) if (made === frame) return true;
  return false;
}

function frameOnce(shared: SharedFrameBody, codecId: number, payload: Uint8Array): Uint8Array {
  shared.frames ??= new Map();
  let frame = shared.frames.get(codecId);
  if (!frame) {
    frame = withHeader(codecId, payload);
    shared.frames.set(codecId, frame);
  }
  return frame;
}

function compressOnce(codec: Codec, body: Uint8Array, shared: SharedFrameBody | undefined): Uint8Array {
  if (!shared) return codec.compress(body);
  shared.compressed ??= new Map();
  let compressed = shared.compressed.get(codec);
  if (!compressed) {
    compressed = codec.compress(body);
    shared.compressed.set(codec, compressed);
  }
  return compressed;
}

function withHeader(codecId: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(payload.length + 1);
  frame[0] = frameHeaderByte(codecId);
  frame.set(payload, 1);
  return frame;
}

function parseJsonBody(body: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8Strict.decode(body);
  } catch (err) {
    throw new SyncError('FRAME_BAD_JSON', 'frame body is not UTF-8', undefined, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SyncError('FRAME_BAD_JSON', 'frame body is not JSON', { reason: (err as Error).message }, { cause: err });
  }
}

/** The first frame of a connection: always uncompressed, before any codec is agreed. */
export function encodeHelloFrame(hello: HelloMessage): Uint8Array {
  return withHeader(CODEC_IDS.none, utf8.encode(JSON.stringify(hello)));
}

/**
 * Decodes the first frame a relay receives: at most `MAX_HELLO_FRAME_BYTES`, uncompressed.
 * Returns the parsed JSON (validate it with `parseClientMessage`). A compressed first frame
 * is FRAME_UNEXPECTED_CODEC.
 */
export function decodeHelloFrame(bytes: Uint8Array): unknown {
  if (bytes.length > MAX_HELLO_FRAME_BYTES) {
    throw new SyncError('FRAME_TOO_LARGE', `hello frame of ${bytes.length} bytes exceeds ${MAX_HELLO_FRAME_BYTES}`, {
      bytes: bytes.length,
      limit: MAX_HELLO_FRAME_BYTES,
    });
  }
  const { codecId } = readFrameHeader(bytes);
  if (codecId !== CODEC_IDS.none) {
    throw new SyncError('FRAME_UNEXPECTED_CODEC', 'hello must be sent uncompressed', { codecId });
  }
  return parseJsonBody(bytes.subarray(1));
}
