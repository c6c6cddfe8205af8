/*
 * The built-in `schema_validate` tool: check a JSON value against a JSON Schema.
 *
 * A subset of JSON Schema draft 2020-12 (and draft-07's spellings of it), enough for API
 * responses and data records; docs/tools.md lists the keywords. The schema and the instance
 * are each parsed once into a tree of `node`s kept in an arena. Nodes link to their parents,
 * so an error's JSON-Pointer paths are found by walking up, and only when an error is reported.
 * Each subschema's keywords are then gathered once into a `schema` record: regexes compiled,
 * `$ref`s resolved, and bad keyword values reported as an invalid schema. Validation walks
 * the two trees together, in one of two modes: collecting errors, or probing (stop at the
 * first failure, record nothing) for anyOf, oneOf, not, if and contains.
 */
#define CAXTON_TOOL_IMPLEMENTATION
#include "caxton_tool.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256        /* nesting of a document: deeper ones are refused, not crashed on */
#define MAX_EVAL_DEPTH 1024  /* subschema evaluations in progress at once: wasmtime's 512 KiB native
                             stack holds this many of the largest frames, with room to spare */
#define MAX_REFS 4096        /* $refs being followed at once */
#define DEFAULT_MAX_ERRORS 20
#define MAX_MAX_ERRORS 1000
#define SHOWN 60             /* bytes of a value, key or pattern quoted in a message */

/* ---- an arena: every node and decoded string of a call, freed at once ---- */

typedef struct block { struct block *next; size_t used, cap; } block;
#define BLOCK_HEADER ((sizeof(block) + 15) & ~(size_t)15)
#define BLOCK_SIZE 65536

typedef struct { block *head; } arena;

static void *arena_alloc(arena *a, size_t size) {
    size = (size + 7) & ~(size_t)7;
    block *b = a->head;
    if (b && b->cap - b->used >= size) {
        void *p = (char *)b + BLOCK_HEADER + b->used;
        b->used += size;
        return p;
    }
    size_t cap = size > BLOCK_SIZE / 4 ? size : BLOCK_SIZE;  /* big ones get their own block */
    b = malloc(BLOCK_HEADER + cap);
    if (!b) return NULL;
    b->used = size;
    b->cap = cap;
    if (cap == size && a->head) {  /* keep filling the current block */
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
    }
    return (char *)b + BLOCK_HEADER;
}

static void arena_free(arena *a) {
    for (block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

/* ---- the document tree ---- */

enum { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

typedef struct node node;
typedef struct schema schema;
typedef struct { const char *key; size_t len; node *value; } member;

struct node {
    unsigned char kind;
    unsigned char queued;  /* a schema node already on the compile worklist */
    unsigned index;        /* position in the parent array or object */
    node *parent;
    schema *schema;        /* a schema node's keywords, once compiled */
    union {
        double number;
        struct { const char *s; size_t len; } str;  /* UTF-8, not NUL-terminated */
        struct { node **items; size_t count; } arr;
        struct { member *members; size_t count; unsigned *table; } obj;
    } u;
};

static uint32_t mix(uint32_t h, uint32_t v) { return (h ^ v) * 16777619u; }

static uint32_t hash_bytes(const char *s, size_t len) {  /* FNV-1a */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = mix(h, (unsigned char)s[i]);
    return h;
}

/* Objects with more members than this get a hash index (member number + 1 per slot, 0 for
   none) on their first lookup: big `$defs`, `properties` and records stay linear to search. */
#define INDEXED 16

static size_t table_size(size_t count) {
    size_t size = 32;
    while (size < 2 * count) size *= 2;
    return size;
}

/* Where hash `h` starts in a table of `size` (a power of two) slots: mixed first, as the low
   bits of FNV hashes of small numbers barely vary. */
static size_t first_slot(uint32_t h, size_t size) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h & (size - 1);
}

static void build_table(arena *a, node *n) {
    size_t size = table_size(n->u.obj.count);
    unsigned *table = arena_alloc(a, size * sizeof *table);
    if (!table) return;  /* searched linearly instead */
    memset(table, 0, size * sizeof *table);
    for (size_t i = n->u.obj.count; i-- > 0;) {  /* the last of duplicate keys wins */
        const member *m = &n->u.obj.members[i];
        size_t slot = first_slot(hash_bytes(m->key, m->len), size);
        for (; table[slot]; slot = (slot + 1) & (size - 1)) {
            const member *o = &n->u.obj.members[table[slot] - 1];
            if (o->len == m->len && memcmp(o->key, m->key, m->len) == 0) break;
        }
        if (!table[slot]) table[slot] = (unsigned)i + 1;
    }
    n->u.obj.table = table;
}

/* The value of `key` in object `n`: the last one, as most JSON readers keep. */
static node *lookup(arena *a, node *n, const char *key, size_t len) {
    if (n->u.obj.count > INDEXED && !n->u.obj.table) build_table(a, n);
    if (n->u.obj.table) {
        size_t size = table_size(n->u.obj.count);
        for (size_t slot = first_slot(hash_bytes(key, len), size); n->u.obj.table[slot];
             slot = (slot + 1) & (size - 1)) {
            const member *m = &n->u.obj.members[n->u.obj.table[slot] - 1];
            if (m->len == len && memcmp(m->key, key, len) == 0) return m->value;
        }
        return NULL;
    }
    for (size_t i = n->u.obj.count; i-- > 0;) {
        const member *m = &n->u.obj.members[i];
        if (m->len == len && memcmp(m->key, key, len) == 0) return m->value;
    }
    return NULL;
}

/* ---- reading JSON: strict RFC 8259, at most MAX_DEPTH levels deep ---- */

typedef struct {
    const char *start, *p, *end;
    arena *a;
    node **items;       /* children of the arrays being read, innermost last */
    size_t n_items, cap_items;
    member *members;    /* members of the objects being read, innermost last */
    size_t n_members, cap_members;
    const char *error;  /* what is wrong at `p` */
    int too_deep;
} parser;

static node *parse_value(parser *P, node *parent, size_t index, int depth);

static node *parse_fail(parser *P, const char *why) {
    if (!P->error) P->error = why;
    return NULL;
}

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static node *new_node(parser *P, int kind, node *parent, size_t index) {
    node *n = arena_alloc(P->a, sizeof *n);
    if (!n) return parse_fail(P, "out of memory");
    memset(n, 0, sizeof *n);
    n->kind = (unsigned char)kind;
    n->parent = parent;
    n->index = (unsigned)index;
    return n;
}

static long hex4(const char *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

static size_t put_utf8(char *b, unsigned long cp) {
    if (cp < 0x80) { b[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {  /* lone surrogates too, as WTF-8: they still count as one character */
        b[0] = (char)(0xE0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The string at P->p (a '"'). Strings without escapes point into the text; others are
   decoded into the arena (never longer than their escaped form). */
static int parse_string(parser *P, const char **out, size_t *out_len) {
    const char *begin = P->p + 1, *p = begin, *end = P->end;
    int escaped = 0;
    while (p < end && *p != '"') {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20) { P->p = p; parse_fail(P, "a control character in a string must be escaped"); return 0; }
        if (ch != '\\') { p++; continue; }
        escaped = 1;
        if (end - p < 2) break;
        char e = p[1];
        if (e == 'u') {
            if (end - p < 6 || hex4(p + 2) < 0) { P->p = p; parse_fail(P, "\\u needs four hex digits"); return 0; }
            p += 6;
        } else if (e && strchr("\"\\/bfnrt", e)) {
            p += 2;
        } else {
            P->p = p;
            parse_fail(P, "invalid escape in a string");
            return 0;
        }
    }
    if (p >= end) { parse_fail(P, "a string is not closed"); return 0; }
    P->p = p + 1;
    if (!escaped) {
        *out = begin;
        *out_len = (size_t)(p - begin);
        return 1;
    }
    char *d = arena_alloc(P->a, (size_t)(p - begin)), *o = d;
    if (!d) { parse_fail(P, "out of memory"); return 0; }
    for (const char *q = begin; q < p;) {
        if (*q != '\\') { *o++ = *q++; continue; }
        char e = q[1];
        q += 2;
        switch (e) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            long cp = hex4(q);
            q += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p - q >= 6 && q[0] == '\\' && q[1] == 'u') {
                long low = hex4(q + 2);
                if (low >= 0xDC00 && low < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    q += 6;
                }
            }
            o += put_utf8(o, (unsigned long)cp);
            break;
        }
        default: *o++ = e;  /* \" \\ \/ */
        }
    }
    *out = d;
    *out_len = (size_t)(o - d);
    return 1;
}

static int is_digit(const char *p, const char *end) { return p < end && *p >= '0' && *p <= '9'; }

/* The value of the JSON number [s, end), already checked. Up to 15 significant digits times a
   power of ten up to 1e22 is one exact operation on exact doubles, so correctly rounded
   (Clinger's fast path): most numbers, and far cheaper than musl's strtod. */
static int number_value(const char *s, const char *end, double *value) {
    static const double powers[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
    };
    const char *p = s;
    int negative = *p == '-', significant = 0, exponent = 0;
    uint64_t m = 0;
    p += negative;
    for (; is_digit(p, end); p++) {
        m = m * 10 + (uint64_t)(*p - '0');
        significant += m != 0;
    }
    if (p < end && *p == '.') {
        for (p++; is_digit(p, end); p++) {
            m = m * 10 + (uint64_t)(*p - '0');
            significant += m != 0;
            exponent--;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int sign = 1, e = 0;
        p++;
        if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
        for (; is_digit(p, end); p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        exponent += sign * e;
    }
    if (significant <= 15 && exponent >= -22 && exponent <= 22) {
        double x = (double)m;
        x = exponent < 0 ? x / powers[-exponent] : x * powers[exponent];
        *value = negative ? -x : x;
        return 1;
    }
    char small[64], *copy = small;  /* strtod wants a NUL-terminated copy */
    size_t len = (size_t)(end - s);
    if (len >= sizeof small && !(copy = malloc(len + 1))) return 0;
    memcpy(copy, s, len);
    copy[len] = '\0';
    *value = strtod(copy, NULL);
    if (copy != small) free(copy);
    return 1;
}

static node *parse_number(parser *P, node *parent, size_t index) {
    const char *p = P->p, *end = P->end, *s = p;
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') p++;
    else if (is_digit(p, end) && *p != '0') while (is_digit(p, end)) p++;
    else return parse_fail(P, "expected a JSON value");
    if (p < end && *p == '.') {
        if (!is_digit(++p, end)) { P->p = p; return parse_fail(P, "a digit must follow '.'"); }
        while (is_digit(p, end)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!is_digit(p, end)) { P->p = p; return parse_fail(P, "a digit must follow the exponent"); }
        while (is_digit(p, end)) p++;
    }
    node *n = new_node(P, J_NUMBER, parent, index);
    if (!n) return NULL;
    if (!number_value(s, p, &n->u.number)) return parse_fail(P, "out of memory");
    P->p = p;
    return n;
}

static int push_item(parser *P, node *item) {
    if (P->n_items == P->cap_items) {
        size_t cap = P->cap_items ? P->cap_items * 2 : 64;
        node **grown = realloc(P->items, cap * sizeof *grown);
        if (!grown) return 0;
        P->items = grown;
        P->cap_items = cap;
    }
    P->items[P->n_items++] = item;
    return 1;
}

static int push_member(parser *P, member m) {
    if (P->n_members == P->cap_members) {
        size_t cap = P->cap_members ? P->cap_members * 2 : 64;
        member *grown = realloc(P->members, cap * sizeof *grown);
        if (!grown) return 0;
        P->members = grown;
        P->cap_members = cap;
    }
    P->members[P->n_members++] = m;
    return 1;
}

static node *parse_array(parser *P, node *parent, size_t index, int depth) {
    if (depth > MAX_DEPTH) { P->too_deep = 1; return parse_fail(P, "too deep"); }
    node *n = new_node(P, J_ARRAY, parent, index);
    if (!n) return NULL;
    size_t base = P->n_items;
    P->p = skip_ws(P->p + 1, P->end);
    if (P->p < P->end && *P->p == ']') { P->p++; return n; }
    for (;;) {
        node *item = parse_value(P, n, P->n_items - base, depth);
        if (!item) return NULL;
        if (!push_item(P, item)) return parse_fail(P, "out of memory");
        P->p = skip_ws(P->p, P->end);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == ']') { P->p++; break; }
        return parse_fail(P, "expected ',' or ']' after an array item");
    }
    size_t count = P->n_items - base;
    if (!(n->u.arr.items = arena_alloc(P->a, count * sizeof(node *))))
        return parse_fail(P, "out of memory");
    memcpy(n->u.arr.items, P->items + base, count * sizeof(node *));
    n->u.arr.count = count;
    P->n_items = base;
    return n;
}

static node *parse_object(parser *P, node *parent, size_t index, int depth) {
    if (depth > MAX_DEPTH) { P->too_deep = 1; return parse_fail(P, "too deep"); }
    node *n = new_node(P, J_OBJECT, parent, index);
    if (!n) return NULL;
    size_t base = P->n_members;
    P->p = skip_ws(P->p + 1, P->end);
    if (P->p < P->end && *P->p == '}') { P->p++; return n; }
    for (;;) {
        member m;
        P->p = skip_ws(P->p, P->end);
        if (P->p >= P->end || *P->p != '"') return parse_fail(P, "expected a property name in double quotes");
        if (!parse_string(P, &m.key, &m.len)) return NULL;
        P->p = skip_ws(P->p, P->end);
        if (P->p >= P->end || *P->p != ':') return parse_fail(P, "expected ':' after a property name");
        P->p++;
        if (!(m.value = parse_value(P, n, P->n_members - base, depth))) return NULL;
        if (!push_member(P, m)) return parse_fail(P, "out of memory");
        P->p = skip_ws(P->p, P->end);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; break; }
        return parse_fail(P, "expected ',' or '}' after an object member");
    }
    size_t count = P->n_members - base;
    if (!(n->u.obj.members = arena_alloc(P->a, count * sizeof(member))))
        return parse_fail(P, "out of memory");
    memcpy(n->u.obj.members, P->members + base, count * sizeof(member));
    n->u.obj.count = count;
    P->n_members = base;
    return n;
}

static node *parse_literal(parser *P, const char *word, int kind, node *parent, size_t index) {
    size_t len = strlen(word);
    if ((size_t)(P->end - P->p) < len || memcmp(P->p, word, len) != 0)
        return parse_fail(P, "expected a JSON value");
    P->p += len;
    return new_node(P, kind, parent, index);
}

static node *parse_value(parser *P, node *parent, size_t index, int depth) {
    P->p = skip_ws(P->p, P->end);
    if (P->p >= P->end) return parse_fail(P, "a value is missing");
    switch (*P->p) {
    case '{': return parse_object(P, parent, index, depth + 1);
    case '[': return parse_array(P, parent, index, depth + 1);
    case '"': {
        node *n = new_node(P, J_STRING, parent, index);
        if (!n || !parse_string(P, &n->u.str.s, &n->u.str.len)) return NULL;
        return n;
    }
    case 't': return parse_literal(P, "true", J_TRUE, parent, index);
    case 'f': return parse_literal(P, "false", J_FALSE, parent, index);
    case 'n': return parse_literal(P, "null", J_NULL, parent, index);
    default: return parse_number(P, parent, index);
    }
}

/* Parse the document [text, text + len) named `what` (an argument's name). On failure the
   message goes to `why`; `located` adds the line and column (for JSON given as text). */
static node *parse_document(arena *a, const char *text, size_t len, const char *what,
                            int located, cx_out *why) {
    parser P = {0};
    P.start = P.p = text;
    P.end = text + len;
    P.a = a;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) P.p += 3;  /* a byte-order mark */
    node *root = parse_value(&P, NULL, 0, 0);
    if (root) {
        P.p = skip_ws(P.p, P.end);
        if (P.p < P.end) root = parse_fail(&P, "unexpected text after the JSON value");
    }
    free(P.items);
    free(P.members);
    if (root) return root;
    if (P.too_deep) {
        cx_printf(why, "`%s` nests deeper than %d levels; schema_validate checks documents up "
                       "to %d levels deep", what, MAX_DEPTH, MAX_DEPTH);
    } else if (P.p >= P.end && P.p == skip_ws(P.start, P.end)) {
        cx_printf(why, "`%s` is not JSON: it is empty", what);
    } else {
        cx_printf(why, "`%s` is not JSON: %s", what, P.error ? P.error : "unreadable");
        if (located) {
            size_t line = 1, column = 1;
            for (const char *q = P.start; q < P.p && q < P.end; q++) {
                if (*q == '\n') { line++; column = 1; }
                else if ((*q & 0xC0) != 0x80) column++;
            }
            cx_printf(why, " (line %zu, column %zu)", line, column);
        }
    }
    return NULL;
}

/* ---- writing values and paths into messages ---- */

static void write_number(cx_out *o, double x) {
    char b[32];
    for (int precision = 15; precision <= 17; precision++) {  /* the shortest exact form */
        snprintf(b, sizeof b, "%.*g", precision, x);
        if (strtod(b, NULL) == x) break;
    }
    cx_write(o, b, strlen(b));
}

/* Compact JSON for `n`, giving up (the caller cuts) once `o` is past `limit` bytes. */
static void write_json(cx_out *o, const node *n, size_t limit) {
    switch (n->kind) {
    case J_NULL: cx_write(o, "null", 4); break;
    case J_FALSE: cx_write(o, "false", 5); break;
    case J_TRUE: cx_write(o, "true", 4); break;
    case J_NUMBER: write_number(o, n->u.number); break;
    case J_STRING: cx_write_json_string(o, n->u.str.s, n->u.str.len); break;
    case J_ARRAY:
        cx_write(o, "[", 1);
        for (size_t i = 0; i < n->u.arr.count && o->len <= limit; i++) {
            if (i) cx_write(o, ",", 1);
            write_json(o, n->u.arr.items[i], limit);
        }
        cx_write(o, "]", 1);
        break;
    case J_OBJECT:
        cx_write(o, "{", 1);
        for (size_t i = 0; i < n->u.obj.count && o->len <= limit; i++) {
            const member *m = &n->u.obj.members[i];
            if (i) cx_write(o, ",", 1);
            cx_write_json_string(o, m->key, m->len);
            cx_write(o, ":", 1);
            write_json(o, m->value, limit);
        }
        cx_write(o, "}", 1);
        break;
    }
}

/* Cut `o` to about SHOWN bytes, on a character boundary, marking the cut. */
static void cut(cx_out *o) {
    if (o->len <= SHOWN) return;
    size_t at = SHOWN;
    while (at > 0 && (o->data[at] & 0xC0) == 0x80) at--;
    o->len = at;
    cx_write(o, "...", 3);
}

/* `n` as short JSON for a message; malloc'ed. */
static char *shown(const node *n) {
    cx_out o = {0};
    write_json(&o, n, SHOWN);
    cut(&o);
    return o.data;
}

/* A string (a key, a pattern) as short JSON for a message; malloc'ed. */
static char *shown_string(const char *s, size_t len) {
    cx_out o = {0};
    cx_write_json_string(&o, s, len);
    cut(&o);
    return o.data;
}

/* The JSON Pointer of `n` in its document ("" for the root), unescaped for JSON. */
static __attribute__((noinline)) void write_pointer(cx_out *o, const node *n) {
    const node *chain[MAX_DEPTH + 2];
    size_t k = 0;
    for (; n && n->parent && k < sizeof chain / sizeof *chain; n = n->parent) chain[k++] = n;
    cx_write(o, "", 0);  /* an empty pointer is still a string */
    while (k-- > 0) {
        const node *at = chain[k], *up = at->parent;
        cx_write(o, "/", 1);
        if (up->kind == J_ARRAY) {
            cx_printf(o, "%u", at->index);
            continue;
        }
        const member *m = &up->u.obj.members[at->index];
        for (size_t i = 0; i < m->len; i++) {  /* RFC 6901: ~ is ~0, / is ~1 */
            if (m->key[i] == '~') cx_write(o, "~0", 2);
            else if (m->key[i] == '/') cx_write(o, "~1", 2);
            else cx_write(o, &m->key[i], 1);
        }
    }
}

/* ---- the checking context ---- */

typedef struct pending { node *schema, *instance; } pending;

typedef struct {
    arena a;
    node *root;                 /* the schema document */
    const char *root_id;        /* its `$id`, for `$ref`s that spell it out */
    size_t root_id_len;
    node **work;                /* subschemas still to compile */
    size_t n_work, cap_work;
    regex_t **regexes;          /* to free */
    size_t n_regexes, cap_regexes;
    cx_out errors;              /* the "errors" array's members */
    size_t count, max;
    int truncated;              /* max errors reached with more to tell */
    cx_out unsupported;         /* schema paths of keywords this tool does not check */
    size_t n_unsupported;
    cx_out problem;             /* why the call cannot answer: the error result */
    int stop;                   /* truncated, or a problem: unwind */
    unsigned depth;
    pending *refs;              /* the `$ref`s being followed, for loops that go nowhere */
    size_t n_refs;
    char *text;                 /* a NUL-terminated copy of a string, for regexec */
    size_t text_cap;
} ctx;

/* The call cannot answer: `fmt` becomes the error result. */
static __attribute__((format(printf, 2, 3))) int give_up(ctx *c, const char *fmt, ...) {
    if (c->problem.len) return 0;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    cx_write(&c->problem, message, strlen(message));
    c->stop = 1;
    return 0;
}

/* The schema is wrong at `where`. */
static __attribute__((format(printf, 3, 4))) int invalid(ctx *c, const node *where,
                                                          const char *fmt, ...) {
    if (c->problem.len) return 0;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    cx_out path = {0};
    write_pointer(&path, where);
    give_up(c, "invalid schema at %s: %s", path.len ? path.data : "its root", message);
    free(path.data);
    return 0;
}

/* Record that `inst` fails `keyword` (whose value is `where` in the schema). */
static __attribute__((noinline, format(printf, 5, 6))) void report(
    ctx *c, const node *inst, const char *keyword, const node *where, const char *fmt, ...) {
    if (c->stop) return;
    if (c->count == c->max) {  /* one too many: there is more than the caller asked for */
        c->truncated = 1;
        c->stop = 1;
        return;
    }
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    cx_out path = {0};
    write_pointer(&path, inst);
    cx_printf(&c->errors, "%s{\"path\":", c->count ? "," : "");
    cx_write_json_string(&c->errors, path.data, path.len);
    cx_printf(&c->errors, ",\"keyword\":\"%s\",\"message\":", keyword);
    cx_write_json_string(&c->errors, message, strlen(message));
    path.len = 0;
    write_pointer(&path, where);
    cx_printf(&c->errors, ",\"schema_path\":");
    cx_write_json_string(&c->errors, path.data, path.len);
    cx_write(&c->errors, "}", 1);
    free(path.data);
    c->count++;
}

static const char *c_text(ctx *c, const char *s, size_t len) {
    if (len + 1 > c->text_cap) {
        size_t cap = len + 1 > 256 ? len + 1 : 256;
        char *grown = realloc(c->text, cap);
        if (!grown) return NULL;
        c->text = grown;
        c->text_cap = cap;
    }
    memcpy(c->text, s, len);
    c->text[len] = '\0';
    return c->text;
}

/* ---- regular expressions: JSON Schema's ECMA-262 patterns run as POSIX EREs ---- */

static int ere_special(int ch) { return ch && strchr(".[()*+?{|^$\\", ch) != NULL; }

static void put_cp(cx_out *o, unsigned long cp) {
    char b[4];
    cx_write(o, b, put_utf8(b, cp));
}

/* The code point of the escape at p[0] == '\\' that means a single character, with `*used`
   set; -1 for anything else (\d, \b, \1, \p{...}...). */
static long escaped_char(const char *p, const char *end, size_t *used) {
    if (end - p < 2) return -1;
    unsigned char e = (unsigned char)p[1];
    *used = 2;
    switch (e) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'v': return '\v';
    case 'x':
        if (end - p >= 4 && hex4((char[]){'0', '0', p[2], p[3]}) >= 0) {
            *used = 4;
            return hex4((char[]){'0', '0', p[2], p[3]});
        }
        return -1;
    case 'u': {
        long cp = end - p >= 6 ? hex4(p + 2) : -1;
        if (cp < 0) return -1;
        *used = 6;
        if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 12 && p[6] == '\\' && p[7] == 'u') {
            long low = hex4(p + 8);
            if (low >= 0xDC00 && low < 0xE000) {
                *used = 12;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
        }
        return cp;
    }
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) return -1;
        return e;  /* escaped punctuation means itself */
    }
}

/* The code point of the UTF-8 sequence at p, with `*used` set. */
static long utf8_at(const char *p, const char *end, size_t *used) {
    unsigned char b = (unsigned char)*p;
    size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    if ((size_t)(end - p) < n) n = 1;
    long cp = n == 1 ? b : n == 2 ? b & 0x1F : n == 3 ? b & 0x0F : b & 0x07;
    for (size_t i = 1; i < n; i++) cp = (cp << 6) | ((unsigned char)p[i] & 0x3F);
    *used = n;
    return cp;
}

/* One item of a character class at *pp: a code point, or -1 with `*set` for \d \w \s, or -2
   for what a POSIX bracket expression cannot hold (\D \W \S, \p{...}...). */
static long class_atom(const char **pp, const char *end, const char **set) {
    const char *p = *pp;
    size_t used;
    long cp;
    if (*p != '\\') {
        cp = utf8_at(p, end, &used);
    } else {
        char e = end - p > 1 ? p[1] : 0;
        *set = e == 'd' ? "0-9" : e == 'w' ? "a-zA-Z0-9_" : e == 's' ? "[:space:]" : NULL;
        if (*set) { *pp = p + 2; return -1; }
        if (e == 'b') { cp = '\b'; used = 2; }  /* a backspace, in a class */
        else if ((cp = escaped_char(p, end, &used)) < 0) return -2;
    }
    *pp = p + used;
    return cp;
}

/* One ECMA character class at *pp (just past its '[') as a POSIX bracket expression. POSIX
   has no escapes in brackets: a literal `]` must come first, `-` last, `^` not first. */
static const char *translate_class(const char **pp, const char *end, cx_out *o) {
    const char *p = *pp, *why = NULL;
    int negated = 0, close = 0, dash = 0, caret = 0, open = 0;
    cx_out body = {0};
    if (p < end && *p == '^') { negated = 1; p++; }
    if (p < end && *p == ']') return "empty character classes ([] and [^]) are not supported";
    while (p < end && *p != ']' && !why) {
        const char *set = NULL;
        long from = class_atom(&p, end, &set);
        if (from == -2) { why = "\\D, \\W, \\S and this escape cannot be used inside [...]"; break; }
        if (from == -1) { cx_write(&body, set, strlen(set)); continue; }
        if (end - p > 1 && *p == '-' && p[1] != ']') {  /* a range such as a-z or é-ë */
            const char *q = p + 1, *to_set = NULL;
            long to = class_atom(&q, end, &to_set);
            if (to == -2) { why = "this escape cannot be used inside [...]"; break; }
            if (to >= 0) {
                if (strchr("]-^[", (int)from) || strchr("]-^[", (int)to))
                    why = "ranges that start or end with ] - ^ or [ are not supported";
                put_cp(&body, (unsigned long)from);
                cx_write(&body, "-", 1);
                put_cp(&body, (unsigned long)to);
                p = q;
                continue;
            }  /* \d-x: the '-' is a literal, read next time round */
        }
        if (from == ']') close = 1;
        else if (from == '-') dash = 1;
        else if (from == '^') caret = 1;
        else if (from == '[') open = 1;
        else put_cp(&body, (unsigned long)from);
    }
    if (!why && p >= end) why = "a character class is not closed";
    if (!why) {
        *pp = p + 1;
        if (!negated && !close && !body.len && !open && caret) {  /* just ^ (and maybe -) */
            cx_write(o, dash ? "[-^]" : "\\^", dash ? 4 : 2);
        } else {
            cx_write(o, negated ? "[^" : "[", negated ? 2 : 1);
            if (close) cx_write(o, "]", 1);
            if (body.len) cx_write(o, body.data, body.len);
            if (open) cx_write(o, "[", 1);
            if (caret) cx_write(o, "^", 1);
            if (dash) cx_write(o, "-", 1);
            cx_write(o, "]", 1);
        }
    }
    free(body.data);
    return why;
}

/* An ECMA-262 pattern as a POSIX extended regular expression, in `o`; NULL, or why not. */
static const char *translate(const char *p, size_t len, cx_out *o) {
    const char *end = p + len;
    int quantified = 0;  /* the last thing written was a quantifier: a '?' after it is lazy */
    cx_write(o, "", 0);
    while (p < end) {
        char ch = *p;
        int was_quantified = quantified;
        quantified = 0;
        if (ch == '\\') {
            char e = end - p > 1 ? p[1] : 0;
            const char *set = e == 'd' ? "[0-9]" : e == 'D' ? "[^0-9]"
                            : e == 'w' ? "[a-zA-Z0-9_]" : e == 'W' ? "[^a-zA-Z0-9_]"
                            : e == 's' ? "[[:space:]]" : e == 'S' ? "[^[:space:]]"
                            : e == 'b' ? "\\b" : e == 'B' ? "\\B" : NULL;
            if (set) {
                cx_write(o, set, strlen(set));
                p += 2;
                continue;
            }
            size_t used;
            long cp = escaped_char(p, end, &used);
            if (cp < 0) {
                return e >= '1' && e <= '9' ? "backreferences (\\1...) are not supported"
                                            : "this escape is not supported (\\p{...}, \\k, \\c, \\0...)";
            }
            if (cp < 0x80 && ere_special((int)cp)) cx_write(o, "\\", 1);
            put_cp(o, (unsigned long)cp);
            p += used;
        } else if (ch == '[') {
            p++;
            const char *why = translate_class(&p, end, o);
            if (why) return why;
        } else if (ch == '(') {
            if (end - p > 1 && p[1] == '?') {
                if (end - p > 2 && p[2] == ':') {
                    p += 3;
                } else if (end - p > 2 && p[2] == '<' && end - p > 3 && p[3] != '=' && p[3] != '!') {
                    const char *close = memchr(p, '>', (size_t)(end - p));  /* (?<name>...) */
                    if (!close) return "a named group is not closed";
                    p = close + 1;
                } else {
                    return "lookahead, lookbehind and inline flags ((?=, (?!, (?<=, (?i)) are not supported";
                }
            } else {
                p++;
            }
            cx_write(o, "(", 1);
        } else if (ch == '?' && was_quantified) {
            p++;  /* lazy or greedy, a search finds a match or not all the same */
        } else if (ch == '*' || ch == '+' || ch == '?') {
            cx_write(o, &ch, 1);
            p++;
            quantified = 1;
        } else if (ch == '{') {
            const char *q = p + 1;  /* {n}, {n,} or {n,m}; anything else is a literal brace */
            int digits = 0;
            while (q < end && *q >= '0' && *q <= '9') { q++; digits++; }
            if (digits && q < end && *q == ',') {
                q++;
                while (q < end && *q >= '0' && *q <= '9') q++;
            }
            if (digits && q < end && *q == '}') {
                cx_write(o, p, (size_t)(q + 1 - p));
                p = q + 1;
                quantified = 1;
            } else {
                cx_write(o, "\\{", 2);
                p++;
            }
        } else if (ch == '.') {
            cx_write(o, "[^\n\r]", 5);  /* ECMA's dot stops at line ends */
            p++;
        } else {
            cx_write(o, &ch, 1);  /* literals, UTF-8 bytes, ^ $ | ) } ] */
            p++;
        }
    }
    return NULL;
}

static regex_t *compile_regex(ctx *c, const node *where, const char *src, size_t len) {
    cx_out ere = {0};
    const char *why = translate(src, len, &ere);
    regex_t *re = NULL;
    char *pattern = shown_string(src, len);
    if (why) {
        invalid(c, where, "the pattern %s cannot be run: %s", pattern, why);
    } else if (!(re = arena_alloc(&c->a, sizeof *re))) {
        give_up(c, "out of memory");
    } else {
        int rc = regcomp(re, ere.data, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char message[128];
            regerror(rc, re, message, sizeof message);
            invalid(c, where, "the pattern %s is not a regular expression this tool can run: %s",
                    pattern, message);
            re = NULL;
        } else if (c->n_regexes == c->cap_regexes) {
            size_t cap = c->cap_regexes ? c->cap_regexes * 2 : 16;
            regex_t **grown = realloc(c->regexes, cap * sizeof *grown);
            if (!grown) { regfree(re); re = NULL; give_up(c, "out of memory"); }
            else { c->regexes = grown; c->cap_regexes = cap; }
        }
        if (re) c->regexes[c->n_regexes++] = re;
    }
    free(pattern);
    free(ere.data);
    return re;
}

static int matches(ctx *c, const regex_t *re, const char *s, size_t len) {
    const char *text = c_text(c, s, len);
    if (!text) return give_up(c, "out of memory");
    return regexec(re, text, 0, NULL, 0) == 0;
}

/* ---- compiling a schema: keywords gathered, checked, regexes and $refs made ready ---- */

enum {
    T_NULL = 1, T_BOOLEAN = 2, T_OBJECT = 4, T_ARRAY = 8, T_NUMBER = 16, T_STRING = 32,
    T_INTEGER = 64
};
static const char *const type_names[] = {
    "null", "boolean", "object", "array", "number", "string", "integer"
};

struct schema {
    node *ref, *target;  /* `$ref`, and the schema it points at */
    int only_ref;        /* nothing else to check: validate() follows it without recursing */
    node *type;
    unsigned types;      /* T_ bits */
    node *enum_, *const_;
    node *minimum, *maximum, *exclusive_minimum, *exclusive_maximum, *multiple_of;
    node *min_length, *max_length, *pattern;
    regex_t *pattern_re;
    node *prefix_items;  /* `prefixItems`, or draft-07's array `items` */
    node *rest_items;    /* for the items after those: `items`, or draft-07's `additionalItems` */
    const char *rest_keyword;
    node *min_items, *max_items, *unique_items, *contains, *min_contains, *max_contains;
    node *properties, *pattern_properties, *additional_properties, *property_names;
    regex_t **property_patterns;  /* one per member of `patternProperties` */
    node *required, *min_properties, *max_properties;
    node *dependent_required, *dependent_schemas, *dependencies;
    node *all_of, *any_of, *one_of, *not_, *if_, *then_, *else_;
};

static unsigned type_bit(const node *n) {
    if (n->kind != J_STRING) return 0;
    for (unsigned i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (strlen(type_names[i]) == n->u.str.len && memcmp(type_names[i], n->u.str.s, n->u.str.len) == 0)
            return 1u << i;
    return 0;
}

static unsigned type_mask(const node *n) {
    if (n->kind == J_STRING) return type_bit(n);
    if (n->kind != J_ARRAY || n->u.arr.count == 0) return 0;
    unsigned mask = 0;
    for (size_t i = 0; i < n->u.arr.count; i++) {
        unsigned bit = type_bit(n->u.arr.items[i]);
        if (!bit) return 0;
        mask |= bit;
    }
    return mask;
}

static int is_count(const node *n) {
    return n->kind == J_NUMBER && n->u.number >= 0 && floor(n->u.number) == n->u.number;
}

static int is_schema(const node *n) {
    return n->kind == J_OBJECT || n->kind == J_TRUE || n->kind == J_FALSE;
}

static int is_strings(const node *n) {
    if (n->kind != J_ARRAY) return 0;
    for (size_t i = 0; i < n->u.arr.count; i++)
        if (n->u.arr.items[i]->kind != J_STRING) return 0;
    return 1;
}

static int queue(ctx *c, node *s) {
    if (s->kind != J_OBJECT || s->queued) return 1;
    if (c->n_work == c->cap_work) {
        size_t cap = c->cap_work ? c->cap_work * 2 : 64;
        node **grown = realloc(c->work, cap * sizeof *grown);
        if (!grown) return give_up(c, "out of memory");
        c->work = grown;
        c->cap_work = cap;
    }
    s->queued = 1;
    c->work[c->n_work++] = s;
    return 1;
}

/* The schema a local `$ref` ("#", "#/$defs/x", a JSON Pointer, %-escapes allowed) names. */
static node *resolve(ctx *c, node *ref) {
    const char *r = ref->u.str.s, *end = r + ref->u.str.len;
    if (c->root_id && ref->u.str.len >= c->root_id_len
        && memcmp(r, c->root_id, c->root_id_len) == 0) {
        r += c->root_id_len;  /* "https://x/y.json#/a" when the root's $id is that URL */
        if (r == end) return c->root;
    }
    char *shown_ref = shown_string(ref->u.str.s, ref->u.str.len);
    node *at = c->root;
    if (r == end || *r != '#') {
        invalid(c, ref, "$ref %s: only references inside this schema (\"#/...\") are supported",
                shown_ref);
        at = NULL;
    } else if (r + 1 < end && r[1] != '/') {
        invalid(c, ref, "$ref %s: anchors are not supported; use a JSON Pointer such as "
                        "\"#/$defs/name\"", shown_ref);
        at = NULL;
    }
    char *token = at ? malloc((size_t)(end - r) + 1) : NULL;
    if (at && !token) {
        give_up(c, "out of memory");
        at = NULL;
    }
    for (const char *p = r + 1; at && p < end;) {
        size_t n = 0;  /* the next token, unescaped: %XX, then ~1 and ~0 */
        for (p++; p < end && *p != '/'; p++) {
            char ch = *p;
            if (ch == '%' && end - p > 2 && hex4((char[]){'0', '0', p[1], p[2]}) >= 0) {
                ch = (char)hex4((char[]){'0', '0', p[1], p[2]});
                p += 2;
            }
            token[n++] = ch;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (token[i] == '~' && i + 1 < n && (token[i + 1] == '0' || token[i + 1] == '1'))
                token[k++] = token[++i] == '0' ? '~' : '/';
            else
                token[k++] = token[i];
        }
        node *next = NULL;
        if (at->kind == J_OBJECT) {
            next = lookup(&c->a, at, token, k);
        } else if (at->kind == J_ARRAY && k > 0) {
            size_t i = 0, ok = 1;
            for (size_t j = 0; j < k; j++) {
                if (token[j] < '0' || token[j] > '9') ok = 0;
                else i = i * 10 + (size_t)(token[j] - '0');
            }
            if (ok && i < at->u.arr.count) next = at->u.arr.items[i];
        }
        if (!next) invalid(c, ref, "$ref %s points at nothing in this schema", shown_ref);
        at = next;
    }
    free(token);
    if (at && !is_schema(at)) {
        invalid(c, ref, "$ref %s points at something that is not a schema", shown_ref);
        at = NULL;
    }
    free(shown_ref);
    return at;
}

static int is_kw(const member *m, const char *name) {
    size_t n = strlen(name);
    return m->len == n && memcmp(m->key, name, n) == 0;
}

/* Gather the keywords of schema `s`; its subschemas go on the worklist. */
static int compile(ctx *c, node *s) {
    schema *k = arena_alloc(&c->a, sizeof *k);
    if (!k) return give_up(c, "out of memory");
    memset(k, 0, sizeof *k);
    s->schema = k;
    node *items = NULL, *prefix_items = NULL, *additional_items = NULL;
    for (size_t i = 0; i < s->u.obj.count; i++) {
        const member *m = &s->u.obj.members[i];
        node *v = m->value;
#define EXPECT(ok, what) \
    do { if (!(ok)) return invalid(c, v, "`%.*s` must be %s", (int)m->len, m->key, what); } while (0)
#define SCHEMA(field) \
    do { EXPECT(is_schema(v), "a schema (an object or a boolean)"); k->field = v; \
         if (!queue(c, v)) return 0; } while (0)
#define SCHEMA_LIST(field) \
    do { EXPECT(v->kind == J_ARRAY && v->u.arr.count > 0, "a non-empty array of schemas"); \
         for (size_t j = 0; j < v->u.arr.count; j++) { \
             node *item = v->u.arr.items[j]; \
             if (!is_schema(item)) return invalid(c, item, "an item of `%.*s` must be a schema", \
                                                  (int)m->len, m->key); \
             if (!queue(c, item)) return 0; } \
         k->field = v; } while (0)
#define SCHEMA_MAP() \
    do { EXPECT(v->kind == J_OBJECT, "an object of schemas"); \
         for (size_t j = 0; j < v->u.obj.count; j++) { \
             node *value = v->u.obj.members[j].value; \
             if (!is_schema(value)) return invalid(c, value, "a value of `%.*s` must be a schema", \
                                                   (int)m->len, m->key); \
             if (!queue(c, value)) return 0; } } while (0)
#define NUMBER(field) do { EXPECT(v->kind == J_NUMBER, "a number"); k->field = v; } while (0)
#define EXCLUSIVE "a number (draft-04's boolean form is not supported: give the bound itself)"
#define COUNT(field) do { EXPECT(is_count(v), "a non-negative integer"); k->field = v; } while (0)
        if (is_kw(m, "$ref")) {
            EXPECT(v->kind == J_STRING, "a string");
            k->ref = v;
            if (!(k->target = resolve(c, v)) || !queue(c, k->target)) return 0;
        } else if (is_kw(m, "type")) {
            EXPECT((k->types = type_mask(v)) != 0,
                   "a type name (\"null\", \"boolean\", \"object\", \"array\", \"number\", "
                   "\"string\" or \"integer\") or a non-empty array of them");
            k->type = v;
        } else if (is_kw(m, "enum")) {
            EXPECT(v->kind == J_ARRAY, "an array");
            k->enum_ = v;
        } else if (is_kw(m, "const")) {
            k->const_ = v;
        } else if (is_kw(m, "minimum")) {
            NUMBER(minimum);
        } else if (is_kw(m, "maximum")) {
            NUMBER(maximum);
        } else if (is_kw(m, "exclusiveMinimum")) {
            EXPECT(v->kind == J_NUMBER, EXCLUSIVE);
            k->exclusive_minimum = v;
        } else if (is_kw(m, "exclusiveMaximum")) {
            EXPECT(v->kind == J_NUMBER, EXCLUSIVE);
            k->exclusive_maximum = v;
        } else if (is_kw(m, "multipleOf")) {
            EXPECT(v->kind == J_NUMBER && v->u.number > 0, "a number greater than 0");
            k->multiple_of = v;
        } else if (is_kw(m, "minLength")) {
            COUNT(min_length);
        } else if (is_kw(m, "maxLength")) {
            COUNT(max_length);
        } else if (is_kw(m, "pattern")) {
            EXPECT(v->kind == J_STRING, "a string");
            k->pattern = v;
            if (!(k->pattern_re = compile_regex(c, v, v->u.str.s, v->u.str.len))) return 0;
        } else if (is_kw(m, "items")) {
            EXPECT(is_schema(v) || v->kind == J_ARRAY, "a schema (or, draft-07, an array of them)");
            items = v;
        } else if (is_kw(m, "prefixItems")) {
            SCHEMA_LIST(prefix_items);
            prefix_items = v;
        } else if (is_kw(m, "additionalItems")) {
            EXPECT(is_schema(v), "a schema (an object or a boolean)");
            additional_items = v;
        } else if (is_kw(m, "minItems")) {
            COUNT(min_items);
        } else if (is_kw(m, "maxItems")) {
            COUNT(max_items);
        } else if (is_kw(m, "uniqueItems")) {
            EXPECT(v->kind == J_TRUE || v->kind == J_FALSE, "a boolean");
            if (v->kind == J_TRUE) k->unique_items = v;
        } else if (is_kw(m, "contains")) {
            SCHEMA(contains);
        } else if (is_kw(m, "minContains")) {
            COUNT(min_contains);
        } else if (is_kw(m, "maxContains")) {
            COUNT(max_contains);
        } else if (is_kw(m, "properties")) {
            SCHEMA_MAP();
            k->properties = v;
        } else if (is_kw(m, "patternProperties")) {
            SCHEMA_MAP();
            k->pattern_properties = v;
            if (v->u.obj.count
                && !(k->property_patterns = arena_alloc(&c->a, v->u.obj.count * sizeof(regex_t *))))
                return give_up(c, "out of memory");
            for (size_t j = 0; j < v->u.obj.count; j++) {
                const member *p = &v->u.obj.members[j];
                if (!(k->property_patterns[j] = compile_regex(c, p->value, p->key, p->len))) return 0;
            }
        } else if (is_kw(m, "additionalProperties")) {
            SCHEMA(additional_properties);
        } else if (is_kw(m, "propertyNames")) {
            SCHEMA(property_names);
        } else if (is_kw(m, "required")) {
            EXPECT(is_strings(v), "an array of strings");
            k->required = v;
        } else if (is_kw(m, "minProperties")) {
            COUNT(min_properties);
        } else if (is_kw(m, "maxProperties")) {
            COUNT(max_properties);
        } else if (is_kw(m, "dependentRequired")) {
            EXPECT(v->kind == J_OBJECT, "an object of arrays of strings");
            for (size_t j = 0; j < v->u.obj.count; j++)
                if (!is_strings(v->u.obj.members[j].value))
                    return invalid(c, v->u.obj.members[j].value, "a value of `dependentRequired` "
                                                                 "must be an array of strings");
            k->dependent_required = v;
        } else if (is_kw(m, "dependentSchemas")) {
            SCHEMA_MAP();
            k->dependent_schemas = v;
        } else if (is_kw(m, "dependencies")) {  /* draft-07: both of the above in one */
            EXPECT(v->kind == J_OBJECT, "an object");
            for (size_t j = 0; j < v->u.obj.count; j++) {
                node *d = v->u.obj.members[j].value;
                if (!is_strings(d) && !is_schema(d))
                    return invalid(c, d, "a value of `dependencies` must be an array of strings "
                                         "or a schema");
                if (!queue(c, d)) return 0;
            }
            k->dependencies = v;
        } else if (is_kw(m, "allOf")) {
            SCHEMA_LIST(all_of);
        } else if (is_kw(m, "anyOf")) {
            SCHEMA_LIST(any_of);
        } else if (is_kw(m, "oneOf")) {
            SCHEMA_LIST(one_of);
        } else if (is_kw(m, "not")) {
            SCHEMA(not_);
        } else if (is_kw(m, "if")) {
            SCHEMA(if_);
        } else if (is_kw(m, "then")) {
            SCHEMA(then_);
        } else if (is_kw(m, "else")) {
            SCHEMA(else_);
        } else if (is_kw(m, "$defs") || is_kw(m, "definitions")) {
            SCHEMA_MAP();  /* checked like the rest, though only a $ref reaches them */
        } else if (is_kw(m, "unevaluatedProperties") || is_kw(m, "unevaluatedItems")
                   || is_kw(m, "$dynamicRef") || is_kw(m, "$recursiveRef")) {
            cx_out path = {0};
            write_pointer(&path, v);
            if (c->n_unsupported++) cx_write(&c->unsupported, ",", 1);
            cx_write_json_string(&c->unsupported, path.data, path.len);
            free(path.data);
        }
        /* every other keyword (format, title, $schema, $comment...) is an annotation here */
#undef EXPECT
#undef SCHEMA
#undef SCHEMA_LIST
#undef SCHEMA_MAP
#undef NUMBER
#undef COUNT
#undef EXCLUSIVE
    }
    if (items && items->kind == J_ARRAY) {  /* draft-07 tuples */
        if (prefix_items)
            return invalid(c, items, "`items` as an array (draft-07) cannot be combined with "
                                     "`prefixItems`; give `items` a schema for the rest");
        for (size_t j = 0; j < items->u.arr.count; j++) {
            node *item = items->u.arr.items[j];
            if (!is_schema(item)) return invalid(c, item, "an item of `items` must be a schema");
            if (!queue(c, item)) return 0;
        }
        k->prefix_items = items;
        k->rest_items = additional_items;
        k->rest_keyword = "additionalItems";
        if (additional_items && !queue(c, additional_items)) return 0;
    } else if (items) {
        k->rest_items = items;
        k->rest_keyword = "items";
        if (!queue(c, items)) return 0;
    }
    static const schema none;  /* a bare $ref leaves every other field null */
    schema rest;
    memcpy(&rest, k, sizeof rest);
    rest.ref = rest.target = NULL;
    k->only_ref = k->ref && memcmp(&rest, &none, sizeof rest) == 0;
    return 1;
}

/* Compile the schema document: every subschema once, by worklist (no recursion, so a long
   chain of $refs cannot exhaust the stack). */
static int compile_all(ctx *c) {
    if (!is_schema(c->root))
        return give_up(c, "invalid schema: a schema must be an object or a boolean");
    if (c->root->kind == J_OBJECT) {
        node *id = lookup(&c->a, c->root, "$id", 3);
        if (id && id->kind == J_STRING) {
            c->root_id = id->u.str.s;
            c->root_id_len = id->u.str.len;
            while (c->root_id_len && c->root_id[c->root_id_len - 1] == '#') c->root_id_len--;
        }
    }
    if (!queue(c, c->root)) return 0;
    while (c->n_work > 0)
        if (!compile(c, c->work[--c->n_work])) return 0;
    return 1;
}

/* ---- comparing values ---- */

static int equal(arena *ar, node *a, node *b) {
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case J_NUMBER: return a->u.number == b->u.number;  /* 1 and 1.0 are the same number */
    case J_STRING:
        return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case J_ARRAY:
        if (a->u.arr.count != b->u.arr.count) return 0;
        for (size_t i = 0; i < a->u.arr.count; i++)
            if (!equal(ar, a->u.arr.items[i], b->u.arr.items[i])) return 0;
        return 1;
    case J_OBJECT:
        if (a->u.obj.count != b->u.obj.count) return 0;
        for (size_t i = 0; i < a->u.obj.count; i++) {
            const member *m = &a->u.obj.members[i];
            node *other = lookup(ar, b, m->key, m->len);
            if (!other || !equal(ar, m->value, other)) return 0;
        }
        return 1;
    default: return 1;
    }
}

/* A hash that equal values share (members in any order, 0 and -0 alike). */
static uint32_t hash(const node *n) {
    uint32_t h = mix(2166136261u, n->kind);
    switch (n->kind) {
    case J_NUMBER: {
        double x = n->u.number == 0 ? 0 : n->u.number;
        uint64_t bits;
        memcpy(&bits, &x, sizeof bits);
        return mix(mix(h, (uint32_t)bits), (uint32_t)(bits >> 32));
    }
    case J_STRING: return mix(h, hash_bytes(n->u.str.s, n->u.str.len));
    case J_ARRAY:
        for (size_t i = 0; i < n->u.arr.count; i++) h = mix(h, hash(n->u.arr.items[i]));
        return h;
    case J_OBJECT: {
        uint32_t sum = 0;
        for (size_t i = 0; i < n->u.obj.count; i++) {
            const member *m = &n->u.obj.members[i];
            sum += mix(hash_bytes(m->key, m->len), hash(m->value));
        }
        return mix(h, sum);
    }
    default: return h;
    }
}

/* An item of array `arr` equal to an earlier one, in (*i, *j) with j as small as can be;
   0 when all differ. A hash set: only items with the same hash are compared. */
static int find_duplicate(ctx *c, const node *arr, size_t *i, size_t *j) {
    typedef struct { uint32_t hash; size_t index; } seen;  /* index + 1; 0 for a free slot */
    size_t n = arr->u.arr.count, size = table_size(n);
    node **items = arr->u.arr.items;
    if (n < 2) return 0;
    seen *set = calloc(size, sizeof *set);
    if (!set) return give_up(c, "out of memory");
    int found = 0;
    for (size_t y = 0; y < n && !found; y++) {
        uint32_t h = hash(items[y]);
        size_t slot = first_slot(h, size);
        for (; set[slot].index && !found; slot = (slot + 1) & (size - 1)) {
            if (set[slot].hash != h || !equal(&c->a, items[set[slot].index - 1], items[y])) continue;
            *i = set[slot].index - 1;
            *j = y;
            found = 1;
        }
        set[slot].hash = h;
        set[slot].index = y + 1;
    }
    free(set);
    return found;
}

/* ---- validating ---- */

/* Kept out of validate(), which recurses: inlined, every keyword's locals would sit in every
   level's frame, and wasmtime's native stack holds only so many. */
#define NOINLINE __attribute__((noinline))

static int validate(ctx *c, node *s, node *inst, int collect);

/* A keyword failed: when collecting, record it and go on; when probing, stop at once. */
#define FAIL(at, keyword, where, ...) \
    do { ok = 0; if (!collect) return 0; report(c, (at), (keyword), (where), __VA_ARGS__); \
         if (c->stop) return 0; } while (0)
/* The same, for a message that quotes `text` (a malloc'ed string, made only when needed). */
#define FAIL_SHOWING(text, at, keyword, where, fmt) \
    do { ok = 0; if (!collect) return 0; char *shown_text = (text); \
         report(c, (at), (keyword), (where), fmt, shown_text); free(shown_text); \
         if (c->stop) return 0; } while (0)
/* A count keyword failed: "must have at least 2 items (has 1)". */
#define FAIL_COUNT(keyword, where, bound, one, many, has) \
    do { ok = 0; if (!collect) return 0; \
         count_error(c, inst, keyword, where, bound, one, many, has); \
         if (c->stop) return 0; } while (0)
/* A subschema applies to a value. */
#define SUB(sub, value) \
    do { if (!validate(c, (sub), (value), collect)) { ok = 0; if (!collect || c->stop) return 0; } } \
    while (0)

static NOINLINE void count_error(ctx *c, node *inst, const char *keyword, const node *where,
                                 const char *bound, const char *one, const char *many,
                                 size_t has) {
    double limit = where->u.number;
    report(c, inst, keyword, where, "must have %s %.0f %s (has %zu)", bound, limit,
           limit == 1 ? one : many, has);
}

static unsigned kind_bits(const node *n) {
    switch (n->kind) {
    case J_NULL: return T_NULL;
    case J_FALSE: case J_TRUE: return T_BOOLEAN;
    case J_NUMBER:
        return T_NUMBER | (isfinite(n->u.number) && floor(n->u.number) == n->u.number ? T_INTEGER : 0);
    case J_STRING: return T_STRING;
    case J_ARRAY: return T_ARRAY;
    default: return T_OBJECT;
    }
}

/* "expected string or null, got integer", the types as the schema lists them; malloc'ed. */
static char *type_message(const node *type, unsigned got) {
    cx_out o = {0};
    size_t n = type->kind == J_ARRAY ? type->u.arr.count : 1;
    cx_printf(&o, "expected ");
    for (size_t i = 0; i < n; i++) {
        const node *name = type->kind == J_ARRAY ? type->u.arr.items[i] : type;
        cx_printf(&o, "%s%.*s", i == 0 ? "" : i + 1 == n ? " or " : ", ", (int)name->u.str.len,
                  name->u.str.s);
    }
    cx_printf(&o, ", got %s", got & T_INTEGER ? "integer" : type_names[__builtin_ctz(got)]);
    return o.data;
}

static NOINLINE int check_any(ctx *c, const schema *k, node *inst, int collect) {
    int ok = 1;
    unsigned bits = kind_bits(inst);
    if (k->type && !(k->types & bits))
        FAIL_SHOWING(type_message(k->type, bits), inst, "type", k->type, "%s");
    if (k->enum_) {
        size_t i = 0;
        while (i < k->enum_->u.arr.count && !equal(&c->a, k->enum_->u.arr.items[i], inst)) i++;
        if (i == k->enum_->u.arr.count)
            FAIL_SHOWING(shown(k->enum_), inst, "enum", k->enum_, "must be one of %s");
    }
    if (k->const_ && !equal(&c->a, k->const_, inst))
        FAIL_SHOWING(shown(k->const_), inst, "const", k->const_, "must equal %s");
    return ok;
}

/* Is x a multiple of d? Exactly for integers; for fractions, up to binary rounding, so that
   19.99 is a multiple of 0.01 as a decimal reader expects. */
static int multiple(double x, double d) {
    if (floor(x) == x && floor(d) == d && isfinite(x)) return fmod(x, d) == 0;
    double q = x / d;
    if (!isfinite(q)) return 0;
    return fabs(q - round(q)) <= 4 * DBL_EPSILON * fabs(q);
}

static __attribute__((noinline)) void number_error(ctx *c, node *inst, const char *keyword,
                                                    const node *bound, const char *relation) {
    cx_out want = {0}, got = {0};
    write_number(&want, bound->u.number);
    write_number(&got, inst->u.number);
    report(c, inst, keyword, bound, "must be %s %s (got %s)", relation, want.data, got.data);
    free(want.data);
    free(got.data);
}

static NOINLINE int check_number(ctx *c, const schema *k, node *inst, int collect) {
    static const char *const keywords[] = {
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"
    };
    static const char *const relations[] = {">=", "<=", ">", "<", "a multiple of"};
    const node *bounds[] = {
        k->minimum, k->maximum, k->exclusive_minimum, k->exclusive_maximum, k->multiple_of
    };
    int ok = 1;
    double x = inst->u.number;
    for (int i = 0; i < 5; i++) {
        if (!bounds[i]) continue;
        double y = bounds[i]->u.number;
        int bad = i == 0 ? x < y : i == 1 ? x > y : i == 2 ? x <= y : i == 3 ? x >= y
                : !multiple(x, y);
        if (!bad) continue;
        ok = 0;
        if (!collect) return 0;
        number_error(c, inst, keywords[i], bounds[i], relations[i]);
        if (c->stop) return 0;
    }
    return ok;
}

static size_t code_points(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static NOINLINE int check_string(ctx *c, const schema *k, node *inst, int collect) {
    int ok = 1;
    if (k->min_length || k->max_length) {
        size_t n = code_points(inst->u.str.s, inst->u.str.len);
        if (k->min_length && n < k->min_length->u.number)
            FAIL_COUNT("minLength", k->min_length, "at least", "character", "characters", n);
        if (k->max_length && n > k->max_length->u.number)
            FAIL_COUNT("maxLength", k->max_length, "at most", "character", "characters", n);
    }
    if (k->pattern_re && !matches(c, k->pattern_re, inst->u.str.s, inst->u.str.len)) {
        if (c->stop) return 0;
        FAIL_SHOWING(shown_string(k->pattern->u.str.s, k->pattern->u.str.len), inst, "pattern",
                     k->pattern, "must match the pattern %s");
    }
    return ok;
}

static NOINLINE int check_array(ctx *c, const schema *k, node *inst, int collect) {
    int ok = 1;
    size_t n = inst->u.arr.count, prefix = 0;
    node **items = inst->u.arr.items;
    if (k->prefix_items) {
        prefix = k->prefix_items->u.arr.count;
        for (size_t i = 0; i < n && i < prefix; i++) SUB(k->prefix_items->u.arr.items[i], items[i]);
    }
    if (k->rest_items && n > prefix) {
        if (k->rest_items->kind == J_FALSE)
            FAIL(inst, k->rest_keyword, k->rest_items, "must have at most %zu item%s (has %zu)",
                 prefix, prefix == 1 ? "" : "s", n);
        else
            for (size_t i = prefix; i < n; i++) SUB(k->rest_items, items[i]);
    }
    if (k->min_items && n < k->min_items->u.number)
        FAIL_COUNT("minItems", k->min_items, "at least", "item", "items", n);
    if (k->max_items && n > k->max_items->u.number)
        FAIL_COUNT("maxItems", k->max_items, "at most", "item", "items", n);
    size_t i, j;
    if (k->unique_items && find_duplicate(c, inst, &i, &j))
        FAIL(inst, "uniqueItems", k->unique_items, "items %zu and %zu are equal; items must be unique",
             i, j);
    if (c->stop) return 0;
    if (k->contains) {
        double least = k->min_contains ? k->min_contains->u.number : 1;
        double most = k->max_contains ? k->max_contains->u.number : INFINITY;
        size_t found = 0;  /* counting stops once the answer is known */
        for (size_t x = 0; x < n && (k->max_contains ? found <= most : found < least); x++)
            found += (size_t)validate(c, k->contains, items[x], 0);
        if (c->stop) return 0;
        if (found < least)
            FAIL(inst, k->min_contains ? "minContains" : "contains",
                 k->min_contains ? k->min_contains : k->contains,
                 "must contain at least %.0f item%s matching `contains` (has %zu)", least,
                 least == 1 ? "" : "s", found);
        else if (found > most)  /* counting stopped at one too many */
            FAIL(inst, "maxContains", k->max_contains,
                 "must contain at most %.0f item%s matching `contains` (has at least %zu)", most,
                 most == 1 ? "" : "s", found);
    }
    return ok;
}

/* `names` (an array of strings) are all present in object `inst`, else report `keyword`. */
static NOINLINE int check_present(ctx *c, node *inst, node *names, const char *keyword, const member *if_,
                         int collect) {
    int ok = 1;
    for (size_t i = 0; i < names->u.arr.count; i++) {
        const node *name = names->u.arr.items[i];
        if (lookup(&c->a, inst, name->u.str.s, name->u.str.len)) continue;
        char *shown_name = shown_string(name->u.str.s, name->u.str.len);
        char *shown_if = if_ ? shown_string(if_->key, if_->len) : NULL;
        if (collect && if_)
            report(c, inst, keyword, names, "property %s is required when %s is present",
                   shown_name, shown_if);
        else if (collect)
            report(c, inst, keyword, names, "missing required property %s", shown_name);
        free(shown_name);
        free(shown_if);
        ok = 0;
        if (!collect || c->stop) return 0;
    }
    return ok;
}

/* propertyNames: the name as a string value at the object's path. */
static NOINLINE int check_name(ctx *c, const schema *k, node *inst, const member *m, int collect) {
    node name = *inst;
    name.kind = J_STRING;
    name.u.str.s = m->key;
    name.u.str.len = m->len;
    if (validate(c, k->property_names, &name, 0) || c->stop) return !c->stop;
    if (!collect) return 0;
    char *shown_name = shown_string(m->key, m->len);
    report(c, inst, "propertyNames", k->property_names,
           "the property name %s does not fit propertyNames", shown_name);
    free(shown_name);
    validate(c, k->property_names, &name, 1);  /* and why not */
    return 0;
}

/* properties, patternProperties, additionalProperties and propertyNames: per member. */
static NOINLINE int check_members(ctx *c, const schema *k, node *inst, int collect) {
    int ok = 1;
    if (!k->properties && !k->pattern_properties && !k->additional_properties
        && !k->property_names)
        return 1;
    for (size_t i = 0; i < inst->u.obj.count; i++) {
        const member *m = &inst->u.obj.members[i];
        int matched = 0;
        if (k->properties) {
            node *sub = lookup(&c->a, k->properties, m->key, m->len);
            if (sub) {
                matched = 1;
                SUB(sub, m->value);
            }
        }
        for (size_t j = 0; k->pattern_properties && j < k->pattern_properties->u.obj.count; j++) {
            if (!matches(c, k->property_patterns[j], m->key, m->len)) {
                if (c->stop) return 0;
                continue;
            }
            matched = 1;
            SUB(k->pattern_properties->u.obj.members[j].value, m->value);
        }
        if (!matched && k->additional_properties) {
            if (k->additional_properties->kind == J_FALSE) {
                FAIL_SHOWING(shown_string(m->key, m->len), m->value, "additionalProperties",
                             k->additional_properties, "property %s is not allowed");
            } else {
                SUB(k->additional_properties, m->value);
            }
        }
        if (k->property_names && !check_name(c, k, inst, m, collect)) {
            ok = 0;
            if (!collect || c->stop) return 0;
        }
    }
    return ok;
}

/* required, minProperties, maxProperties and the dependencies. */
static NOINLINE int check_object(ctx *c, const schema *k, node *inst, int collect) {
    int ok = 1;
    size_t n = inst->u.obj.count;
    if (k->required && !check_present(c, inst, k->required, "required", NULL, collect)) {
        ok = 0;
        if (!collect || c->stop) return 0;
    }
    if (k->min_properties && n < k->min_properties->u.number)
        FAIL_COUNT("minProperties", k->min_properties, "at least", "property", "properties", n);
    if (k->max_properties && n > k->max_properties->u.number)
        FAIL_COUNT("maxProperties", k->max_properties, "at most", "property", "properties", n);
    node *maps[3] = {k->dependent_required, k->dependent_schemas, k->dependencies};
    for (int which = 0; which < 3; which++) {
        for (size_t i = 0; maps[which] && i < maps[which]->u.obj.count; i++) {
            const member *d = &maps[which]->u.obj.members[i];
            if (!lookup(&c->a, inst, d->key, d->len)) continue;
            if (d->value->kind == J_ARRAY) {
                if (!check_present(c, inst, d->value, which ? "dependencies" : "dependentRequired",
                                   d, collect)) {
                    ok = 0;
                    if (!collect || c->stop) return 0;
                }
            } else {
                SUB(d->value, inst);
            }
        }
    }
    return ok;
}

/* When no branch of anyOf/oneOf matched and just one of them is for this type of value,
   its errors say more than "matches none". */
static void explain(ctx *c, const node *branches, node *inst) {
    node *only = NULL;
    unsigned bits = kind_bits(inst);
    for (size_t i = 0; i < branches->u.arr.count; i++) {
        node *b = branches->u.arr.items[i];
        if (b->kind != J_OBJECT || !b->schema->type || !(b->schema->types & bits)) continue;
        if (only) return;
        only = b;
    }
    if (only) validate(c, only, inst, 1);
}

static NOINLINE int check_logic(ctx *c, const schema *k, node *inst, int collect) {
    int ok = 1;
    for (size_t i = 0; k->all_of && i < k->all_of->u.arr.count; i++) SUB(k->all_of->u.arr.items[i], inst);
    if (k->any_of) {
        size_t n = k->any_of->u.arr.count, i = 0;
        while (i < n && !validate(c, k->any_of->u.arr.items[i], inst, 0) && !c->stop) i++;
        if (c->stop) return 0;
        if (i == n) {
            FAIL(inst, "anyOf", k->any_of, "does not match any of the %zu schemas in anyOf", n);
            explain(c, k->any_of, inst);
        }
    }
    if (k->one_of) {
        size_t n = k->one_of->u.arr.count, first = n, second = n;
        for (size_t i = 0; i < n && second == n && !c->stop; i++) {
            if (!validate(c, k->one_of->u.arr.items[i], inst, 0)) continue;
            if (first == n) first = i;
            else second = i;
        }
        if (c->stop) return 0;
        if (first == n) {
            FAIL(inst, "oneOf", k->one_of, "does not match any of the %zu schemas in oneOf", n);
            explain(c, k->one_of, inst);
        } else if (second != n) {
            FAIL(inst, "oneOf", k->one_of,
                 "matches more than one schema in oneOf (%zu and %zu); exactly one must match",
                 first, second);
        }
    }
    if (k->not_) {
        int matched = validate(c, k->not_, inst, 0);
        if (c->stop) return 0;
        if (matched) FAIL(inst, "not", k->not_, "must not match the schema in `not`");
    }
    if (k->if_ && (k->then_ || k->else_)) {
        int yes = validate(c, k->if_, inst, 0);
        if (c->stop) return 0;
        node *branch = yes ? k->then_ : k->else_;
        if (branch) SUB(branch, inst);
    }
    return ok;
}

/* Start following `$ref` k->target on `inst`; 0 (a problem) for a loop: the same target on
   the same value already in progress (a value's refs are on top of the stack, as values
   deeper in the instance come after). validate() pops the refs it pushed. */
static NOINLINE int enter_ref(ctx *c, const schema *k, node *inst) {
    for (size_t i = c->n_refs; i-- > 0 && c->refs[i].instance == inst;) {
        if (c->refs[i].schema != k->target) continue;
        cx_out path = {0};
        write_pointer(&path, k->ref);
        give_up(c, "invalid schema at %s: this $ref leads back to itself without going into the "
                   "value (a loop)", path.data);
        free(path.data);
        return 0;
    }
    if (c->n_refs == MAX_REFS)
        return give_up(c, "the schema follows more than %d $refs at once", MAX_REFS);
    c->refs[c->n_refs].schema = k->target;
    c->refs[c->n_refs++].instance = inst;
    return 1;
}

/* Does `inst` satisfy schema `s`? When `collect`, every failure is reported (up to max). */
static int validate(ctx *c, node *s, node *inst, int collect) {
    if (c->depth >= MAX_EVAL_DEPTH)
        return give_up(c, "the schema nests more than %d subschemas deep on this value (a "
                          "recursive $ref on deep data?)", MAX_EVAL_DEPTH);
    size_t refs = c->n_refs;
    int ok = 1;
    c->depth++;
    /* A bare {"$ref": ...} is followed here, not by recursing: recursive schemas are mostly
       made of them, and each frame is native stack. */
    while (!c->stop && s->kind == J_OBJECT && s->schema->only_ref) {
        if (!enter_ref(c, s->schema, inst)) break;
        s = s->schema->target;
    }
    const schema *k = s->schema;
#define STEP(call) do { if (!(call)) { ok = 0; if (!collect || c->stop) goto done; } } while (0)
    if (c->stop) {
        ok = 0;
    } else if (s->kind == J_TRUE) {
        ok = 1;
    } else if (s->kind == J_FALSE) {
        if (collect) report(c, inst, "false", s, "no value is allowed here (the schema is false)");
        ok = 0;
    } else {
        if (k->ref) {  /* in progress while its target is checked, not while the rest is */
            size_t before = c->n_refs;
            int followed = enter_ref(c, k, inst) && validate(c, k->target, inst, collect);
            c->n_refs = before;
            STEP(followed);
        }
        STEP(check_any(c, k, inst, collect));
        switch (inst->kind) {
        case J_NUMBER: STEP(check_number(c, k, inst, collect)); break;
        case J_STRING: STEP(check_string(c, k, inst, collect)); break;
        case J_ARRAY: STEP(check_array(c, k, inst, collect)); break;
        case J_OBJECT:
            STEP(check_members(c, k, inst, collect));
            STEP(check_object(c, k, inst, collect));
            break;
        default: break;
        }
        STEP(check_logic(c, k, inst, collect));
    }
#undef STEP
done:
    c->n_refs = refs;
    c->depth--;
    return ok;
}

/* ---- the tool ---- */

enum { A_SCHEMA, A_SCHEMA_JSON, A_INSTANCE, A_INSTANCE_JSON, A_MAX_ERRORS, A_COUNT };
static const char *const argument_names[A_COUNT] = {
    "schema", "schema_json", "instance", "instance_json", "max_errors"
};

typedef struct { const char *value; size_t len; } span;

/* The arguments' raw values in one pass: the instance can be megabytes, and each cx_arg_*
   call would scan past it again. */
static void read_arguments(const cx_args *args, span *found) {
    const char *end = args->json + args->len, *p = cx__ws(args->json, end);
    if (p >= end || *p != '{') return;
    for (p++;;) {
        p = cx__ws(p, end);
        if (p >= end || *p != '"') return;
        const char *name = p + 1, *after = cx__skip_string(p, end);
        if (!after) return;
        size_t name_len = (size_t)(after - 1 - name);
        p = cx__ws(after, end);
        if (p >= end || *p != ':') return;
        const char *v = cx__ws(p + 1, end), *v_end = cx__skip_value(v, end);
        if (!v_end) return;
        for (int i = 0; i < A_COUNT; i++)
            if (!found[i].value && strlen(argument_names[i]) == name_len
                && memcmp(argument_names[i], name, name_len) == 0) {
                found[i].value = v;
                found[i].len = (size_t)(v_end - v);
            }
        p = cx__ws(v_end, end);
        if (p < end && *p == ',') p++;
    }
}

/* The document given as `found[which]` (JSON in the arguments) or `found[which + 1]` (a
   string holding JSON); NULL with the reason in `why`. */
static node *load(ctx *c, const span *found, int which, const char *noun, cx_out *why) {
    const span *value = &found[which], *text = &found[which + 1];
    const char *value_key = argument_names[which], *text_key = argument_names[which + 1];
    if (value->value && text->value) {
        cx_printf(why, "give `%s` or `%s`, not both", value_key, text_key);
        return NULL;
    }
    if (!value->value && !text->value) {
        cx_printf(why, "`%s` (the %s itself) or `%s` (the %s as JSON text) is required",
                  value_key, noun, text_key, noun);
        return NULL;
    }
    if (value->value) return parse_document(&c->a, value->value, value->len, value_key, 0, why);
    parser P = {0};  /* decode the string argument into the arena */
    P.p = text->value;
    P.end = text->value + text->len;
    P.a = &c->a;
    const char *decoded;
    size_t len;
    if (*text->value != '"' || !parse_string(&P, &decoded, &len)) {
        cx_printf(why, "`%s` must be a string holding JSON; to pass the %s itself, use `%s`",
                  text_key, noun, value_key);
        return NULL;
    }
    return parse_document(&c->a, decoded, len, text_key, 1, why);
}

static int validate_tool(const cx_args *args, cx_out *out) {
    ctx c = {0};
    span found[A_COUNT] = {{0}};
    int failed = 1;
    setlocale(LC_CTYPE, "C.UTF-8");  /* patterns match characters, not bytes */
    read_arguments(args, found);
    if (found[A_SCHEMA].value && *found[A_SCHEMA].value == '"') {
        cx_printf(&c.problem, "`schema` is a string: pass JSON text as `schema_json`, or the "
                              "schema itself (an object) as `schema`");
        goto finish;
    }
    if (!(c.root = load(&c, found, A_SCHEMA, "schema", &c.problem))) goto finish;
    node *instance = load(&c, found, A_INSTANCE, "value", &c.problem);
    if (!instance) goto finish;
    double max = DEFAULT_MAX_ERRORS;
    const span *m = &found[A_MAX_ERRORS];
    if (m->value && (*m->value == '-' || (*m->value >= '0' && *m->value <= '9')))
        number_value(m->value, m->value + m->len, &max);
    c.max = !(max >= 1) ? 1 : max > MAX_MAX_ERRORS ? MAX_MAX_ERRORS : (size_t)max;
    if (!compile_all(&c)) goto finish;
    if (!(c.refs = malloc(MAX_REFS * sizeof *c.refs))) {
        give_up(&c, "out of memory");
        goto finish;
    }
    int valid = validate(&c, c.root, instance, 1);
    if (c.problem.len) goto finish;
    cx_printf(out, "{\"valid\":%s,\"errors\":[", valid && c.count == 0 ? "true" : "false");
    if (c.errors.len) cx_write(out, c.errors.data, c.errors.len);
    cx_write(out, "]", 1);
    if (c.truncated) cx_printf(out, ",\"truncated\":true");
    if (c.n_unsupported) {
        cx_printf(out, ",\"unsupported\":[");
        cx_write(out, c.unsupported.data, c.unsupported.len);
        cx_write(out, "]", 1);
    }
    cx_write(out, "}", 1);
    failed = 0;
finish:
    if (failed && c.problem.len) cx_write(out, c.problem.data, c.problem.len);
    else if (failed) cx_printf(out, "out of memory");
    for (size_t i = 0; i < c.n_regexes; i++) regfree(c.regexes[i]);
    free(c.regexes);
    free(c.work);
    free(c.refs);
    free(c.text);
    free(c.errors.data);
    free(c.unsupported.data);
    free(c.problem.data);
    arena_free(&c.a);
    return failed;
}

int main(void) {
    static const cx_tool tools[] = {{
        "schema_validate",
        "Check a JSON value against a JSON Schema (draft 2020-12 / draft-07 subset). Give the "
        "schema as `schema` (an object) or `schema_json` (JSON text, e.g. from file_read), and "
        "the value as `instance` or `instance_json`. Returns {\"valid\": bool, \"errors\": "
        "[{\"path\", \"keyword\", \"message\", \"schema_path\"}]} with JSON-Pointer paths, at "
        "most `max_errors` (default 20) errors.",
        "{\"type\":\"object\",\"properties\":{"
        "\"schema\":{\"type\":[\"object\",\"boolean\"],\"description\":\"The JSON Schema.\"},"
        "\"schema_json\":{\"type\":\"string\",\"description\":\"The schema as JSON text, "
        "instead of `schema`.\"},"
        "\"instance\":{\"description\":\"The JSON value to check.\"},"
        "\"instance_json\":{\"type\":\"string\",\"description\":\"The value as JSON text, "
        "instead of `instance`.\"},"
        "\"max_errors\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":20}}}",
        validate_tool,
    }};
    return cx_serve("schema_validate", "0.1.0", tools, 1);
}
