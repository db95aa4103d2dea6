import { parseMasterUrls, readCredentials, type CredentialFlags } from '../src/client/http-client.js';
import { badArgument } from '../src/errors.js';
import { openFileSource } from './file-source.js';
import { openHttpSource } from './http-source.js';
import { openDataSource, type EventSource } from './source.js';

/** The flags naming an event source, shared by `replay` and `export`. */
export interface SourceFlags extends CredentialFlags {
  data?: string;
  file?: string;
  http?: string;
}

/**
 * The one source named by --data, --file or --http (default: --data ./data), for every
 * command that reads a log (`replay`, `export`). More than one → BAD_ARGUMENT. --token-file
 * and --ca (or $LOADLEDGER_TOKEN_FILE) go with --http only.
 */
export async function openSource(flags: SourceFlags): Promise<EventSource> {
  const given = [flags.data, flags.file, flags.http].filter((x) => x !== undefined).length;
  if (given > 1) throw badArgument('give one source: --data DIR, --file FILE or --http URL');
  if (flags.http !== undefined) {
    // a cluster's masters, comma-separated: read from whichever answers (docs/ha.md#clients)
    const urls = parseMasterUrls(flags.http);
    return openHttpSource(urls, readCredentials(flags, urls));
  }
  if (flags.tokenFile !== undefined || flags.ca !== undefined)
    throw badArgument(`${flags.tokenFile !== undefined ? '--token-file' : '--ca'} applies to --http URL (a running master) only`);
  if (flags.file !== undefined) return openFileSource(flags.file);
  return openDataSource(flags.data ?? './data');
}
