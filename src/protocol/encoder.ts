import { Packr } from 'msgpackr';
import { HEADER_SIZE, MAX_WIRE_PAYLOAD, MsgType, type Attrs } from './messages.js';

// Plain MessagePack maps on the wire: no msgpackr records/extensions, so a C agent can read them.
const wirePackr = new Packr({ useRecords: false, variableMapSize: true });

export function encodeFrame(type: number, payload?: Uint8Array): Buffer {
  const len = payload?.length ?? 0;
  if (len > MAX_WIRE_PAYLOAD) throw new RangeError(`payload of ${len} bytes does not fit a frame`);
  const buf = Buffer.allocUnsafe(HEADER_SIZE + len);
  buf.writeUInt16BE(type, 0);
  buf.writeUInt16BE(len, 2);
  if (payload) buf.set(payload, HEADER_SIZE);
  return buf;
}

export const HELLO_FRAME: Buffer = encodeFrame(MsgType.HELLO);
export const HELLO_ACK_FRAME: Buffer = encodeFrame(MsgType.HELLO_ACK);

export interface PushFields {
  load: number;
  addr?: string;
  capacity?: number;
  attrs?: Attrs;
}

/** The MessagePack payload of a PUSH_LOAD_INFO: `load` first, then addr, capacity, attributes. */
export function encodePushPayload(p: PushFields): Buffer {
  const map: Record<string, unknown> = { load: p.load };
  if (p.addr !== undefined) map['addr'] = p.addr;
  if (p.capacity !== undefined) map['capacity'] = p.capacity;
  if (p.attrs) for (const [k, v] of Object.entries(p.attrs)) map[k] = v;
  return wirePackr.pack(map);
}

export function encodePush(p: PushFields): Buffer {
  return encodeFrame(MsgType.PUSH_LOAD_INFO, encodePushPayload(p));
}
