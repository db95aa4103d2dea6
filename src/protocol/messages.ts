/**
 * Wire protocol version 1 (../shared/PROTOCOL.md): message type codes and the
 * typed frames the decoder hands back.
 */
export const MsgType = {
  PUSH_LOAD_INFO: 0,
  HELLO: 1,
  HELLO_ACK: 2,
  /** Extension (README "Extensions to PROTOCOL.md"): the slave leaves on purpose. */
  GOODBYE: 3,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

export const HEADER_SIZE = 4;
/** The largest payload a u16 length can describe. */
export const MAX_WIRE_PAYLOAD = 0xffff;

/** Attribute values a push may carry (PROTOCOL.md: string, number or boolean). */
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
  /** Reserved or private-use type: its payload was skipped, the connection stays. */
  | { readonly type: 'UNKNOWN'; readonly code: number; readonly length: number };

/** Limits a receiver enforces on PUSH_LOAD_INFO (PROTOCOL.md defaults). */
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
