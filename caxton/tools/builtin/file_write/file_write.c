/* The built-in `file_write` tool: write a text file under the workspace data directory. */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Create the folders leading to `path` (mkdir -p of its parent). */
static void parents(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
}

static int write_tool(const cx_args *args, cx_out *out) {
    char *path = cx_arg_string(args, "path");
    char *content = cx_arg_string(args, "content");
    char *mode = cx_arg_string(args, "mode");
    int failed = 0;
    if (!path || !path[0] || !content) {
        failed = cx_fail(out, "`path` and `content` (strings) are required");
    } else if (mode && strcmp(mode, "overwrite") != 0 && strcmp(mode, "append") != 0) {
        failed = cx_fail(out, "`mode` is \"overwrite\" (default) or \"append\"");
    } else {
        char full[4096];
        snprintf(full, sizeof full, "/%s", path[0] == '/' ? path + 1 : path);
        parents(full);
        FILE *f = fopen(full, mode && mode[0] == 'a' ? "ab" : "wb");
        if (!f) {
            cx_printf(out, "cannot write %s: %s", path, strerror(errno));
            failed = 1;
        } else {
            size_t len = strlen(content);
            size_t done = fwrite(content, 1, len, f);
            if (fclose(f) != 0 || done != len) {
                cx_printf(out, "writing %s failed: %s", path, strerror(errno));
                failed = 1;
            } else {
                cx_printf(out, "wrote %zu bytes to %s", len, path);
            }
        }
    }
    free(path);
    free(content);
    free(mode);
    return failed;
}

int main(void) {
    static const cx_tool tools[] = {{
        "file_write",
        "Write `content` to a file under the workspace data directory: `path` relative to it "
        "(folders are created), `mode` \"overwrite\" (default) or \"append\".",
        "{\"type\":\"object\",\"required\":[\"path\",\"content\"],\"properties\":{"
        "\"path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"},"
        "\"mode\":{\"type\":\"string\",\"enum\":[\"overwrite\",\"append\"]}}}",
        write_tool,
    }};
    return cx_serve("file_write", "0.1.0", tools, 1);
}
