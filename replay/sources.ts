import { badArgument } from '../src/errors.js';
import { openDataSource, type EventSource } from './source.js';

export interface SourceFlags {
  data?: string;
  file?: string;
  http?: string;
}

/** The one source named by --data, --file or --http (default: --data ./data). */
export async function openSource(flags: SourceFlags): Promise<EventSource> {
  const given = [flags.data, flags.file, flags.http].filter((x) => x !== undefined).length;
  if (given > 1) throw badArgument('give one source: --data DIR, --file FILE or --http URL');
  if (flags.file !== undefined) throw badArgument('--file: not available yet');
  if (flags.http !== undefined) throw badArgument('--http: not available yet');
  return openDataSource(flags.data ?? './data');
}
