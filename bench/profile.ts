/**
 * `node dist/bench/profile.js FILE.cpuprofile… [--top N]`: the functions with the most
 * self time in each profile, and the split by module.
 */
import { formatProfile, summarizeProfile } from './lib/cpuprofile.js';

const args = process.argv.slice(2);
const t = args.indexOf('--top');
const top = t >= 0 ? Number(args[t + 1]) : 20;
const files = args.filter((a, i) => a !== '--top' && (t < 0 || i !== t + 1));
if (files.length === 0) {
  process.stderr.write('usage: node dist/bench/profile.js FILE.cpuprofile… [--top N]\n');
  process.exit(2);
}
for (const f of files) process.stdout.write(formatProfile(summarizeProfile(f, top)) + '\n\n');
