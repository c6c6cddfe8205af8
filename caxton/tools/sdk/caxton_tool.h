/*
 * caxton_tool.h: write a Caxton tool in C as one function per MCP tool.
 *
 * A Caxton tool is a WASI preview1 program that speaks MCP (newline-delimited JSON-RPC 2.0)
 * over stdin and stdout; see docs/tools.md. This single header runs that loop: it answers
 * `initialize`, `tools/list` and `tools/call`, finds the arguments, escapes the output.
 *
 *     #define CAXTON_TOOL_IMPLEMENTATION
 *     #include "caxton_tool.h"
 *
 *     static int count(const cx_args *args, cx_out *out) {
 *         char *text = cx_arg_string(args, "text");
 *         if (!text) return cx_fail(out, "`text` (a string) is required");
 *         cx_printf(out, "%zu characters", strlen(text));
 *         free(text);
 *         return 0;
 *     }
 *
 *     int main(void) {
 *         static const cx_tool tools[] = {
 *             {"count", "Count characters.", "{\"type\":\"object\"}", count},
 *         };
 *         return cx_serve("count", "0.1.0", tools, 1);
 *     }
 *
 * Build: python -m ziglang cc --target=wasm32-wasi -O2 -s -Wl,-z,stack-size=1048576 tool.c
 */
#ifndef CAXTON_TOOL_H
#define CAXTON_TOOL_H

#include <stddef.h>

typedef struct { const char *json; size_t len; } cx_args;  /* the raw `arguments` object */
typedef struct cx_out cx_out;

/* Return 0 for success; a non-zero return (or cx_fail) marks the result `isError`. */
typedef int (*cx_handler)(const cx_args *args, cx_out *out);

typedef struct {
    const char *name;
    const char *description;
    const char *input_schema;  /* a JSON Schema object, as JSON text */
    cx_handler handler;
} cx_tool;

int cx_serve(const char *server_name, const char *version, const cx_tool *tools, size_t count);

/* Arguments. Strings come back decoded and malloc'ed (free them); NULL when absent. */
char *cx_arg_string(const cx_args *args, const char *key);
int cx_arg_number(const cx_args *args, const char *key, double *value);  /* 1 if found */
int cx_arg_raw(const cx_args *args, const char *key, const char **value, size_t *len);
int cx_arg_bool(const cx_args *args, const char *key, int *value);  /* 1 if found */
/* An array of strings: malloc'ed strings in a malloc'ed array (free both with cx_free_strings);
   -1 if not all strings, 0 if absent, 1 if found. */
int cx_arg_strings(const cx_args *args, const char *key, char ***values, size_t *count);
void cx_free_strings(char **values, size_t count);
/* An array of numbers: malloc'ed values (free them) and their count; -1 if not all numbers,
   0 if absent, 1 if found. */
int cx_arg_numbers(const cx_args *args, const char *key, double **values, size_t *count);

/* Output: text appended to the result's content. */
void cx_write(cx_out *out, const char *text, size_t len);
void cx_printf(cx_out *out, const char *format, ...);
int cx_fail(cx_out *out, const char *message);  /* writes the message, returns 1 */

/* JSON helpers for tools that return JSON text. */
void cx_write_json_string(cx_out *out, const char *text, size_t len);

/* HTTP through the host: the only network a tool has, and only to the hosts its tool.toml
   (`[permissions] http_hosts`) or the workspace grants. `request` is JSON text,
   {"url": "https://...", "method": "GET", "headers": {"name": "value"}, "body": "..."}; the
   answer is malloc'ed JSON text (free it), {"status": 200, "url": ..., "headers": {...},
   "body": "..."} or {"error": "why nothing was fetched"}; NULL if the host gave none.
   Redirects are followed by the host, each hop checked against the allowlist. */
char *cx_http(const char *request, size_t len, size_t *answer_len);

#ifdef CAXTON_TOOL_IMPLEMENTATION

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cx_out { char *data; size_t len, cap; };

#define CX__LITERAL(out, text) cx_write((out), (text), sizeof(text) - 1)

static void cx__reserve(cx_out *out, size_t extra) {
    if (out->len + extra + 1 <= out->cap) return;
    size_t cap = out->cap ? out->cap : 256;
    while (cap < out->len + extra + 1) cap *= 2;
    char *grown = realloc(out->data, cap);
    if (!grown) { fputs("caxton_tool: out of memory\n", stderr); exit(70); }
    out->data = grown;
    out->cap = cap;
}

void cx_write(cx_out *out, const char *text, size_t len) {
    cx__reserve(out, len);
    memcpy(out->data + out->len, text, len);
    out->len += len;
    out->data[out->len] = '\0';
}

void cx_printf(cx_out *out, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int need = vsnprintf(NULL, 0, format, ap);
    va_end(ap);
    if (need <= 0) return;
    cx__reserve(out, (size_t)need);
    va_start(ap, format);
    vsnprintf(out->data + out->len, (size_t)need + 1, format, ap);
    va_end(ap);
    out->len += (size_t)need;
}

int cx_fail(cx_out *out, const char *message) {
    cx_write(out, message, strlen(message));
    return 1;
}

void cx_write_json_string(cx_out *out, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    cx__reserve(out, len + 2);
    cx_write(out, "\"", 1);
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (i < len && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20) i++;
        if (i > run) cx_write(out, s + run, i - run);  /* plain text is copied whole */
        if (i >= len) break;
        unsigned char c = (unsigned char)s[i++];
        switch (c) {
        case '"': cx_write(out, "\\\"", 2); break;
        case '\\': cx_write(out, "\\\\", 2); break;
        case '\n': cx_write(out, "\\n", 2); break;
        case '\r': cx_write(out, "\\r", 2); break;
        case '\t': cx_write(out, "\\t", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            cx_write(out, esc, 6);
        }
        }
    }
    cx_write(out, "\"", 1);
}

/* ---- a small JSON scanner: enough to find members and decode strings ---- */

static const char *cx__ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static const char *cx__skip_string(const char *p, const char *end) {  /* p at '"' */
    for (p++; p < end; p++) {
        if (*p == '\\') p++;
        else if (*p == '"') return p + 1;
    }
    return NULL;
}

static const char *cx__skip_value(const char *p, const char *end) {
    p = cx__ws(p, end);
    if (p >= end) return NULL;
    if (*p == '"') return cx__skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') { p = cx__skip_string(p, end); if (!p) return NULL; continue; }
            if (*p == '{' || *p == '[') depth++;
            else if (*p == '}' || *p == ']') { if (--depth == 0) return p + 1; }
            p++;
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n'
           && *p != '\r' && *p != '\t') p++;
    return p;
}

/* The value of member `key` in the object [obj, end): its start and end, or 0. */
static int cx__member(const char *obj, const char *end, const char *key,
                      const char **value, const char **value_end) {
    const char *p = cx__ws(obj, end);
    if (p >= end || *p != '{') return 0;
    size_t key_len = strlen(key);
    p++;
    for (;;) {
        p = cx__ws(p, end);
        if (p >= end || *p == '}') return 0;
        if (*p != '"') return 0;
        const char *name = p + 1;
        const char *after = cx__skip_string(p, end);
        if (!after) return 0;
        size_t name_len = (size_t)(after - 1 - name);
        p = cx__ws(after, end);
        if (p >= end || *p != ':') return 0;
        const char *v = cx__ws(p + 1, end);
        const char *v_end = cx__skip_value(v, end);
        if (!v_end) return 0;
        if (name_len == key_len && memcmp(name, key, key_len) == 0) {
            *value = v;
            *value_end = v_end;
            return 1;
        }
        p = cx__ws(v_end, end);
        if (p < end && *p == ',') p++;
    }
}

static void cx__utf8(cx_out *out, unsigned long cp) {
    char b[4];
    size_t n;
    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xC0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    cx_write(out, b, n);
}

static unsigned long cx__hex4(const char *p) {
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned long)(c - 'A' + 10);
    }
    return v;
}

/* Decode the JSON string at [p, end) (p at '"') into a malloc'ed C string. Runs without
   escapes are copied whole: this is the hot loop of most tools. */
static char *cx__decode(const char *p, const char *end) {
    cx_out s = {0};
    cx__reserve(&s, (size_t)(end - p));  /* decoding never makes a string longer */
    s.data[0] = '\0';
    for (p++; p < end && *p != '"'; p++) {
        const char *run = p;
        while (p < end && *p != '"' && *p != '\\') p++;
        if (p > run) cx_write(&s, run, (size_t)(p - run));
        if (p >= end || *p == '"') break;
        if (++p >= end) break;
        switch (*p) {
        case 'n': cx_write(&s, "\n", 1); break;
        case 't': cx_write(&s, "\t", 1); break;
        case 'r': cx_write(&s, "\r", 1); break;
        case 'b': cx_write(&s, "\b", 1); break;
        case 'f': cx_write(&s, "\f", 1); break;
        case 'u':
            if (end - p > 4) {
                unsigned long cp = cx__hex4(p + 1);
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && end - p > 6 && p[1] == '\\' && p[2] == 'u') {
                    unsigned long low = cx__hex4(p + 3);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    p += 6;
                }
                cx__utf8(&s, cp);
            }
            break;
        default: cx_write(&s, p, 1);  /* \" \\ \/ */
        }
    }
    return s.data;
}

char *cx_arg_string(const cx_args *args, const char *key) {
    const char *v, *v_end;
    if (!cx__member(args->json, args->json + args->len, key, &v, &v_end) || *v != '"')
        return NULL;
    return cx__decode(v, v_end);
}

int cx_arg_number(const cx_args *args, const char *key, double *value) {
    const char *v, *v_end;
    if (!cx__member(args->json, args->json + args->len, key, &v, &v_end)) return 0;
    if (!((*v >= '0' && *v <= '9') || *v == '-')) return 0;
    *value = strtod(v, NULL);
    return 1;
}

int cx_arg_raw(const cx_args *args, const char *key, const char **value, size_t *len) {
    const char *v, *v_end;
    if (!cx__member(args->json, args->json + args->len, key, &v, &v_end)) return 0;
    *value = v;
    *len = (size_t)(v_end - v);
    return 1;
}

int cx_arg_bool(const cx_args *args, const char *key, int *value) {
    const char *v, *v_end;
    if (!cx__member(args->json, args->json + args->len, key, &v, &v_end)) return 0;
    if (v_end - v == 4 && memcmp(v, "true", 4) == 0) { *value = 1; return 1; }
    if (v_end - v == 5 && memcmp(v, "false", 5) == 0) { *value = 0; return 1; }
    return 0;
}

void cx_free_strings(char **values, size_t count) {
    for (size_t i = 0; values && i < count; i++) free(values[i]);
    free(values);
}

int cx_arg_strings(const cx_args *args, const char *key, char ***values, size_t *count) {
    const char *v, *v_end;
    *values = NULL;
    *count = 0;
    if (!cx__member(args->json, args->json + args->len, key, &v, &v_end)) return 0;
    if (*v != '[') return -1;
    size_t cap = 16, n = 0;
    char **out = malloc(cap * sizeof *out);
    const char *p = cx__ws(v + 1, v_end);
    while (out && p < v_end && *p != ']') {
        const char *e = cx__skip_value(p, v_end);
        if (!e || *p != '"') { cx_free_strings(out, n); return -1; }
        if (n == cap) {
            char **grown = realloc(out, (cap *= 2) * sizeof *out);
            if (!grown) { cx_free_strings(out, n); return -1; }
            out = grown;
        }
        out[n++] = cx__decode(p, e);
        p = cx__ws(e, v_end);
        if (p < v_end && *p == ',') p = cx__ws(p + 1, v_end);
    }
    if (!out) return -1;
    *values = out;
    *count = n;
    return 1;
}

int cx_arg_numbers(const cx_args *args, const char *key, double **values, size_t *count) {
    const char *v, *v_end;
    *values = NULL;
    *count = 0;
    if (!cx__member(args->json, args->json + args->len, key, &v, &v_end)) return 0;
    if (*v != '[') return -1;
    size_t cap = 16, n = 0;
    double *out = malloc(cap * sizeof *out);
    const char *p = cx__ws(v + 1, v_end);
    while (out && p < v_end && *p != ']') {
        char *after;
        double x = strtod(p, &after);
        if (after == p) { free(out); return -1; }  /* not a number */
        if (n == cap) {
            double *grown = realloc(out, (cap *= 2) * sizeof *out);
            if (!grown) { free(out); return -1; }
            out = grown;
        }
        out[n++] = x;
        p = cx__ws(after, v_end);
        if (p < v_end && *p == ',') p = cx__ws(p + 1, v_end);
    }
    if (!out) return -1;
    *values = out;
    *count = n;
    return 1;
}

/* ---- HTTP through the host (imports from the "caxton" module, see docs/tools.md) ---- */

__attribute__((import_module("caxton"), import_name("http_request")))
int cx__http_request(const char *request, int len);
__attribute__((import_module("caxton"), import_name("http_response")))
int cx__http_response(char *buffer, int capacity);

char *cx_http(const char *request, size_t len, size_t *answer_len) {
    int n = cx__http_request(request, (int)len);
    if (n < 0) return NULL;
    char *answer = malloc((size_t)n + 1);
    if (!answer) return NULL;
    int got = cx__http_response(answer, n);
    if (got < 0) { free(answer); return NULL; }
    answer[got] = '\0';
    if (answer_len) *answer_len = (size_t)got;
    return answer;
}

/* ---- the MCP loop ---- */

/* Answers are collected here and written when the input read so far is used up: one write
   for a whole batch of requests, still one per request when a client sends them one by one. */
static cx_out cx__reply;

static void cx__respond(const char *id, size_t id_len, const char *result, size_t len) {
    CX__LITERAL(&cx__reply, "{\"jsonrpc\":\"2.0\",\"id\":");
    cx_write(&cx__reply, id, id_len);
    CX__LITERAL(&cx__reply, ",\"result\":");
    cx_write(&cx__reply, result, len);
    CX__LITERAL(&cx__reply, "}\n");
}

static void cx__error(const char *id, size_t id_len, int code, const char *message) {
    CX__LITERAL(&cx__reply, "{\"jsonrpc\":\"2.0\",\"id\":");
    cx_write(&cx__reply, id, id_len);
    cx_printf(&cx__reply, ",\"error\":{\"code\":%d,\"message\":", code);
    cx_write_json_string(&cx__reply, message, strlen(message));
    CX__LITERAL(&cx__reply, "}}\n");
}

static void cx__flush(void) {
    size_t done = 0;
    while (done < cx__reply.len) {
        ssize_t n = write(1, cx__reply.data + done, cx__reply.len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  /* nobody reads any more: nothing left to say */
        done += (size_t)n;
    }
    cx__reply.len = 0;
}

static void cx__handle(const char *line, size_t len, const char *server, const char *version,
                       const cx_tool *tools, size_t count) {
    const char *end = line + len, *v, *v_end, *id = NULL, *id_end = NULL;
    if (!cx__member(line, end, "id", &id, &id_end)) return;  /* a notification */
    if (!cx__member(line, end, "method", &v, &v_end) || *v != '"') {
        cx__error(id, (size_t)(id_end - id), -32600, "a request needs a method");
        return;
    }
    char *method = cx__decode(v, v_end);
    cx_out r = {0};
    if (strcmp(method, "initialize") == 0) {
        CX__LITERAL(&r, "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{}},"
                        "\"serverInfo\":{\"name\":");
        cx_write_json_string(&r, server, strlen(server));
        CX__LITERAL(&r, ",\"version\":");
        cx_write_json_string(&r, version, strlen(version));
        CX__LITERAL(&r, "}}");
        cx__respond(id, (size_t)(id_end - id), r.data, r.len);
    } else if (strcmp(method, "tools/list") == 0) {
        cx_printf(&r, "{\"tools\":[");
        for (size_t i = 0; i < count; i++) {
            cx_printf(&r, "%s{\"name\":", i ? "," : "");
            cx_write_json_string(&r, tools[i].name, strlen(tools[i].name));
            cx_printf(&r, ",\"description\":");
            cx_write_json_string(&r, tools[i].description, strlen(tools[i].description));
            cx_printf(&r, ",\"inputSchema\":%s}", tools[i].input_schema);
        }
        cx_printf(&r, "]}");
        cx__respond(id, (size_t)(id_end - id), r.data, r.len);
    } else if (strcmp(method, "tools/call") == 0) {
        const char *params, *params_end, *n, *n_end, *a = "{}", *a_end;
        a_end = a + 2;
        char *name = NULL;
        if (cx__member(line, end, "params", &params, &params_end)
            && cx__member(params, params_end, "name", &n, &n_end) && *n == '"') {
            name = cx__decode(n, n_end);
            if (!cx__member(params, params_end, "arguments", &a, &a_end)) { a = "{}"; a_end = a + 2; }
        }
        const cx_tool *tool = NULL;
        for (size_t i = 0; name && i < count; i++)
            if (strcmp(tools[i].name, name) == 0) tool = &tools[i];
        if (!tool) {
            cx__error(id, (size_t)(id_end - id), -32602, name ? "unknown tool" : "params.name is required");
        } else {
            cx_args args = {a, (size_t)(a_end - a)};
            cx_out text = {0};
            int failed = tool->handler(&args, &text);
            CX__LITERAL(&r, "{\"content\":[{\"type\":\"text\",\"text\":");
            cx_write_json_string(&r, text.data ? text.data : "", text.len);
            if (failed) CX__LITERAL(&r, "}],\"isError\":true}");
            else CX__LITERAL(&r, "}],\"isError\":false}");
            cx__respond(id, (size_t)(id_end - id), r.data, r.len);
            free(text.data);
        }
        free(name);
    } else {
        cx__error(id, (size_t)(id_end - id), -32601, "method not found");
    }
    free(r.data);
    free(method);
}

int cx_serve(const char *server_name, const char *version, const cx_tool *tools, size_t count) {
    /* Raw reads, not stdio: each read takes what is there (the whole session when the host
       wrote it to a file; one request at a time from an interactive client), every complete
       line is handled, and the answers go out before the next read could wait. */
    cx_out in = {0};
    for (;;) {
        cx__reserve(&in, 64 * 1024);
        ssize_t n = read(0, in.data + in.len, in.cap - in.len - 1);
        if (n < 0 && errno == EINTR) continue;
        int eof = n <= 0;
        if (!eof) in.len += (size_t)n;
        char *p = in.data, *end = in.data + in.len;
        for (char *nl; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1)
            if (nl > p) cx__handle(p, (size_t)(nl + 1 - p), server_name, version, tools, count);
        if (eof && p < end) {  /* a last line without its newline */
            cx__handle(p, (size_t)(end - p), server_name, version, tools, count);
            p = end;
        }
        in.len = (size_t)(end - p);
        memmove(in.data, p, in.len);
        cx__flush();
        if (eof) break;
    }
    free(in.data);
    free(cx__reply.data);
    return 0;
}

#endif /* CAXTON_TOOL_IMPLEMENTATION */
#endif /* CAXTON_TOOL_H */
