import { badArgument } from '../../errors.js';
export async function follow(_flags: unknown): Promise<void> {
  throw badArgument('--follow: not available yet');
}
