/* test_admission.c - the wait estimate behind overload 503s (run/admission.c).
 * Expected values are worked out by hand from the documented rule: refuse
 * when (queued + events - 1) * mean / workers + mean > budget, once a job
 * has been timed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "run/admission.h"

static void test_prior_and_budget(void **state)
{
    (void)state;
    struct admission a;
    admission_init(&a, true, 1, 50000, 1000);
    /* No job timed yet: nothing is refused, whatever the backlog. */
    assert_false(admission_refuse(&a, 1));
    for (int i = 0; i < 1000; i++)
        admission_claimed(&a);
    admission_job_done(&a, 5000);
    /* Nothing queued: one 5 s job fits in 50 s. */
    assert_false(admission_refuse(&a, 1));
    admission_added(&a, 9);
    /* 9 ahead * 5 s + 5 s = 50 s: still in time. */
    assert_false(admission_refuse(&a, 1));
    assert_int_equal(admission_wait_ms(&a), 45000);
    /* A webhook with two events: the second waits 10 * 5 s, + 5 s = 55 s. */
    assert_true(admission_refuse(&a, 2));
    admission_added(&a, 1);
    assert_true(admission_refuse(&a, 1));
    /* Nothing needing work is never refused. */
    assert_false(admission_refuse(&a, 0));
}

static void test_workers_share_the_queue(void **state)
{
    (void)state;
    struct admission a;
    admission_init(&a, true, 4, 50000, 36);
    admission_job_done(&a, 5000);
    /* 36 * 5 s / 4 = 45 s, + 5 s = 50 s. */
    assert_int_equal(admission_wait_ms(&a), 45000);
    assert_false(admission_refuse(&a, 1));
    assert_true(admission_refuse(&a, 2));
    admission_claimed(&a);
    assert_false(admission_refuse(&a, 2));
}

static void test_claims_never_go_below_zero(void **state)
{
    (void)state;
    struct admission a;
    admission_init(&a, true, 1, 50000, 0);
    admission_job_done(&a, 5000);
    admission_claimed(&a); /* another instance's event */
    admission_claimed(&a);
    admission_added(&a, 2);
    assert_int_equal(admission_wait_ms(&a), 10000);
}

static void test_mean_follows_the_jobs(void **state)
{
    (void)state;
    struct admission a;
    admission_init(&a, true, 1, 50000, 0);
    admission_added(&a, 100);
    admission_job_done(&a, 5000);
    assert_true(admission_refuse(&a, 1));
    /* Then instant jobs: the first jobs are averaged plainly: 2.5 s after
     * one more, 1.25 s after three more. */
    admission_job_done(&a, 0);
    assert_int_equal(admission_wait_ms(&a), 100 * 2500);
    admission_job_done(&a, 0);
    admission_job_done(&a, 0);
    assert_int_equal(admission_wait_ms(&a), 100 * 1250);
    /* From the 16th job on, the mean moves 1/16 of the way: 5 s / 16 =
     * 312.5 ms after 16 jobs, then * (15/16)^85 (about 0.0042): 1.3 ms. */
    for (int i = 3; i < 100; i++)
        admission_job_done(&a, 0);
    int64_t wait = admission_wait_ms(&a);
    if (wait < 80 || wait > 200) /* 100 * ~1.3 ms */
        fail_msg("wait %lld ms after 100 instant jobs", (long long)wait);
    assert_false(admission_refuse(&a, 1));
    /* A model that slows to 20 s: soon two queued events are too many. */
    for (int i = 0; i < 100; i++)
        admission_job_done(&a, 20000);
    admission_claimed(&a);
    admission_claimed(&a);
    assert_true(admission_refuse(&a, 1));
}

static void test_disabled_never_refuses(void **state)
{
    (void)state;
    struct admission a;
    admission_init(&a, false, 1, 50000, 1000);
    admission_job_done(&a, 5000);
    assert_false(admission_refuse(&a, 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prior_and_budget),        cmocka_unit_test(test_workers_share_the_queue),
        cmocka_unit_test(test_claims_never_go_below_zero), cmocka_unit_test(test_mean_follows_the_jobs),
        cmocka_unit_test(test_disabled_never_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
