/* distill kd: generalized distillation (docs/kd.md).  A teacher MLP on the
 * privileged features, a student MLP on the regular ones trained alone
 * (lambda 0) and with the teacher's soft labels; test scores of all three.
 *
 * Images (Fashion-MNIST by default, or --data DIR of IDX files): two views
 * of the pixels, --privileged (default: the pixels) for the teacher and
 * --regular (default pool:4, the 7x7 block means) for the student; a view
 * is pixels, pool:B (B x B block means) or noise:S (plus N(0, S^2) noise).  A CSV file
 * (--data FILE.csv): --label-column names the label, --privileged the
 * columns (0-based, as in the file) that only the teacher sees; every
 * fifth row is a test row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(void)
{
    fputs("distill kd [--data DIR or FILE.csv] [--n 300]\n"
          "  images: [--regular pool:4 | noise:1.0 | pixels] [--privileged pixels | pool:2 | noise:S]\n"
          "  CSV:    [--label-column 0] --privileged 1,2,3 (columns only the teacher sees)\n"
          "  [--mode gd|classic|regression|logits]\n"
          "  [--preset lopezpaz2016|hinton2015] [--T 10] [--lambda 0.1] [--grid]\n"
          "  [--val 1000] [--unlabeled 0] [--hidden 20,20] [--epochs 50] [--batch 128] [--lr 1e-3]\n"
          "  [--test-limit N] [--subset-seed 0] [--save-student FILE] [--save-teacher FILE]\n"
          "  [--seed 0] [--threads 1]\n"
          "--grid chooses T in {1,2,5,10,20,50} and lambda in {0,0.1,...,1} on a validation\n"
          "split (images: --val further training images; CSV: a held-out fifth).\n"
          "--unlabeled N adds N training images without labels: they feed only the soft term\n"
          "(the student alone trains on the --n labelled ones).\n", stderr);
}

/* Rows of one split: regular features, privileged features, labels. */
typedef struct rows {
    int64_t n, d, ds;
    float *x, *xs, *y;
} rows;

static void rows_free(rows *r) { free(r->x), free(r->xs), free(r->y); }

static int rows_alloc(rows *r, int64_t n, int64_t d, int64_t ds)
{
    r->n = n, r->d = d, r->ds = ds;
    r->x = calloc((size_t)(n * d + 1), sizeof(float));
    r->xs = calloc((size_t)(n * ds + 1), sizeof(float));
    r->y = calloc((size_t)(n + 1), sizeof(float));
    return r->x && r->xs && r->y;
}

/* A view of square grey images: B x B block means, then N(0, S^2) noise. */
typedef struct view {
    int pool;      /* block size (1: the pixels) */
    double noise;  /* noise std, or 0 */
} view;

/* "pixels", "pool:B" or "noise:S". */
static int parse_view(const char *spec, view *v)
{
    v->pool = 1, v->noise = 0.0;
    if (strcmp(spec, "pixels") == 0)
        return 1;
    if (strncmp(spec, "pool:", 5) == 0)
        return (v->pool = atoi(spec + 5)) >= 1;
    if (strncmp(spec, "noise:", 6) == 0)
        return (v->noise = strtod(spec + 6, NULL)) > 0.0;
    return 0;
}

static int64_t view_dim(const view *v, int64_t side) { return (side / v->pool) * (side / v->pool); }

/* out (n x view_dim) = the view of n images of side x side pixels. */
static distill_status make_view(distill_context *ctx, const view *v, int64_t n, int64_t side, const float *pixels,
                                uint64_t stream, float *out)
{
    distill_status st = DISTILL_OK;
    if (v->pool > 1)
        st = distill_image_block_mean(ctx, n, 1, side, side, v->pool, pixels, out);
    else
        memcpy(out, pixels, sizeof(float) * (size_t)(n * side * side));
    if (st != DISTILL_OK)
        return st;
    return v->noise > 0.0 ? distill_augment_noise(ctx, stream, 0, n, view_dim(v, side), (float)v->noise, out)
                          : DISTILL_OK;
}

/* Images: `n` rows idx of ds with their labels, in the regular and the
 * privileged view. */
static distill_status image_rows(distill_context *ctx, distill_dataset *ds, const int64_t *idx, int64_t n,
                                 const view *reg, const view *priv, uint64_t stream, rows *r)
{
    int64_t c, h, w;
    float *pixels;
    distill_status st;
    distill_dataset_shape(ds, &c, &h, &w);
    if (c != 1 || h != w || h % reg->pool || h % priv->pool) {
        fprintf(stderr, "distill kd: the views need square grey images a multiple of the blocks\n");
        return DISTILL_E_SHAPE;
    }
    if (!rows_alloc(r, n, view_dim(reg, h), view_dim(priv, h)) || !(pixels = malloc(sizeof(float) * (size_t)(n * h * w))))
        return DISTILL_E_NOMEM;
    st = distill_dataset_get(ds, idx, n, pixels, h * w, r->y, 1);
    if (st == DISTILL_OK)
        st = make_view(ctx, reg, n, h, pixels, stream, r->x);
    if (st == DISTILL_OK)
        st = make_view(ctx, priv, n, h, pixels, stream + 100, r->xs);
    free(pixels);
    return st;
}

/* A random permutation's first `count` rows of n (seeded). */
static int64_t *draw_rows(distill_context *ctx, int64_t n, int64_t count, uint64_t seed)
{
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)n), i;
    if (!perm)
        return NULL;
    for (i = 0; i < n; i++)
        perm[i] = i;
    for (i = 0; i < count && i < n; i++) {
        const int64_t j = i + (int64_t)(distill_random_bits(ctx, 9, seed * 1000003u + (uint64_t)i) %
                                        (uint64_t)(n - i));
        const int64_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    return perm;
}

typedef struct setup {
    const char *data;
    int64_t n, n_unlabeled, n_val, test_limit;
    uint64_t subset_seed;
    view v, pv; /* the regular and the privileged view of images */
    int regression;
} setup;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static distill_status load_images(distill_context *ctx, const setup *s, rows *tr, rows *val, rows *te)
{
    static const int32_t all[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    distill_dataset *train = NULL, *test = NULL;
    int64_t *pick = NULL, *tidx = NULL, i, n_test;
    distill_status st = cli_load_data(ctx, s->data, 1, all, 10, &train);
    if (st == DISTILL_OK)
        st = cli_load_data(ctx, s->data, 0, all, 10, &test);
    const int64_t n_rows = s->n + s->n_unlabeled; /* labelled rows first, then unlabelled ones */
    if (st == DISTILL_OK && n_rows + s->n_val > distill_dataset_count(train)) {
        fprintf(stderr, "distill kd: --n, --unlabeled and --val exceed the %lld training images\n",
                (long long)distill_dataset_count(train));
        st = DISTILL_E_INVAL;
    }
    if (st == DISTILL_OK) {
        n_test = s->test_limit > 0 ? min64(s->test_limit, distill_dataset_count(test)) : distill_dataset_count(test);
        pick = draw_rows(ctx, distill_dataset_count(train), n_rows + s->n_val, s->subset_seed);
        tidx = malloc(sizeof(int64_t) * (size_t)n_test);
        st = pick && tidx ? DISTILL_OK : DISTILL_E_NOMEM;
        for (i = 0; st == DISTILL_OK && i < n_test; i++)
            tidx[i] = i;
        if (st == DISTILL_OK)
            st = image_rows(ctx, train, pick, n_rows, &s->v, &s->pv, 1, tr);
        for (i = s->n; st == DISTILL_OK && i < n_rows; i++)
            tr->y[i] = NAN; /* no label: the row feeds only the soft term */
        if (st == DISTILL_OK && s->n_val > 0)
            st = image_rows(ctx, train, pick + n_rows, s->n_val, &s->v, &s->pv, 2, val);
        if (st == DISTILL_OK)
            st = image_rows(ctx, test, tidx, n_test, &s->v, &s->pv, 3, te);
    }
    free(pick), free(tidx);
    distill_dataset_destroy(train), distill_dataset_destroy(test);
    return st;
}

/* "1,2,5" into a 0/1 flag per file column (file has `cols` columns). */
static int parse_columns(const char *spec, int64_t cols, unsigned char *flag)
{
    int count = 0;
    memset(flag, 0, (size_t)cols);
    while (spec && *spec) {
        char *end;
        const long c = strtol(spec, &end, 10);
        if (end == spec || c < 0 || c >= cols)
            return -1;
        count += !flag[c], flag[c] = 1;
        spec = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return count;
}

/* CSV: split the feature columns into regular and privileged ones; every
 * fifth row (0, 5, ...) is a test row. */
static distill_status load_csv_rows(distill_context *ctx, const setup *s, long label_col, const char *priv,
                                    rows *tr, rows *te)
{
    distill_dataset *all;
    unsigned char *flag;
    float *x, y;
    int64_t n, d, cols, i, j, ds, k_tr = 0, k_te = 0;
    distill_status st = distill_dataset_from_csv(ctx, s->data, cli_csv_has_header(s->data) | DISTILL_CSV_MISSING,
                                                 label_col, &all);
    if (st != DISTILL_OK)
        return st;
    n = distill_dataset_count(all), d = distill_dataset_x_dim(all), cols = d + 1;
    flag = malloc((size_t)cols), x = malloc(sizeof(float) * (size_t)d);
    if (d < 2 || n < 2) {
        fprintf(stderr, "distill kd: %s has %lld feature column(s) and %lld row(s): it needs a regular and a "
                "privileged column, and rows to train and test on (every fifth row tests)\n", s->data,
                (long long)d, (long long)n);
        st = DISTILL_E_INVAL;
    } else if (!flag || !x || label_col < 0 || label_col >= cols || (ds = parse_columns(priv, cols, flag)) < 1 ||
        flag[label_col] || ds >= d) {
        fprintf(stderr, "distill kd: --privileged must name 1 to %lld feature columns (not the label, "
                "column %ld)\n", (long long)(d - 1), label_col);
        st = DISTILL_E_INVAL;
    }
    if (st == DISTILL_OK) {
        const int64_t n_te = (n + 4) / 5, n_tr_all = n - n_te;
        const int64_t n_tr = s->n > 0 ? min64(s->n, n_tr_all) : n_tr_all;
        if (s->n > n_tr_all) {
            fprintf(stderr, "distill kd: --n %lld exceeds the %lld training rows of %s\n", (long long)s->n,
                    (long long)n_tr_all, s->data);
            st = DISTILL_E_INVAL;
        } else if (!rows_alloc(tr, n_tr, d - ds, ds) || !rows_alloc(te, n_te, d - ds, ds))
            st = DISTILL_E_NOMEM;
        for (i = 0; st == DISTILL_OK && i < n; i++) {
            rows *r = i % 5 == 0 ? te : tr;
            int64_t *k = i % 5 == 0 ? &k_te : &k_tr, a = 0, b = 0;
            if (r == tr && k_tr >= n_tr)
                continue;
            st = distill_dataset_get(all, &i, 1, x, d, &y, 1);
            for (j = 0; j < d && st == DISTILL_OK; j++) /* feature j is file column j + (j >= label) */
                if (flag[j + (j >= label_col)])
                    r->xs[*k * ds + a++] = x[j]; /* missing: the row has no x* */
                else if (isnan(r->x[*k * (d - ds) + b++] = x[j])) {
                    fprintf(stderr, "distill kd: data row %lld misses a regular feature (column %lld); only the "
                            "label and privileged columns may be empty\n", (long long)i,
                            (long long)(j + (j >= label_col)));
                    st = DISTILL_E_INVAL;
                }
            if (st == DISTILL_OK)
                r->y[(*k)++] = y; /* missing (NaN): the row feeds only the soft term */
        }
    }
    free(flag), free(x);
    distill_dataset_destroy(all);
    return st;
}

/* "20,20" into hidden widths (at most 8; more is an error). */
static int parse_hidden(const char *spec, int64_t *h)
{
    int n = 0;
    while (*spec) {
        if (n == 8)
            return -1;
        char *end;
        h[n] = strtol(spec, &end, 10);
        if (end == spec || h[n] < 1 || h[n] > 65536)
            return -1;
        n++, spec = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

static distill_status mlp(distill_context *ctx, int64_t in, const int64_t *hidden, int nh, int64_t out,
                          distill_model **m)
{
    distill_layer_spec l[17];
    distill_model_options mo;
    int i, n = 0;
    for (i = 0; i <= nh; i++) {
        distill_layer_spec_init(&l[n], DISTILL_LAYER_DENSE);
        l[n].units = i < nh ? hidden[i] : out, l[n++].init = DISTILL_INIT_GLOROT_UNIFORM;
        if (i < nh)
            distill_layer_spec_init(&l[n++], DISTILL_LAYER_RELU);
    }
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = n;
    return distill_model_create(ctx, &mo, m);
}

static distill_status dataset(distill_context *ctx, const rows *r, int privileged, distill_dataset **out)
{
    const int64_t d = privileged ? r->ds : r->d;
    return distill_dataset_from_memory(ctx, r->n, d, privileged ? r->xs : r->x, d, 1, r->y, 1,
                                       DISTILL_DATASET_BORROW, out);
}

/* Number of classes: the largest label + 1 (labels must be whole and >= 0). */
static int64_t classes_of(const rows *a, const rows *b)
{
    int64_t k = 0, i;
    const rows *r[2] = {a, b};
    for (int s = 0; s < 2; s++)
        for (i = 0; i < r[s]->n; i++) {
            const float y = r[s]->y[i];
            if (isnan(y))
                continue; /* an unlabelled row */
            if (!(y >= 0.0f) || y != floorf(y) || y > 65535.0f)
                return -1;
            k = (int64_t)y + 1 > k ? (int64_t)y + 1 : k;
        }
    return k;
}

static int mode_of(const char *name)
{
    static const char *const names[] = {"gd", "classic", "regression", "policy", "logits"};
    int i;
    for (i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

typedef struct run {
    distill_context *ctx;
    distill_kd_options o;
    distill_dataset *train, *priv, *test, *test_priv, *val;
    distill_dataset *labelled, *labelled_priv; /* the rows with a label (the student alone's) */
    distill_model *teacher, *student0;
} run;

/* Train a copy of the initial student with (T, lambda) on train (and its
 * privileged rows) and score it. */
static distill_status student_score(run *r, distill_dataset *train, distill_dataset *priv, double t,
                                    double lambda, double *score, distill_model **keep)
{
    distill_kd_options o = r->o;
    distill_model *m = NULL;
    distill_kd *kd = NULL;
    distill_status st = distill_model_clone(r->student0, &m);
    o.temperature = t, o.lambda = lambda, o.teacher = r->teacher;
    if (st == DISTILL_OK)
        st = distill_kd_create(r->ctx, &o, m, train, priv, &kd);
    if (st == DISTILL_OK)
        st = distill_kd_run(kd, 0);
    if (st == DISTILL_OK)
        st = distill_kd_score(r->ctx, o.mode, m, r->test, score);
    distill_kd_destroy(kd);
    if (st == DISTILL_OK && keep)
        *keep = m;
    else
        distill_model_destroy(m);
    return st;
}

static void run_free(run *r)
{
    distill_dataset_destroy(r->train), distill_dataset_destroy(r->priv), distill_dataset_destroy(r->test);
    distill_dataset_destroy(r->test_priv), distill_dataset_destroy(r->val);
    distill_dataset_destroy(r->labelled), distill_dataset_destroy(r->labelled_priv);
    distill_model_destroy(r->teacher), distill_model_destroy(r->student0);
}

/* Views of the first n rows of train and priv. */
static distill_status first_rows(distill_dataset *train, distill_dataset *priv, int64_t n, distill_dataset **a,
                                 distill_dataset **b)
{
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n), i;
    distill_status st = idx ? DISTILL_OK : DISTILL_E_NOMEM;
    for (i = 0; st == DISTILL_OK && i < n; i++)
        idx[i] = i;
    if (st == DISTILL_OK)
        st = distill_dataset_subset(train, idx, n, a);
    if (st == DISTILL_OK)
        st = distill_dataset_subset(priv, idx, n, b);
    free(idx);
    return st;
}

static const double grid_t[6] = {1, 2, 5, 10, 20, 50};

/* The command line: setup, mode, model widths; 0 on bad options. */
typedef struct cmdline {
    setup s;
    const char *data, *preset, *mode_name, *save_student, *save_teacher;
    int csv, grid, mode, n_hidden;
    int64_t hidden[8];
} cmdline;

static int parse(int argc, char **argv, cmdline *c)
{
    const size_t len = strlen(c->data = cli_opt(argc, argv, "--data", FMNIST_DIR));
    c->csv = len > 4 && strcmp(c->data + len - 4, ".csv") == 0;
    c->mode = mode_of(c->mode_name = cli_opt(argc, argv, "--mode", "gd"));
    c->preset = cli_opt(argc, argv, "--preset", "");
    c->save_student = cli_opt(argc, argv, "--save-student", NULL);
    c->save_teacher = cli_opt(argc, argv, "--save-teacher", NULL);
    c->grid = cli_flag(argc, argv, "--grid");
    c->s.data = c->data, c->s.n = cli_long(argc, argv, "--n", c->csv ? 0 : 300);
    c->s.n_val = c->csv || !c->grid ? 0 : cli_long(argc, argv, "--val", 1000);
    c->s.n_unlabeled = c->csv ? 0 : cli_long(argc, argv, "--unlabeled", 0);
    c->s.test_limit = cli_long(argc, argv, "--test-limit", 0);
    c->s.subset_seed = (uint64_t)cli_long(argc, argv, "--subset-seed", 0);
    c->s.regression = c->mode == DISTILL_KD_REGRESSION;
    c->n_hidden = parse_hidden(cli_opt(argc, argv, "--hidden", "20,20"), c->hidden);
    if (c->mode < 0 || c->n_hidden < 0 || (*c->preset && strcmp(c->preset, "lopezpaz2016") &&
                                           strcmp(c->preset, "hinton2015")))
        return 0;
    return c->csv || (parse_view(cli_opt(argc, argv, "--regular", "pool:4"), &c->s.v) &&
                      parse_view(cli_opt(argc, argv, "--privileged", "pixels"), &c->s.pv) && c->s.n >= 1 &&
                      c->s.n_val >= 0 && c->s.n_unlabeled >= 0);
}

/* The solver options (RMSprop as the authors' Keras code unless --lr changes its rate). */
static void kd_options(int argc, char **argv, const cmdline *c, distill_kd_options *o,
                       distill_optimizer_options *oo)
{
    distill_kd_options_init(o);
    distill_optimizer_options_init(oo);
    oo->kind = DISTILL_OPTIM_RMSPROP, oo->lr = cli_double(argc, argv, "--lr", 1e-3), oo->alpha = 0.9;
    oo->eps = 1e-6, oo->flags = DISTILL_OPTIM_EPS_IN_SQRT;
    o->mode = c->mode, o->optimizer = oo, o->seed = c->s.subset_seed;
    o->preset = !*c->preset ? DISTILL_KD_PRESET_DEFAULT
                : strcmp(c->preset, "hinton2015") ? DISTILL_KD_PRESET_LOPEZPAZ2016 : DISTILL_KD_PRESET_HINTON2015;
    o->epochs = cli_long(argc, argv, "--epochs", 50), o->batch = cli_long(argc, argv, "--batch", 128);
}

/* Datasets over the loaded rows, and the teacher and initial student. */
static distill_status build(const cmdline *c, const rows *tr, const rows *val, const rows *te, int64_t k, run *r)
{
    const int classic = c->mode == DISTILL_KD_CLASSIC;
    distill_status st = dataset(r->ctx, tr, 0, &r->train);
    if (st == DISTILL_OK && !classic)
        st = dataset(r->ctx, tr, 1, &r->priv);
    if (st == DISTILL_OK)
        st = dataset(r->ctx, te, 0, &r->test);
    if (st == DISTILL_OK)
        st = dataset(r->ctx, te, !classic, &r->test_priv);
    if (st == DISTILL_OK && val->n > 0)
        st = dataset(r->ctx, val, 0, &r->val);
    if (st == DISTILL_OK && c->s.n_unlabeled > 0)
        st = first_rows(r->train, r->priv, c->s.n, &r->labelled, &r->labelled_priv);
    if (st == DISTILL_OK)
        st = mlp(r->ctx, classic ? tr->d : tr->ds, c->hidden, c->n_hidden, k, &r->teacher);
    if (st == DISTILL_OK)
        st = mlp(r->ctx, tr->d, c->hidden, c->n_hidden, k, &r->student0);
    return st;
}

typedef struct results {
    double teacher, alone, distilled, t, lambda;
    distill_model *student;
} results;

/* Teacher, student alone, (T, lambda) by the grid or as given, distilled student. */
static distill_status distil(const cmdline *c, run *r, results *out)
{
    distill_status st = distill_kd_train_teacher(r->ctx, &r->o, r->teacher, r->train, r->priv);
    if (st == DISTILL_OK)
        st = distill_kd_score(r->ctx, c->mode, r->teacher, r->test_priv, &out->teacher);
    if (st == DISTILL_OK)
        st = student_score(r, r->labelled ? r->labelled : r->train, r->labelled ? r->labelled_priv : r->priv,
                           1.0, 0.0, &out->alone, NULL);
    if (st == DISTILL_OK && c->grid) {
        double lambdas[11];
        distill_kd_options o = r->o;
        int i;
        for (i = 0; i < 11; i++)
            lambdas[i] = i / 10.0;
        o.teacher = r->teacher;
        st = distill_kd_grid_search(r->ctx, &o, r->student0, r->train, r->priv, r->val, grid_t, 6, lambdas, 11,
                                    NULL, &out->t, &out->lambda);
    }
    if (st == DISTILL_OK)
        st = student_score(r, r->train, r->priv, out->t, out->lambda, &out->distilled, &out->student);
    if (st == DISTILL_OK && c->save_teacher)
        st = distill_model_save(r->teacher, c->save_teacher);
    if (st == DISTILL_OK && c->save_student)
        st = distill_model_save(out->student, c->save_student);
    return st;
}

static void report(const cmdline *c, const rows *tr, const rows *te, const results *res)
{
    printf("{\"command\":\"kd\",\"ok\":true,\"mode\":\"%s\",\"metric\":\"%s\",\"n\":%lld,\"test\":%lld,"
           "\"regular_features\":%lld,\"privileged_features\":%lld,\"teacher\":%.4f,\"student_alone\":%.4f,"
           "\"distilled\":%.4f,\"T\":%g,\"lambda\":%g,\"grid\":%s,\"unlabeled\":%lld}\n",
           c->mode_name, c->s.regression ? "mse" : "accuracy", (long long)tr->n, (long long)te->n,
           (long long)tr->d, (long long)(c->mode == DISTILL_KD_CLASSIC ? 0 : tr->ds), res->teacher, res->alone,
           res->distilled, res->t, res->lambda, c->grid ? "true" : "false", (long long)c->s.n_unlabeled);
}

static const cli_spec options[] = {
    {"--data", CLI_PATH, 0, 0},          {"--n", CLI_INT, 0, 1e9},
    {"--val", CLI_INT, 0, 1e9},          {"--unlabeled", CLI_INT, 0, 1e9},
    {"--test-limit", CLI_INT, 0, 1e9},   {"--subset-seed", CLI_INT, 0, 9007199254740992.0},
    {"--label-column", CLI_INT, 0, 1e6}, {"--privileged", CLI_TEXT, 0, 0},
    {"--regular", CLI_TEXT, 0, 0},       {"--mode", CLI_TEXT, 0, 0},
    {"--preset", CLI_TEXT, 0, 0},        {"--T", CLI_REAL, 1e-6, 1e6},
    {"--lambda", CLI_REAL, 0, 1},        {"--grid", CLI_FLAG, 0, 0},
    {"--hidden", CLI_TEXT, 0, 0},        {"--epochs", CLI_INT, 1, 1e7},
    {"--batch", CLI_INT, 1, 1e7},        {"--lr", CLI_REAL, 1e-12, 10},
    {"--save-student", CLI_PATH, 0, 0},  {"--save-teacher", CLI_PATH, 0, 0},
};

int cmd_kd(int argc, char **argv)
{
    cmdline c;
    rows tr = {0, 0, 0, NULL, NULL, NULL}, val = tr, te = tr;
    results res = {0, 0, 0, 0, 0, NULL};
    distill_optimizer_options oo;
    distill_status st;
    int loaded, rc = 0;
    int64_t k;
    run r;
    if (cli_flag(argc, argv, "--help")) {
        help();
        printf("{\"command\":\"kd\",\"ok\":true,\"help\":true}\n");
        return 0;
    }
    if (!cli_check_args("kd", argc, argv, options, (int)(sizeof options / sizeof options[0])))
        return cli_bad_args("kd");
    if (!parse(argc, argv, &c)) {
        fprintf(stderr, "distill kd: bad --mode, --preset, --hidden, --regular or --privileged (see --help)\n");
        return cli_bad_args("kd");
    }
    memset(&r, 0, sizeof r);
    if (!(r.ctx = cli_context(argc, argv)))
        return cli_fail(NULL, "kd", "context");
    res.t = cli_double(argc, argv, "--T", 10), res.lambda = cli_double(argc, argv, "--lambda", 0.1);
    st = c.csv ? load_csv_rows(r.ctx, &c.s, cli_long(argc, argv, "--label-column", 0),
                               cli_opt(argc, argv, "--privileged", NULL), &tr, &te)
               : load_images(r.ctx, &c.s, &tr, &val, &te);
    /* the rows hold labels only once they loaded */
    k = st != DISTILL_OK ? 0 : c.s.regression ? 1 : classes_of(&tr, &te);
    if (st == DISTILL_OK && k < 2 && !c.s.regression) {
        fprintf(stderr, "distill kd: labels must be whole numbers >= 0 of at least two classes\n");
        st = DISTILL_E_INVAL;
    }
    loaded = st == DISTILL_OK;
    kd_options(argc, argv, &c, &r.o, &oo);
    if (st == DISTILL_OK)
        st = build(&c, &tr, &val, &te, k, &r);
    if (st == DISTILL_OK)
        st = distil(&c, &r, &res);
    if (st == DISTILL_OK)
        report(&c, &tr, &te, &res);
    else
        rc = cli_fail(r.ctx, "kd", loaded ? "distillation" : "data");
    distill_model_destroy(res.student);
    run_free(&r);
    rows_free(&tr), rows_free(&val), rows_free(&te);
    distill_context_destroy(r.ctx);
    return rc;
}
