/* A stand-in for Supabase's database in the suite's cluster: a database with a manifests table
 * like Supabase's, and a role that may only read that table (as docs/operations.md tells
 * operators to make). */
#ifndef RAILHOOK_TESTS_SUPABASE_STANDIN_H
#define RAILHOOK_TESTS_SUPABASE_STANDIN_H

struct supabase_standin {
    char *owner_url;  /* the database, as its owner (to change the table) */
    char *reader_url; /* the same, as the read-only role (MANIFESTS_DATABASE_URL) */
    char role[32];
};

/* Creates the database, public.manifests (id text, service_schema, status, notes) and the
 * role; fails the test on an error. */
void supabase_standin_create(struct supabase_standin *s);
/* Drops the database and the role, and frees the URLs. */
void supabase_standin_drop(struct supabase_standin *s);

#endif
