/* The `distill` program: shared pieces of its subcommands. */
#ifndef DISTILL_CLI_H
#define DISTILL_CLI_H

#include <stdio.h>

#include "distill/distill.h"
#include "distill/experimental.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Options of a subcommand, checked by cli_check_args before anything runs. */
typedef enum { CLI_INT, CLI_REAL, CLI_TEXT, CLI_PATH, CLI_FLAG } cli_kind;
typedef struct cli_spec {
    const char *name; /* "--steps" */
    cli_kind kind;
    double lo, hi;    /* CLI_INT, CLI_REAL: the range */
} cli_spec;

/* Room left for the file names a subcommand adds to a directory path. */
#define DISTILL_CLI_MAX_PATH 900

/* argv (argv[0] the subcommand) against specs and the options every
 * subcommand has (--seed, --threads, --help): an unknown option or argument,
 * a repeated option, a missing value, a number that is not whole (CLI_INT)
 * or finite, out of range, or an empty or over-long text or path is
 * reported on stderr; returns 1 when all is well. */
int cli_check_args(const char *cmd, int argc, char **argv, const cli_spec *specs, int n);
/* Is the flag --name given? */
int cli_flag(int argc, char **argv, const char *name);

/* --name value options (checked): the value of --name, or def. */
const char *cli_opt(int argc, char **argv, const char *name, const char *def);
long cli_long(int argc, char **argv, const char *name, long def);
double cli_double(int argc, char **argv, const char *name, double def);
/* Classes "a-b" or "a,b,c" (0 to 63, distinct) into out; returns the
 * count, or -1 for anything else. */
int cli_classes(const char *spec, int32_t *out);

/* A context with the --seed and --threads options and, on a TTY, a
 * progress bar on stderr. */
distill_context *cli_context(int argc, char **argv);
/* Bad options (cli_check_args said why): the JSON line; returns 2. */
int cli_bad_args(const char *cmd);
/* Report a failed call (message on stderr, JSON on stdout); returns 1. */
int cli_fail(distill_context *ctx, const char *cmd, const char *what);

/* Fashion-MNIST (or --data DIR with the same IDX names, or --data FILE.csv
 * with the label in column 0 and a square grey image per row, every fifth
 * row for testing): train or test images with labels, restricted to
 * `classes`. */
distill_status cli_load_data(distill_context *ctx, const char *data, int train, const int32_t *classes,
                             int n_classes, distill_dataset **out);
/* `per_class` random images of each class (by seed), as a view. */
distill_status cli_per_class(distill_context *ctx, distill_dataset *ds, int64_t per_class,
                             uint64_t seed, distill_dataset **out);
/* Keep only the first `limit` images of *ds (limit <= 0: all). */
distill_status cli_limit(distill_dataset **ds, int64_t limit);
/* ConvNet-3 (32-64-128, batch norm) on images shaped like `images`, to
 * features; with `embed` > 0 a dense layer to that size follows (the
 * teacher's representation). */
distill_status cli_convnet(distill_context *ctx, const distill_dataset *images, int64_t embed,
                           distill_model **out);

/* The mean and sample standard deviation of v[0..n) (0 for one value;
 * NaN when the mean is). */
void cli_stats(const double *v, int n, double *mean, double *sd);
/* v as a JSON number ("%.6g"), or null when it is not finite (a resume
 * with no steps left has no loss); buf holds at least 32 bytes. */
const char *cli_json_number(double v, char *buf);
/* s as a JSON string literal (quotes, backslashes and control characters escaped). */
void cli_json_string(FILE *f, const char *s);
/* Does the CSV file start with a header line (a letter or a quote)? */
int cli_csv_has_header(const char *file);

/* MPI ranks (make MPI=1; otherwise init fails, saying so): init gives this
 * process's rank and the world's size; allreduce is the KRR-ST solver's
 * hook (sums in place); finalize is safe to call always. */
int cli_mpi_init(int *rank, int *world);
int cli_mpi_allreduce(void *user, float *buf, int64_t count);
void cli_mpi_finalize(void);

int cmd_krrst(int argc, char **argv);
int cmd_kd(int argc, char **argv);
int cmd_transfer(int argc, char **argv);
int cmd_orl(int argc, char **argv);
int cmd_vdd(int argc, char **argv);
int cmd_masks(int argc, char **argv);

#endif /* DISTILL_CLI_H */
