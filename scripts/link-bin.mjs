// Run by `prepare` after the build: makes `npx loadledger` work inside this checkout.
// npm links the bins of dependencies into node_modules/.bin, never the project's own,
// so without this `npx loadledger` would look for a package of that name in the registry.
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
