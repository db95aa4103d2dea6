/**
 * `loadledger master`: its flags and the action that starts a Master (src/node/master.ts).
 * Longer than the ~350 lines a file should keep to because it is one list: 58 flags, each
 * with its parser, default and help text (several lines apiece since the tree is formatted
 * at 140 columns); what the flags do lives below src/cli.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Master, MASTER_DEFAULTS, type ResolvedMasterOptions } from '../../node/master.js';
import type { HostPort } from '../../util/hostport.js';
import { badArgument, ErrorCode, exitCode } from '../../errors.js';
import { httpSecurity, type HttpSecurityFlags } from '../http-security.js';
import { configurable } from '../config.js';
import { formatDuration } from '../../util/duration.js';
import { createLogger, logFormatOption, logLevelOption, type LogFlags } from '../log.js';
import { logMaster } from '../master-log.js';
import { die } from '../output.js';
import { stopOnSignals } from '../signals.js';
import {
  ageArg,
  allowArg,
  commaListArg,
  durationArg,
  formatDurationArg,
  hostPortArg,
  intArg,
  numberArg,
  positiveDurationArg,
  withDefault,
} from '../options.js';
import { POLICIES } from '../../selection/policy.js';
import { readMasterTlsFiles, type MasterTlsOptions } from '../../master/tls.js';

/** A share, 0 to 1 (`0.5`). */
function shareArg(s: string): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError(`expected a share from 0 to 1 (e.g. 0.5), got ${JSON.stringify(s)}`);
  return n;
}

/** The flags that are the master's options of the same name, type and unit: passed on as they are. */
const SAME_AS_OPTIONS = [
  'data',
  'listen',
  'helloInterval',
  'deadAfter',
  'maxSlaves',
  'handshakeTimeout',
  'maxFrameRate',
  'allow',
  'connectRate',
  'connectBurst',
  'snapshotEvery',
  'snapshotInterval',
  'retain',
  'retainEvents',
  'retentionInterval',
  'logRetryFor',
  'acceptDamage',
  'policy',
  'compensation',
  'protectShare',
  'protectFor',
  'protectMinNodes',
  'maxHttpConnections',
  'maxFollowers',
  'followStallTimeout',
  'etcd',
  'leaseTtl',
  'ack',
  'cluster',
  'ackTimeout',
  'flapTakeovers',
  'flapWindow',
  'flapHoldDown',
  'prometheusSd',
  'envoyEds',
  'serviceKey',
  'weightInterval',
  'weightMin',
  'weightStep',
  'dnsZone',
  'dnsTtl',
  'dnsPolicy',
] as const satisfies ReadonlyArray<keyof ResolvedMasterOptions>;

interface MasterFlags extends HttpSecurityFlags, LogFlags, Pick<ResolvedMasterOptions, (typeof SAME_AS_OPTIONS)[number]> {
  /** `--no-http`: false. */
  http: HostPort | false;
  agent?: HostPort;
  dns?: HostPort;
  fsync: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsIdentities?: string;
  nodeId?: string;
}

/** The TLS options of the --tls-* flags (all three files or none), read and checked. */
export function masterTlsFromFlags(
  flags: Pick<MasterFlags, 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsIdentities'>,
): MasterTlsOptions | undefined {
  const given = (['tlsCert', 'tlsKey', 'tlsCa'] as const).filter((k) => flags[k] !== undefined);
  if (given.length === 0) {
    if (flags.tlsIdentities !== undefined) throw badArgument('--tls-identities: needs TLS (--tls-cert, --tls-key and --tls-ca)');
    return undefined;
  }
  if (given.length < 3) {
    const missing = (['tlsCert', 'tlsKey', 'tlsCa'] as const)
      .filter((k) => flags[k] === undefined)
      .map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw badArgument(`--tls-cert, --tls-key and --tls-ca go together: missing ${missing.join(' and ')}`);
  }
  return readMasterTlsFiles({ cert: flags.tlsCert!, key: flags.tlsKey!, ca: flags.tlsCa!, identities: flags.tlsIdentities });
}

export function masterCommand(): Command {
  const cmd = new Command('master')
    .description('run a master: accept slaves, log every event to LevelDB, serve the HTTP API')
    .addOption(withDefault('--data <dir>', 'directory of the event log', MASTER_DEFAULTS.data))
    .addOption(withDefault('--listen <host:port>', 'address for slaves', MASTER_DEFAULTS.listen, hostPortArg))
    .addOption(withDefault('--http <host:port>', 'address of the HTTP API', MASTER_DEFAULTS.http, hostPortArg))
    .option('--no-http', 'do not serve the HTTP API')
    .addOption(
      withDefault(
        '--hello-interval <duration>',
        'HELLO a slave that was quiet this long',
        MASTER_DEFAULTS.helloInterval,
        positiveDurationArg,
      ),
    )
    .addOption(
      withDefault('--dead-after <duration>', 'a slave with no frame for this long is DOWN', MASTER_DEFAULTS.deadAfter, positiveDurationArg),
    )
    .addOption(withDefault('--max-slaves <n>', 'refuse connections beyond this many', MASTER_DEFAULTS.maxSlaves, intArg(1)))
    .addOption(
      withDefault(
        '--max-http-connections <n>',
        'connections to the HTTP API served at once; more are closed as they arrive',
        MASTER_DEFAULTS.maxHttpConnections,
        intArg(1),
      ),
    )
    .addOption(
      withDefault(
        '--max-followers <n>',
        'live tails (/v1/events?follow=1) served at once; more are answered 503',
        MASTER_DEFAULTS.maxFollowers,
        intArg(1),
      ),
    )
    .addOption(
      withDefault(
        '--follow-stall-timeout <duration>',
        'cut off a /v1/events client that takes nothing this long while there is something to send (0: never)',
        MASTER_DEFAULTS.followStallTimeout,
        durationArg,
      ),
    )
    .addOption(
      withDefault(
        '--handshake-timeout <duration>',
        'close a connection that sends no valid frame this long after connecting',
        MASTER_DEFAULTS.handshakeTimeout,
        positiveDurationArg,
      ),
    )
    .addOption(
      withDefault(
        '--max-frame-rate <n>',
        'frames read per second per connection; a faster slave is paused (0: no limit)',
        MASTER_DEFAULTS.maxFrameRate,
        intArg(0),
      ),
    )
    .addOption(
      withDefault(
        '--allow <cidr>',
        'only these peers may connect (repeatable; e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)',
        [],
        allowArg,
        'any peer',
      ),
    )
    .addOption(
      withDefault(
        '--connect-rate <n>',
        'connections accepted per second per peer IP (0: no limit)',
        MASTER_DEFAULTS.connectRate,
        intArg(0),
      ),
    )
    .addOption(
      withDefault(
        '--connect-burst <n>',
        'connections a peer IP may open at once before --connect-rate applies',
        MASTER_DEFAULTS.connectBurst,
        intArg(1),
      ),
    )
    .addOption(
      withDefault('--snapshot-every <events>', 'snapshot the projection every N events (0: off)', MASTER_DEFAULTS.snapshotEvery, intArg(0)),
    )
    .addOption(
      withDefault('--snapshot-interval <duration>', 'and at least this often (0: off)', MASTER_DEFAULTS.snapshotInterval, durationArg),
    )
    .addOption(withDefault('--retain <duration>', 'delete events older than this, in the background', 0, ageArg, 'keep all'))
    .addOption(withDefault('--retain-events <n>', 'keep only the newest N events', 0, intArg(0), 'keep all'))
    .addOption(
      withDefault('--retention-interval <duration>', 'how often retention runs', MASTER_DEFAULTS.retentionInterval, positiveDurationArg),
    )
    .addOption(
      withDefault(
        '--log-retry-for <duration>',
        'after a log write failure, retry this long, then exit 1 (0: retry for ever)',
        MASTER_DEFAULTS.logRetryFor,
        durationArg,
      ),
    )
    .addOption(new Option('--fsync', 'fsync every group commit (survives power loss; slower)').default(false, 'off'))
    .addOption(
      new Option(
        '--accept-damage',
        'start on a damaged event log: record the damaged seqs (a LogDamaged event) and go on without them, instead of refusing with LOG_CORRUPT',
      ).default(false, 'off'),
    )
    .option('--http-tls-cert <file>', 'serve the HTTP API over HTTPS with this certificate (PEM; with --http-tls-key)')
    .option('--http-tls-key <file>', 'the private key of --http-tls-cert (PEM)')
    .option(
      '--admin-token-file <file>',
      'a file holding the API token (16+ characters): needed by admin endpoints, and by reads unless --open-reads',
    )
    .option('--open-reads', 'with --admin-token-file: reads need no token (admin endpoints still do)')
    .option('--tls-cert <file>', "TLS on the slave port: the master's certificate (PEM); with --tls-key and --tls-ca")
    .option('--tls-key <file>', 'its private key (PEM, unencrypted)')
    .option('--tls-ca <file>', 'the CA that signs slave certificates (PEM); slaves without one are refused')
    .option(
      '--tls-identities <file>',
      'a JSON object from each certificate CN to the nodes it may report for ("host:port" or "host"), instead of its SAN',
    )
    .addOption(
      new Option('--policy <name>', 'how least-loaded queries that name no policy are answered')
        .choices(POLICIES)
        .default(MASTER_DEFAULTS.policy, MASTER_DEFAULTS.policy),
    )
    .addOption(
      withDefault(
        '--compensation <load>',
        'load added to a node per answer until its next report (0: off)',
        MASTER_DEFAULTS.compensation,
        numberArg(0),
      ),
    )
    .addOption(
      withDefault(
        '--protect-share <share>',
        'mass-failure protection: more than this share (0..1) of the eligible nodes timing out within one --dead-after starts it (0: off)',
        MASTER_DEFAULTS.protectShare,
        shareArg,
      ),
    )
    .addOption(
      withDefault(
        '--protect-for <duration>',
        'mass-failure protection keeps timed-out nodes eligible this long at most',
        MASTER_DEFAULTS.protectFor,
        positiveDurationArg,
      ),
    )
    .addOption(
      withDefault(
        '--protect-min-nodes <n>',
        'mass-failure protection never starts with fewer eligible nodes than this',
        MASTER_DEFAULTS.protectMinNodes,
        intArg(1),
      ),
    )
    .addOption(
      withDefault(
        '--etcd <urls>',
        'master HA: etcd client URLs, comma-separated (e.g. http://etcd1:2379,http://etcd2:2379); without it the master runs alone',
        [] as string[],
        commaListArg,
        'none',
      ),
    )
    .option('--node-id <id>', "master HA: this master's name in its cluster (default: host name and --listen port)")
    .addOption(
      withDefault(
        '--lease-ttl <duration>',
        "master HA: the leader's lease on etcd; a dead leader is replaced after about this long",
        MASTER_DEFAULTS.leaseTtl,
        positiveDurationArg,
      ),
    )
    .addOption(
      new Option('--ack <mode>', 'master HA: HELLO_ACK once the event is on this disk (local) or on a standby too (standby)')
        .choices(['local', 'standby'])
        .default(MASTER_DEFAULTS.ack, MASTER_DEFAULTS.ack),
    )
    .addOption(withDefault('--cluster <name>', "master HA: the cluster's key prefix in etcd", MASTER_DEFAULTS.cluster as string))
    .addOption(
      withDefault(
        '--ack-timeout <duration>',
        'master HA, --ack standby: how long a commit waits for the in-sync standbys before acknowledging locally',
        MASTER_DEFAULTS.ackTimeout,
        positiveDurationArg,
      ),
    )
    .addOption(
      withDefault(
        '--flap-takeovers <n>',
        'flapping: a node id taken over by a new connection more than this many times within --flap-window (two slaves with the same --addr) keeps its connection, others are refused (0: off)',
        MASTER_DEFAULTS.flapTakeovers,
        intArg(0),
      ),
    )
    .addOption(withDefault('--flap-window <duration>', 'the window of --flap-takeovers', MASTER_DEFAULTS.flapWindow, positiveDurationArg))
    .addOption(
      withDefault(
        '--flap-hold-down <duration>',
        'a flapping node stays with the connection that holds it this long',
        MASTER_DEFAULTS.flapHoldDown,
        positiveDurationArg,
      ),
    )
    .addOption(
      new Option(
        '--prometheus-sd',
        'serve Prometheus HTTP service discovery on the HTTP API: GET /v1/sd/prometheus (docs/integrations.md)',
      ).default(false, 'off'),
    )
    .addOption(
      new Option('--envoy-eds', "serve Envoy's EDS over REST on the HTTP API: POST /v3/discovery:endpoints (docs/integrations.md)").default(
        false,
        'off',
      ),
    )
    .addOption(
      withDefault(
        '--service-key <attr>',
        "the attribute that names a node's service, for HAProxy, Envoy, DNS and Prometheus SD",
        MASTER_DEFAULTS.serviceKey as string,
      ),
    )
    .addOption(
      withDefault(
        '--weight-interval <duration>',
        'weights handed to proxies and resolvers move once per this long',
        MASTER_DEFAULTS.weightInterval,
        positiveDurationArg,
      ),
    )
    .addOption(
      withDefault(
        '--weight-min <n>',
        "every eligible node's lowest weight, 1..100 (percent of full weight): its minimum share",
        MASTER_DEFAULTS.weightMin,
        intArg(1, 100),
      ),
    )
    .addOption(
      withDefault(
        '--weight-step <n>',
        'the most a weight moves per --weight-interval, 1..100 (100: no bound)',
        MASTER_DEFAULTS.weightStep,
        intArg(1, 100),
      ),
    )
    .option('--agent <host:port>', "answer HAProxy's agent-check on this address (off by default)", hostPortArg)
    .option(
      '--dns <host:port>',
      'answer DNS on this address, UDP and TCP: least.ZONE A/AAAA, _nodes._tcp.ZONE SRV (off by default)',
      hostPortArg,
    )
    .addOption(withDefault('--dns-zone <zone>', 'the zone --dns answers for', MASTER_DEFAULTS.dnsZone as string))
    .addOption(
      withDefault(
        '--dns-ttl <duration>',
        'how long --dns answers may be cached (whole seconds; 0: not at all)',
        MASTER_DEFAULTS.dnsTtl,
        durationArg,
      ),
    )
    .addOption(
      new Option('--dns-policy <name>', 'how least.ZONE picks its node (p2c: a single answer cached by every resolver herds)')
        .choices(POLICIES)
        .default(MASTER_DEFAULTS.dnsPolicy, MASTER_DEFAULTS.dnsPolicy),
    )
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .addHelpText(
      'after',
      '\nDurations need a unit: 500ms, 3s, 1m, 2h, 7d (0 where it means off). Stops cleanly on SIGINT/SIGTERM (records the stop, flushes, exits 0; a second signal quits at once, exit 1).',
    )
    .action(async (flags: MasterFlags) => {
      let master: Master;
      try {
        // A slave is pinged once it has been quiet for --hello-interval; one that is declared
        // dead first was never asked whether it is alive.
        if (flags.helloInterval >= flags.deadAfter) {
          throw badArgument(
            `--hello-interval (${formatDurationArg(flags.helloInterval)}) must be shorter than --dead-after (${formatDurationArg(flags.deadAfter)}): the master would never ping a quiet slave before timing it out`,
          );
        }
        const security = httpSecurity(flags);
        const tls = masterTlsFromFlags(flags);
        const same = Object.fromEntries(SAME_AS_OPTIONS.map((k) => [k, flags[k]])) as Pick<MasterFlags, (typeof SAME_AS_OPTIONS)[number]>;
        master = await Master.start({
          ...security,
          ...same,
          http: flags.http === false ? null : flags.http,
          sync: flags.fsync,
          ...(tls && { tls }),
          ...(flags.nodeId !== undefined && { nodeId: flags.nodeId }),
          ...(flags.agent !== undefined && { agent: flags.agent }),
          ...(flags.dns !== undefined && { dns: flags.dns }),
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
      const proc = {
        on: process.on.bind(process),
        exit: process.exit.bind(process),
        stderr: { write: (s: string) => log.fatal(s.replace(/^loadledger master: /, '').trimEnd()) },
      };
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
          log.info(
            { event: 'protection-ended', seq: e.seq, reason: e.reason },
            `mass-failure protection ended (${e.reason}) (seq ${e.seq})`,
          );
        }
      });
      master.health$.subscribe((h) => {
        if (h.type === 'gave-up')
          void master.stop('event log unwritable').finally(() => process.exit(exitCode(ErrorCode.LOG_WRITE_FAILED)));
      });
    });
  // Every flag above can also come from --config FILE or LOADLEDGER_* (src/cli/config.ts).
  return configurable(cmd);
}
