/* The HDF5 reader (built with `make HDF5=1`): D4RL and Minari files written
 * here with the HDF5 C API read back as trajectory datasets; malformed,
 * truncated and bit-flipped files are refused or read, never crash. */
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"
#include "h5_files.h"
#include "rl/internal.h"

static char *scratch(const char *what)
{
    static char path[128];
    snprintf(path, sizeof path, "/tmp/distill-h5-%d-%s.h5", (int)getpid(), what);
    return path;
}

START_TEST(d4rl_reads_as_trajectories)
{
    static const float done[10] = {0, 0, 0, 1, 0, 0, 0, 2, 0, 2}, episode[10] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2};
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *d = NULL;
    float x[10 * 3], y[10 * 6];
    int i;
    ck_assert(h5_write_d4rl(scratch("d4rl")));
    ck_assert_status(distill_trajectories_from_hdf5(ctx, scratch("d4rl"), &d), DISTILL_OK);
    ck_assert(distill_dataset_count(d) == 10 && distill_dataset_x_dim(d) == 3 && distill_dataset_y_dim(d) == 6);
    ck_assert_status(distill_dataset_get_range(d, 0, 10, x, 3, y, 6), DISTILL_OK);
    for (i = 0; i < 10; i++) {
        ck_assert(x[3 * i] == i && x[3 * i + 1] == -i && y[6 * i + 2] == 1.0f + i);
        ck_assert_msg(y[6 * i + 2 + DISTILL_TRAJ_DONE] == done[i], "row %d done %g", i, y[6 * i + 3]);
        ck_assert(y[6 * i + 2 + DISTILL_TRAJ_EPISODE] == episode[i]);
    }
    ck_assert(y[2 + DISTILL_TRAJ_RTG] == 1 + 2 + 3 + 4 && y[6 * 9 + 2 + DISTILL_TRAJ_RTG] == 10);
    distill_dataset_destroy(d);
    unlink(scratch("d4rl"));
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(minari_reads_as_trajectories)
{
    static const float done[5] = {0, 0, 1, 0, 2}, first_obs[5] = {0, 1, 2, 10, 11};
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *d = NULL;
    float x[5 * 2], y[5 * 5];
    int i;
    ck_assert(h5_write_minari(scratch("minari")));
    ck_assert_status(distill_trajectories_from_hdf5(ctx, scratch("minari"), &d), DISTILL_OK);
    ck_assert(distill_dataset_count(d) == 5 && distill_dataset_x_dim(d) == 2 && distill_dataset_y_dim(d) == 5);
    ck_assert_status(distill_dataset_get_range(d, 0, 5, x, 2, y, 5), DISTILL_OK);
    for (i = 0; i < 5; i++) {
        ck_assert_msg(x[2 * i] == first_obs[i], "row %d observation %g (the final ones are dropped)", i, x[2 * i]);
        ck_assert(y[5 * i + 1 + DISTILL_TRAJ_DONE] == done[i]);
        ck_assert(y[5 * i + 1 + DISTILL_TRAJ_EPISODE] == (i < 3 ? 0.0f : 1.0f));
    }
    ck_assert(y[1 + DISTILL_TRAJ_RTG] == 6.0f && y[5 * 3 + 1 + DISTILL_TRAJ_RTG] == 4.0f);
    distill_dataset_destroy(d);
    unlink(scratch("minari"));
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(malformed_files_are_format_errors)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_dataset *d = NULL;
    double v[6] = {1, 2, 3, 4, 5, 6};
    unsigned char *buf;
    size_t len;
    long k, loaded = 0;
    hid_t f = h5_create(scratch("bad"));
    FILE *t;
    ck_assert(h5_put(f, "observations", v, 3, 2, 0) && h5_put(f, "actions", v, 2, 0, 0) &&
              h5_put(f, "rewards", v, 3, 0, 0) && h5_put(f, "terminals", v, 3, 0, 1));
    H5Fclose(f);
    ck_assert_fails(ctx, distill_trajectories_from_hdf5(ctx, scratch("bad"), &d), DISTILL_E_FORMAT, "row counts");
    f = h5_create(scratch("bad"));
    ck_assert(h5_put(f, "observations", v, 3, 2, 0) && h5_put(f, "actions", v, 3, 0, 0));
    H5Fclose(f);
    ck_assert_fails(ctx, distill_trajectories_from_hdf5(ctx, scratch("bad"), &d), DISTILL_E_FORMAT, "'rewards'");
    t = fopen(scratch("bad"), "w");
    fputs("not hdf5 at all\n", t);
    fclose(t);
    ck_assert_fails(ctx, distill_trajectories_from_hdf5(ctx, scratch("bad"), &d), DISTILL_E_FORMAT, "HDF5");
    ck_assert_fails(ctx, distill_trajectories_from_hdf5(ctx, "/nonexistent/x.h5", &d), DISTILL_E_IO, "cannot open");
    ck_assert(h5_write_d4rl(scratch("bad")));
    buf = test_slurp(scratch("bad"), &len);
    for (k = 0; k < (long)len; k += 97) /* truncations */
        ck_assert_msg(distill__trajectories_from_hdf5_image(ctx, buf, (size_t)k, &d) == DISTILL_E_FORMAT,
                      "a file cut to %ld bytes loaded", k);
    for (k = 0; k < (long)len * 8; k += 53) { /* bit flips: refused, or (in raw values) read; never a crash */
        distill_status st;
        buf[k / 8] ^= (unsigned char)(1u << (k % 8));
        st = distill__trajectories_from_hdf5_image(ctx, buf, (size_t)len, &d);
        ck_assert_msg(st == DISTILL_OK || st == DISTILL_E_FORMAT || st == DISTILL_E_NUMERIC, "bit %ld: %s", k,
                      distill_status_string(st));
        if (st == DISTILL_OK)
            distill_dataset_destroy(d), d = NULL, loaded++;
        buf[k / 8] ^= (unsigned char)(1u << (k % 8));
    }
    ck_assert_ptr_null(d);
    free(buf);
    unlink(scratch("bad"));
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
    (void)loaded;
}
END_TEST

/* D4RL data trains a continuous BC student. */
START_TEST(d4rl_data_trains_a_student)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *d = NULL;
    distill_layer_spec l;
    distill_model_options mo;
    distill_model *m = NULL;
    distill_bc_options bo;
    double loss;
    ck_assert(h5_write_d4rl(scratch("bc")));
    ck_assert_status(distill_trajectories_from_hdf5(ctx, scratch("bc"), &d), DISTILL_OK);
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = 2;
    distill_model_options_init(&mo);
    mo.in_c = 3, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    ck_assert_status(distill_model_create(ctx, &mo, &m), DISTILL_OK);
    distill_bc_options_init(&bo);
    bo.n_actions = 0, bo.steps = 50, bo.batch = 10, bo.lr = 0.01;
    ck_assert_status(distill_bc_train(ctx, &bo, m, d, &loss), DISTILL_OK);
    ck_assert(isfinite(loss));
    distill_model_destroy(m);
    distill_dataset_destroy(d);
    unlink(scratch("bc"));
    distill_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hdf5");
    TCase *tc = tcase_create("reader");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, d4rl_reads_as_trajectories);
    tcase_add_test(tc, minari_reads_as_trajectories);
    tcase_add_test(tc, malformed_files_are_format_errors);
    tcase_add_test(tc, d4rl_data_trains_a_student);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
