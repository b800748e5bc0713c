/* The test binary's entry point: Criterion's runner, or, with the single argument "serve",
 * `railhook serve` with the test-only job kinds registered too (the process-level tests spawn
 * the test binary that way; see th_test_server_bin()). */
#include "support/noop.h"

#include "server/serve.h"

#include <criterion/criterion.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "serve") == 0)
        return serve_run(th_noop_handler(), 1);
    struct criterion_test_set *tests = criterion_initialize();
    int rc = 0;
    if (criterion_handle_args(argc, argv, true))
        rc = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return rc;
}
