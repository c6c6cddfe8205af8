/* The built-in `csv_parser` tool: RFC 4180 CSV into columns, inferred types and rows (JSON). */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 1000

typedef struct { char *text; size_t len; } cell;
typedef struct { cell *cells; size_t count, cap; size_t columns; } table;

static void push(table *t, char *text, size_t len) {
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->cells = realloc(t->cells, t->cap * sizeof *t->cells);
        if (!t->cells) { exit(70); }
    }
    t->cells[t->count++] = (cell){text, len};
}

/* Parse one record starting at *p; cells are written in place (quotes removed). Returns the
   number of fields, or 0 at the end of the input. */
static size_t record(char **p, char delimiter, table *t) {
    char *s = *p;
    if (!*s) return 0;
    size_t fields = 0;
    for (;;) {
        char *start = s, *w = s;
        if (*s == '"') {
            start = w = ++s;
            while (*s) {
                if (*s == '"' && s[1] == '"') { *w++ = '"'; s += 2; }
                else if (*s == '"') { s++; break; }
                else *w++ = *s++;
            }
            while (*s && *s != delimiter && *s != '\n' && *s != '\r') *w++ = *s++;
        } else {
            while (*s && *s != delimiter && *s != '\n' && *s != '\r') s++;
            w = s;
        }
        char end = *s;
        push(t, start, (size_t)(w - start));
        fields++;
        if (end == delimiter) { s++; continue; }
        if (end == '\r') s++;
        if (*s == '\n') s++;
        break;
    }
    *p = s;
    return fields;
}

/* A JSON number exactly ("-12.5e3"): what can be written into the output unquoted. */
static int is_number(const cell *c) {
    const char *p = c->text, *end = c->text + c->len;
    if (p < end && *p == '-') p++;
    if (p == end || *p < '0' || *p > '9') return 0;
    if (*p == '0') p++;
    else while (p < end && *p >= '0' && *p <= '9') p++;
    if (p < end && *p == '.') {
        p++;
        if (p == end || *p < '0' || *p > '9') return 0;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || *p < '0' || *p > '9') return 0;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    return p == end;
}

static int csv_tool(const cx_args *args, cx_out *out) {
    char *text = cx_arg_string(args, "text");
    if (!text) return cx_fail(out, "`text` (the CSV content) is required");
    char *delim = cx_arg_string(args, "delimiter");
    char delimiter = delim && delim[0] ? delim[0] : ',';
    int header = 1;
    cx_arg_bool(args, "header", &header);
    double max_rows = 10000;
    cx_arg_number(args, "max_rows", &max_rows);
    table t = {0};
    char *p = text;
    size_t width = 0, rows = 0, fields;
    int truncated = 0, failed = 0;
    while ((fields = record(&p, delimiter, &t)) > 0) {
        if (width == 0) width = fields;
        if (fields != width) {
            cx_printf(out, "record %zu has %zu fields; the first has %zu", rows + 1, fields, width);
            failed = 1;
            break;
        }
        if (width > MAX_COLUMNS) { failed = cx_fail(out, "more than 1000 columns"); break; }
        if (++rows > (size_t)max_rows + (header ? 1 : 0)) { truncated = 1; t.count -= fields; rows--; break; }
    }
    if (!failed && rows == 0) failed = cx_fail(out, "`text` holds no CSV records");
    if (!failed) {
        size_t first = header ? 1 : 0, data_rows = rows - first;
        int *numeric = calloc(width, sizeof *numeric);
        for (size_t c = 0; c < width; c++) {
            numeric[c] = data_rows > 0;
            int any = 0;
            for (size_t r = first; r < rows && numeric[c]; r++) {
                cell *x = &t.cells[r * width + c];
                if (x->len == 0) continue;
                any = 1;
                numeric[c] = is_number(x);
            }
            if (!any) numeric[c] = 0;
        }
        cx_write(out, "{\"columns\":[", 12);
        for (size_t c = 0; c < width; c++) {
            if (c) cx_write(out, ",", 1);
            if (header) cx_write_json_string(out, t.cells[c].text, t.cells[c].len);
            else cx_printf(out, "\"column_%zu\"", c + 1);
        }
        cx_write(out, "],\"types\":[", 11);
        for (size_t c = 0; c < width; c++)
            cx_printf(out, "%s\"%s\"", c ? "," : "", numeric[c] ? "number" : "string");
        cx_write(out, "],\"rows\":[", 10);
        for (size_t r = first; r < rows; r++) {
            cx_write(out, r > first ? ",[" : "[", r > first ? 2 : 1);
            for (size_t c = 0; c < width; c++) {
                cell *x = &t.cells[r * width + c];
                if (c) cx_write(out, ",", 1);
                if (numeric[c] && x->len) cx_write(out, x->text, x->len);
                else if (numeric[c]) cx_write(out, "null", 4);
                else cx_write_json_string(out, x->text, x->len);
            }
            cx_write(out, "]", 1);
        }
        cx_printf(out, "],\"row_count\":%zu,\"truncated\":%s}", data_rows,
                  truncated ? "true" : "false");
        free(numeric);
    }
    free(t.cells);
    free(delim);
    free(text);
    return failed;
}

int main(void) {
    static const cx_tool tools[] = {{
        "csv_parser",
        "Parse CSV `text` (RFC 4180: quoted fields, doubled quotes, line breaks in quotes) into "
        "columns, inferred types (number or string) and rows. Options: `delimiter` (default "
        "\",\"), `header` (default true), `max_rows` (default 10000).",
        "{\"type\":\"object\",\"required\":[\"text\"],\"properties\":{"
        "\"text\":{\"type\":\"string\"},\"delimiter\":{\"type\":\"string\",\"maxLength\":1},"
        "\"header\":{\"type\":\"boolean\"},\"max_rows\":{\"type\":\"integer\",\"minimum\":1}}}",
        csv_tool,
    }};
    return cx_serve("csv_parser", "0.1.0", tools, 1);
}
