import { Command } from 'commander';
import { verifyLog } from '../../../replay/verify.js';
import { verifySummary } from '../../../replay/verify-summary.js';
import { die, sayErr, EXIT_FAILURE, printable, writeErr, writeJson, writeOut } from '../output.js';
import { Progress } from '../progress.js';
import { withDefault } from '../options.js';

interface VerifyFlags {
  data: string;
  json?: boolean;
}

/** Problem lines printed (the JSON result and the count carry the rest). */
const SHOWN = 10;

export function verifyCommand(): Command {
  return new Command('verify')
    .description(
      'check a log read-only: seq gapless, every record decodes, every snapshot and the projection a master would load equal a fresh fold',
    )
    .addOption(withDefault('--data <dir>', "a stopped master's log directory, or a copy of it", './data'))
    .option('--json', 'machine output: the result as one JSON document')
    .addHelpText(
      'after',
      `
Exit 0 when the log is sound; 1 with one line per problem (code LOG_CORRUPT) when not.

Examples:
  loadledger verify --data ./data
  loadledger verify --data /backups/master-2026-11-24 --json`,
    )
    .action(async (flags: VerifyFlags) => {
      try {
        await run(flags);
      } catch (e) {
        die(e);
      }
    });
}

async function run(flags: VerifyFlags): Promise<void> {
  const progress = new Progress('verify', 0, { quiet: flags.json === true });
  const r = await verifyLog(flags.data, { onProgress: (d, t) => progress.update(d, t) });
  if (flags.json) {
    writeJson(r, 2);
  } else {
    progress.done(r.events, `read ${flags.data}`);
    for (const p of r.problems.slice(0, SHOWN)) sayErr(`${p.code}: ${printable(p.message)}`);
    if (r.problemCount > SHOWN) sayErr(`… and ${r.problemCount - SHOWN} more problems (--json lists the first ${r.problems.length})`);
    (r.ok ? writeOut : writeErr)(verifySummary(r) + '\n');
  }
  if (!r.ok) process.exitCode = EXIT_FAILURE;
}
