/* distill: the library's command-line program.  Each subcommand ends with
 * one JSON line on stdout; progress goes to stderr when it is a terminal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char *cli_opt(int argc, char **argv, const char *name, const char *def)
{
    int i;
    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

long cli_long(int argc, char **argv, const char *name, long def)
{
    const char *v = cli_opt(argc, argv, name, NULL);
    return v ? strtol(v, NULL, 10) : def; /* whole and in range: cli_check_args */
}

double cli_double(int argc, char **argv, const char *name, double def)
{
    const char *v = cli_opt(argc, argv, name, NULL);
    return v ? strtod(v, NULL) : def;
}

/* A class number 0..63 at *p, advancing it; -1 if there is none. */
static int class_at(const char **p)
{
    char *end;
    long v;
    if (**p < '0' || **p > '9')
        return -1;
    v = strtol(*p, &end, 10);
    *p = end;
    return v <= 63 ? (int)v : -1;
}

int cli_classes(const char *spec, int32_t *out)
{
    const char *p = spec;
    int n = 0, a, b, i;
    if ((a = class_at(&p)) < 0)
        return -1;
    if (*p == '-') {
        p++;
        if ((b = class_at(&p)) < a || *p)
            return -1;
        for (; a <= b; a++)
            out[n++] = a;
        return n;
    }
    for (out[n++] = a; *p; out[n++] = a) {
        if (*p++ != ',' || (a = class_at(&p)) < 0)
            return -1;
        for (i = 0; i < n; i++)
            if (out[i] == a)
                return -1;
    }
    return n;
}

static int progress_bar(void *user, const char *stage, int64_t done, int64_t total)
{
    const int width = 30, fill = total > 0 ? (int)(width * done / total) : 0;
    (void)user;
    fprintf(stderr, "\r%-16s [%.*s%*s] %lld/%lld", stage, fill, "##############################",
            width - fill, "", (long long)done, (long long)total);
    if (done >= total)
        fputs("\n", stderr);
    return 0;
}

distill_context *cli_context(int argc, char **argv)
{
    distill_context_options o;
    distill_context *ctx = NULL;
    distill_context_options_init(&o);
    o.seed = (uint64_t)cli_long(argc, argv, "--seed", 0);
    o.threads = (int32_t)cli_long(argc, argv, "--threads", 0);
    if (isatty(2))
        o.progress = progress_bar;
    if (distill_context_create(&o, &ctx) != DISTILL_OK)
        return NULL;
    return ctx;
}

int cli_fail(distill_context *ctx, const char *cmd, const char *what)
{
    const char *msg = ctx ? distill_context_last_error(ctx) : "";
    if (*msg) /* an error found by the program itself has printed its own message */
        fprintf(stderr, "distill %s: %s: %s\n", cmd, what, msg);
    printf("{\"command\":\"%s\",\"ok\":false,\"error\":\"%s\"}\n", cmd, what);
    return 1;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

const char *cli_json_number(double v, char *buf)
{
    if (!isfinite(v))
        return "null";
    snprintf(buf, 32, "%.6g", v);
    return buf;
}

int cli_csv_has_header(const char *file)
{
    FILE *f = fopen(file, "r");
    int c;
    if (!f)
        return 0; /* the loader then reports the error */
    c = fgetc(f);
    fclose(f);
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '"';
}

/* FILE.csv: label in column 0, then the pixels of a square grey image;
 * train = the rows whose index is not a multiple of 5, test = the others. */
static distill_status load_csv(distill_context *ctx, const char *file, int train, distill_dataset **out)
{
    distill_dataset *all, *part;
    int64_t n, i, k = 0, side, *idx;
    distill_status st;
    if ((st = distill_dataset_from_csv(ctx, file, cli_csv_has_header(file), 0, &all)) != DISTILL_OK)
        return st;
    n = distill_dataset_count(all);
    for (side = 1; side * side < distill_dataset_x_dim(all); side++) {}
    if (side * side != distill_dataset_x_dim(all) || !(idx = malloc(sizeof(int64_t) * (size_t)n))) {
        fprintf(stderr, "distill: %s: rows must be a label and a square image's pixels\n", file);
        distill_dataset_destroy(all);
        return DISTILL_E_SHAPE;
    }
    for (i = 0; i < n; i++)
        if ((i % 5 != 0) == (train != 0))
            idx[k++] = i;
    st = k > 0 ? distill_dataset_subset(all, idx, k, &part) : DISTILL_E_INVAL;
    free(idx);
    distill_dataset_destroy(all);
    if (st == DISTILL_OK && (st = distill_dataset_set_shape(part, 1, side, side)) != DISTILL_OK)
        distill_dataset_destroy(part);
    if (st == DISTILL_OK)
        *out = part;
    return st;
}

static distill_status load_idx(distill_context *ctx, const char *dir, int train, distill_dataset **out)
{
    char img[1024], lab[1024];
    const char *part = train ? "train" : "t10k";
    snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", dir, part);
    snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", dir, part);
    if (access(img, R_OK) != 0) { /* plain files */
        snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte", dir, part);
        snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte", dir, part);
    }
    return distill_dataset_from_idx(ctx, img, lab, out);
}

distill_status cli_load_data(distill_context *ctx, const char *data, int train, const int32_t *classes,
                             int n_classes, distill_dataset **out)
{
    const size_t len = strlen(data);
    distill_dataset *all;
    distill_status st;
    st = len > 4 && strcmp(data + len - 4, ".csv") == 0 ? load_csv(ctx, data, train, &all)
                                                         : load_idx(ctx, data, train, &all);
    if (st != DISTILL_OK)
        return st;
    st = distill_dataset_subset_classes(all, classes, n_classes, out);
    distill_dataset_destroy(all);
    return st;
}

distill_status cli_per_class(distill_context *ctx, distill_dataset *ds, int64_t per_class,
                             uint64_t seed, distill_dataset **out)
{
    const int64_t n = distill_dataset_count(ds);
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)n), *pick = malloc(sizeof(int64_t) * (size_t)n);
    int64_t i, count[64] = {0}, n_pick = 0;
    float *labels = malloc(sizeof(float) * (size_t)n);
    distill_status st = DISTILL_OK;
    if (!perm || !pick || !labels) {
        free(perm), free(pick), free(labels);
        return DISTILL_E_NOMEM;
    }
    for (i = 0; i < n; i++) {
        int64_t j = (int64_t)(distill_random_bits(ctx, 7, seed * 1000003u + (uint64_t)i) % (uint64_t)(i + 1));
        perm[i] = perm[j], perm[j] = i;
    }
    st = distill_dataset_get(ds, perm, n, NULL, 0, labels, 1); /* the labels only, in the drawn order */
    for (i = 0; i < n && st == DISTILL_OK; i++) {
        const int c = (int)labels[i];
        if (c >= 0 && c < 64 && count[c] < per_class)
            count[c]++, pick[n_pick++] = perm[i];
    }
    if (st == DISTILL_OK)
        st = distill_dataset_subset(ds, pick, n_pick, out);
    free(perm), free(pick), free(labels);
    return st;
}

distill_status cli_limit(distill_dataset **ds, int64_t limit)
{
    distill_dataset *view;
    int64_t i, *idx;
    distill_status st;
    if (limit <= 0 || limit >= distill_dataset_count(*ds))
        return DISTILL_OK;
    if (!(idx = malloc(sizeof(int64_t) * (size_t)limit)))
        return DISTILL_E_NOMEM;
    for (i = 0; i < limit; i++)
        idx[i] = i;
    st = distill_dataset_subset(*ds, idx, limit, &view);
    free(idx);
    if (st == DISTILL_OK) {
        distill_dataset_destroy(*ds);
        *ds = view;
    }
    return st;
}

distill_status cli_convnet(distill_context *ctx, const distill_dataset *images, int64_t embed,
                           distill_model **out)
{
    distill_layer_spec l[14];
    distill_model_options mo;
    int64_t n = distill_convnet_layers(3, 32, 1, l, 14);
    if (embed > 0) {
        distill_layer_spec_init(&l[n], DISTILL_LAYER_DENSE);
        l[n++].units = embed;
    }
    distill_model_options_init(&mo);
    distill_dataset_shape(images, &mo.in_c, &mo.in_h, &mo.in_w);
    mo.layers = l, mo.n_layers = n;
    return distill_model_create(ctx, &mo, out);
}

/* On stderr; main prints the JSON line. */
static int usage(void)
{
    fputs("usage: distill krrst [options]     distil Fashion-MNIST classes 0-4 (docs/krrst.md)\n"
          "       distill transfer [options]  evaluate a distilled set against its baselines\n"
          "       distill kd [options]        generalized distillation from privileged features (docs/kd.md)\n"
          "       distill orl [options]       offline-RL dataset distillation on CartPole or Pendulum (docs/orl.md)\n"
          "       distill vdd [options]       a diffusion policy distilled into a mixture of experts (docs/vdd.md)\n"
          "       distill masks [options]     lifelong RL with modulating masks, shared between agents (docs/masks.md)\n"
          "Run a subcommand with --help for its options.\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage();
        printf("{\"command\":\"help\",\"ok\":true}\n");
        return 0;
    }
    if (argc < 2) {
        usage();
        printf("{\"command\":\"help\",\"ok\":false}\n");
        return 2;
    }
    if (strcmp(argv[1], "krrst") == 0)
        return cmd_krrst(argc - 1, argv + 1);
    if (strcmp(argv[1], "transfer") == 0)
        return cmd_transfer(argc - 1, argv + 1);
    if (strcmp(argv[1], "kd") == 0)
        return cmd_kd(argc - 1, argv + 1);
    if (strcmp(argv[1], "orl") == 0)
        return cmd_orl(argc - 1, argv + 1);
    if (strcmp(argv[1], "vdd") == 0)
        return cmd_vdd(argc - 1, argv + 1);
    if (strcmp(argv[1], "masks") == 0)
        return cmd_masks(argc - 1, argv + 1);
    usage();
    fprintf(stderr, "distill: unknown command '%s'\n", argv[1]);
    printf("{\"command\":\"help\",\"ok\":false}\n");
    return 2;
}
