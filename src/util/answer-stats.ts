/**
 * What one interface a consumer reads the registry through (Prometheus SD, Envoy EDS, the
 * HAProxy agent, DNS) answered: requests, errors, and the time of each answer for
 * `/metrics` (src/http/integration-metrics.ts). Plain counters on the hot path; the metrics
 * read them at scrape time, and observe each answer's time through `onAnswer`.
 */
export class AnswerStats {
  /** Answers given, errors included. */
  requests = 0;
  /** Answers that were errors: a bad request, or the registry could not answer. */
  errors = 0;
  /** Set by the metrics: each answer's time in seconds, and whether it was an error. */
  onAnswer: ((seconds: number, error: boolean) => void) | undefined;

  /** Counts one answer that took `seconds`. */
  record(seconds: number, error = false): void {
    this.requests++;
    if (error) this.errors++;
    this.onAnswer?.(seconds, error);
  }
}
