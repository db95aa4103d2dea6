#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { EXIT_USAGE, die } from './output.js';
import { clusterCommand } from './commands/cluster.js';
import { demoCommand } from './commands/demo.js';
import { drainCommand, undrainCommand } from './commands/drain.js';
import { exportCommand } from './commands/export.js';
import { masterCommand } from './commands/master.js';
import { queryCommand } from './commands/query.js';
import { replayCommand } from './commands/replay.js';
import { slaveCommand } from './commands/slave.js';
import { verifyCommand } from './commands/verify.js';

// `loadledger replay … | head`: a closed pipe ends the command quietly, like any Unix tool.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const program = new Command('loadledger')
  .description('An event-sourced load registry: slaves push load to a master that logs every event and answers which node is least loaded.')
  .version(version)
  .showSuggestionAfterError()
  .configureOutput({ outputError: (text, write) => write(`loadledger: ${text.replace(/^error: /, '')}`) });

for (const cmd of [demoCommand(), masterCommand(), slaveCommand(), queryCommand(), drainCommand(), undrainCommand(), replayCommand(), exportCommand(), verifyCommand(), clusterCommand()]) {
  program.addCommand(cmd.configureOutput({ outputError: (text, write) => write(`loadledger ${cmd.name()}: ${text.replace(/^error: /, '')}`) }));
}
program.commands.forEach((c) => c.exitOverride());
program.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors were already printed.
    process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  die(e);
}
