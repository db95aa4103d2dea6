import { ErrorCode } from '../errors.js';
import { DEFAULT_LIMITS, GOODBYE_MAX_PAYLOAD, HEADER_SIZE, MsgType, QUERY_MAX_PAYLOAD, type Frame, type PushLimits } from './messages.js';
import { decodeGoodbye, isGoodbyeRejection } from './goodbye.js';
import { decodePush, isRejection } from './push.js';
import { decodeQuery, decodeQueryReply, isQueryRejection } from './query.js';

/** A fatal error in the byte stream: the connection must be closed and the reason recorded. */
export interface DecodeError {
  readonly code: ErrorCode;
  readonly reason: string;
}

export interface FrameSink {
  frame(frame: Frame): void;
  error(err: DecodeError): void;
}

const EMPTY = Buffer.alloc(0);

export interface DecoderOptions {
  /**
   * Decode QUERY_REPLY frames (a client of the master). Off on the master: a QUERY_REPLY
   * sent to it is an unknown frame, skipped, as before the type existed.
   */
  replies?: boolean;
}

/**
 * Incremental, pure frame decoder: feed it bytes in any segmentation, it calls
 * `sink.frame` for each complete frame, in order, and `sink.error` once for the first
 * fatal error, after which it ignores further input.
 *
 * The length of a PUSH_LOAD_INFO is checked against `maxPayload` (of a GOODBYE, against
 * GOODBYE_MAX_PAYLOAD) from the header, before a single payload byte is buffered. Payloads
 * of HELLO/HELLO_ACK and of unknown types are skipped as they stream past, never buffered.
 * A GOODBYE is delivered like any frame; what comes after it is the sink's business (the
 * master stops reading). A QUERY is checked against QUERY_MAX_PAYLOAD from its header; a
 * QUERY_REPLY (with `replies`) is buffered whole, at most a u16's worth.
 */
export class FrameDecoder {
  private pending: Buffer = EMPTY;
  private skip = 0;
  private failed = false;
  private paused = false;
  private readonly limits: PushLimits;
  private readonly replies: boolean;

  constructor(
    private readonly sink: FrameSink,
    limits: Partial<PushLimits> = {},
    options: DecoderOptions = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.replies = options.replies ?? false;
  }

  /** True once a fatal error was reported. */
  get closed(): boolean {
    return this.failed;
  }

  /** Bytes held waiting for the rest of a frame (never more than header + max(maxPayload, GOODBYE_MAX_PAYLOAD)). */
  get buffered(): number {
    return this.pending.length;
  }

  /** True while paused: input is buffered, not decoded. */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Stops after the frame being delivered (the sink may call this from `frame`): the rest
   * of the input is held, undecoded, until `resume()`. Backpressure for a fast sender.
   */
  pause(): void {
    this.paused = true;
  }

  /** Decodes what was held while paused, then goes on with new input. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.pending;
    this.pending = EMPTY;
    this.push(held);
  }

  push(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    if (this.paused) {
      // held whole; decoded on resume (a paused socket delivers little more than one chunk)
      this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
      return;
    }
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.skip > 0) {
      if (buf.length <= this.skip) {
        this.skip -= buf.length;
        return;
      }
      buf = buf.subarray(this.skip);
      this.skip = 0;
    }
    if (this.pending.length > 0) buf = Buffer.concat([this.pending, buf]);
    let pos = 0;
    const end = buf.length;
    while (end - pos >= HEADER_SIZE) {
      const type = buf.readUInt16BE(pos);
      const len = buf.readUInt16BE(pos + 2);
      if (type === MsgType.PUSH_LOAD_INFO) {
        if (len > this.limits.maxPayload) {
          return this.fail(
            ErrorCode.FRAME_TOO_LARGE,
            `PUSH_LOAD_INFO payload of ${len} bytes exceeds the limit of ${this.limits.maxPayload}`,
          );
        }
        if (end - pos - HEADER_SIZE < len) break; // wait for the rest of this frame
        const payload = buf.subarray(pos + HEADER_SIZE, pos + HEADER_SIZE + len);
        pos += HEADER_SIZE + len;
        const info = decodePush(payload, this.limits);
        if (isRejection(info)) return this.fail(info.code, info.reason);
        this.sink.frame({ type: 'PUSH_LOAD_INFO', info });
        if (this.failed) return; // the sink may close us
        if (this.paused) break;
        continue;
      }
      if (type === MsgType.GOODBYE) {
        if (len > GOODBYE_MAX_PAYLOAD) {
          return this.fail(ErrorCode.FRAME_TOO_LARGE, `GOODBYE payload of ${len} bytes exceeds the limit of ${GOODBYE_MAX_PAYLOAD}`);
        }
        if (end - pos - HEADER_SIZE < len) break;
        const goodbye = decodeGoodbye(buf.subarray(pos + HEADER_SIZE, pos + HEADER_SIZE + len));
        pos += HEADER_SIZE + len;
        if (isGoodbyeRejection(goodbye)) return this.fail(goodbye.code, goodbye.reason);
        this.sink.frame(goodbye);
        if (this.failed) return;
        if (this.paused) break;
        continue;
      }
      if (type === MsgType.QUERY) {
        if (len > QUERY_MAX_PAYLOAD) {
          return this.fail(ErrorCode.FRAME_TOO_LARGE, `QUERY payload of ${len} bytes exceeds the limit of ${QUERY_MAX_PAYLOAD}`);
        }
        if (end - pos - HEADER_SIZE < len) break;
        const query = decodeQuery(buf.subarray(pos + HEADER_SIZE, pos + HEADER_SIZE + len));
        pos += HEADER_SIZE + len;
        if (isQueryRejection(query)) return this.fail(query.code, query.reason);
        this.sink.frame({ type: 'QUERY', query });
        if (this.failed) return;
        if (this.paused) break;
        continue;
      }
      if (type === MsgType.QUERY_REPLY && this.replies) {
        if (end - pos - HEADER_SIZE < len) break;
        const reply = decodeQueryReply(buf.subarray(pos + HEADER_SIZE, pos + HEADER_SIZE + len));
        pos += HEADER_SIZE + len;
        if (isQueryRejection(reply)) return this.fail(reply.code, reply.reason);
        this.sink.frame({ type: 'QUERY_REPLY', reply });
        if (this.failed) return;
        if (this.paused) break;
        continue;
      }
      pos += HEADER_SIZE;
      const available = end - pos;
      if (len > available) {
        this.skip = len - available;
        pos = end;
      } else {
        pos += len;
      }
      if (type === MsgType.HELLO) this.sink.frame(HELLO);
      else if (type === MsgType.HELLO_ACK) this.sink.frame(HELLO_ACK);
      else this.sink.frame({ type: 'UNKNOWN', code: type, length: len });
      if (this.failed) return;
      if (this.paused) break;
    }
    // Copy the remainder so we do not pin the caller's (possibly large) chunk; while
    // paused it is held only until resume(), so a view is enough (no copy per pause).
    this.pending = pos >= end ? EMPTY : this.paused ? buf.subarray(pos) : Buffer.from(buf.subarray(pos));
  }

  /** Stop decoding (the connection is going away); later input is ignored. */
  close(): void {
    this.failed = true;
    this.pending = EMPTY;
  }

  private fail(code: ErrorCode, reason: string): void {
    this.failed = true;
    this.pending = EMPTY;
    this.sink.error({ code, reason });
  }
}

const HELLO: Frame = Object.freeze({ type: 'HELLO' });
const HELLO_ACK: Frame = Object.freeze({ type: 'HELLO_ACK' });
