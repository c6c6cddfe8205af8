/* The built-in `http_fetch` tool: one HTTP request through the host's allowlist.
 *
 * The module has no network of its own (WASI preview1 has no sockets). It hands its
 * arguments, already checked against the input schema, to the host function
 * `caxton.http_request`; the host refuses hosts that are not granted (redirects and IP
 * literals included), bounds the answer's size and time, and records the request. */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <stdlib.h>
#include <string.h>

static int fetch(const cx_args *args, cx_out *out) {
    size_t len = 0;
    char *answer = cx_http(args->json, args->len, &len);
    if (!answer) return cx_fail(out, "the host answered no HTTP request (is this Caxton?)");
    cx_write(out, answer, len);
    /* a refused or failed request is an error result; any HTTP status is an answer */
    const char *v, *v_end;
    int failed = cx__member(answer, answer + len, "error", &v, &v_end);
    free(answer);
    return failed;
}

int main(void) {
    static const cx_tool tools[] = {
        {"http_fetch",
         "Send one HTTP request to an allowlisted host; answers status, headers and body.",
         "{\"type\":\"object\",\"required\":[\"url\"],\"properties\":{"
         "\"url\":{\"type\":\"string\"},"
         "\"method\":{\"enum\":[\"GET\",\"HEAD\",\"POST\",\"PUT\",\"PATCH\",\"DELETE\",\"OPTIONS\"]},"
         "\"headers\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
         "\"body\":{}},\"additionalProperties\":false}",
         fetch},
    };
    return cx_serve("http_fetch", "0.1.0", tools, 1);
}
