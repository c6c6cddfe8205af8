/* The built-in `stats` tool: describe a list of numbers, percentiles, correlation. */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between closest ranks (numpy's default), on sorted values. */
static double percentile(const double *sorted, size_t n, double p) {
    double rank = p / 100.0 * (double)(n - 1);
    size_t low = (size_t)floor(rank);
    size_t high = low + 1 < n ? low + 1 : low;
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - (double)low);
}

static void number(cx_out *out, double x) {
    if (isfinite(x)) cx_printf(out, "%.10g", x);
    else cx_write(out, "null", 4);
}

static int describe(double *v, size_t n, cx_out *out) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) sum += v[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++) sq += (v[i] - mean) * (v[i] - mean);
    qsort(v, n, sizeof *v, ascending);
    cx_printf(out, "{\"count\":%zu,\"mean\":", n);
    number(out, mean);
    cx_write(out, ",\"std\":", 7);
    number(out, n > 1 ? sqrt(sq / (double)(n - 1)) : 0.0);  /* sample standard deviation */
    const char *names[] = {"min", "p25", "median", "p75", "max"};
    const double ps[] = {0, 25, 50, 75, 100};
    for (int i = 0; i < 5; i++) {
        cx_printf(out, ",\"%s\":", names[i]);
        number(out, percentile(v, n, ps[i]));
    }
    cx_write(out, ",\"sum\":", 7);
    number(out, sum);
    cx_write(out, "}", 1);
    return 0;
}

static int percentiles(double *v, size_t n, const double *p, size_t np, cx_out *out) {
    qsort(v, n, sizeof *v, ascending);
    cx_write(out, "{", 1);
    for (size_t i = 0; i < np; i++) {
        if (p[i] < 0 || p[i] > 100) return cx_fail(out, "percentiles must be between 0 and 100");
        cx_printf(out, "%s\"%g\":", i ? "," : "", p[i]);
        number(out, percentile(v, n, p[i]));
    }
    cx_write(out, "}", 1);
    return 0;
}

static int correlation(const double *x, const double *y, size_t n, cx_out *out) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= (double)n;
    my /= (double)n;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (sxx == 0 || syy == 0) return cx_fail(out, "a constant series has no correlation");
    cx_printf(out, "{\"pearson\":");
    number(out, sxy / sqrt(sxx * syy));
    cx_printf(out, ",\"n\":%zu}", n);
    return 0;
}

static int stats_tool(const cx_args *args, cx_out *out) {
    char *op = cx_arg_string(args, "op");
    double *v = NULL, *w = NULL;
    size_t n = 0, m = 0;
    int failed;
    if (!op || strcmp(op, "describe") == 0 || strcmp(op, "percentiles") == 0) {
        int found = cx_arg_numbers(args, "values", &v, &n);
        if (found <= 0 || n == 0) {
            failed = cx_fail(out, "`values` must be a non-empty array of numbers");
        } else if (!op || op[0] == 'd') {
            failed = describe(v, n, out);
        } else if (cx_arg_numbers(args, "p", &w, &m) <= 0 || m == 0) {
            failed = cx_fail(out, "`p` must be a non-empty array of percentiles (0-100)");
        } else {
            failed = percentiles(v, n, w, m, out);
        }
    } else if (strcmp(op, "correlation") == 0) {
        if (cx_arg_numbers(args, "x", &v, &n) <= 0 || cx_arg_numbers(args, "y", &w, &m) <= 0)
            failed = cx_fail(out, "`x` and `y` must be arrays of numbers");
        else if (n != m || n < 2)
            failed = cx_fail(out, "`x` and `y` need the same length, at least 2");
        else
            failed = correlation(v, w, n, out);
    } else {
        failed = cx_fail(out, "unknown `op`: use \"describe\", \"percentiles\" or \"correlation\"");
    }
    free(v);
    free(w);
    free(op);
    return failed;
}

int main(void) {
    static const cx_tool tools[] = {{
        "stats",
        "Statistics on numbers: op \"describe\" (default) summarises `values` (count, mean, "
        "sample std, min, quartiles, max, sum); op \"percentiles\" gives the percentiles `p` of "
        "`values`; op \"correlation\" gives Pearson's r of `x` and `y`.",
        "{\"type\":\"object\",\"properties\":{"
        "\"op\":{\"type\":\"string\",\"enum\":[\"describe\",\"percentiles\",\"correlation\"]},"
        "\"values\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"p\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"x\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"y\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}}}}",
        stats_tool,
    }};
    return cx_serve("stats", "0.1.0", tools, 1);
}
