/**
 * The DNS wire format, as much of it as the registry's DNS interface needs
 * (docs/integrations.md#dns): a strict reader for queries and a writer for answers. Pure:
 * bytes in, values out, no sockets (src/master/dns-port.ts is the adapter).
 *
 * A query is read the way a PUSH_LOAD_INFO map is (src/protocol/push.ts): every length is
 * checked against what is left before a byte is read, and anything a stub resolver or a
 * forwarder does not send is refused rather than guessed at: not exactly one question,
 * answer or authority records, a response, a compression pointer in the question, a label
 * over 63 bytes or a name over 255, more than one OPT record, trailing bytes. A refused
 * packet is dropped by the adapter (and counted), never answered: an answer to a forged
 * source would be a reflection.
 *
 * Over ~350 lines because it is one format: the query reader, the answer writer and the
 * address helpers share its record types, classes, name limits (63/255) and the EDNS size
 * rules; split, each file would import the other's constants.
 */

/** Record types the registry answers or reads (RFC 1035, 2782, 3596, 6891). */
export const DnsType = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;

/** Response codes (RFC 1035 4.1.1; BADVERS is extended, RFC 6891). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export type RcodeName = keyof typeof Rcode;

/** The IN class; ANY (255) is also taken in a question. */
export const CLASS_IN = 1;
const CLASS_ANY = 255;

/** A UDP answer without EDNS fits in this many bytes (RFC 1035 4.2.1). */
export const DNS_UDP_MIN = 512;
/** The most a UDP answer is made, whatever buffer a client offers (what we advertise in OPT too). */
export const DNS_UDP_MAX = 4096;
/** The longest query taken, over UDP or TCP: a question (≤ 255-byte name) and an OPT record with a few options. */
export const DNS_MAX_QUERY = 1024;

export interface DnsQuestion {
  /** Lower-case ASCII, labels joined by '.', without the final dot ('' is the root). */
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsQuery {
  readonly id: number;
  /** The RD bit, echoed in the answer. */
  readonly rd: boolean;
  /** The CD bit, echoed in the answer. */
  readonly cd: boolean;
  readonly question: DnsQuestion;
  /** EDNS (an OPT record): the UDP payload size the client takes, and its EDNS version. */
  readonly edns?: { readonly udpSize: number; readonly version: number; readonly do: boolean };
}

export type DnsRecord = { readonly name: string; readonly ttl: number } & (
  | { readonly type: 'A'; readonly address: readonly number[] }
  | { readonly type: 'AAAA'; readonly address: readonly number[] }
  | { readonly type: 'CNAME'; readonly target: string }
  | { readonly type: 'SRV'; readonly priority: number; readonly weight: number; readonly port: number; readonly target: string }
  | { readonly type: 'NS'; readonly target: string }
  | {
      readonly type: 'SOA';
      readonly mname: string;
      readonly rname: string;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
);

/** An answer's sections and code, before it is written. */
export interface DnsAnswer {
  readonly rcode: RcodeName;
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
}

/** Why a packet was refused (the adapter counts it). */
export type DnsParseError = { readonly error: string };

const utf8 = new TextEncoder();

const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;

/**
 * Reads a query. Returns it, or why it is not one this server takes (never throws, whatever
 * the bytes).
 */
export function parseQuery(b: Uint8Array): DnsQuery | DnsParseError {
  if (b.length < 12) return { error: 'shorter than a header' };
  if (b.length > DNS_MAX_QUERY) return { error: 'longer than a query' };
  const flags = u16(b, 2);
  if (flags & 0x8000) return { error: 'a response, not a query' };
  if ((flags >> 11) & 0xf) return { error: 'not a standard query (opcode)' };
  if (flags & 0x0200) return { error: 'TC set in a query' };
  const qd = u16(b, 4);
  const an = u16(b, 6);
  const ns = u16(b, 8);
  const ar = u16(b, 10);
  if (qd !== 1) return { error: `${qd} questions` };
  if (an !== 0 || ns !== 0) return { error: 'records in the answer or authority section of a query' };
  if (ar > 2) return { error: `${ar} additional records` };
  const q = readName(b, 12, false);
  if ('error' in q) return q;
  let at = q.end;
  if (at + 4 > b.length) return { error: 'question cut short' };
  const type = u16(b, at);
  const klass = u16(b, at + 2);
  at += 4;
  if (type === 0 || type === DnsType.OPT) return { error: `question type ${type}` };
  if (klass !== CLASS_IN && klass !== CLASS_ANY) return { error: `question class ${klass}` };
  let edns: DnsQuery['edns'];
  for (let i = 0; i < ar; i++) {
    const n = readName(b, at, true);
    if ('error' in n) return n;
    at = n.end;
    if (at + 10 > b.length) return { error: 'additional record cut short' };
    const rtype = u16(b, at);
    const rclass = u16(b, at + 2);
    const ttl = ((b[at + 4]! << 24) >>> 0) + (b[at + 5]! << 16) + (b[at + 6]! << 8) + b[at + 7]!;
    const rdlength = u16(b, at + 8);
    at += 10;
    if (at + rdlength > b.length) return { error: 'additional record data cut short' };
    if (rtype === DnsType.OPT) {
      if (edns) return { error: 'two OPT records' };
      if (n.name !== '') return { error: 'OPT record not at the root' };
      // options are TLV: check they tile the data exactly
      for (let o = at; o < at + rdlength;) {
        if (o + 4 > at + rdlength) return { error: 'OPT option cut short' };
        o += 4 + u16(b, o + 2);
        if (o > at + rdlength) return { error: 'OPT option cut short' };
      }
      edns = { udpSize: rclass, version: (ttl >>> 16) & 0xff, do: (ttl & 0x8000) !== 0 };
    }
    // anything else (a TSIG we cannot check, a client cookie record) is skipped
    at += rdlength;
  }
  if (at !== b.length) return { error: 'bytes after the last record' };
  return {
    id: u16(b, 0),
    rd: (flags & 0x0100) !== 0,
    cd: (flags & 0x0010) !== 0,
    question: { name: q.name, type, class: klass },
    ...(edns && { edns }),
  };
}

/**
 * A name at `at`: labels up to the root. In the question no compression pointer is taken
 * (nothing precedes it to point at); elsewhere a pointer ends the name and is not
 * followed (the additional records' names are not used, except that OPT's is the root).
 */
function readName(b: Uint8Array, at: number, pointers: boolean): { name: string; end: number } | DnsParseError {
  const labels: string[] = [];
  let length = 1;
  for (;;) {
    if (at >= b.length) return { error: 'name cut short' };
    const len = b[at]!;
    if (len === 0) return { name: labels.join('.'), end: at + 1 };
    if ((len & 0xc0) === 0xc0) {
      if (!pointers) return { error: 'compression pointer in the question' };
      if (at + 2 > b.length) return { error: 'name cut short' };
      if (u16(b, at) - 0xc000 >= at) return { error: 'compression pointer forwards' };
      return { name: labels.length === 0 ? '.' : labels.join('.') + '.', end: at + 2 };
    }
    if (len > 63) return { error: 'label type not supported' };
    length += len + 1;
    if (length > 255) return { error: 'name over 255 bytes' };
    if (at + 1 + len > b.length) return { error: 'name cut short' };
    let label = '';
    for (let i = at + 1; i <= at + len; i++) {
      const c = b[i]!;
      // ASCII lower case; any other byte as \DDD, so that it can never match a name of ours
      label +=
        c >= 0x41 && c <= 0x5a
          ? String.fromCharCode(c + 32)
          : c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c
            ? String.fromCharCode(c)
            : `\\${String(c).padStart(3, '0')}`;
    }
    labels.push(label);
    at += 1 + len;
  }
}

/** Writes names with compression (RFC 1035 4.1.4): each suffix written once, later ones point at it. */
class Writer {
  private buf: Uint8Array;
  length = 0;
  private readonly names = new Map<string, number>();

  constructor(size = 512) {
    this.buf = new Uint8Array(size);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v & 0xff;
  }

  u16(v: number): void {
    this.u8(v >>> 8);
    this.u8(v);
  }

  u32(v: number): void {
    this.u16(Math.floor(v / 0x10000) & 0xffff);
    this.u16(v & 0xffff);
  }

  setU16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }

  /** `name` without its final dot ('' the root); labels of ASCII text, as our names are. */
  name(name: string): void {
    let rest = name.endsWith('.') ? name.slice(0, -1) : name;
    while (rest !== '') {
      const key = rest.toLowerCase();
      const seen = this.names.get(key);
      if (seen !== undefined) return this.u16(0xc000 | seen);
      if (this.length < 0x4000) this.names.set(key, this.length);
      const dot = rest.indexOf('.');
      const label = dot < 0 ? rest : rest.slice(0, dot);
      const bytes = utf8.encode(label);
      this.u8(Math.min(bytes.length, 63));
      for (const c of bytes.subarray(0, 63)) this.u8(c);
      rest = dot < 0 ? '' : rest.slice(dot + 1);
    }
    this.u8(0);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeRecord(w: Writer, r: DnsRecord): void {
  w.name(r.name);
  w.u16(DnsType[r.type]);
  w.u16(CLASS_IN);
  w.u32(r.ttl);
  const lengthAt = w.length;
  w.u16(0);
  const start = w.length;
  switch (r.type) {
    case 'A':
    case 'AAAA':
      for (const x of r.address) w.u8(x);
      break;
    case 'CNAME':
    case 'NS':
      w.name(r.target);
      break;
    case 'SRV':
      w.u16(r.priority);
      w.u16(r.weight);
      w.u16(r.port);
      // RFC 2782: the target is not compressed
      writePlainName(w, r.target);
      break;
    case 'SOA':
      w.name(r.mname);
      w.name(r.rname);
      w.u32(r.serial);
      w.u32(r.refresh);
      w.u32(r.retry);
      w.u32(r.expire);
      w.u32(r.minimum);
      break;
    default: {
      const unknown: never = r;
      throw new Error(`record type ${JSON.stringify(unknown)}`);
    }
  }
  w.setU16(lengthAt, w.length - start);
}

function writePlainName(w: Writer, name: string): void {
  const rest = name.endsWith('.') ? name.slice(0, -1) : name;
  if (rest !== '') {
    for (const label of rest.split('.')) {
      const bytes = utf8.encode(label);
      w.u8(Math.min(bytes.length, 63));
      for (const c of bytes.subarray(0, 63)) w.u8(c);
    }
  }
  w.u8(0);
}

export interface EncodeOptions {
  /** The most bytes the answer may take (UDP: 512, or the client's EDNS size); beyond it, TC and only the question. */
  limit: number;
  /** Authoritative (AA): the zone's own names. */
  authoritative: boolean;
  /**
   * Over TCP there is no larger size to retry with: an answer that still does not fit keeps
   * as many answer records as fit (in their order), with TC, rather than none.
   */
  partial?: boolean;
}

/**
 * The answer to `query`, as bytes: its id, RD and CD echoed, the question, the sections, and
 * an OPT record when the query had one (advertising DNS_UDP_MAX). When it does not fit in
 * `limit`, it goes without its additional section; if that does not fit either, TC is set
 * and only the question (and OPT) is sent: the client asks again over TCP (RFC 2181 9);
 * over TCP (`partial`), the answer records that fit. Also returns whether it was truncated (TC).
 */
export function encodeAnswer(query: DnsQuery, answer: DnsAnswer, opts: EncodeOptions): { bytes: Uint8Array; truncated: boolean } {
  const full = encode(query, answer, opts.authoritative, false);
  if (full.length <= opts.limit) return { bytes: full, truncated: false };
  // the additional section is a courtesy (RFC 2181 9): without it, no TC
  if (answer.additionals.length > 0) {
    const bare = encode(query, { ...answer, additionals: [] }, opts.authoritative, false);
    if (bare.length <= opts.limit) return { bytes: bare, truncated: false };
  }
  if (opts.partial) {
    // the most answer records that fit: binary search on the count
    let lo = 0;
    let hi = answer.answers.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (
        encode(query, { ...answer, answers: answer.answers.slice(0, mid), authorities: [], additionals: [] }, opts.authoritative, true)
          .length <= opts.limit
      )
        lo = mid;
      else hi = mid - 1;
    }
    return {
      bytes: encode(query, { ...answer, answers: answer.answers.slice(0, lo), authorities: [], additionals: [] }, opts.authoritative, true),
      truncated: true,
    };
  }
  return { bytes: encode(query, { ...answer, answers: [], authorities: [], additionals: [] }, opts.authoritative, true), truncated: true };
}

function encode(query: DnsQuery, answer: DnsAnswer, aa: boolean, tc: boolean): Uint8Array {
  const w = new Writer();
  const rcode = Rcode[answer.rcode];
  w.u16(query.id);
  // QR, opcode 0, AA, TC, RD echoed, RA 0, CD echoed, RCODE (low 4 bits)
  w.u16(0x8000 | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | (query.rd ? 0x0100 : 0) | (query.cd ? 0x0010 : 0) | (rcode & 0xf));
  w.u16(1);
  w.u16(answer.answers.length);
  w.u16(answer.authorities.length);
  w.u16(answer.additionals.length + (query.edns ? 1 : 0));
  w.name(query.question.name);
  w.u16(query.question.type);
  w.u16(query.question.class);
  for (const r of answer.answers) writeRecord(w, r);
  for (const r of answer.authorities) writeRecord(w, r);
  for (const r of answer.additionals) writeRecord(w, r);
  if (query.edns) {
    w.u8(0); // root
    w.u16(DnsType.OPT);
    w.u16(DNS_UDP_MAX);
    // extended rcode (upper 8 bits of 12), version 0, DO echoed
    w.u8(rcode >>> 4);
    w.u8(0);
    w.u16(query.edns.do ? 0x8000 : 0);
    w.u16(0);
  }
  return w.bytes();
}

/** The UDP size an answer to `query` may take: 512 without EDNS, else the client's (at least 512, at most DNS_UDP_MAX). */
export function udpLimit(query: DnsQuery): number {
  if (!query.edns) return DNS_UDP_MIN;
  return Math.min(DNS_UDP_MAX, Math.max(DNS_UDP_MIN, query.edns.udpSize));
}

/** The bytes of an IPv4 address in dotted form, or undefined. */
export function ipv4Bytes(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out.push(v);
  }
  return out;
}

/** The 16 bytes of an IPv6 address (`::` shorthand, an IPv4 tail, no zone), or undefined. */
export function ipv6Bytes(s: string): number[] | undefined {
  if (s.includes('%') || !s.includes(':')) return undefined;
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string): number[] | undefined => {
    if (h === '') return [];
    const gs = h.split(':');
    const out: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = group(halves[0]!);
  const back = halves.length === 2 ? group(halves[1]!) : [];
  if (!head || !back) return undefined;
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - back.length).fill(0), ...back] : head;
  if (groups.length !== 8 || (halves.length === 2 && head.length + back.length > 7)) return undefined;
  const bytes = groups.flatMap((g) => [g >>> 8, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}
