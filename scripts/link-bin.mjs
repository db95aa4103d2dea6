// Run by `prepare` after the build: puts the project's own command in node_modules/.bin
// (npm links only the bins of dependencies there) and makes it executable (tsc writes
// it without the x bit), for npm scripts and shells with node_modules/.bin on PATH.
// `npx loadledger` in the clone does not use it: npm exec takes a package's own bin for a
// package to install, copies the clone into its npx cache and runs `prepare` again
// (8-15 s the first time); the clone's quick command is ./loadledger (README).
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'dist', 'src', 'cli', 'main.js');
const bin = join(root, 'node_modules', '.bin');
chmodSync(target, 0o755);
mkdirSync(bin, { recursive: true });
const link = join(bin, 'loadledger');
rmSync(link, { force: true });
symlinkSync(relative(bin, target), link);
