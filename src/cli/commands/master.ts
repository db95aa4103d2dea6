import { Command, InvalidArgumentError, Option } from 'commander';
import { Master, MASTER_DEFAULTS } from '../../node/master.js';
import type { HostPort } from '../../util/hostport.js';
import { badArgument, ErrorCode, exitCode } from '../../errors.js';
import { httpSecurity, type HttpSecurityFlags } from '../http-security.js';
import { configurable } from '../config.js';
import { formatDuration } from '../../util/duration.js';
import { createLogger, logFormatOption, logLevelOption, type LogFlags } from '../log.js';
import { logMaster } from '../master-log.js';
import { die } from '../output.js';
import { stopOnSignals } from '../signals.js';
import { allowArg, durationArg, hostPortArg, intArg, numberArg, positiveDurationArg } from '../options.js';
import { POLICIES, type Policy } from '../../selection/policy.js';
import { readMasterTlsFiles, type MasterTlsOptions } from '../../master/tls.js';

/** A share, 0 to 1 (`0.5`). */
function shareArg(s: string): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`expected a share from 0 to 1 (e.g. 0.5), got ${JSON.stringify(s)}`);
  return n;
}

interface MasterFlags extends HttpSecurityFlags, LogFlags {
  data: string;
  listen: HostPort;
  http: HostPort | false;
  helloInterval: number;
  deadAfter: number;
  maxSlaves: number;
  handshakeTimeout: number;
  maxFrameRate: number;
  allow: string[];
  connectRate: number;
  connectBurst: number;
  snapshotEvery: number;
  snapshotInterval: number;
  fsync: boolean;
  retain: number;
  retainEvents: number;
  retentionInterval: number;
  logRetryFor: number;
  policy: Policy;
  compensation: number;
  protectShare: number;
  protectFor: number;
  protectMinNodes: number;
  maxFollowers: number;
  followStallTimeout: number;
  maxHttpConnections: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsIdentities?: string;
}

/** The TLS options of the --tls-* flags (all three files or none), read and checked. */
export function masterTlsFromFlags(flags: Pick<MasterFlags, 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsIdentities'>): MasterTlsOptions | undefined {
  const given = (['tlsCert', 'tlsKey', 'tlsCa'] as const).filter((k) => flags[k] !== undefined);
  if (given.length === 0) {
    if (flags.tlsIdentities !== undefined) throw badArgument('--tls-identities: needs TLS (--tls-cert, --tls-key and --tls-ca)');
    return undefined;
  }
  if (given.length < 3) {
    const missing = (['tlsCert', 'tlsKey', 'tlsCa'] as const).filter((k) => flags[k] === undefined).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw badArgument(`--tls-cert, --tls-key and --tls-ca go together: missing ${missing.join(' and ')}`);
  }
  return readMasterTlsFiles({ cert: flags.tlsCert!, key: flags.tlsKey!, ca: flags.tlsCa!, identities: flags.tlsIdentities });
}

export function masterCommand(): Command {
  const cmd = new Command('master')
    .description('run a master: accept slaves, log every event to LevelDB, serve the HTTP API')
    .option('--data <dir>', 'directory of the event log', MASTER_DEFAULTS.data)
    .option('--listen <host:port>', 'address for slaves', hostPortArg, MASTER_DEFAULTS.listen)
    .option('--http <host:port>', 'address of the HTTP API', hostPortArg, MASTER_DEFAULTS.http)
    .option('--no-http', 'do not serve the HTTP API')
    .option('--hello-interval <duration>', 'HELLO a slave that was quiet this long', positiveDurationArg, MASTER_DEFAULTS.helloInterval)
    .option('--dead-after <duration>', 'a slave with no frame for this long is DOWN', positiveDurationArg, MASTER_DEFAULTS.deadAfter)
    .option('--max-slaves <n>', 'refuse connections beyond this many', intArg(1), MASTER_DEFAULTS.maxSlaves)
    .option('--max-http-connections <n>', 'connections to the HTTP API served at once; more are closed as they arrive', intArg(1), MASTER_DEFAULTS.maxHttpConnections)
    .option('--max-followers <n>', 'live tails (/v1/events?follow=1) served at once; more are answered 503', intArg(1), MASTER_DEFAULTS.maxFollowers)
    .option('--follow-stall-timeout <duration>', 'cut off a /v1/events client that takes nothing this long while there is something to send (0: never)', durationArg, MASTER_DEFAULTS.followStallTimeout)
    .option('--handshake-timeout <duration>', 'close a connection that sends no valid frame this long after connecting', positiveDurationArg, MASTER_DEFAULTS.handshakeTimeout)
    .option('--max-frame-rate <n>', 'frames read per second per connection; a faster slave is paused (0: no limit)', intArg(0), MASTER_DEFAULTS.maxFrameRate)
    .option('--allow <cidr>', 'only these peers may connect (repeatable; e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)', allowArg, [])
    .option('--connect-rate <n>', 'connections accepted per second per peer IP (0: no limit)', intArg(0), MASTER_DEFAULTS.connectRate)
    .option('--connect-burst <n>', 'connections a peer IP may open at once before --connect-rate applies', intArg(1), MASTER_DEFAULTS.connectBurst)
    .option('--snapshot-every <events>', 'snapshot the projection every N events (0: off)', intArg(0), MASTER_DEFAULTS.snapshotEvery)
    .option('--snapshot-interval <duration>', 'and at least this often (0: off)', durationArg, MASTER_DEFAULTS.snapshotInterval)
    .option('--retain <duration>', 'delete events older than this, in the background (default: keep all)', durationArg, 0)
    .option('--retain-events <n>', 'keep only the newest N events (default: keep all)', intArg(0), 0)
    .option('--retention-interval <duration>', 'how often retention runs', positiveDurationArg, MASTER_DEFAULTS.retentionInterval)
    .option('--log-retry-for <duration>', 'after a log write failure, retry this long, then exit 1 (0: retry for ever)', durationArg, MASTER_DEFAULTS.logRetryFor)
    .addOption(new Option('--fsync', 'fsync every group commit (survives power loss; slower)').default(false))
    .option('--http-tls-cert <file>', 'serve the HTTP API over HTTPS with this certificate (PEM; with --http-tls-key)')
    .option('--http-tls-key <file>', 'the private key of --http-tls-cert (PEM)')
    .option('--admin-token-file <file>', 'a file holding the API token (16+ characters): needed by admin endpoints, and by reads unless --open-reads')
    .option('--open-reads', 'with --admin-token-file: reads need no token (admin endpoints still do)')
    .option('--tls-cert <file>', "TLS on the slave port: the master's certificate (PEM); with --tls-key and --tls-ca")
    .option('--tls-key <file>', 'its private key (PEM, unencrypted)')
    .option('--tls-ca <file>', 'the CA that signs slave certificates (PEM); slaves without one are refused')
    .option('--tls-identities <file>', 'JSON {"<certificate CN>": ["host:port" or "host", ...]}: the nodes each certificate may report for (instead of its SAN)')
    .addOption(new Option('--policy <name>', 'how least-loaded queries that name no policy are answered').choices(POLICIES).default(MASTER_DEFAULTS.policy))
    .option('--compensation <load>', 'load added to a node per answer until its next report (0: off)', numberArg(0), MASTER_DEFAULTS.compensation)
    .option('--protect-share <share>', 'mass-failure protection: more than this share (0..1) of the eligible nodes timing out within one --dead-after starts it (0: off)', shareArg, MASTER_DEFAULTS.protectShare)
    .option('--protect-for <duration>', 'mass-failure protection keeps timed-out nodes eligible this long at most', positiveDurationArg, MASTER_DEFAULTS.protectFor)
    .option('--protect-min-nodes <n>', 'mass-failure protection never starts with fewer eligible nodes than this', intArg(1), MASTER_DEFAULTS.protectMinNodes)
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .addHelpText('after', '\nDurations need a unit: 500ms, 3s, 1m, 2h, 7d (0 where it means off). Stops cleanly on SIGINT/SIGTERM (records the stop, flushes, exits 0; a second signal quits at once, exit 1).')
    .action(async (flags: MasterFlags) => {
      let master: Master;
      try {
        // A slave is pinged once it has been quiet for --hello-interval; one that is declared
        // dead first was never asked whether it is alive.
        if (flags.helloInterval >= flags.deadAfter) {
          throw badArgument(
            `--hello-interval (${flags.helloInterval} ms) must be shorter than --dead-after (${flags.deadAfter} ms): the master would never ping a quiet slave before timing it out`,
          );
        }
        const security = httpSecurity(flags);
        const tls = masterTlsFromFlags(flags);
        master = await Master.start({
          ...security,
          data: flags.data,
          listen: flags.listen,
          http: flags.http === false ? null : flags.http,
          helloInterval: flags.helloInterval,
          deadAfter: flags.deadAfter,
          maxSlaves: flags.maxSlaves,
          maxHttpConnections: flags.maxHttpConnections,
          maxFollowers: flags.maxFollowers,
          followStallTimeout: flags.followStallTimeout,
          handshakeTimeout: flags.handshakeTimeout,
          maxFrameRate: flags.maxFrameRate,
          allow: flags.allow,
          connectRate: flags.connectRate,
          connectBurst: flags.connectBurst,
          snapshotEvery: flags.snapshotEvery,
          snapshotInterval: flags.snapshotInterval,
          sync: flags.fsync,
          retain: flags.retain,
          retainEvents: flags.retainEvents,
          retentionInterval: flags.retentionInterval,
          logRetryFor: flags.logRetryFor,
          ...(tls && { tls }),
          policy: flags.policy,
          compensation: flags.compensation,
          protectShare: flags.protectShare,
          protectFor: flags.protectFor,
          protectMinNodes: flags.protectMinNodes,
        });
      } catch (e) {
        die(e);
      }
      const log = createLogger('loadledger master', flags);
      // eslint-disable-next-line prefer-const -- the signal handler below may run before it is assigned: a const would throw there
      let logged: ReturnType<typeof logMaster> | undefined;
      // Before the UP_LISTENING line: whoever reads it may send SIGTERM at once, and must
      // get a clean stop, not the default kill (with the lines after it never written).
      // (its "second signal: quitting at once" line goes through the log too)
      const proc = { on: process.on.bind(process), exit: process.exit.bind(process), stderr: { write: (s: string) => log.fatal(s.replace(/^loadledger master: /, '').trimEnd()) } };
      stopOnSignals(
        'loadledger master',
        (signal) => {
          master.stop(signal).then(
            () => {
              logged?.stopped(signal);
              process.exit(0);
            },
            (e: unknown) => die(e),
          );
        },
        proc,
      );
      logged = logMaster(master, log, flags.data);
      // logMaster has said so (fatal); the master is stopping itself.
      master.protection$.subscribe((e) => {
        if (e.type === 'ProtectionStarted') {
          log.warn(
            { event: 'protection-started', seq: e.seq, timedOut: e.timedOut, eligible: e.eligible, until: e.until },
            `mass-failure protection: ${e.timedOut} of ${e.eligible} eligible nodes timed out within ${formatDuration(flags.deadAfter)}; they stay eligible with their last loads until ${new Date(e.until).toISOString()} at the latest (seq ${e.seq})`,
          );
        } else {
          log.info({ event: 'protection-ended', seq: e.seq, reason: e.reason }, `mass-failure protection ended (${e.reason}) (seq ${e.seq})`);
        }
      });
      master.health$.subscribe((h) => {
        if (h.type === 'gave-up') void master.stop('event log unwritable').finally(() => process.exit(exitCode(ErrorCode.LOG_WRITE_FAILED)));
      });
    });
  // Every flag above can also come from --config FILE or LOADLEDGER_* (src/cli/config.ts).
  return configurable(cmd);
}
