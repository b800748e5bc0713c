/* The Supabase stand-in of the reconciliation suite (supabase_standin.h). */
#include "supabase_standin.h"

#include "support/harness.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs sql on url and frees it. */
static void exec(const char *url, char *sql)
{
    PQclear(th_query(url, sql));
    free(sql);
}

void supabase_standin_create(struct supabase_standin *s)
{
    s->owner_url = th_db_create_from("template1");
    PQclear(th_query(s->owner_url, "CREATE TABLE public.manifests (id text PRIMARY KEY, "
                                   "service_schema text NOT NULL, status text, notes text)"));
    unsigned char rnd[6];
    char hex[13];
    random_bytes(rnd, sizeof(rnd));
    hex_encode(rnd, sizeof(rnd), hex);
    snprintf(s->role, sizeof(s->role), "reader_%s", hex);
    exec(s->owner_url, xasprintf("CREATE ROLE %s LOGIN PASSWORD 'pw-%s'", s->role, hex));
    exec(s->owner_url, xasprintf("GRANT USAGE ON SCHEMA public TO %s", s->role));
    exec(s->owner_url, xasprintf("GRANT SELECT ON public.manifests TO %s", s->role));
    /* postgresql://railhook@host:port/db -> postgresql://ROLE:PW@host:port/db */
    s->reader_url = xasprintf("postgresql://%s:pw-%s%s", s->role, hex, strchr(s->owner_url, '@'));
}

void supabase_standin_drop(struct supabase_standin *s)
{
    exec(s->owner_url, xasprintf("DROP OWNED BY %s", s->role));
    th_db_drop(s->owner_url);
    char *admin = xasprintf("%s/postgres", getenv("RAILHOOK_TEST_PGURL"));
    exec(admin, xasprintf("DROP ROLE %s", s->role));
    free(admin);
    free(s->reader_url);
    s->owner_url = s->reader_url = NULL;
}
