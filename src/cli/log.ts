import { Option } from 'commander';
import { pino, type Logger } from 'pino';
import { printable, printableJson } from '../format/text.js';

export type { Logger } from 'pino';

/** `--log-level`, lowest first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `--log-format`: `human` lines (what the master always printed), or JSON Lines. */
export const LOG_FORMATS = ['human', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogFlags {
  logLevel: LogLevel;
  logFormat?: LogFormat;
}

/** `--log-level` (or LOADLEDGER_LOG_LEVEL), for a command that logs (the master). */
export function logLevelOption(): Option {
  return new Option('--log-level <level>', 'log this level and above').choices(LOG_LEVELS).default('info', 'info'); // LOADLEDGER_LOG_LEVEL: the config layer (src/cli/config.ts)
}

/** `--log-format` (or LOADLEDGER_LOG_FORMAT); unset: human on a terminal, json otherwise. */
export function logFormatOption(): Option {
  return new Option(
    '--log-format <format>',
    'human lines, or JSON Lines (default: human when stderr is a terminal, json otherwise)',
  ).choices(LOG_FORMATS); // LOADLEDGER_LOG_FORMAT: the config layer
}

/** Where log lines go: stderr (a stand-in in tests). */
export interface LogSink {
  write(line: string): unknown;
  readonly isTTY?: boolean | undefined;
}

/**
 * One JSON log line as a person reads it: `NAME: MSG` (MSG printable: escaped), with `warning: ` in front of a
 * warning and `debug: `/`trace: ` in front of those (errors say what they are themselves). The start line stays exactly what scripts parse:
 * `loadledger master: UP_LISTENING epoch 1, slaves on …`.
 */
export function humanLine(name: string, record: { level: string; msg?: string }): string {
  const level = record.level;
  const tag = level === 'warn' ? 'warning: ' : level === 'debug' || level === 'trace' ? `${level}: ` : '';
  return `${name}: ${tag}${printable(record.msg ?? '')}\n`;
}

/**
 * The master's logger: pino, writing synchronously to `sink` (a line logged just before
 * process.exit() is never lost; pino's transports would spawn a worker thread for nothing).
 *
 * JSON lines carry `level` (its name), `time` (ISO), `pid`, `msg` and the fields given
 * (`epoch`, `seq`, `listen`, `http`, `code`, …). The human format is a small formatter
 * of our own over the same records (no pino-pretty).
 */
export function createLogger(name: string, flags: LogFlags, sink: LogSink = process.stderr): Logger {
  const format = flags.logFormat ?? (sink.isTTY ? 'human' : 'json');
  const stream =
    format === 'json'
      ? { write: (line: string) => sink.write(printableJson(line)) }
      : { write: (line: string) => sink.write(humanLine(name, JSON.parse(line) as { level: string; msg?: string })) };
  return pino(
    {
      level: flags.logLevel,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
