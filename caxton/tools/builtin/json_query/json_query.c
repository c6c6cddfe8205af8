/* The built-in `json_query` tool: pick values out of JSON with a path like `items[*].name`. */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <stdlib.h>
#include <string.h>

/* Follow `path` from the value [v, v_end); each value reached is written to `out` (comma
   separated when `many`). Returns how many values were reached. */
static size_t follow(const char *v, const char *v_end, const char *path, int many, cx_out *out,
                     size_t found) {
    v = cx__ws(v, v_end);
    if (*path == '.') path++;
    if (!*path) {
        if (found && many) cx_write(out, ",", 1);
        cx_write(out, v, (size_t)(v_end - v));
        return 1;
    }
    if (*path == '[') {
        if (*v != '[') return 0;
        const char *close = strchr(path, ']');
        if (!close) return 0;
        int all = path[1] == '*';
        long want = all ? -1 : strtol(path + 1, NULL, 10);
        size_t reached = 0;
        const char *p = cx__ws(v + 1, v_end);
        for (long i = 0; p < v_end && *p != ']'; i++) {
            const char *e = cx__skip_value(p, v_end);
            if (!e) return reached;
            if (all || i == want)
                reached += follow(p, e, close + 1, many, out, found + reached);
            if (!all && i == want) break;
            p = cx__ws(e, v_end);
            if (p < v_end && *p == ',') p = cx__ws(p + 1, v_end);
        }
        return reached;
    }
    size_t len = strcspn(path, ".[");
    char key[256];
    if (len >= sizeof key) return 0;
    memcpy(key, path, len);
    key[len] = '\0';
    const char *m, *m_end;
    if (!cx__member(v, v_end, key, &m, &m_end)) return 0;
    return follow(m, m_end, path + len, many, out, found);
}

static int query_tool(const cx_args *args, cx_out *out) {
    const char *data;
    size_t len;
    char *text = NULL;
    if (!cx_arg_raw(args, "data", &data, &len)) return cx_fail(out, "`data` (any JSON) is required");
    if (*data == '"') {  /* JSON passed as a string: query what it holds */
        text = cx_arg_string(args, "data");
        data = text;
        len = strlen(text);
    }
    char *path = cx_arg_string(args, "path");
    const char *p = path ? path : "";
    int many = strstr(p, "[*]") != NULL;
    cx_out values = {0};
    size_t reached = follow(data, data + len, p, many, &values, 0);
    int failed = 0;
    if (many) {
        cx_write(out, "[", 1);
        if (values.len) cx_write(out, values.data, values.len);
        cx_write(out, "]", 1);
    } else if (reached) {
        cx_write(out, values.data, values.len);
    } else {
        cx_printf(out, "nothing at path %s", p);
        failed = 1;
    }
    free(values.data);
    free(path);
    free(text);
    return failed;
}

int main(void) {
    static const cx_tool tools[] = {{
        "json_query",
        "Pick values out of `data` (JSON, or a string holding JSON) with `path`: keys joined "
        "by dots, [n] for an array item, [*] for every item (the result is then a list), e.g. "
        "\"orders[*].total\". An empty path returns the whole value.",
        "{\"type\":\"object\",\"required\":[\"data\"],\"properties\":{"
        "\"data\":{},\"path\":{\"type\":\"string\"}}}",
        query_tool,
    }};
    return cx_serve("json_query", "0.1.0", tools, 1);
}
