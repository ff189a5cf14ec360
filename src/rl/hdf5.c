/* Offline data in the D4RL and Minari HDF5 layouts, read into trajectory
 * datasets (rl.h).  Built with `make HDF5=1` (Debian's libhdf5-dev);
 * without it the reader says so.
 *
 *   D4RL:    /observations (N x obs), /actions (N x act or N), /rewards (N),
 *            /terminals (N), /timeouts (N, optional); an episode ends at a
 *            terminal or a timeout row, or at the last row.
 *   Minari:  /episode_<i> groups (i = 0, 1, ...) holding observations
 *            (T+1 x obs: the last is the final observation, dropped),
 *            actions (T x act), rewards, terminations, truncations (T). */
#include <stdio.h>
#include <string.h>

#include "../core/check.h"
#include "distill/rl.h"
#include "internal.h"

static const char fn[] = "distill_trajectories_from_hdf5";

#ifndef DISTILL_HAVE_HDF5

distill_status distill__trajectories_from_hdf5_image(distill_context *ctx, const void *buf, size_t len,
                                                     distill_dataset **out)
{
    (void)buf, (void)len, (void)out;
    return distill__fail(ctx, DISTILL_E_UNSUPPORTED, "%s: this libdistill was built without HDF5 (make HDF5=1)",
                         fn);
}

distill_status distill_trajectories_from_hdf5(distill_context *ctx, const char *path, distill_dataset **out)
{
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    (void)path;
    return distill__trajectories_from_hdf5_image(ctx, NULL, 0, out);
}

#else

#include <hdf5.h>

#define MAX_ROWS ((int64_t)1 << 31)
#define MAX_COLS ((int64_t)1 << 16)

/* One array of a file, as doubles (rows x cols; a 1-D array has 1 column). */
typedef struct array {
    double *v;
    int64_t rows, cols;
} array;

/* Read integers (enums, such as h5py's booleans) in their own size. */
static int read_integers(distill_context *ctx, hid_t d, hid_t ftype, int64_t count, double *out)
{
    const size_t size = H5Tget_size(ftype);
    hid_t mtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    unsigned char *raw = size <= 8 ? distill__alloc(ctx, size * (size_t)count) : NULL;
    int64_t i;
    int ok = mtype >= 0 && raw && (size == 1 || size == 2 || size == 4 || size == 8) &&
             H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0;
    for (i = 0; ok && i < count; i++) {
        const unsigned char *p = raw + (size_t)i * size;
        int64_t v = size == 1 ? (int8_t)p[0] : 0;
        if (size == 2) { int16_t t; memcpy(&t, p, 2); v = t; }
        if (size == 4) { int32_t t; memcpy(&t, p, 4); v = t; }
        if (size == 8) { memcpy(&v, p, 8); }
        out[i] = (double)v;
    }
    if (mtype >= 0)
        H5Tclose(mtype);
    distill__free(ctx, raw);
    return ok;
}

static distill_status read_array(distill_context *ctx, hid_t loc, const char *where, const char *name, int required,
                                 array *a)
{
    hsize_t dims[2] = {0, 1};
    hid_t d, space = -1, ftype = -1;
    H5T_class_t cls;
    int nd, ok;
    memset(a, 0, sizeof *a);
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return required ? distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s: no dataset '%s'", fn, where, name)
                        : DISTILL_OK;
    if ((d = H5Dopen2(loc, name, H5P_DEFAULT)) < 0)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s: '%s' is not a dataset", fn, where, name);
    space = H5Dget_space(d), ftype = H5Dget_type(d);
    nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    cls = ftype >= 0 ? H5Tget_class(ftype) : H5T_NO_CLASS;
    ok = (nd == 1 || nd == 2) && H5Sget_simple_extent_dims(space, dims, NULL) == nd && dims[0] >= 1 &&
         dims[1] >= 1 && (int64_t)dims[0] <= MAX_ROWS && (int64_t)dims[1] <= MAX_COLS &&
         (int64_t)(dims[0] * dims[1]) <= MAX_ROWS && (cls == H5T_FLOAT || cls == H5T_INTEGER || cls == H5T_ENUM);
    if (ok) {
        a->rows = (int64_t)dims[0], a->cols = nd == 2 ? (int64_t)dims[1] : 1;
        ok = (a->v = distill__alloc(ctx, sizeof(double) * (size_t)(a->rows * a->cols))) != NULL;
    }
    if (ok)
        ok = cls == H5T_ENUM ? read_integers(ctx, d, ftype, a->rows * a->cols, a->v)
                             : H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->v) >= 0;
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(d);
    if (!ok) {
        distill__free(ctx, a->v), a->v = NULL;
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s: '%s' is not a readable 1-D or 2-D numeric array "
                             "of sane size", fn, where, name);
    }
    return DISTILL_OK;
}

/* The trajectory rows being assembled. */
typedef struct rows {
    distill_context *ctx;
    float *x, *y;
    int64_t n, cap, od, ad, episode;
} rows;

static float *regrow(distill_context *ctx, float *old, int64_t used, int64_t cap)
{
    float *p = distill__alloc(ctx, sizeof(float) * (size_t)cap);
    if (p && old)
        memcpy(p, old, sizeof(float) * (size_t)used);
    if (p)
        distill__free(ctx, old);
    return p;
}

static int grow(rows *r, int64_t more)
{
    const int64_t yd = r->ad + DISTILL_TRAJ_EXTRA;
    int64_t cap = r->cap ? r->cap : 1024;
    float *x, *y;
    while (cap < r->n + more)
        cap *= 2;
    if (cap == r->cap)
        return 1;
    if (!(x = regrow(r->ctx, r->x, r->n * r->od, cap * r->od)))
        return 0;
    r->x = x;
    if (!(y = regrow(r->ctx, r->y, r->n * yd, cap * yd)))
        return 0;
    r->y = y, r->cap = cap;
    return 1;
}

/* Append steps [from, to) of arrays holding one episode's (or D4RL's) rows;
 * done flags: 1 at a terminal, 2 at a timeout or the episode's cut. */
static void append(rows *r, const array *obs, const array *act, const array *rew, const array *term,
                   const array *trunc, int64_t from, int64_t to)
{
    const int64_t yd = r->ad + DISTILL_TRAJ_EXTRA;
    double rtg = 0.0;
    int64_t t, j;
    for (t = from; t < to; t++) {
        float *x = r->x + (r->n + t - from) * r->od, *y = r->y + (r->n + t - from) * yd;
        for (j = 0; j < r->od; j++)
            x[j] = (float)obs->v[t * r->od + j];
        for (j = 0; j < r->ad; j++)
            y[j] = (float)act->v[t * r->ad + j];
        y[r->ad + DISTILL_TRAJ_REWARD] = (float)rew->v[t];
        y[r->ad + DISTILL_TRAJ_DONE] = term->v[t] != 0 ? 1.0f : (trunc && trunc->v[t] != 0) || t == to - 1 ? 2.0f : 0.0f;
        y[r->ad + DISTILL_TRAJ_EPISODE] = (float)r->episode;
    }
    for (t = to - 1; t >= from; t--) {
        rtg += rew->v[t];
        r->y[(r->n + t - from) * yd + r->ad + DISTILL_TRAJ_RTG] = (float)rtg;
    }
    r->n += to - from, r->episode++;
}

static void free_arrays(distill_context *ctx, array *a, int n)
{
    int i;
    for (i = 0; i < n; i++)
        distill__free(ctx, a[i].v), a[i].v = NULL;
}

/* obs, act, rew, term, trunc (optional) of one group; obs may hold one row more. */
static distill_status read_group(distill_context *ctx, hid_t loc, const char *where, const char *const *names,
                                 int minari, array *a)
{
    int64_t steps;
    int i;
    for (i = 0; i < 5; i++)
        if (read_array(ctx, loc, where, names[i], i < 4 || minari, &a[i]) != DISTILL_OK) {
            free_arrays(ctx, a, i);
            return DISTILL_E_FORMAT;
        }
    steps = a[1].rows;
    if (a[0].rows != steps + minari || a[2].rows != steps || a[3].rows != steps || (a[4].v && a[4].rows != steps) ||
        a[2].cols != 1 || a[3].cols != 1 || (a[4].v && a[4].cols != 1)) {
        free_arrays(ctx, a, 5);
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s: the arrays' row counts disagree (observations %lld%s, "
                             "actions %lld, rewards %lld)", fn, where, (long long)a[0].rows,
                             minari ? " = steps + 1" : "", (long long)steps, (long long)a[2].rows);
    }
    return DISTILL_OK;
}

static distill_status read_d4rl(distill_context *ctx, hid_t file, rows *r)
{
    static const char *const names[5] = {"observations", "actions", "rewards", "terminals", "timeouts"};
    array a[5];
    int64_t t, start = 0;
    DISTILL__TRY(read_group(ctx, file, "the file", names, 0, a));
    r->od = a[0].cols, r->ad = a[1].cols;
    if (!grow(r, a[1].rows)) {
        free_arrays(ctx, a, 5);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    for (t = 0; t < a[1].rows; t++)
        if (a[3].v[t] != 0 || (a[4].v && a[4].v[t] != 0) || t == a[1].rows - 1) {
            append(r, &a[0], &a[1], &a[2], &a[3], a[4].v ? &a[4] : NULL, start, t + 1);
            start = t + 1;
        }
    free_arrays(ctx, a, 5);
    return DISTILL_OK;
}

static distill_status read_minari(distill_context *ctx, hid_t file, rows *r)
{
    static const char *const names[5] = {"observations", "actions", "rewards", "terminations", "truncations"};
    char group[64];
    int64_t i;
    for (i = 0;; i++) {
        array a[5];
        hid_t g;
        distill_status st;
        snprintf(group, sizeof group, "episode_%lld", (long long)i);
        if (H5Lexists(file, group, H5P_DEFAULT) <= 0)
            break;
        if ((g = H5Gopen2(file, group, H5P_DEFAULT)) < 0)
            return distill__fail(ctx, DISTILL_E_FORMAT, "%s: '%s' is not a group", fn, group);
        st = read_group(ctx, g, group, names, 1, a);
        H5Gclose(g);
        DISTILL__TRY(st);
        if (i > 0 && (a[0].cols != r->od || a[1].cols != r->ad))
            st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s: observation or action size differs from episode_0",
                               fn, group);
        r->od = a[0].cols, r->ad = a[1].cols;
        if (st == DISTILL_OK && !grow(r, a[1].rows))
            st = distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
        if (st == DISTILL_OK)
            append(r, &a[0], &a[1], &a[2], &a[3], &a[4], 0, a[1].rows);
        free_arrays(ctx, a, 5);
        DISTILL__TRY(st);
    }
    if (i == 0)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: neither D4RL (/observations) nor Minari (/episode_0) data",
                             fn);
    return DISTILL_OK;
}

static distill_status read_file(distill_context *ctx, hid_t file, distill_dataset **out)
{
    rows r;
    distill_status st;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    st = H5Lexists(file, "observations", H5P_DEFAULT) > 0 ? read_d4rl(ctx, file, &r) : read_minari(ctx, file, &r);
    if (st == DISTILL_OK)
        st = distill__check_finite(ctx, fn, "observations", r.x, r.n, r.od, r.od);
    if (st == DISTILL_OK)
        st = distill__check_finite(ctx, fn, "actions and rewards", r.y, r.n, r.ad + DISTILL_TRAJ_EXTRA,
                                   r.ad + DISTILL_TRAJ_EXTRA);
    if (st == DISTILL_OK)
        st = distill_dataset_from_memory(ctx, r.n, r.od, r.x, r.od, r.ad + DISTILL_TRAJ_EXTRA, r.y,
                                         r.ad + DISTILL_TRAJ_EXTRA, DISTILL_DATASET_COPY, out);
    distill__free(ctx, r.x), distill__free(ctx, r.y);
    return st;
}

/* HDF5 prints its error stack by default: quiet while we read, as before after. */
/* File access: every object the reader left open is closed with the file
 * (a damaged file must not keep the library's ids alive); an image in
 * memory through the core driver. */
static hid_t access_list(const void *image, size_t len)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && (H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
                      (image && (H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 ||
                                 H5Pset_file_image(fapl, (void *)image, len) < 0)))) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* Open and read `name` (a path, or a label for an image), with HDF5's own
 * error printing quiet throughout and as before after. */
static distill_status quietly(distill_context *ctx, const char *name, const void *image, size_t len,
                              distill_dataset **out)
{
    H5E_auto2_t func = NULL;
    void *data = NULL;
    hid_t fapl, file;
    distill_status st;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if ((fapl = access_list(image, len)) < 0) {
        st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s: cannot set up the file access (%zu bytes)", fn, name,
                           len);
    } else {
        file = H5Fopen(name, H5F_ACC_RDONLY, fapl);
        if (file < 0)
            st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s is not a readable HDF5 file", fn, name);
        else
            st = read_file(ctx, file, out), H5Fclose(file);
        H5Pclose(fapl);
    }
    H5Eset_auto2(H5E_DEFAULT, func, data);
    return st;
}

distill_status distill__trajectories_from_hdf5_image(distill_context *ctx, const void *buf, size_t len,
                                                     distill_dataset **out)
{
    if (!buf || len == 0)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: an empty file", fn);
    return quietly(ctx, "distill-hdf5-image", buf, len, out);
}

distill_status distill_trajectories_from_hdf5(distill_context *ctx, const char *path, distill_dataset **out)
{
    FILE *f;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!path)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: path is NULL", fn);
    if (!(f = fopen(path, "rb")))
        return distill__fail(ctx, DISTILL_E_IO, "%s: cannot open %s", fn, path);
    fclose(f);
    return quietly(ctx, path, NULL, 0, out);
}

#endif
