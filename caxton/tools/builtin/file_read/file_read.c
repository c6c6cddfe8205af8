/* The built-in `file_read` tool: a text file under the workspace data directory. */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_tool(const cx_args *args, cx_out *out) {
    char *path = cx_arg_string(args, "path");
    if (!path || !path[0]) { free(path); return cx_fail(out, "`path` is required"); }
    double max = 1024 * 1024;
    cx_arg_number(args, "max_bytes", &max);
    /* the data directory is the sandbox's "/": only what is under it can be opened */
    char full[4096];
    snprintf(full, sizeof full, "/%s", path[0] == '/' ? path + 1 : path);
    FILE *f = fopen(full, "rb");
    if (!f) {
        cx_printf(out, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return 1;
    }
    char buf[8192];
    size_t total = 0, n;
    int truncated = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (total + n > (size_t)max) { n = (size_t)max - total; truncated = 1; }
        cx_write(out, buf, n);
        total += n;
        if (truncated) break;
    }
    fclose(f);
    free(path);
    if (truncated) cx_printf(out, "\n[truncated at %zu bytes]", total);
    return 0;
}

int main(void) {
    static const cx_tool tools[] = {{
        "file_read",
        "Read a text file under the workspace data directory: `path` relative to it, "
        "`max_bytes` (default 1 MiB) to stop early.",
        "{\"type\":\"object\",\"required\":[\"path\"],\"properties\":{"
        "\"path\":{\"type\":\"string\"},\"max_bytes\":{\"type\":\"integer\",\"minimum\":1}}}",
        read_tool,
    }};
    return cx_serve("file_read", "0.1.0", tools, 1);
}
