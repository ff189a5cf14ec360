/* One Check runner for every suite.  Each test runs in a forked child; the
 * parent never calls BLIS (libgomp is not fork-safe once its threads run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int run(SRunner *sr)
{
    int failed;
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* DISTILL_TEST_TIER=slow runs the slow tier (fits on the whole real data)
 * instead of the unit suites. */
int main(void)
{
    const char *tier = getenv("DISTILL_TEST_TIER");
    SRunner *sr;
    if (tier && strcmp(tier, "slow") == 0)
        return run(srunner_create(distill_suite_slow()));
    sr = srunner_create(distill_suite_core());
    srunner_add_suite(sr, distill_suite_gemm_chol());
    srunner_add_suite(sr, distill_suite_krr());
    srunner_add_suite(sr, distill_suite_loss());
    srunner_add_suite(sr, distill_suite_data());
    srunner_add_suite(sr, distill_suite_model());
    srunner_add_suite(sr, distill_suite_optim());
    srunner_add_suite(sr, distill_suite_train());
    srunner_add_suite(sr, distill_suite_io());
    srunner_add_suite(sr, distill_suite_krrst());
    srunner_add_suite(sr, distill_suite_kd());
    srunner_add_suite(sr, distill_suite_abi());
    srunner_add_suite(sr, distill_suite_sweep());
    srunner_add_suite(sr, distill_suite_messages());
    srunner_add_suite(sr, distill_suite_rl());
    srunner_add_suite(sr, distill_suite_policy());
    srunner_add_suite(sr, distill_suite_orl());
    srunner_add_suite(sr, distill_suite_vdd());
    srunner_add_suite(sr, distill_suite_mask());
    srunner_add_suite(sr, distill_suite_ppo());
    return run(sr);
}
