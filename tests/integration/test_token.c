/* railway_token_detect() against the Railway simulator: which header Railway accepts the
 * token in, whichever variable holds it, as `railhook serve` learns it at start. */
#include "support/harness.h"

#include "railway/railway.h"
#include "util/config.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct th_sim sim;

static void start(void)
{
    th_sim_start(&sim, NULL);
}

static void stop(void)
{
    th_sim_stop(&sim);
}

TestSuite(token, .init = start, .fini = stop, .timeout = 30);

/* Loads the configuration with RAILWAY_API_TOKEN, RAILWAY_TOKEN and RAILWAY_PROJECT_TOKEN set
 * as given ("" unsets) and runs the detection. */
static enum rh_status detect(const char *api, const char *token, const char *project, bool *swapped,
                             bool *bearer, char *msg, size_t len)
{
    setenv("RAILWAY_API_TOKEN", api, 1);
    setenv("RAILWAY_TOKEN", token, 1);
    setenv("RAILWAY_PROJECT_TOKEN", project, 1);
    struct config cfg;
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    struct railway_limiter *lim = railway_limiter_new(100, 1000);
    struct railway_client *c = railway_client_new(&cfg, lim);
    enum rh_status st = railway_token_detect(c, &cfg, swapped, msg, len);
    *bearer = railway_client_bearer(c);
    cfg.railway_token_swapped = *swapped;
    /* A client made afterwards from the configuration sends the same header. */
    struct railway_client *later = railway_client_new(&cfg, lim);
    cr_assert_eq(railway_client_bearer(later), *bearer);
    railway_client_free(later);
    railway_client_free(c);
    railway_limiter_free(lim);
    config_free(&cfg);
    return st;
}

Test(token, each_variable_and_kind)
{
    bool swapped, bearer;
    char msg[600];
    cr_assert_eq(detect("sim-account-token", "", "", &swapped, &bearer, msg, sizeof(msg)), RH_OK,
                 "%s", msg);
    cr_assert(!swapped && bearer, "%s", msg);

    /* RAILWAY_API_TOKEN wins over the others. */
    cr_assert_eq(
        detect("sim-workspace-token", "wrong-1", "wrong-2", &swapped, &bearer, msg, sizeof(msg)),
        RH_OK, "%s", msg);
    cr_assert(!swapped && bearer, "%s", msg);

    /* A project token in RAILWAY_TOKEN, as Railway's CLI names it. */
    cr_assert_eq(detect("", "sim-project-token", "", &swapped, &bearer, msg, sizeof(msg)), RH_OK,
                 "%s", msg);
    cr_assert(swapped && !bearer, "%s", msg);
    cr_assert_not_null(strstr(msg, "RAILWAY_TOKEN is refused as Authorization: Bearer but "
                                   "accepted as Project-Access-Token"),
                       "%s", msg);

    /* An account token in RAILWAY_PROJECT_TOKEN. */
    cr_assert_eq(detect("", "", "sim-account-token", &swapped, &bearer, msg, sizeof(msg)), RH_OK,
                 "%s", msg);
    cr_assert(swapped && bearer, "%s", msg);

    cr_assert_eq(detect("", "wrong-token-4c1b", "", &swapped, &bearer, msg, sizeof(msg)),
                 RH_PERMANENT, "%s", msg);
    cr_assert(!swapped && bearer, "%s", msg);
    cr_assert_null(strstr(msg, "wrong-token-4c1b"), "%s", msg);
}
