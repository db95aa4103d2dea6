/**
 * The documentation's relative links: every link in README.md, CONTRIBUTING.md,
 * CHANGELOG.md and docs/*.md points to a file of the repository and, with a #fragment,
 * to a heading of that file (GitHub's anchors). Docs that point nowhere are worse than none.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Pages other work writes (docs/architecture.md, docs/errors.md): a link to one of them
 * is checked once the page exists, and skipped while it does not.
 */
const PENDING = new Set(['docs/architecture.md', 'docs/errors.md']);

function pages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', ...docs].filter((p) => existsSync(join(ROOT, p)));
}

/** The text outside fenced code blocks and inline code: links in code are not links. */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, (s) => ' '.repeat(s.length));
}

function links(md: string): string[] {
  return [...prose(md).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2… for repeats. */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of text.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function problems(page: string): string[] {
  const md = readFileSync(join(ROOT, page), 'utf8');
  const found: string[] = [];
  for (const link of links(md)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:: not ours to check
    const [path = '', fragment] = link.split('#', 2);
    const target = path === '' ? page : relative(ROOT, resolve(ROOT, dirname(page), decodeURIComponent(path)));
    if (!existsSync(join(ROOT, target))) {
      if (PENDING.has(target)) continue;
      found.push(`${page}: ${link}: no file ${target}`);
      continue;
    }
    if (fragment !== undefined && target.endsWith('.md')) {
      if (!anchors(readFileSync(join(ROOT, target), 'utf8')).has(fragment))
        found.push(`${page}: ${link}: no heading #${fragment} in ${target}`);
    }
  }
  return found;
}

describe('documentation links', () => {
  it('has the pages it expects', () => {
    expect(pages()).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', 'docs/protocol.md', 'docs/cli.md']));
  });

  it.each(pages())('%s: every relative link points to a file and heading that exist', (page) => {
    expect(problems(page)).toEqual([]);
  });

  it('README.md stays a front page (under 250 lines)', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThan(250);
  });

  it('anchors follow GitHub', () => {
    expect([...anchors('# loadledger drain / undrain\n## HELLO and HELLO_ACK\n## A\n## A\n```\n# not a heading\n```\n')]).toEqual([
      'loadledger-drain--undrain',
      'hello-and-hello_ack',
      'a',
      'a-1',
    ]);
  });
});
