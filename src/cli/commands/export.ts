import { Command } from 'commander';
import { addSourceOptions } from '../options.js';
import { createRequire } from 'node:module';
import { exportLog, exportSummary, type ExportResult } from '../../../replay/export.js';
import { openSource, type SourceFlags } from '../../../replay/sources.js';
import { configurable } from '../config.js';
import { die, sayErr } from '../output.js';
import { printableLines } from '../../format/text.js';
import { Progress } from '../progress.js';

export interface ExportFlags extends SourceFlags {
  since?: string;
  until?: string;
  output: string;
  force?: boolean;
}

function generator(): string {
  try {
    // dist/src/cli/commands/export.js → package.json at the package root
    const { version } = createRequire(import.meta.url)('../../../../package.json') as { version: string };
    return `loadledger ${version}`;
  } catch {
    return 'loadledger';
  }
}

/**
 * The export command without the process around it: opens the source, writes the file,
 * draws progress on `stderr` (a bar only when it is a terminal and the export runs over a
 * second) and ends with the one-line summary. Throws LoadLedgerError; never exits.
 */
export async function runExport(flags: ExportFlags, io: { stderr?: NodeJS.WriteStream; signal?: AbortSignal } = {}): Promise<ExportResult> {
  const stderr = io.stderr ?? process.stderr;
  const source = await openSource(flags);
  try {
    const progress = new Progress('exporting', 0, { stream: stderr });
    const result = await exportLog({
      source,
      out: flags.output,
      since: flags.since,
      until: flags.until,
      force: flags.force,
      signal: io.signal,
      generator: generator(),
      onProgress: (done, total) => progress.update(done, total),
    });
    if (stderr.isTTY) stderr.write('\r\x1b[K');
    stderr.write(printableLines(exportSummary(result)) + '\n');
    return result;
  } finally {
    await source.close();
  }
}

export function exportCommand(): Command {
  const cmd = new Command('export').description(
    'write a range of a log to a portable, self-describing file that replays to exact states on its own',
  );
  addSourceOptions(cmd, 'another export file (to cut a smaller range out of it)')
    .option('--since <point>', 'first point of the range: a seq (included), an ISO time, a time of day (03:10) or relative (1h)')
    .option('--until <point>', 'last point of the range (default: the last event)')
    .requiredOption('-o, --output <file>', 'the file to write (conventionally *.llog)')
    .option('--force', 'replace the output file if it exists')
    .addHelpText(
      'after',
      `
The file carries the exact projection just before its first event, so
"replay --file FILE --at POINT" gives the same state as the source at every point in it.
It is written to a temporary name and renamed when complete.

Examples:
  loadledger export --data ./data --since 1h -o incident.llog
  loadledger export --http http://127.0.0.1:7480 --since 03:00 --until 03:30 -o incident.llog`,
    )
    .action(async (flags: ExportFlags) => {
      const abort = new AbortController();
      const onSignal = (): void => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await runExport(flags, { signal: abort.signal });
      } catch (e) {
        if (abort.signal.aborted) {
          process.stderr.write('\n');
          sayErr(`export interrupted; ${flags.output} left as it was`);
          process.exit(130);
        }
        die(e);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  // --data/--file/--http and the rest can also come from --config FILE or LOADLEDGER_* (src/cli/config.ts).
  return configurable(cmd);
}
