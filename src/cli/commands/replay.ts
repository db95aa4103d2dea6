import { Command } from 'commander';
import { loadProjection } from '../../../replay/load.js';
import { openLogReadOnly } from '../../../replay/open.js';
import { stateDocument } from '../../projection/document.js';
import { die } from '../output.js';
import { intArg } from '../options.js';
import { stateText } from './query.js';

interface ReplayFlags {
  data: string;
  at?: number;
  json?: boolean;
}

export function replayCommand(): Command {
  return new Command('replay')
    .description('fold an event log with the master\'s reducer and print the projection (read-only)')
    .option('--data <dir>', 'a stopped master\'s log directory, or a copy of it', './data')
    .option('--at <seq>', 'the projection just after this seq (default: the end)', intArg(0))
    .option('--json', 'print the /v1/state document for that seq')
    .action(async (flags: ReplayFlags) => {
      try {
        const src = await openLogReadOnly(flags.data);
        try {
          const state = await loadProjection(src.log, flags.at ?? src.log.lastSeq);
          const doc = stateDocument(state);
          process.stdout.write(flags.json ? JSON.stringify(doc, null, 2) + '\n' : stateText(doc));
        } finally {
          await src.close();
        }
      } catch (e) {
        die(e);
      }
    });
}
