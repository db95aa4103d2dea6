/**
 * The layers of docs/architecture.md, checked on the real import graph: every module under
 * src/, storage/, replay/ and bench/ is parsed with the TypeScript compiler API, and its
 * imports (static, re-exports, dynamic `import()`; type-only ones too) are resolved to files.
 *
 * It fails on
 * - an import cycle (the cycle's path is printed);
 * - an import from a lower layer to a higher one (LAYERS below: a module may import its own
 *   layer or lower ones; type-only imports count, a type is a dependency as well);
 * - I/O in the pure core: an I/O module (IO_MODULES) imported by a core module, or the clock,
 *   timers or randomness (CLOCK_AND_RANDOM) used in its source. Type-only imports are exempt
 *   from this rule only: `import type { Socket } from 'node:net'` loads nothing.
 *
 * The rank table is documented in docs/architecture.md; a test below checks that it lists
 * the same rows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SCANNED = ['src', 'storage', 'replay', 'bench'];

/**
 * Layer ranks, lowest first: a module may import only modules of its own rank or lower.
 * A path is matched by its longest prefix in this table (a folder ends with '/').
 */
export const LAYERS: ReadonlyArray<{ rank: number; layer: string; paths: string[] }> = [
  {
    rank: 0,
    layer: 'core',
    paths: [
      'src/errors.ts',
      'src/events.ts',
      'src/protocol/',
      'src/projection/',
      'src/selection/',
      'src/decisions/',
      'src/format/',
      'src/util/duration.ts',
      'src/util/err.ts',
    ],
  },
  { rank: 1, layer: 'util', paths: ['src/util/', 'src/clock.ts'] },
  { rank: 2, layer: 'storage', paths: ['storage/'] },
  { rank: 3, layer: 'client', paths: ['src/client/'] },
  { rank: 4, layer: 'replay', paths: ['replay/'] },
  { rank: 5, layer: 'ledger', paths: ['src/ledger/'] },
  { rank: 6, layer: 'edges', paths: ['src/master/', 'src/http/', 'src/slave/', 'src/cluster/'] },
  { rank: 7, layer: 'root', paths: ['src/node/', 'src/index.ts'] },
  { rank: 8, layer: 'demo', paths: ['src/demo/'] },
  { rank: 9, layer: 'cli', paths: ['src/cli/'] },
  { rank: 10, layer: 'bench', paths: ['bench/'] },
];

/** The pure core: no I/O, no clock, no randomness that is not passed in. */
const CORE_RANK = 0;

/** Modules that do I/O (or read the clock: node:perf_hooks); bare names as well as node: ones. */
const IO_MODULES = [
  'net',
  'fs',
  'fs/promises',
  'http',
  'https',
  'http2',
  'tls',
  'dgram',
  'dns',
  'child_process',
  'cluster',
  'worker_threads',
  'timers',
  'timers/promises',
  'perf_hooks',
  'readline',
  'os',
  'process',
];
const IO_PACKAGES = ['level', 'classic-level', 'abstract-level', 'prom-client', 'pino'];

/** Globals that read the clock, schedule, or draw random numbers (checked in the core's AST). */
const CLOCK_AND_RANDOM = [
  'setTimeout',
  'setInterval',
  'setImmediate',
  'Date.now',
  'performance.now',
  'Math.random',
  'process.hrtime',
  'new Date()',
];

export interface Import {
  /** The specifier as written. */
  spec: string;
  /** The file it resolves to (relative to the root), or undefined for a package. */
  file: string | undefined;
  typeOnly: boolean;
}

export interface Module {
  file: string;
  imports: Import[];
  /** CLOCK_AND_RANDOM uses, as `name (line n)`. */
  clock: string[];
}

function listFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'));
}

function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const abs = join(dirname(join(ROOT, from)), spec).replace(/\.js$/, '.ts');
  return relative(ROOT, abs).split('\\').join('/');
}

/** Imports and clock uses of one file, from its syntax tree. */
export function parseModule(file: string, text: string): Module {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports: Import[] = [];
  const clock: string[] = [];
  const add = (spec: string, typeOnly: boolean): void => void imports.push({ spec, file: resolveImport(file, spec), typeOnly });
  const line = (n: ts.Node): number => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(n.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const named = n.exportClause && ts.isNamedExports(n.exportClause) ? n.exportClause.elements : undefined;
      add(n.moduleSpecifier.text, n.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (
      ts.isCallExpression(n) &&
      n.expression.kind === ts.SyntaxKind.ImportKeyword &&
      n.arguments[0] &&
      ts.isStringLiteral(n.arguments[0])
    ) {
      add(n.arguments[0].text, false);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      add(n.argument.literal.text, true);
    } else if (ts.isIdentifier(n) && CLOCK_AND_RANDOM.includes(n.text) && !ts.isPropertyAccessExpression(n.parent)) {
      clock.push(`${n.text} (line ${line(n)})`);
    } else if (ts.isPropertyAccessExpression(n) && CLOCK_AND_RANDOM.includes(n.getText(sf).replace(/^globalThis\./, ''))) {
      clock.push(`${n.getText(sf)} (line ${line(n)})`);
    } else if (ts.isNewExpression(n) && n.expression.getText(sf) === 'Date' && (n.arguments?.length ?? 0) === 0) {
      clock.push(`new Date() (line ${line(n)})`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return { file, imports, clock };
}

export function layerOf(file: string): { rank: number; layer: string } | undefined {
  let best: { rank: number; layer: string; len: number } | undefined;
  for (const l of LAYERS) {
    for (const p of l.paths) {
      const hit = p.endsWith('/') ? file.startsWith(p) : file === p;
      if (hit && (!best || p.length > best.len)) best = { rank: l.rank, layer: l.layer, len: p.length };
    }
  }
  return best && { rank: best.rank, layer: best.layer };
}

/** Every cycle's path (one per strongly connected component with more than one module, or a self-import). */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's strongly connected components, then one concrete cycle through each.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const sccs: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) sccs.push(scc);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return sccs.map((scc) => {
    // the shortest cycle from the component's first module back to it (breadth-first)
    const members = new Set(scc);
    const start = [...scc].sort()[0]!;
    const prev = new Map<string, string>();
    const queue = [start];
    for (let i = 0; i < queue.length; i++) {
      const v = queue[i]!;
      for (const w of graph.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [start];
          for (let x: string | undefined = v; x !== undefined && x !== start; x = prev.get(x)) path.splice(1, 0, x);
          return [...path, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

function isIoModule(spec: string): boolean {
  const bare = spec.replace(/^node:/, '');
  return IO_MODULES.includes(bare) || IO_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`));
}

/** Everything the checks report, one line each (empty: the layering holds). */
export function check(modules: readonly Module[]): { cycles: string[]; upward: string[]; io: string[]; unranked: string[] } {
  const graph = new Map(modules.map((m) => [m.file, m.imports.flatMap((i) => (i.file ? [i.file] : []))]));
  const cycles = findCycles(graph).map((c) => c.join(' → '));
  const upward: string[] = [];
  const io: string[] = [];
  const unranked: string[] = [];
  for (const m of modules) {
    const from = layerOf(m.file);
    if (!from) {
      unranked.push(m.file);
      continue;
    }
    for (const i of m.imports) {
      if (i.file) {
        if (!graph.has(i.file)) continue; // outside the scanned folders (none today)
        const to = layerOf(i.file);
        if (to && to.rank > from.rank)
          upward.push(
            `${m.file} (${from.layer}, rank ${from.rank}) imports ${i.file} (${to.layer}, rank ${to.rank})${i.typeOnly ? ' [type-only]' : ''}`,
          );
      } else if (from.rank === CORE_RANK && !i.typeOnly && isIoModule(i.spec)) {
        io.push(`${m.file} (core) imports ${i.spec}`);
      }
    }
    if (from.rank === CORE_RANK) for (const c of m.clock) io.push(`${m.file} (core) uses ${c}`);
  }
  return { cycles, upward, io, unranked };
}

function scan(): Module[] {
  return SCANNED.flatMap(listFiles).map((f) => parseModule(f, readFileSync(join(ROOT, f), 'utf8')));
}

describe('architecture: the import graph of src/, storage/, replay/, bench/', () => {
  const modules = scan();
  const result = check(modules);

  it('reads the real graph (sanity: the composition root imports the slave port and the HTTP API)', () => {
    expect(modules.length).toBeGreaterThan(50);
    const root = modules.find((m) => m.file === 'src/node/master.ts');
    expect(root?.imports.map((i) => i.file)).toEqual(expect.arrayContaining(['src/master/slave-port.ts', 'src/http/server.ts']));
  });

  it('every module has a layer', () => {
    expect(result.unranked, 'add these to LAYERS (and docs/architecture.md)').toEqual([]);
  });

  it('has no import cycle', () => {
    expect(result.cycles, 'import cycles (break each by moving the shared piece down)').toEqual([]);
  });

  it('imports only point down (or within a layer)', () => {
    expect(result.upward, 'imports from a lower layer to a higher one').toEqual([]);
  });

  it('the pure core does no I/O and reads no clock or randomness', () => {
    expect(result.io, 'I/O, timers, clock or randomness in the pure core (pass them in instead)').toEqual([]);
  });

  it('docs/architecture.md lists the same layer table', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    for (const l of LAYERS) {
      const row = doc.split('\n').find((line) => new RegExp(`^\\|\\s*${l.rank}\\s*\\|\\s*${l.layer}\\s*\\|`).test(line));
      expect(row, `docs/architecture.md: a row "| ${l.rank} | ${l.layer} | …" in the layer table`).toBeDefined();
      for (const p of l.paths) expect(row, `docs/architecture.md: layer ${l.layer} lists ${p}`).toContain(`\`${p}\``);
    }
  });
});

describe('architecture checks themselves', () => {
  it('find a cycle and print its path', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(findCycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('see type-only imports, dynamic imports and the clock', () => {
    const m = parseModule(
      'src/projection/x.ts',
      "import type { A } from './a.js';\nimport { b } from 'node:fs';\nconst c = await import('../c.js');\nconst t = Date.now() + Math.random();\nsetTimeout(() => {}, 1);\n",
    );
    expect(m.imports).toEqual([
      { spec: './a.js', file: 'src/projection/a.ts', typeOnly: true },
      { spec: 'node:fs', file: undefined, typeOnly: false },
      { spec: '../c.js', file: 'src/c.ts', typeOnly: false },
    ]);
    expect(m.clock).toEqual(['Date.now (line 4)', 'Math.random (line 4)', 'setTimeout (line 5)']);
    expect(check([m]).io).toEqual([
      'src/projection/x.ts (core) imports node:fs',
      'src/projection/x.ts (core) uses Date.now (line 4)',
      'src/projection/x.ts (core) uses Math.random (line 4)',
      'src/projection/x.ts (core) uses setTimeout (line 5)',
    ]);
  });
});
