/* The built-in `chart` tool: bar and line charts of labelled numbers, as ASCII or SVG. */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POINTS 500

static void svg_text(cx_out *out, const char *s) {  /* XML-escaped text */
    for (; *s; s++) {
        switch (*s) {
        case '<': cx_write(out, "&lt;", 4); break;
        case '>': cx_write(out, "&gt;", 4); break;
        case '&': cx_write(out, "&amp;", 5); break;
        case '"': cx_write(out, "&quot;", 6); break;
        default: cx_write(out, s, 1);
        }
    }
}

/* Bars scaled to the largest value; zero and negative values draw no bar (the number shows). */
static void ascii_bars(char **labels, const double *v, size_t n, double hi, int width,
                       cx_out *out) {
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) if (strlen(labels[i]) > pad) pad = strlen(labels[i]);
    double span = hi > 0 ? hi : 1;
    for (size_t i = 0; i < n; i++) {
        int len = v[i] > 0 ? (int)lround(v[i] / span * width) : 0;
        cx_printf(out, "%-*s |", (int)pad, labels[i]);
        for (int j = 0; j < len; j++) cx_write(out, "#", 1);
        cx_printf(out, " %g\n", v[i]);
    }
}

static void ascii_line(const double *v, size_t n, double lo, double hi, cx_out *out) {
    const int rows = 10;
    double span = hi - lo > 0 ? hi - lo : 1;
    for (int r = rows - 1; r >= 0; r--) {
        cx_printf(out, "%10.4g |", lo + span * r / (rows - 1));
        for (size_t i = 0; i < n; i++) {
            int level = (int)lround((v[i] - lo) / span * (rows - 1));
            cx_write(out, level == r ? "*" : " ", 1);
        }
        cx_write(out, "\n", 1);
    }
}

static void svg(const char *kind, const char *title, char **labels, const double *v, size_t n,
                double lo, double hi, cx_out *out) {
    const int w = 640, h = 360, left = 60, bottom = 40, top = 30;
    double base = lo < 0 ? lo : 0, span = hi - base > 0 ? hi - base : 1;
    double step = (double)(w - left - 10) / (double)n;
    cx_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">", w, h);
    if (title && *title) {
        cx_printf(out, "<text x=\"%d\" y=\"20\" font-size=\"14\">", left);
        svg_text(out, title);
        cx_write(out, "</text>", 7);
    }
    cx_printf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>",
              left, h - bottom, w - 10, h - bottom);
    if (strcmp(kind, "line") == 0) cx_write(out, "<polyline fill=\"none\" stroke=\"steelblue\" points=\"", 51);
    for (size_t i = 0; i < n; i++) {
        double x = left + step * (double)i + step / 2;
        double y = (h - bottom) - (v[i] - base) / span * (h - bottom - top);
        if (strcmp(kind, "line") == 0) cx_printf(out, "%s%.1f,%.1f", i ? " " : "", x, y);
    }
    if (strcmp(kind, "line") == 0) cx_write(out, "\"/>", 3);
    for (size_t i = 0; i < n; i++) {
        double x = left + step * (double)i;
        double y = (h - bottom) - (v[i] - base) / span * (h - bottom - top);
        if (strcmp(kind, "bar") == 0)
            cx_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "fill=\"steelblue\"/>", x + step * 0.1, y, step * 0.8, (h - bottom) - y);
        cx_printf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">",
                  x + step / 2, h - bottom + 14);
        svg_text(out, labels[i]);
        cx_write(out, "</text>", 7);
    }
    cx_write(out, "</svg>", 6);
}

static int chart_tool(const cx_args *args, cx_out *out) {
    double *values = NULL;
    char **labels = NULL;
    size_t n = 0, nl = 0;
    char *kind = cx_arg_string(args, "type"), *format = cx_arg_string(args, "format");
    char *title = cx_arg_string(args, "title");
    double width = 40;
    cx_arg_number(args, "width", &width);
    int failed = 0;
    if (cx_arg_numbers(args, "values", &values, &n) <= 0 || n == 0) {
        failed = cx_fail(out, "`values` must be a non-empty array of numbers");
    } else if (n > MAX_POINTS) {
        failed = cx_fail(out, "at most 500 values");
    } else if (cx_arg_strings(args, "labels", &labels, &nl) < 0 || (labels && nl != n)) {
        failed = cx_fail(out, "`labels` must be strings, as many as `values`");
    } else if (kind && strcmp(kind, "bar") != 0 && strcmp(kind, "line") != 0) {
        failed = cx_fail(out, "`type` is \"bar\" (default) or \"line\"");
    } else if (format && strcmp(format, "ascii") != 0 && strcmp(format, "svg") != 0) {
        failed = cx_fail(out, "`format` is \"ascii\" (default) or \"svg\"");
    } else {
        if (!labels) {  /* number the points */
            labels = malloc(n * sizeof *labels);
            for (size_t i = 0; i < n; i++) {
                labels[i] = malloc(16);
                snprintf(labels[i], 16, "%zu", i + 1);
            }
            nl = n;
        }
        double lo = values[0], hi = values[0];
        for (size_t i = 1; i < n; i++) {
            if (values[i] < lo) lo = values[i];
            if (values[i] > hi) hi = values[i];
        }
        const char *k = kind ? kind : "bar";
        if (format && strcmp(format, "svg") == 0) {
            svg(k, title, labels, values, n, lo, hi, out);
        } else {
            if (title) cx_printf(out, "%s\n", title);
            if (strcmp(k, "bar") == 0) {
                int w = width < 5 ? 5 : width > 200 ? 200 : (int)width;
                ascii_bars(labels, values, n, hi, w, out);
            } else {
                ascii_line(values, n, lo, hi, out);
            }
        }
    }
    free(values);
    cx_free_strings(labels, nl);
    free(kind);
    free(format);
    free(title);
    return failed;
}

int main(void) {
    static const cx_tool tools[] = {{
        "chart",
        "Draw `values` (with optional `labels`) as a `type` \"bar\" (default) or \"line\" chart, "
        "`format` \"ascii\" (default, `width` columns) or \"svg\"; optional `title`.",
        "{\"type\":\"object\",\"required\":[\"values\"],\"properties\":{"
        "\"values\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"labels\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
        "\"type\":{\"type\":\"string\",\"enum\":[\"bar\",\"line\"]},"
        "\"format\":{\"type\":\"string\",\"enum\":[\"ascii\",\"svg\"]},"
        "\"title\":{\"type\":\"string\"},\"width\":{\"type\":\"integer\",\"minimum\":5}}}",
        chart_tool,
    }};
    return cx_serve("chart", "0.1.0", tools, 1);
}
