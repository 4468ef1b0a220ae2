import t from 'tap';
import { parseRetryAfter, RateLimitBudget } from '../../src/upstream/rate-limit.js';

const now = 1_000_000_000_000;

t.test('Retry-After as seconds or as a date', async (t) => {
  t.equal(parseRetryAfter('120', now), 120);
  t.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30);
  t.equal(parseRetryAfter('soon', now), undefined);
});

t.test('budget remains while the upstream says so', async (t) => {
  const budget = new RateLimitBudget();
  budget.observe(200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' }, now);
  t.equal(budget.retryAfterSeconds(now), undefined);
  t.same(budget.snapshot(now), { limit: 100, remaining: 76 });
});

t.test('Docker Hub style: remaining 0 blocks for the window', async (t) => {
  const budget = new RateLimitBudget();
  budget.observe(200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' }, now);
  t.equal(budget.retryAfterSeconds(now), 21600);
  t.equal(budget.retryAfterSeconds(now + 21600 * 1000), undefined, 'the budget returns after the window');
});

t.test('X-RateLimit-Reset as epoch seconds or delta', async (t) => {
  const epoch = new RateLimitBudget();
  epoch.observe(200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 90) }, now);
  t.equal(epoch.retryAfterSeconds(now), 90);
  const delta = new RateLimitBudget();
  delta.observe(200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '45' }, now);
  t.equal(delta.retryAfterSeconds(now), 45);
});

t.test('429 blocks for Retry-After, or a default back-off without it', async (t) => {
  const budget = new RateLimitBudget(60);
  budget.observe(429, { 'retry-after': '10' }, now);
  t.equal(budget.retryAfterSeconds(now), 10);
  const bare = new RateLimitBudget(60);
  bare.observe(429, {}, now);
  t.equal(bare.retryAfterSeconds(now), 60);
  const unavailable = new RateLimitBudget(60);
  unavailable.observe(503, {}, now);
  t.equal(unavailable.retryAfterSeconds(now), undefined, 'a 503 without Retry-After is an outage, not a rate limit');
});

t.test('a budget shared by another process: its block holds here, its counts replace older ones', async (t) => {
  const here = new RateLimitBudget();
  here.observe(200, { 'ratelimit-limit': '100', 'ratelimit-remaining': '50' }, now);
  const elsewhere = new RateLimitBudget();
  t.notOk(elsewhere.observe(200, {}, now + 10), 'a response without budget headers announces nothing');
  t.ok(elsewhere.observe(429, { 'retry-after': '30', 'ratelimit-limit': '100', 'ratelimit-remaining': '0' }, now + 20));
  here.adopt(elsewhere.shared(now + 20));
  t.equal(here.retryAfterSeconds(now + 20), 30, "the other process's block");
  t.same(here.snapshot(now + 20), { limit: 100, remaining: 0, blockedUntil: now + 20 + 30_000 });
  here.adopt({ limit: 100, remaining: 99, observedAt: now - 1000 });
  t.equal(here.snapshot(now + 20).remaining, 0, 'an older announcement changes nothing');
  t.equal(here.retryAfterSeconds(now + 20), 30, 'and never lifts a block');
});
