/* The process-wide Railway rate limiter.
 *
 * Threading: one limiter is shared by every worker thread; a mutex guards its state and a
 * condition variable lets waiters sleep until their turn. Two token buckets (per second and
 * per hour) refill continuously; Railway's own headers can only make it stricter: a
 * Retry-After or an exhausted X-RateLimit-Remaining pauses everyone until the given time. */
#include "railway/railway.h"

#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct railway_limiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    double rps, sec_tokens, sec_cap;
    double per_ms_hour, hour_tokens, hour_cap;
    int64_t last_ms;         /* monotonic time of the last refill */
    int64_t paused_until_ms; /* monotonic; nobody sends before this */
};

struct railway_limiter *railway_limiter_new(int rps, int hourly_budget)
{
    struct railway_limiter *l = xcalloc(1, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    l->rps = rps;
    l->sec_cap = rps;
    l->sec_tokens = rps;
    l->hour_cap = hourly_budget;
    l->hour_tokens = hourly_budget;
    l->per_ms_hour = hourly_budget / 3600000.0;
    l->last_ms = time_mono_ms();
    return l;
}

void railway_limiter_free(struct railway_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}

static void refill(struct railway_limiter *l, int64_t now)
{
    double dt = (double)(now - l->last_ms);
    if (dt <= 0)
        return;
    l->sec_tokens += dt * l->rps / 1000.0;
    if (l->sec_tokens > l->sec_cap)
        l->sec_tokens = l->sec_cap;
    l->hour_tokens += dt * l->per_ms_hour;
    if (l->hour_tokens > l->hour_cap)
        l->hour_tokens = l->hour_cap;
    l->last_ms = now;
}

/* Milliseconds until one token of both buckets is available and no pause is in force. */
static int64_t wait_needed(const struct railway_limiter *l, int64_t now)
{
    int64_t w = 0;
    if (l->paused_until_ms > now)
        w = l->paused_until_ms - now;
    if (l->sec_tokens < 1.0) {
        int64_t s = (int64_t)((1.0 - l->sec_tokens) * 1000.0 / l->rps) + 1;
        if (s > w)
            w = s;
    }
    if (l->hour_tokens < 1.0) {
        int64_t h = (int64_t)((1.0 - l->hour_tokens) / l->per_ms_hour) + 1;
        if (h > w)
            w = h;
    }
    return w;
}

int64_t railway_limiter_acquire(struct railway_limiter *l, int64_t max_wait_ms,
                                int64_t *retry_in_ms)
{
    int64_t start = time_mono_ms();
    pthread_mutex_lock(&l->lock);
    for (;;) {
        int64_t now = time_mono_ms();
        refill(l, now);
        int64_t w = wait_needed(l, now);
        if (w == 0) {
            l->sec_tokens -= 1.0;
            l->hour_tokens -= 1.0;
            int64_t waited = now - start;
            pthread_mutex_unlock(&l->lock);
            return waited;
        }
        if (now + w - start > max_wait_ms) {
            if (retry_in_ms)
                *retry_in_ms = w;
            pthread_mutex_unlock(&l->lock);
            return -1;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (w % 1000) * 1000000L;
        ts.tv_sec += w / 1000 + ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
}

void railway_limiter_observe(struct railway_limiter *l, long remaining, int64_t reset_in_ms,
                             int retry_after_s)
{
    pthread_mutex_lock(&l->lock);
    int64_t now = time_mono_ms();
    if (retry_after_s > 0) {
        int64_t until = now + (int64_t)retry_after_s * 1000;
        if (until > l->paused_until_ms)
            l->paused_until_ms = until;
    }
    if (remaining >= 0) {
        /* Railway knows best how much is left: never believe we have more. */
        if ((double)remaining < l->hour_tokens)
            l->hour_tokens = (double)remaining;
        if (remaining == 0 && reset_in_ms > 0) {
            /* classify.c caps reset_in_ms at the rate window (an hour). */
            int64_t until = now + reset_in_ms;
            if (until > l->paused_until_ms)
                l->paused_until_ms = until;
        }
    }
    pthread_mutex_unlock(&l->lock);
}

void railway_limiter_budget(struct railway_limiter *l, struct railway_budget *out)
{
    pthread_mutex_lock(&l->lock);
    int64_t now = time_mono_ms();
    double dt = (double)(now - l->last_ms);
    double tokens = l->hour_tokens + (dt > 0 ? dt * l->per_ms_hour : 0.0);
    if (tokens > l->hour_cap)
        tokens = l->hour_cap;
    int64_t paused_ms = l->paused_until_ms > now ? l->paused_until_ms - now : 0;
    out->hourly_budget = (long)l->hour_cap;
    out->remaining = paused_ms > 0 ? 0 : (long)floor(tokens);
    out->spent_last_hour = (long)ceil(l->hour_cap - tokens);
    int64_t full_ms = (int64_t)ceil((l->hour_cap - tokens) / l->per_ms_hour);
    if (paused_ms > full_ms)
        full_ms = paused_ms;
    out->resets_in_s = (long)((full_ms + 999) / 1000);
    pthread_mutex_unlock(&l->lock);
}

int64_t railway_limiter_budget_eta_ms(struct railway_limiter *l, int ahead)
{
    pthread_mutex_lock(&l->lock);
    int64_t now = time_mono_ms();
    refill(l, now);
    double missing = (double)(ahead > 0 ? ahead : 0) + 1.0 - l->hour_tokens;
    int64_t eta = missing > 0 ? (int64_t)(missing / l->per_ms_hour) + 1 : 0;
    if (l->paused_until_ms - now > eta)
        eta = l->paused_until_ms - now;
    pthread_mutex_unlock(&l->lock);
    return eta;
}
