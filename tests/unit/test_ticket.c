/* GET /events tickets (handlers/ticket.c): valid until they expire, bound to the first token,
 * refused when altered. */
#include "handlers/ticket.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct config cfg_with(char *read, char *admin)
{
    struct config c;
    memset(&c, 0, sizeof(c));
    c.api_token = read;
    c.api_admin_token = admin;
    return c;
}

Test(ticket, valid_until_it_expires_and_never_beyond_its_lifetime)
{
    char r[] = "read-1,read-2", a[] = "admin";
    struct config c = cfg_with(r, a);
    char t[TICKET_LEN];
    ticket_issue(&c, 1000, t);
    cr_assert(ticket_valid(&c, t, 1000));
    cr_assert(ticket_valid(&c, t, 1000 + TICKET_TTL_S));
    cr_assert_not(ticket_valid(&c, t, 1001 + TICKET_TTL_S), "expired");
    /* One issued for far later (a forged expiry would need the key anyway) is refused. */
    ticket_issue(&c, 1000 + 3600, t);
    cr_assert_not(ticket_valid(&c, t, 1000));
}

Test(ticket, bound_to_the_first_token)
{
    char r1[] = "read-1,read-2", r2[] = "read-2,read-1", r3[] = "read-1", a[] = "admin";
    struct config c1 = cfg_with(r1, a), c2 = cfg_with(r2, a), c3 = cfg_with(r3, a);
    char t[TICKET_LEN];
    ticket_issue(&c1, 1000, t);
    cr_assert(ticket_valid(&c3, t, 1000), "same first token, same key");
    cr_assert_not(ticket_valid(&c2, t, 1000), "another first token");
    char empty[] = "";
    struct config only_admin = cfg_with(empty, a);
    ticket_issue(&only_admin, 1000, t);
    cr_assert(ticket_valid(&only_admin, t, 1000));
    cr_assert_not(ticket_valid(&c1, t, 1000));
}

Test(ticket, altered_or_malformed_tickets_are_refused)
{
    char r[] = "read-1", a[] = "";
    struct config c = cfg_with(r, a);
    char t[TICKET_LEN], bad[TICKET_LEN + 8];
    ticket_issue(&c, 1000, t);
    /* The expiry moved by one second. */
    snprintf(bad, sizeof(bad), "%s", t);
    bad[3] = bad[3] == '9' ? '8' : (char)(bad[3] + 1);
    cr_assert_not(ticket_valid(&c, bad, 1000));
    snprintf(bad, sizeof(bad), "%sA", t);
    cr_assert_not(ticket_valid(&c, bad, 1000));
    cr_assert_not(ticket_valid(&c, "", 1000));
    cr_assert_not(ticket_valid(&c, NULL, 1000));
    cr_assert_not(ticket_valid(&c, ".abc", 1000));
    cr_assert_not(ticket_valid(&c, "-5.abc", 1000));
    cr_assert_not(ticket_valid(&c, "1060", 1000));
}
