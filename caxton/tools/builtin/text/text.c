/* The built-in `text` tool: word counts, regex extraction and a simple line diff. */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MATCHES 1000
#define MAX_DIFF_LINES 2000

static int words(const char *text, cx_out *out) {
    size_t chars = 0, lines = 0, count = 0;
    int in_word = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xC0) != 0x80) chars++;  /* count code points, not bytes */
        if (*p == '\n') lines++;
        if (isspace(*p)) in_word = 0;
        else if (!in_word) { in_word = 1; count++; }
    }
    if (chars && text[strlen(text) - 1] != '\n') lines++;
    cx_printf(out, "{\"words\":%zu,\"lines\":%zu,\"characters\":%zu}", count, lines, chars);
    return 0;
}

static int extract(const char *text, const char *pattern, cx_out *out) {
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED);
    if (rc != 0) {
        char why[256];
        regerror(rc, &re, why, sizeof why);
        cx_printf(out, "invalid regular expression: %s", why);
        return 1;
    }
    regmatch_t m;
    const char *p = text;
    size_t found = 0;
    cx_write(out, "[", 1);
    while (found < MAX_MATCHES && regexec(&re, p, 1, &m, found ? REG_NOTBOL : 0) == 0) {
        if (found++) cx_write(out, ",", 1);
        cx_write_json_string(out, p + m.rm_so, (size_t)(m.rm_eo - m.rm_so));
        p += m.rm_eo > m.rm_so ? m.rm_eo : m.rm_so + 1;  /* empty matches still advance */
        if (p > text + strlen(text)) break;
    }
    cx_write(out, "]", 1);
    regfree(&re);
    return 0;
}

static size_t split_lines(char *text, char **lines, size_t max) {
    size_t n = 0;
    for (char *p = text; *p && n < max;) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

static int diff(char *a, char *b, cx_out *out) {
    static char *la[MAX_DIFF_LINES], *lb[MAX_DIFF_LINES];
    size_t n = split_lines(a, la, MAX_DIFF_LINES), m = split_lines(b, lb, MAX_DIFF_LINES);
    /* longest common subsequence table, then walk it */
    unsigned short *t = calloc((n + 1) * (m + 1), sizeof *t);
    if (!t) return cx_fail(out, "texts too large to diff");
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            t[i * (m + 1) + j] = strcmp(la[i], lb[j]) == 0
                ? (unsigned short)(t[(i + 1) * (m + 1) + j + 1] + 1)
                : (t[(i + 1) * (m + 1) + j] > t[i * (m + 1) + j + 1]
                       ? t[(i + 1) * (m + 1) + j] : t[i * (m + 1) + j + 1]);
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && strcmp(la[i], lb[j]) == 0) { cx_printf(out, "  %s\n", la[i]); i++; j++; }
        else if (i < n && (j == m || t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1]))
            cx_printf(out, "- %s\n", la[i++]);  /* removals before additions, as diff does */
        else cx_printf(out, "+ %s\n", lb[j++]);
    }
    free(t);
    return 0;
}

static int text_tool(const cx_args *args, cx_out *out) {
    char *op = cx_arg_string(args, "op");
    int failed = 0;
    if (!op) {
        failed = cx_fail(out, "`op` is required: \"words\", \"regex\" or \"diff\"");
    } else if (strcmp(op, "words") == 0 || strcmp(op, "regex") == 0) {
        char *text = cx_arg_string(args, "text");
        char *pattern = cx_arg_string(args, "pattern");
        if (!text) failed = cx_fail(out, "`text` (a string) is required");
        else if (op[0] == 'w') failed = words(text, out);
        else if (!pattern) failed = cx_fail(out, "`pattern` (a regular expression) is required");
        else failed = extract(text, pattern, out);
        free(text);
        free(pattern);
    } else if (strcmp(op, "diff") == 0) {
        char *a = cx_arg_string(args, "a"), *b = cx_arg_string(args, "b");
        failed = (a && b) ? diff(a, b, out) : cx_fail(out, "`a` and `b` (strings) are required");
        free(a);
        free(b);
    } else {
        failed = cx_fail(out, "unknown `op`: use \"words\", \"regex\" or \"diff\"");
    }
    free(op);
    return failed;
}

int main(void) {
    static const cx_tool tools[] = {{
        "text",
        "Text utilities: op \"words\" counts words, lines and characters of `text`; op \"regex\" "
        "returns the matches of `pattern` (POSIX extended) in `text` as a JSON list; op \"diff\" "
        "compares the lines of `a` and `b`.",
        "{\"type\":\"object\",\"properties\":{"
        "\"op\":{\"type\":\"string\",\"enum\":[\"words\",\"regex\",\"diff\"]},"
        "\"text\":{\"type\":\"string\"},\"pattern\":{\"type\":\"string\"},"
        "\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"}},\"required\":[\"op\"]}",
        text_tool,
    }};
    return cx_serve("text", "0.1.0", tools, 1);
}
