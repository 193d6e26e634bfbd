/*
 * linpack: a small LINPACK-style benchmark of our own.
 *
 * Solves A x = b for a random n x n matrix A with LU factorisation and
 * partial pivoting (LAPACK dgetrf) followed by the two triangular solves
 * (dgetrs), the work of the classic LINPACK benchmark. The libraries are
 * whatever LAPACK/BLAS the system links (Debian's precompiled OpenBLAS in
 * the image): no tuning, the point is to compare the SAME program in a
 * container and on the host.
 *
 * Usage:
 *   linpack [N [REPEATS]]       size and repetitions on the command line
 *   linpack -f FILE             read "n=N" and "repeats=R" lines from FILE
 *                               (other lines and '#' comments are ignored)
 *   linpack                     reads /etc/linpack.in if it exists,
 *                               else n=2000 repeats=1
 *
 * One line per repetition, stable so lessons and scripts can grep it:
 *   n=2000 time=0.421 s GFLOPS=12.68 residual=0.0123 PASSED
 * time is the wall time of dgetrf+dgetrs, GFLOPS = (2/3 n^3 + 2 n^2) / time,
 * residual = ||A x - b||_inf / (||A||_inf ||x||_inf n eps) and the run is
 * PASSED when residual < 16 (the threshold of HPL). With several
 * repetitions a last line gives the best one:
 *   best n=2000 time=0.410 s GFLOPS=13.02
 * The exit status is 0 when every repetition PASSED, 1 otherwise, 2 on bad
 * input.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* LAPACK's Fortran interface: every argument by reference, column-major. */
extern void dgetrf_(const int *m, const int *n, double *a, const int *lda,
                    int *ipiv, int *info);
extern void dgetrs_(const char *trans, const int *n, const int *nrhs,
                    const double *a, const int *lda, const int *ipiv,
                    double *b, const int *ldb, int *info);

#define DEFAULT_INPUT "/etc/linpack.in"
#define MAX_N 50000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A small, fixed generator (xorshift64*): the same matrix on every
 * machine for a given n, values uniform in [-0.5, 0.5). */
static unsigned long long rng_state = 0x2545F4914F6CDD1DULL;
static double rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0 - 0.5;
}

static int parse_int(const char *what, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "linpack: %s must be an integer from %d to %d, got '%s'\n", what, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Reads "n=..." and "repeats=..." lines; returns -1 on an error (printed). */
static int read_input(const char *path, int *n, int *repeats)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "linpack: cannot read input file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[256];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == 0)
            continue;
        if (strncmp(p, "n=", 2) == 0)
            rc = parse_int("n", p + 2, 1, MAX_N, n);
        else if (strncmp(p, "repeats=", 8) == 0)
            rc = parse_int("repeats", p + 8, 1, 1000, repeats);
        else {
            p[strcspn(p, "\r\n")] = 0;
            fprintf(stderr, "linpack: %s:%d: expected n=N or repeats=R, got '%s'\n", path, lineno, p);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    int n = 2000, repeats = 1;
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: linpack [N [REPEATS]] | linpack -f FILE\n"
               "FILE has lines n=N and repeats=R; without arguments %s is read if it exists.\n",
               DEFAULT_INPUT);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "-f") == 0) {
        if (read_input(argv[2], &n, &repeats))
            return 2;
    } else if (argc >= 2 && argc <= 3 && argv[1][0] != '-') {
        if (parse_int("N", argv[1], 1, MAX_N, &n))
            return 2;
        if (argc == 3 && parse_int("REPEATS", argv[2], 1, 1000, &repeats))
            return 2;
    } else if (argc == 1) {
        FILE *f = fopen(DEFAULT_INPUT, "r");
        if (f) {
            fclose(f);
            if (read_input(DEFAULT_INPUT, &n, &repeats))
                return 2;
        }
    } else {
        fprintf(stderr, "usage: linpack [N [REPEATS]] | linpack -f FILE\n");
        return 2;
    }

    size_t nn = (size_t)n * n;
    double *a = malloc(nn * sizeof *a), *lu = malloc(nn * sizeof *lu);
    double *b = malloc(n * sizeof *b), *x = malloc(n * sizeof *x);
    int *ipiv = malloc(n * sizeof *ipiv);
    if (!a || !lu || !b || !x || !ipiv) {
        fprintf(stderr, "linpack: n=%d needs %.1f MB of memory, allocation failed\n", n,
                2.0 * nn * sizeof(double) / 1e6);
        return 2;
    }
    for (size_t i = 0; i < nn; i++)
        a[i] = rnd();
    for (int i = 0; i < n; i++)
        b[i] = rnd();

    /* ||A||_inf: largest row sum (column-major: row i is a[i + j*n]). */
    double anorm = 0;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++)
            s += fabs(a[i + (size_t)j * n]);
        if (s > anorm)
            anorm = s;
    }

    double flops = 2.0 / 3.0 * n * (double)n * n + 2.0 * n * (double)n;
    double best = 0;
    int failed = 0;
    for (int r = 0; r < repeats; r++) {
        memcpy(lu, a, nn * sizeof *a);
        memcpy(x, b, n * sizeof *b);
        int info = 0, one = 1;
        double t0 = now();
        dgetrf_(&n, &n, lu, &n, ipiv, &info);
        if (info == 0)
            dgetrs_("N", &n, &one, lu, &n, ipiv, x, &n, &info);
        double t = now() - t0;
        if (info != 0) {
            printf("n=%d time=%.3f s GFLOPS=0 residual=inf FAILED (LAPACK info=%d)\n", n, t, info);
            failed = 1;
            continue;
        }
        /* r = A x - b, accumulated row by row, column by column. */
        double xnorm = 0, rnorm = 0;
        double *res = malloc(n * sizeof *res);
        if (!res) {
            fprintf(stderr, "linpack: allocation failed\n");
            return 2;
        }
        for (int i = 0; i < n; i++)
            res[i] = -b[i];
        for (int j = 0; j < n; j++) {
            double xj = x[j];
            const double *col = a + (size_t)j * n;
            for (int i = 0; i < n; i++)
                res[i] += col[i] * xj;
            if (fabs(xj) > xnorm)
                xnorm = fabs(xj);
        }
        for (int i = 0; i < n; i++)
            if (fabs(res[i]) > rnorm)
                rnorm = fabs(res[i]);
        free(res);
        double resid = rnorm / (anorm * xnorm * n * DBL_EPSILON);
        int ok = resid < 16.0 && isfinite(resid);
        double gflops = t > 0 ? flops / t / 1e9 : 0;
        printf("n=%d time=%.3f s GFLOPS=%.2f residual=%.4g %s\n", n, t, gflops, resid,
               ok ? "PASSED" : "FAILED");
        fflush(stdout);
        if (!ok)
            failed = 1;
        if (gflops > best)
            best = gflops;
    }
    if (repeats > 1)
        printf("best n=%d time=%.3f s GFLOPS=%.2f\n", n, best > 0 ? flops / best / 1e9 : 0, best);
    free(a);
    free(lu);
    free(b);
    free(x);
    free(ipiv);
    return failed;
}
