/* One strict argument check for every subcommand: each option known, given
 * once, with a value where it takes one; numbers whole (or finite) and in
 * range; text and paths not empty and of bounded length.  The subcommands
 * then read their options through cli_opt/cli_long/cli_double. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Every subcommand's options beyond its own. */
static const cli_spec common[] = {
    {"--seed", CLI_INT, 0, 9007199254740992.0},
    {"--threads", CLI_INT, 0, DISTILL_MAX_THREADS},
    {"--help", CLI_FLAG, 0, 0},
};

static const cli_spec *find(const char *name, const cli_spec *specs, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    for (i = 0; i < (int)(sizeof common / sizeof common[0]); i++)
        if (strcmp(common[i].name, name) == 0)
            return &common[i];
    return NULL;
}

/* A whole number or a finite real, the whole text consumed. */
static int parse_number(const char *v, int whole, double *out)
{
    char *end;
    errno = 0;
    if (whole) {
        const long long x = strtoll(v, &end, 10);
        *out = (double)x;
    } else
        *out = strtod(v, &end);
    return *v && !*end && errno == 0 && isfinite(*out);
}

static int check_value(const char *cmd, const cli_spec *s, const char *v)
{
    double x;
    if (s->kind == CLI_TEXT || s->kind == CLI_PATH) {
        if (!*v) {
            fprintf(stderr, "distill %s: %s must not be empty\n", cmd, s->name);
            return 0;
        }
        if (s->kind == CLI_PATH && strlen(v) > DISTILL_CLI_MAX_PATH) {
            fprintf(stderr, "distill %s: %s is longer than %d characters\n", cmd, s->name,
                    DISTILL_CLI_MAX_PATH);
            return 0;
        }
        return 1;
    }
    if (!parse_number(v, s->kind == CLI_INT, &x)) {
        fprintf(stderr, "distill %s: %s takes %s, not '%s'\n", cmd, s->name,
                s->kind == CLI_INT ? "a whole number" : "a finite number", v);
        return 0;
    }
    if (x < s->lo || x > s->hi) {
        fprintf(stderr, "distill %s: %s must be in [%g, %g], not %s\n", cmd, s->name, s->lo, s->hi, v);
        return 0;
    }
    return 1;
}

int cli_check_args(const char *cmd, int argc, char **argv, const cli_spec *specs, int n)
{
    int i, j;
    for (i = 1; i < argc; i++) {
        const cli_spec *s = find(argv[i], specs, n);
        if (!s) {
            fprintf(stderr, "distill %s: unknown %s '%s' (see --help)\n", cmd,
                    strncmp(argv[i], "--", 2) == 0 ? "option" : "argument", argv[i]);
            return 0;
        }
        for (j = 1; j < i; j++)
            if (strcmp(argv[j], argv[i]) == 0) {
                fprintf(stderr, "distill %s: %s is given twice\n", cmd, argv[i]);
                return 0;
            }
        if (s->kind == CLI_FLAG)
            continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "distill %s: %s needs a value\n", cmd, argv[i]);
            return 0;
        }
        if (!check_value(cmd, s, argv[++i]))
            return 0;
    }
    return 1;
}

int cli_bad_args(const char *cmd)
{
    printf("{\"command\":\"%s\",\"ok\":false,\"error\":\"options\"}\n", cmd);
    return 2;
}

int cli_flag(int argc, char **argv, const char *name)
{
    int i;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

void cli_stats(const double *v, int n, double *mean, double *sd)
{
    double s = 0, ss = 0;
    int i;
    for (i = 0; i < n; i++)
        s += v[i];
    *mean = s / n;
    for (i = 0; i < n; i++)
        ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = isnan(*mean) ? NAN : n > 1 ? sqrt(ss / (n - 1)) : 0.0;
}
