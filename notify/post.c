/* One signed POST of a notification, and the retry policy (notify/notify.h). */
#include "notify/notify_int.h"

#include "util/redact.h"
#include "util/util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_CAP_S 3600

enum notify_verdict notify_http_verdict(long http_status)
{
    if (http_status >= 200 && http_status < 300)
        return NOTIFY_DELIVERED;
    if (http_status == 0 || http_status == 429 || (http_status >= 500 && http_status < 600))
        return NOTIFY_RETRY;
    return NOTIFY_GIVE_UP;
}

int64_t notify_retry_delay_ms(int attempt, int base_s, int retry_after_s, double rand01)
{
    int64_t d = (int64_t)base_s * 1000;
    for (int i = 1; i < attempt && d < (int64_t)RETRY_CAP_S * 1000; i++)
        d *= 2;
    if (d > (int64_t)RETRY_CAP_S * 1000)
        d = (int64_t)RETRY_CAP_S * 1000;
    d = d * 3 / 4 + (int64_t)((double)(d / 4) * rand01);
    if ((int64_t)retry_after_s * 1000 > d)
        d = (int64_t)retry_after_s * 1000;
    if (d > (int64_t)RETRY_CAP_S * 1000)
        d = (int64_t)RETRY_CAP_S * 1000;
    return d;
}

/* What the callbacks fill: the first bytes of the body and the Retry-After header. */
struct post_state {
    char body[256];
    size_t len;
    int retry_after_s;
    const atomic_bool *stop;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct post_state *st = arg;
    size_t len = size * n;
    size_t room = sizeof(st->body) - 1 - st->len;
    size_t take = len < room ? len : room;
    memcpy(st->body + st->len, data, take);
    st->len += take;
    st->body[st->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct post_state *st = arg;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        char v[32];
        size_t vlen = len - (sizeof(name) - 1);
        snprintf(v, sizeof(v), "%.*s", (int)(vlen < sizeof(v) - 1 ? vlen : sizeof(v) - 1),
                 data + sizeof(name) - 1);
        char *s = v;
        while (*s == ' ' || *s == '\t')
            s++;
        s[strcspn(s, "\r\n \t")] = '\0';
        int64_t secs;
        /* Seconds only; an HTTP date is rare from webhook receivers and ignored. */
        if (parse_i64(s, 0, RETRY_CAP_S, &secs))
            st->retry_after_s = (int)secs;
    }
    return len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const struct post_state *st = arg;
    return atomic_load(st->stop) ? 1 : 0;
}

/* Copies text into out with control characters as spaces, redacted. */
static void excerpt_set(char *out, size_t cap, const char *text)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s", text);
    for (char *p = tmp; *p; p++)
        if (iscntrl((unsigned char)*p))
            *p = ' ';
    char *clean = redact_string(tmp);
    snprintf(out, cap, "%s", clean);
    free(clean);
}

void notify_post(CURL *h, const char *url, const char *webhook_id, const unsigned char *key,
                 size_t keylen, const char *body, int timeout_s, const atomic_bool *stop,
                 struct notify_answer *out)
{
    struct post_state st = {.stop = stop};
    char errbuf[CURL_ERROR_SIZE] = "";
    char ts[24], sig[SWH_SIGNATURE_LEN];
    char h_id[320], h_ts[48], h_sig[SWH_SIGNATURE_LEN + 32];
    struct curl_slist *headers = NULL;

    memset(out, 0, sizeof(*out));
    /* A fresh timestamp and signature for every attempt; the id stays. */
    snprintf(ts, sizeof(ts), "%" PRId64, time_wall_ms() / 1000);
    swh_sign(key, keylen, webhook_id, ts, body, strlen(body), sig);
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", webhook_id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %s", ts);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, h_id);
    headers = curl_slist_append(headers, h_ts);
    headers = curl_slist_append(headers, h_sig);
    headers = curl_slist_append(headers, "User-Agent: railhook/" RAILHOOK_VERSION);
    headers = curl_slist_append(headers, "Expect:");

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &st);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 10 ? timeout_s : 10));
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->http_status);
        out->retry_after_s = st.retry_after_s;
        if (notify_http_verdict(out->http_status) != NOTIFY_DELIVERED)
            excerpt_set(out->excerpt, sizeof(out->excerpt), st.body);
    } else {
        excerpt_set(out->excerpt, sizeof(out->excerpt), *errbuf ? errbuf : curl_easy_strerror(rc));
    }
    curl_slist_free_all(headers);
}
