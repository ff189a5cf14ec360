/* Small D4RL- and Minari-layout files written with the HDF5 C API, for the
 * reader's tests and its fuzz target's seeds. */
#ifndef DISTILL_TEST_H5_FILES_H
#define DISTILL_TEST_H5_FILES_H

#include <hdf5.h>
#include <stdint.h>

/* A 1-D (cols 0) or 2-D array of doubles, or of h5py-style booleans (an
 * int8 enum FALSE/TRUE) when as_bool. */
static inline int h5_put(hid_t loc, const char *name, const double *v, hsize_t rows, hsize_t cols, int as_bool)
{
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL), type = H5T_NATIVE_DOUBLE, d;
    signed char b[4096];
    int ok;
    hsize_t i;
    if (as_bool) {
        signed char f = 0, t = 1;
        type = H5Tenum_create(H5T_NATIVE_SCHAR);
        H5Tenum_insert(type, "FALSE", &f);
        H5Tenum_insert(type, "TRUE", &t);
        for (i = 0; i < rows && i < sizeof b; i++)
            b[i] = v[i] != 0;
    }
    d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok = d >= 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, as_bool ? (const void *)b : (const void *)v) >= 0;
    if (d >= 0)
        H5Dclose(d);
    if (as_bool)
        H5Tclose(type);
    H5Sclose(space);
    return ok;
}

static inline hid_t h5_create(const char *path)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f;
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST); /* compact files */
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return f;
}

/* D4RL: N rows of 3 observations and 2 actions; episodes of 4 rows, the
 * first ending in a terminal, the second in a timeout, the last cut. */
#define H5_D4RL_ROWS 10
static inline int h5_write_d4rl(const char *path)
{
    double obs[H5_D4RL_ROWS * 3], act[H5_D4RL_ROWS * 2], rew[H5_D4RL_ROWS], term[H5_D4RL_ROWS] = {0},
           tout[H5_D4RL_ROWS] = {0};
    hid_t f = h5_create(path);
    int i, ok;
    for (i = 0; i < H5_D4RL_ROWS; i++) {
        obs[3 * i] = i, obs[3 * i + 1] = -i, obs[3 * i + 2] = 0.5 * i;
        act[2 * i] = 0.1 * i, act[2 * i + 1] = -0.1 * i, rew[i] = 1.0 + i;
    }
    term[3] = 1, tout[7] = 1;
    ok = f >= 0 && h5_put(f, "observations", obs, H5_D4RL_ROWS, 3, 0) && h5_put(f, "actions", act, H5_D4RL_ROWS, 2, 0) &&
         h5_put(f, "rewards", rew, H5_D4RL_ROWS, 0, 0) && h5_put(f, "terminals", term, H5_D4RL_ROWS, 0, 1) &&
         h5_put(f, "timeouts", tout, H5_D4RL_ROWS, 0, 1);
    if (f >= 0)
        H5Fclose(f);
    return ok;
}

/* Minari: 2 episodes of 3 and 2 steps, 2 observations, 1 action. */
static inline int h5_write_minari(const char *path)
{
    static const int steps[2] = {3, 2};
    hid_t f = h5_create(path);
    int e, i, ok = f >= 0;
    for (e = 0; ok && e < 2; e++) {
        double obs[8], act[4], rew[4], term[4] = {0}, trunc[4] = {0};
        char name[32];
        hid_t g;
        snprintf(name, sizeof name, "episode_%d", e);
        g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (i = 0; i <= steps[e]; i++)
            obs[2 * i] = 10 * e + i, obs[2 * i + 1] = 1.0;
        for (i = 0; i < steps[e]; i++)
            act[i] = e + 0.25 * i, rew[i] = 2.0;
        if (e == 0)
            term[steps[e] - 1] = 1;
        else
            trunc[steps[e] - 1] = 1;
        ok = g >= 0 && h5_put(g, "observations", obs, (hsize_t)steps[e] + 1, 2, 0) &&
             h5_put(g, "actions", act, (hsize_t)steps[e], 0, 0) && h5_put(g, "rewards", rew, (hsize_t)steps[e], 0, 0) &&
             h5_put(g, "terminations", term, (hsize_t)steps[e], 0, 1) &&
             h5_put(g, "truncations", trunc, (hsize_t)steps[e], 0, 1);
        if (g >= 0)
            H5Gclose(g);
    }
    if (f >= 0)
        H5Fclose(f);
    return ok;
}

#endif /* DISTILL_TEST_H5_FILES_H */
