/**
 * Wire protocol version 1 (docs/protocol.md): message type codes and the
 * typed frames the decoder hands back.
 */
export const MsgType = {
  PUSH_LOAD_INFO: 0,
  HELLO: 1,
  HELLO_ACK: 2,
  /** Extension (docs/protocol.md "GOODBYE"): the slave leaves on purpose. */
  GOODBYE: 3,
  /** Extension: a client asks for a node (docs/protocol.md "Binary queries"). */
  QUERY: 4,
  /** Extension: the master's answer to a QUERY. */
  QUERY_REPLY: 5,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

export const HEADER_SIZE = 4;
/** The largest payload a u16 length can describe. */
export const MAX_WIRE_PAYLOAD = 0xffff;

/** Attribute values a push may carry (docs/protocol.md: string, number or boolean). */
export type AttrValue = string | number | boolean;
export type Attrs = Record<string, AttrValue>;

/** A validated PUSH_LOAD_INFO payload. */
export interface LoadInfo {
  load: number;
  /** Absent when the slave did not send one: the master uses the remote IP. */
  addr?: string;
  /** Absent when the slave did not send one: the default is 1. */
  capacity?: number;
  attrs: Attrs;
}

export type Frame =
  | { readonly type: 'PUSH_LOAD_INFO'; readonly info: LoadInfo }
  | { readonly type: 'HELLO' }
  | { readonly type: 'HELLO_ACK' }
  /** The slave leaves on purpose; `reason` only when its payload carried one. */
  | { readonly type: 'GOODBYE'; readonly reason?: string }
  /** A client asks which node to use (src/protocol/query.ts); never binds a node. */
  | { readonly type: 'QUERY'; readonly query: Query }
  /** The master's answer (decoded only by a FrameDecoder made with `replies: true`). */
  | { readonly type: 'QUERY_REPLY'; readonly reply: QueryReply }
  /** Reserved or private-use type: its payload was skipped, the connection stays. */
  | { readonly type: 'UNKNOWN'; readonly code: number; readonly length: number };

/** Limits a receiver enforces on PUSH_LOAD_INFO (docs/protocol.md defaults). */
export interface PushLimits {
  maxPayload: number;
  maxAttrs: number;
  maxKeyBytes: number;
  maxStringBytes: number;
}

/** GOODBYE: the largest payload accepted (checked from the header) and the longest reason. */
export const GOODBYE_MAX_PAYLOAD = 512;
export const GOODBYE_MAX_REASON_BYTES = 256;

export const DEFAULT_LIMITS: Readonly<PushLimits> = Object.freeze({
  maxPayload: 8192,
  maxAttrs: 32,
  maxKeyBytes: 64,
  maxStringBytes: 256,
});

/**
 * A QUERY that was read. `invalid` when it was well-formed MessagePack but asked for
 * something that cannot be answered (a key QUERY does not take, a value of the wrong type,
 * a limit broken): the master answers BAD_ARGUMENT and keeps the connection. `policy` is
 * the name as sent; the master checks it against its policies.
 */
export interface Query {
  /** Echoed in the reply: a uint32. */
  id?: number;
  policy?: string;
  /** Attribute filters, in the order sent. */
  where: ReadonlyArray<readonly [string, AttrValue]>;
  invalid?: string;
}

/** The node a QUERY_REPLY names. */
export interface ReplyNode {
  id: string;
  load: number;
  capacity: number;
  attrs: Attrs;
}

export type QueryReplyCode = 'NO_ELIGIBLE_NODE' | 'MASTER_DOWN' | 'BAD_ARGUMENT';

export type QueryReply =
  { id?: number; ok: true; node: ReplyNode; seq: number } | { id?: number; ok: false; code: QueryReplyCode; error: string };

/** QUERY: the largest payload accepted, checked from the header (as for a push). */
export const QUERY_MAX_PAYLOAD = 8192;
/** QUERY limits: filters, key bytes, string value bytes (as for a push's attributes). */
export const QUERY_MAX_FILTERS = 32;
export const QUERY_MAX_KEY_BYTES = 64;
export const QUERY_MAX_STRING_BYTES = 256;
