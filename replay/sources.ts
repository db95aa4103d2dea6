import { badArgument } from '../src/errors.js';
import { openFileSource } from './file-source.js';
import { openHttpSource } from './http-source.js';
import { openDataSource, type EventSource } from './source.js';

/** The flags naming an event source, shared by `replay` and `export`. */
export interface SourceFlags {
  data?: string;
  file?: string;
  http?: string;
}

/**
 * The one source named by --data, --file or --http (default: --data ./data), for every
 * command that reads a log (`replay`, `export`). More than one → BAD_ARGUMENT.
 */
export async function openSource(flags: SourceFlags): Promise<EventSource> {
  const given = [flags.data, flags.file, flags.http].filter((x) => x !== undefined).length;
  if (given > 1) throw badArgument('give one source: --data DIR, --file FILE or --http URL');
  if (flags.file !== undefined) return openFileSource(flags.file);
  if (flags.http !== undefined) return openHttpSource(flags.http);
  return openDataSource(flags.data ?? './data');
}
