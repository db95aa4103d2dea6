/** The shortest admin token accepted: shorter ones are guessable. */
export const MIN_TOKEN_LENGTH = 16;

/** A bearer token: one line of visible ASCII (RFC 6750 allows no spaces; a header no newlines). */
const TOKEN_RE = /^[\x21-\x7e]+$/;

/**
 * The reason `token` cannot be a bearer token, or undefined when it can. Never quotes the
 * token (it may be a real one with a typo).
 */
export function tokenProblem(token: string): string | undefined {
  if (token === '') return 'it is empty';
  if (!TOKEN_RE.test(token)) return 'a token is one line of printable ASCII without spaces';
  if (token.length < MIN_TOKEN_LENGTH) return `the token is shorter than ${MIN_TOKEN_LENGTH} characters`;
  return undefined;
}
