import { Command } from 'commander';
import { badArgument, ErrorCode, isLoadLedgerError } from '../../errors.js';
import { createSlave, type SlaveTlsOptions } from '../../slave/slave.js';
import { checkTlsMaterial, readTlsFile } from '../../util/tls-files.js';
import { DEFAULT_CMD_TIMEOUT, parseLoadSource } from '../../slave/load-sources.js';
import { configurable } from '../config.js';
import { die } from '../output.js';
import { reportSlave } from '../slave-report.js';
import { systemClock } from '../../util/system-clock.js';
import { formatDurationArg, formatHostPort, keyValueArg, numberArg, positiveDurationArg, withDefault } from '../options.js';

interface SlaveFlags {
  master: string;
  addr?: string;
  load: string;
  interval: number;
  deadAfter: number;
  capacity?: number;
  attr?: Record<string, string>;
  cmdTimeout: number;
  quiet?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsServername?: string;
}

/** The TLS options of the --tls-* flags (any of them turns TLS on), files read. */
export function slaveTlsFromFlags(flags: Pick<SlaveFlags, 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsServername'>): SlaveTlsOptions | undefined {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined && flags.tlsCa === undefined && flags.tlsServername === undefined)
    return undefined;
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw badArgument(`--tls-cert and --tls-key go together: missing ${flags.tlsCert === undefined ? '--tls-cert' : '--tls-key'}`);
  }
  const labels = { cert: `--tls-cert ${flags.tlsCert}`, key: `--tls-key ${flags.tlsKey}`, ca: `--tls-ca ${flags.tlsCa}` };
  const tls: SlaveTlsOptions = {
    ...(flags.tlsCa !== undefined && { ca: readTlsFile(flags.tlsCa, labels.ca) }),
    ...(flags.tlsCert !== undefined && { cert: readTlsFile(flags.tlsCert, labels.cert) }),
    ...(flags.tlsKey !== undefined && { key: readTlsFile(flags.tlsKey, labels.key) }),
    ...(flags.tlsServername !== undefined && { servername: flags.tlsServername }),
  };
  checkTlsMaterial(tls, labels); // here, to name the files
  return tls;
}

// A plain decimal as people write a number: no hex (0x10), exponent (1e3), leading zeros
// (007), sign other than minus, or surrounding space. Anything else stays the string given.
const DECIMAL_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

/** An attribute value from the command line: true/false and plain decimals are typed, the rest are strings. */
export function attrValue(v: string): string | number | boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (DECIMAL_RE.test(v)) {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return v;
}

// createSlave names its options (`deadAfter`, `attrs.zone`); the person typed flags.
const OPTION_FLAGS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^deadAfter\b/, '--dead-after'],
  [/^interval\b/, '--interval'],
  [/^connectTimeout\b/, '--dead-after'],
  [/^cmdTimeout\b/, '--cmd-timeout'],
  [/^master(?:\.host|\.port)?\b/, '--master'],
  [/^addr\b/, '--addr'],
  [/^capacity\b/, '--capacity'],
  [/^load\b/, '--load'],
  [/^tls\.cert\b/, '--tls-cert'],
  [/^tls\.key\b/, '--tls-key'],
  [/^tls\.ca\b/, '--tls-ca'],
  [/^tls\.servername\b/, '--tls-servername'],
];

/**
 * Rewrites a createSlave BAD_ARGUMENT message so that it names the flags of this command
 * rather than the library's options: `deadAfter: must be longer than interval …` becomes
 * `--dead-after: must be longer than --interval …`, `attrs.zone: …` becomes `--attr zone: …`.
 */
export function slaveFlagMessage(message: string): string {
  const attr = /^attrs(?:\.([^:]*))?: (.*)$/s.exec(message);
  if (attr) {
    const rest = (attr[2] ?? '').replace(/use the (load|addr|capacity) option/, 'use --$1');
    return attr[1] !== undefined ? `--attr ${attr[1]}: ${rest}` : `--attr: ${rest}`;
  }
  for (const [re, flag] of OPTION_FLAGS) {
    if (re.test(message)) {
      const out = inFlagUnits(message.replace(re, flag));
      return flag === '--dead-after' ? out.replace(/\binterval \(/, '--interval (') : out;
    }
  }
  return message;
}

/** The library speaks milliseconds (`1000 ms`); a flag was written `1s`: say it the way a flag is. */
function inFlagUnits(message: string): string {
  return message.replace(/\b(\d+) ms\b/g, (_, ms: string) => formatDurationArg(Number(ms)));
}

export function slaveCommand(): Command {
  const cmd = new Command('slave')
    .description('run a slave: report the load of a gateway to a master')
    .requiredOption('--master <host:port>', "the master to report to; a cluster's masters comma-separated (a:7400,b:7400): whichever leads")
    .requiredOption('--load <source>', 'a number, loadavg, cpu, file:PATH or cmd:COMMAND')
    .option('--addr <addr>', 'the address clients are given for this node (default: our IP as the master sees it)')
    .addOption(withDefault('--interval <duration>', 'HELLO and push period', 1000, positiveDurationArg))
    .addOption(withDefault('--dead-after <duration>', 'reconnect when the master is silent this long', 3000, positiveDurationArg))
    .option('--capacity <n>', 'relative capacity (> 0)', numberArg(0, true))
    .option('--attr <key=value>', 'an attribute of the node (repeatable), e.g. zone=eu-1', keyValueArg)
    .addOption(withDefault('--cmd-timeout <duration>', 'timeout of a cmd: load source', DEFAULT_CMD_TIMEOUT, positiveDurationArg))
    .option('--tls-cert <file>', 'TLS: our client certificate (PEM); with --tls-key')
    .option('--tls-key <file>', 'its private key (PEM, unencrypted)')
    .option('--tls-ca <file>', "TLS: the CA that signs the master's certificate (PEM; default: the system's)")
    .option('--tls-servername <name>', "TLS: the name the master's certificate must be valid for (default: the --master host)")
    .option('-q, --quiet', 'print only failures')
    .action(async (flags: SlaveFlags) => {
      try {
        const load = parseLoadSource(flags.load, { cmdTimeout: flags.cmdTimeout });
        const attrs = flags.attr ? Object.fromEntries(Object.entries(flags.attr).map(([k, v]) => [k, attrValue(v)])) : undefined;
        const tls = slaveTlsFromFlags(flags);
        const slave = createSlave({
          master: flags.master,
          load,
          interval: flags.interval,
          deadAfter: flags.deadAfter,
          ...(flags.addr !== undefined ? { addr: flags.addr } : {}),
          ...(flags.capacity !== undefined ? { capacity: flags.capacity } : {}),
          ...(attrs ? { attrs } : {}),
          ...(tls ? { tls } : {}),
        });
        if (!flags.quiet) {
          const to =
            slave.masters.length > 1 ? `whichever of ${slave.masters.map(formatHostPort).join(', ')} leads` : formatHostPort(slave.master);
          process.stderr.write(
            `loadledger slave: reporting ${load.describe} for ${flags.addr ?? '(our IP)'} to ${to}${tls ? ' over TLS' : ''} every ${flags.interval}ms\n`,
          );
        }
        reportSlave(slave, {
          quiet: flags.quiet === true,
          write: (line) => process.stderr.write(`${line}\n`),
          now: () => systemClock.now(),
        });
        // GOODBYE (with the signal as its reason): the master marks the node DOWN at once.
        const stop = (signal: string): void => void slave.close({ reason: signal }).then(() => process.exit(0));
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
      } catch (e) {
        die(isLoadLedgerError(e) && e.code === ErrorCode.BAD_ARGUMENT ? badArgument(slaveFlagMessage(e.message)) : e);
      }
    });
  // Every flag above can also come from --config FILE or LOADLEDGER_* (src/cli/config.ts).
  return configurable(cmd);
}
