import { Command } from 'commander';
import { printableLines } from '../format/text.js';
import { clusterCommand } from './commands/cluster.js';
import { demoCommand } from './commands/demo.js';
import { drainCommand, undrainCommand } from './commands/drain.js';
import { exportCommand } from './commands/export.js';
import { masterCommand } from './commands/master.js';
import { queryCommand } from './commands/query.js';
import { replayCommand } from './commands/replay.js';
import { slaveCommand } from './commands/slave.js';
import { verifyCommand } from './commands/verify.js';
import { speakAs } from './output.js';

/**
 * The `loadledger` command tree, every command and flag, without parsing anything (main.ts
 * parses process.argv with it; the help test walks it). Errors and help end in a
 * CommanderError (exitOverride) so that main decides the exit code.
 */
export function buildProgram(version: string): Command {
  const program = new Command('loadledger')
    .description(
      'An event-sourced load registry: slaves push load to a master that logs every event and answers which node is least loaded.',
    )
    .version(version)
    .showSuggestionAfterError()
    .configureOutput({ outputError: (text, write) => write(printableLines(`loadledger: ${text.replace(/^error: /, '')}`)) });

  for (const cmd of [
    demoCommand(),
    masterCommand(),
    slaveCommand(),
    queryCommand(),
    drainCommand(),
    undrainCommand(),
    replayCommand(),
    exportCommand(),
    verifyCommand(),
    clusterCommand(),
  ]) {
    // commander's errors echo the argument given: escaped like every human output
    program.addCommand(
      cmd.configureOutput({
        outputError: (text, write) => write(printableLines(`loadledger ${cmd.name()}: ${text.replace(/^error: /, '')}`)),
      }),
    );
  }
  // a failure at run time speaks with the command's name, like its usage errors (output.ts)
  program.hook('preAction', (_program, action) => speakAs(action.name()));
  program.commands.forEach((c) => c.exitOverride());
  program.exitOverride();
  return program;
}
