import { rmSync } from 'node:fs';
import { Command } from 'commander';
import { Demo, MAX_DEMO_SLAVES } from '../../demo/demo.js';
import { redraw, renderLine, renderScreen, type DemoView } from '../../demo/view.js';
import { badArgument } from '../../errors.js';
import { stateDocument } from '../../projection/document.js';
import { formatDuration } from '../../util/duration.js';
import { die } from '../output.js';
import { intArg, positiveDurationArg, withDefault } from '../options.js';
import { stopOnSignals } from '../signals.js';

interface DemoFlags {
  slaves: number;
  refresh: number;
  keep?: boolean;
}

/** Events per second are measured over this window of refreshes. */
const RATE_WINDOW_MS = 2000;

export function demoCommand(): Command {
  return new Command('demo')
    .description('try it: a master with a temporary log and simulated slaves in this process, with a live table (Ctrl-C stops)')
    .addOption(withDefault('--slaves <n>', `simulated slaves (1–${MAX_DEMO_SLAVES})`, 3, intArg(1, MAX_DEMO_SLAVES)))
    .addOption(withDefault('--refresh <duration>', 'redraw the table this often (at least 50ms)', 500, positiveDurationArg))
    .option('--keep', 'keep the log directory at the end and print its path, to replay it')
    .addHelpText(
      'after',
      '\nThe master listens on free ports of 127.0.0.1; its HTTP URL is shown, so that you can curl it or run `loadledger query` against it.' +
        '\nOne slave leaves (GOODBYE) now and then and comes back. On a terminal the table is redrawn in place; otherwise one line per refresh.' +
        '\nCtrl-C: the slaves say GOODBYE, the master stops, the log is removed (unless --keep); exit 0. A second Ctrl-C quits at once.',
    )
    .action(async (flags: DemoFlags) => {
      let demo: Demo;
      try {
        if (flags.refresh < 50) throw badArgument(`--refresh: at least 50ms, got ${flags.refresh}ms`);
        demo = await Demo.start({ slaves: flags.slaves, keep: flags.keep === true });
      } catch (e) {
        die(e);
      }
      const dir = demo.dir;
      // Whatever ends the process (a second Ctrl-C included), the temporary log goes with it.
      if (!demo.kept) process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

      const out = process.stdout;
      const tty = out.isTTY === true;
      const color = tty && !process.env['NO_COLOR'];
      if (tty) {
        out.write('\x1b[?25l\x1b[2J'); // hide the cursor, clear the screen
        process.on('exit', () => out.write('\x1b[?25h'));
      } else {
        out.write(
          `loadledger demo: ${demo.slaveCount} simulated slaves reporting to a master on ${demo.listen}; HTTP ${demo.http} (try: curl ${demo.http}/v1/least-loaded); ` +
            `log ${dir}${demo.kept ? ' (kept at the end)' : ' (removed at the end)'}\n`,
        );
      }

      const samples: Array<{ t: number; seq: number }> = [];
      const view = (): DemoView => {
        const master = demo.master;
        const p = master.projection;
        const t = performance.now();
        samples.push({ t, seq: p.seq });
        while (samples.length > 2 && t - samples[0]!.t > RATE_WINDOW_MS) samples.shift();
        const first = samples[0]!;
        const least = master.healthy ? p.index.least() : undefined;
        return {
          now: Date.now(),
          uptimeMs: t - demo.startedAt,
          slaves: demo.slaveCount,
          http: demo.http,
          listen: demo.listen,
          dir,
          keep: demo.kept,
          doc: stateDocument(p),
          least: least ? { id: least.id, load: least.load } : undefined,
          eventsPerSec: t > first.t ? ((p.seq - first.seq) * 1000) / (t - first.t) : 0,
        };
      };
      const refresh = (): void => {
        const v = view();
        // On a terminal, never more lines than it has rows: a scrolled screen breaks the redraw.
        out.write(
          tty ? redraw(renderScreen(v, out.columns || 100, color).slice(0, Math.max(1, (out.rows || 50) - 1))) : `${renderLine(v)}\n`,
        );
      };
      refresh();
      const timer = setInterval(refresh, flags.refresh);

      stopOnSignals('loadledger demo', (signal) => {
        clearInterval(timer);
        demo.stop(`demo stopped (${signal})`).then(
          (s) => {
            const log = s.kept ? `log kept in ${s.dir} (try: npx loadledger replay --data ${s.dir})` : 'temporary log removed';
            process.stderr.write(
              `loadledger demo: stopped (${signal}) after ${formatDuration(s.durationMs)}: ${s.events} events recorded; ${log}\n`,
            );
            process.exit(0);
          },
          (e: unknown) => die(e),
        );
      });
    });
}
