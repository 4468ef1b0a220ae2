import { firstValue as first, type HeaderMap } from '../header-values.js';

export type ResponseHeaders = HeaderMap;

/** `Retry-After` as seconds from now: either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** "76;w=21600" (Docker Hub), "76" (RateLimit-* drafts, GitHub-style X-RateLimit-*) → count and window. */
function parseQuota(value: string | undefined): { count: number; windowSeconds?: number } | undefined {
  const match = value && /^\s*(\d+)(?:\s*;\s*w=(\d+))?/.exec(value);
  if (!match) return undefined;
  return { count: Number(match[1]), ...(match[2] && { windowSeconds: Number(match[2]) }) };
}

export interface RateLimitSnapshot {
  limit?: number;
  remaining?: number;
  /** Epoch ms until which the upstream must not be asked; absent while budget remains. */
  blockedUntil?: number;
}

/** A budget as every process and node sees it (kept in the index): the last announcement heard, and when. */
export interface SharedBudget extends RateLimitSnapshot {
  observedAt: number;
}

/**
 * The request budget an upstream has announced (RateLimit-*, X-RateLimit-*, Retry-After on 429/503).
 * When the budget is spent, the remote repository serves from cache instead of spending more.
 */
export class RateLimitBudget {
  private limit?: number;
  private remaining?: number;
  private blockedUntil = 0;
  /** When the limit and remaining count were last announced (here, or to another process). */
  private observedAt = 0;

  constructor(private readonly defaultBackoffSeconds = 60) {}

  /** Takes in what a response announced; true when it announced anything about the budget. */
  observe(status: number, headers: ResponseHeaders, now = Date.now()): boolean {
    const limit = parseQuota(first(headers['ratelimit-limit']) ?? first(headers['x-ratelimit-limit']));
    const remaining = parseQuota(first(headers['ratelimit-remaining']) ?? first(headers['x-ratelimit-remaining']));
    const retryAfter = parseRetryAfter(first(headers['retry-after']), now);
    if (limit) this.limit = limit.count;
    if (remaining) this.remaining = remaining.count;
    if (limit || remaining) this.observedAt = now;
    if (status === 429 || (status === 503 && retryAfter !== undefined)) {
      this.block(now, retryAfter ?? this.defaultBackoffSeconds);
      return true;
    }
    if (remaining && remaining.count <= 0) {
      const reset = parseResetSeconds(first(headers['ratelimit-reset']) ?? first(headers['x-ratelimit-reset']), now);
      this.block(now, reset ?? retryAfter ?? remaining.windowSeconds ?? limit?.windowSeconds ?? this.defaultBackoffSeconds);
    }
    return limit !== undefined || remaining !== undefined;
  }

  /** This process's budget, to share. */
  shared(now = Date.now()): SharedBudget {
    return { ...this.snapshot(now), observedAt: this.observedAt || now };
  }

  /**
   * Takes in what another process or node heard: its block holds here too, and its counts replace these
   * when they are newer.
   */
  adopt(shared: SharedBudget): void {
    if (shared.blockedUntil !== undefined) this.blockedUntil = Math.max(this.blockedUntil, shared.blockedUntil);
    if (shared.observedAt > this.observedAt) {
      this.observedAt = shared.observedAt;
      if (shared.limit !== undefined) this.limit = shared.limit;
      if (shared.remaining !== undefined) this.remaining = shared.remaining;
    }
  }

  /** Seconds until the upstream may be asked again, or undefined when budget remains. */
  retryAfterSeconds(now = Date.now()): number | undefined {
    return this.blockedUntil > now ? Math.ceil((this.blockedUntil - now) / 1000) : undefined;
  }

  snapshot(now = Date.now()): RateLimitSnapshot {
    return {
      ...(this.limit !== undefined && { limit: this.limit }),
      ...(this.remaining !== undefined && { remaining: this.remaining }),
      ...(this.blockedUntil > now && { blockedUntil: this.blockedUntil }),
    };
  }

  private block(now: number, seconds: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, now + seconds * 1000);
  }
}

/** X-RateLimit-Reset is an epoch second in some APIs and a delta in others; tell them apart by size. */
function parseResetSeconds(value: string | undefined, now: number): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value);
  return n > 1e9 ? Math.max(0, Math.ceil(n - now / 1000)) : n;
}
