#!/usr/bin/env node
import { CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { EXIT_USAGE, die } from './output.js';
import { buildProgram } from './program.js';

// `loadledger replay … | head`: a closed pipe ends the command quietly, like any Unix tool.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const program = buildProgram(version);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors were already printed.
    process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  die(e);
}
