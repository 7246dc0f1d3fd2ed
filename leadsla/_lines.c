/* leadsla._lines: the replay's output encoder in C (built by setup.py next to the mypyc modules).
 *
 * encode_lead(lead_prefix, lead_json, lead_key, outputs, into, counts) does what the pure
 * Python loop of leadsla/codec/outputs.py (_encode_lead_lines) does for one lead's outputs,
 * byte for byte: the wire JSON of each output's data (sorted keys, instants as UTC text, the
 * `suppressed` member of alerts and tasks), its content-derived event_id (SHA-256 of the id
 * prefix and the data without `suppressed`, SPEC.md rule 15), the output line, and the line's
 * sort key, appended to `into` as one bytes object (the key, then the line: a LineRecord);
 * `counts` adds the outputs of each type. join_lines and lines_size read the lines back out of
 * such records.
 *
 * It is an accelerator, never a second definition: the Python module configures it with what
 * it knows (the record shapes and their sorted keys, the type parts cache, orjson.dumps,
 * utc_text, hashlib.sha256), and every value this file does not write itself is written by
 * orjson.dumps: floats that are not small whole numbers, strings with anything but printable
 * ASCII other than quote and backslash, ints beyond 64 bits, anything else. Instants outside
 * years 1-9999 go to utc_text. When an output is not of a shape it knows (a record class it was
 * not configured with, a wrong arity, a type that is not a str, an instant that is not an
 * int, a non-bool `suppressed`), encode_lead returns False before writing anything and the
 * caller runs the Python loop. tests/unit/test_native_lines.py compares both on random
 * records of every shape.
 *
 * SHA-256 comes from the OpenSSL libcrypto that hashlib uses (opened with dlopen: no headers
 * or link-time dependency; the digest is the same whichever library computes it), else from
 * hashlib.sha256 through Python calls.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* SHA-256 */

typedef struct evp_md_st EVP_MD;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef EVP_MD *(*md_fetch_fn)(void *, const char *, const char *);
typedef EVP_MD_CTX *(*ctx_new_fn)(void);
typedef int (*init_fn)(EVP_MD_CTX *, const EVP_MD *, void *);
typedef int (*update_fn)(EVP_MD_CTX *, const void *, size_t);
typedef int (*final_fn)(EVP_MD_CTX *, unsigned char *, unsigned int *);

static EVP_MD *sha256_md = NULL;
static EVP_MD_CTX *sha256_ctx = NULL;
static init_fn digest_init = NULL;
static update_fn digest_update = NULL;
static final_fn digest_final = NULL;

static void
open_libcrypto(void)
{
    static const char *names[] = {"libcrypto.so.3", "libcrypto.so", NULL};
    for (int i = 0; names[i] != NULL; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL) {
            continue;
        }
        md_fetch_fn fetch = (md_fetch_fn)dlsym(lib, "EVP_MD_fetch");
        ctx_new_fn ctx_new = (ctx_new_fn)dlsym(lib, "EVP_MD_CTX_new");
        init_fn init = (init_fn)dlsym(lib, "EVP_DigestInit_ex");
        update_fn update = (update_fn)dlsym(lib, "EVP_DigestUpdate");
        final_fn final = (final_fn)dlsym(lib, "EVP_DigestFinal_ex");
        if (fetch && ctx_new && init && update && final) {
            EVP_MD *md = fetch(NULL, "SHA256", NULL);
            EVP_MD_CTX *ctx = md ? ctx_new() : NULL;
            if (ctx != NULL) {
                sha256_md = md;
                sha256_ctx = ctx;
                digest_init = init;
                digest_update = update;
                digest_final = final;
                return; /* the library stays open for the life of the process */
            }
        }
        dlclose(lib);
    }
}

static PyObject *py_sha256 = NULL; /* hashlib.sha256, when libcrypto could not be used */
static int use_libcrypto = 1; /* cleared by hash_backend("hashlib"): the tests check both */

/* The first 16 bytes of SHA-256(data) as 32 lowercase hex digits into hex. */
static int
digest_hex(const char *data, Py_ssize_t size, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    if (sha256_ctx != NULL && use_libcrypto) {
        unsigned int got = 0;
        if (!digest_init(sha256_ctx, sha256_md, NULL) ||
            !digest_update(sha256_ctx, data, (size_t)size) ||
            !digest_final(sha256_ctx, md, &got) || got != 32) {
            PyErr_SetString(PyExc_RuntimeError, "_lines: OpenSSL's SHA-256 failed");
            return -1;
        }
    }
    else {
        PyObject *bytes = PyBytes_FromStringAndSize(data, size);
        if (bytes == NULL) {
            return -1;
        }
        PyObject *hash = PyObject_CallOneArg(py_sha256, bytes);
        Py_DECREF(bytes);
        if (hash == NULL) {
            return -1;
        }
        PyObject *raw = PyObject_CallMethod(hash, "digest", NULL);
        Py_DECREF(hash);
        if (raw == NULL) {
            return -1;
        }
        if (!PyBytes_Check(raw) || PyBytes_GET_SIZE(raw) != 32) {
            Py_DECREF(raw);
            PyErr_SetString(PyExc_RuntimeError, "_lines: sha256().digest() is not 32 bytes");
            return -1;
        }
        memcpy(md, PyBytes_AS_STRING(raw), 32);
        Py_DECREF(raw);
    }
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* A growable byte buffer (on the stack until it outgrows it) */

typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
    char *heap;
    char stack[4096];
} Buffer;

static void
buffer_init(Buffer *b)
{
    b->data = b->stack;
    b->size = 0;
    b->capacity = (Py_ssize_t)sizeof(b->stack);
    b->heap = NULL;
}

static void
buffer_free(Buffer *b)
{
    PyMem_Free(b->heap);
    b->heap = NULL;
}

static int buffer_grow(Buffer *b, Py_ssize_t more);

static inline int
buffer_reserve(Buffer *b, Py_ssize_t more)
{
    return b->size + more <= b->capacity ? 0 : buffer_grow(b, more);
}

static int
buffer_grow(Buffer *b, Py_ssize_t more)
{
    Py_ssize_t capacity = b->capacity;
    while (capacity < b->size + more) {
        if (capacity > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        capacity *= 2;
    }
    char *grown = PyMem_Malloc((size_t)capacity);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(grown, b->data, (size_t)b->size);
    PyMem_Free(b->heap);
    b->heap = b->data = grown;
    b->capacity = capacity;
    return 0;
}

static int
buffer_add(Buffer *b, const char *data, Py_ssize_t size)
{
    if (buffer_reserve(b, size) < 0) {
        return -1;
    }
    memcpy(b->data + b->size, data, (size_t)size);
    b->size += size;
    return 0;
}

static int
buffer_add_bytes(Buffer *b, PyObject *bytes)
{
    return buffer_add(b, PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes));
}

/* Decimal digits of value into the end of out[24]; returns where they start. */
static char *
decimal(long long value, char *end)
{
    unsigned long long magnitude = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    char *at = end;
    do {
        *--at = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0) {
        *--at = '-';
    }
    return at;
}

static int
buffer_add_int(Buffer *b, long long value)
{
    char text[24];
    char *start = decimal(value, text + sizeof(text));
    return buffer_add(b, start, text + sizeof(text) - start);
}

/* ---------------------------------------------------------------------------------------- */
/* Configuration: what leadsla/codec/outputs.py tells this module at import */

enum { VALUE = 0, TIME = 1, DISPLAY_NAME = 2, SUPPRESSED = 3 };

typedef struct {
    PyObject *key; /* bytes: "name": */
    Py_ssize_t index; /* the field's position in the record */
    int kind;
} Entry;

typedef struct {
    PyTypeObject *cls;
    Py_ssize_t fields; /* the record's arity */
    Py_ssize_t count;
    Entry *entries; /* every key the wire may carry, in sorted order */
    int contact; /* ends with display_name, contact_details */
} Shape;

#define MAX_SHAPES 32
static Shape shapes[MAX_SHAPES];
static int shape_count = 0;
static PyObject *type_parts_cache = NULL; /* dict: type -> (id prefix part, JSON, key part) */
static PyObject *type_parts_fn = NULL; /* fills it */
static PyObject *dumps_fn = NULL; /* orjson.dumps */
static PyObject *utc_text_fn = NULL; /* leadsla.codec.outputs.utc_text */
static int configured = 0;

static void
clear_shapes(void)
{
    for (int i = 0; i < shape_count; i++) {
        for (Py_ssize_t j = 0; j < shapes[i].count; j++) {
            Py_XDECREF(shapes[i].entries[j].key);
        }
        PyMem_Free(shapes[i].entries);
        Py_XDECREF(shapes[i].cls);
    }
    shape_count = 0;
}

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *shape_list, *cache, *parts_fn, *dumps, *utc_text, *sha256;
    if (!PyArg_ParseTuple(args, "O!O!OOOO:configure", &PyList_Type, &shape_list, &PyDict_Type,
                          &cache, &parts_fn, &dumps, &utc_text, &sha256)) {
        return NULL;
    }
    if (PyList_GET_SIZE(shape_list) > MAX_SHAPES) {
        PyErr_SetString(PyExc_ValueError, "configure: too many shapes");
        return NULL;
    }
    clear_shapes();
    configured = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(shape_list); i++) {
        /* (cls, arity, ((key, index, kind), ...), contact) */
        PyObject *cls, *entries;
        Py_ssize_t fields;
        int contact;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(shape_list, i), "O!nO!p:shape", &PyType_Type,
                              &cls, &fields, &PyTuple_Type, &entries, &contact)) {
            clear_shapes();
            return NULL;
        }
        Shape *shape = &shapes[shape_count];
        Py_ssize_t count = PyTuple_GET_SIZE(entries);
        shape->entries = PyMem_Calloc((size_t)(count ? count : 1), sizeof(Entry));
        if (shape->entries == NULL) {
            clear_shapes();
            return PyErr_NoMemory();
        }
        Py_INCREF(cls);
        shape->cls = (PyTypeObject *)cls;
        shape->fields = fields;
        shape->count = count;
        shape->contact = contact;
        shape_count++;
        for (Py_ssize_t j = 0; j < count; j++) {
            PyObject *key;
            Py_ssize_t index;
            int kind;
            if (!PyArg_ParseTuple(PyTuple_GET_ITEM(entries, j), "O!ni:entry", &PyBytes_Type,
                                  &key, &index, &kind)) {
                clear_shapes();
                return NULL;
            }
            if (kind < VALUE || kind > SUPPRESSED || index < 0 || index >= fields) {
                clear_shapes();
                PyErr_SetString(PyExc_ValueError, "configure: bad entry");
                return NULL;
            }
            Py_INCREF(key);
            shape->entries[j] = (Entry){key, index, kind};
        }
    }
    Py_XSETREF(type_parts_cache, Py_NewRef(cache));
    Py_XSETREF(type_parts_fn, Py_NewRef(parts_fn));
    Py_XSETREF(dumps_fn, Py_NewRef(dumps));
    Py_XSETREF(utc_text_fn, Py_NewRef(utc_text));
    Py_XSETREF(py_sha256, Py_NewRef(sha256));
    configured = 1;
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------- */
/* Values */

static int
add_dumped(Buffer *b, PyObject *value)
{
    PyObject *dumped = PyObject_CallOneArg(dumps_fn, value);
    if (dumped == NULL) {
        return -1;
    }
    if (!PyBytes_Check(dumped)) {
        Py_DECREF(dumped);
        PyErr_SetString(PyExc_TypeError, "_lines: dumps did not return bytes");
        return -1;
    }
    int done = buffer_add_bytes(b, dumped);
    Py_DECREF(dumped);
    return done;
}

/* A str that orjson writes as its own characters between quotes: ASCII (so every byte is below
 * 0x80), no control character, quote, backslash or DEL. Eight bytes at a time: a byte below
 * 0x20, or equal to one of the others, sets the high bit of its lane (exact for bytes below
 * 0x80). */
#define LANES(c) (0x0101010101010101ULL * (unsigned char)(c))
#define HIGH LANES(0x80)
#define ZERO_LANE(x) (((x) - LANES(1)) & ~(x) & HIGH)
static int
plain_ascii(PyObject *text)
{
    if (!PyUnicode_IS_ASCII(text)) {
        return 0;
    }
    const unsigned char *c = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, c + i, 8);
        uint64_t low = (x - LANES(0x20)) & ~x & HIGH;
        if (low | ZERO_LANE(x ^ LANES('"')) | ZERO_LANE(x ^ LANES('\\')) |
            ZERO_LANE(x ^ LANES(0x7f))) {
            return 0;
        }
    }
    for (; i < n; i++) {
        if (c[i] < 0x20 || c[i] == '"' || c[i] == '\\' || c[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int
add_value(Buffer *b, PyObject *value)
{
    if (value == Py_None) {
        return buffer_add(b, "null", 4);
    }
    if (value == Py_True) {
        return buffer_add(b, "true", 4);
    }
    if (value == Py_False) {
        return buffer_add(b, "false", 5);
    }
    if (PyUnicode_CheckExact(value) && plain_ascii(value)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(value);
        if (buffer_reserve(b, n + 2) < 0) {
            return -1;
        }
        char *at = b->data + b->size;
        at[0] = '"';
        memcpy(at + 1, PyUnicode_1BYTE_DATA(value), (size_t)n);
        at[n + 1] = '"';
        b->size += n + 2;
        return 0;
    }
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (!overflow) {
            return buffer_add_int(b, v);
        }
    }
    else if (PyFloat_CheckExact(value)) {
        double v = PyFloat_AS_DOUBLE(value);
        /* whole numbers below 1e15 are written as digits and ".0" by orjson (and repr) */
        if (v == floor(v) && fabs(v) < 1e15 && !(v == 0.0 && signbit(v))) {
            if (buffer_add_int(b, (long long)v) < 0) {
                return -1;
            }
            return buffer_add(b, ".0", 2);
        }
    }
    return add_dumped(b, value);
}

/* Instants of years 1-9999 (microseconds since the epoch). */
#define MIN_INSTANT (-62135596800LL * 1000000LL)
#define MAX_INSTANT (253402300800LL * 1000000LL - 1)

static void
two(char *at, int n)
{
    at[0] = (char)('0' + n / 10);
    at[1] = (char)('0' + n % 10);
}

/* format_utc's text of an instant in years 1-9999, without quotes; returns its length. */
static int
utc_chars(long long instant, char *out)
{
    long long whole = instant / 1000000, micro = instant % 1000000;
    if (micro < 0) {
        micro += 1000000;
        whole -= 1;
    }
    long long days = whole / 86400, second = whole % 86400;
    if (second < 0) {
        second += 86400;
        days -= 1;
    }
    /* civil_from_days (Howard Hinnant): the proleptic Gregorian date of a day number */
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    if (m <= 2) {
        y += 1;
    }
    int year = (int)y;
    out[0] = (char)('0' + year / 1000);
    out[1] = (char)('0' + year / 100 % 10);
    out[2] = (char)('0' + year / 10 % 10);
    out[3] = (char)('0' + year % 10);
    out[4] = '-';
    two(out + 5, m);
    out[7] = '-';
    two(out + 8, d);
    out[10] = 'T';
    two(out + 11, (int)(second / 3600));
    out[13] = ':';
    two(out + 14, (int)(second % 3600 / 60));
    out[16] = ':';
    two(out + 17, (int)(second % 60));
    if (!micro) {
        out[19] = 'Z';
        return 20;
    }
    out[19] = '.';
    for (int i = 25; i >= 20; i--) {
        out[i] = (char)('0' + micro % 10);
        micro /= 10;
    }
    out[26] = 'Z';
    return 27;
}

/* An instant's UTC text, quoted (utc_text's, from Python, outside years 1-9999 or when the
 * instant is not an int). */
static int
add_time(Buffer *b, PyObject *value)
{
    if (value == Py_None) {
        return buffer_add(b, "null", 4);
    }
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (!overflow && v >= MIN_INSTANT && v <= MAX_INSTANT) {
            if (buffer_reserve(b, 29) < 0) {
                return -1;
            }
            char *at = b->data + b->size;
            at[0] = '"';
            int n = utc_chars(v, at + 1);
            at[n + 1] = '"';
            b->size += n + 2;
            return 0;
        }
    }
    PyObject *text = PyObject_CallOneArg(utc_text_fn, value);
    if (text == NULL) {
        return -1;
    }
    int done = add_dumped(b, text);
    Py_DECREF(text);
    return done;
}

/* ---------------------------------------------------------------------------------------- */
/* encode_lead */

static Shape *
shape_of(PyObject *data)
{
    PyTypeObject *cls = Py_TYPE(data);
    for (int i = 0; i < shape_count; i++) {
        if (shapes[i].cls == cls) {
            return &shapes[i];
        }
    }
    return NULL;
}

/* Whether every output is one this file encodes (else the caller's Python loop does). */
static int
known(PyObject **items, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *output = items[i];
        if (!PyTuple_Check(output) || PyTuple_GET_SIZE(output) != 4) {
            return 0;
        }
        PyObject *type = PyTuple_GET_ITEM(output, 0);
        PyObject *at = PyTuple_GET_ITEM(output, 1);
        PyObject *data = PyTuple_GET_ITEM(output, 2);
        PyObject *suppressed = PyTuple_GET_ITEM(output, 3);
        if (!PyUnicode_CheckExact(type) || !PyLong_CheckExact(at) ||
            (suppressed != Py_True && suppressed != Py_False) || !PyTuple_Check(data)) {
            return 0;
        }
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(at, &overflow);
        if (overflow || v < MIN_INSTANT || v > MAX_INSTANT) {
            return 0;
        }
        Shape *shape = shape_of(data);
        if (shape == NULL || PyTuple_GET_SIZE(data) != shape->fields) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
type_parts(PyObject *type)
{
    PyObject *parts = PyDict_GetItemWithError(type_parts_cache, type);
    if (parts != NULL) {
        return Py_NewRef(parts);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    parts = PyObject_CallOneArg(type_parts_fn, type);
    if (parts == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(parts) || PyTuple_GET_SIZE(parts) != 3 ||
        !PyBytes_Check(PyTuple_GET_ITEM(parts, 0)) || !PyBytes_Check(PyTuple_GET_ITEM(parts, 1)) ||
        !PyBytes_Check(PyTuple_GET_ITEM(parts, 2))) {
        Py_DECREF(parts);
        PyErr_SetString(PyExc_TypeError, "_lines: type parts must be three bytes");
        return NULL;
    }
    return parts;
}

static int
add_count(PyObject *counts, PyObject *type)
{
    PyObject *count = PyDict_GetItemWithError(counts, type);
    if (count == NULL && PyErr_Occurred()) {
        return -1;
    }
    long long n = 0;
    if (count != NULL) {
        n = PyLong_AsLongLong(count);
        if (n == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    PyObject *next = PyLong_FromLongLong(n + 1);
    if (next == NULL) {
        return -1;
    }
    int done = PyDict_SetItem(counts, type, next);
    Py_DECREF(next);
    return done;
}

static const char SUPPRESSED_TRUE[] = ",\"suppressed\":true";
static const char SUPPRESSED_FALSE[] = ",\"suppressed\":false";

/* One output: appends its record to into. buf is scratch. */
static int
encode_one(PyObject *output, const char *lead_prefix, Py_ssize_t lead_prefix_size,
           PyObject *lead_json, PyObject *lead_key, PyObject *into, Buffer *buf)
{
    PyObject *type = PyTuple_GET_ITEM(output, 0);
    long long at = PyLong_AsLongLong(PyTuple_GET_ITEM(output, 1));
    if (at == -1 && PyErr_Occurred()) {
        return -1;
    }
    PyObject *data = PyTuple_GET_ITEM(output, 2);
    int suppressed = PyTuple_GET_ITEM(output, 3) == Py_True;
    Shape *shape = shape_of(data);
    PyObject *parts = type_parts(type);
    if (parts == NULL) {
        return -1;
    }
    PyObject *type_id = PyTuple_GET_ITEM(parts, 0);
    PyObject *type_json = PyTuple_GET_ITEM(parts, 1);
    PyObject *type_key = PyTuple_GET_ITEM(parts, 2);

    /* The id's input: the prefix, then the data without suppressed (the "hashed" JSON). */
    buf->size = 0;
    if (buffer_add(buf, lead_prefix, lead_prefix_size) < 0 || buffer_add_bytes(buf, type_id) < 0 ||
        buffer_add_int(buf, at) < 0 || buffer_add(buf, "", 1) < 0) {
        goto fail;
    }
    Py_ssize_t data_start = buf->size;
    Py_ssize_t insert_at = -1; /* where the suppressed member goes, in buf */
    int named = shape->contact && PyTuple_GET_ITEM(data, shape->fields - 1) == Py_True;
    int first = 1;
    if (buffer_add(buf, "{", 1) < 0) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < shape->count; i++) {
        Entry *entry = &shape->entries[i];
        if (entry->kind == SUPPRESSED) {
            insert_at = buf->size;
            continue;
        }
        if (entry->kind == DISPLAY_NAME && !named) {
            continue;
        }
        if (!first && buffer_add(buf, ",", 1) < 0) {
            goto fail;
        }
        first = 0;
        if (buffer_add_bytes(buf, entry->key) < 0) {
            goto fail;
        }
        PyObject *value = PyTuple_GET_ITEM(data, entry->index);
        if ((entry->kind == TIME ? add_time(buf, value) : add_value(buf, value)) < 0) {
            goto fail;
        }
    }
    if (buffer_add(buf, "}", 1) < 0) { /* a suppressed member last goes before it */
        goto fail;
    }

    char hex[32];
    if (digest_hex(buf->data, buf->size, hex) < 0) {
        goto fail;
    }

    /* The record: the key (occurred_at as 8 bytes, big-endian, biased; the lead; the type),
     * then the line */
    static const char p1[] = "{\"event_id\":\"";
    static const char p2[] = "\",\"type\":";
    static const char p3[] = ",\"lead_id\":";
    static const char p4[] = ",\"occurred_at\":\"";
    static const char p5[] = "\",\"data\":";
    char when[28];
    int when_size = utc_chars(at, when);
    const char *member = suppressed ? SUPPRESSED_TRUE : SUPPRESSED_FALSE;
    Py_ssize_t member_size = insert_at >= 0 ? (Py_ssize_t)strlen(member) : 0;
    Py_ssize_t data_size = buf->size - data_start;
    Py_ssize_t size = 8 + PyBytes_GET_SIZE(lead_key) + PyBytes_GET_SIZE(type_key) +
                      (Py_ssize_t)(sizeof(p1) - 1) + 32 + (Py_ssize_t)(sizeof(p2) - 1) +
                      PyBytes_GET_SIZE(type_json) + (Py_ssize_t)(sizeof(p3) - 1) +
                      PyBytes_GET_SIZE(lead_json) + (Py_ssize_t)(sizeof(p4) - 1) + when_size +
                      (Py_ssize_t)(sizeof(p5) - 1) + data_size + member_size + 1;
    PyObject *record = PyBytes_FromStringAndSize(NULL, size);
    if (record == NULL) {
        goto fail;
    }
    char *out = PyBytes_AS_STRING(record);
#define PUT(src, n)                                                                               \
    do {                                                                                          \
        memcpy(out, (src), (size_t)(n));                                                          \
        out += (n);                                                                               \
    } while (0)
    uint64_t biased = (uint64_t)at + (UINT64_C(1) << 63);
    for (int i = 7; i >= 0; i--) {
        out[i] = (char)(biased & 0xff);
        biased >>= 8;
    }
    out += 8;
    PUT(PyBytes_AS_STRING(lead_key), PyBytes_GET_SIZE(lead_key));
    PUT(PyBytes_AS_STRING(type_key), PyBytes_GET_SIZE(type_key));
    PUT(p1, sizeof(p1) - 1);
    PUT(hex, 32);
    PUT(p2, sizeof(p2) - 1);
    PUT(PyBytes_AS_STRING(type_json), PyBytes_GET_SIZE(type_json));
    PUT(p3, sizeof(p3) - 1);
    PUT(PyBytes_AS_STRING(lead_json), PyBytes_GET_SIZE(lead_json));
    PUT(p4, sizeof(p4) - 1);
    PUT(when, when_size);
    PUT(p5, sizeof(p5) - 1);
    if (insert_at >= 0) {
        PUT(buf->data + data_start, insert_at - data_start);
        PUT(member, member_size);
        PUT(buf->data + insert_at, buf->size - insert_at);
    }
    else {
        PUT(buf->data + data_start, data_size);
    }
    *out++ = '}';
#undef PUT
    assert(out == PyBytes_AS_STRING(record) + size);
    Py_DECREF(parts);
    int done = PyList_Append(into, record);
    Py_DECREF(record);
    return done;

fail:
    Py_DECREF(parts);
    return -1;
}

static PyObject *
encode_lead(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "encode_lead takes 6 arguments");
        return NULL;
    }
    PyObject *lead_prefix = args[0], *lead_json = args[1], *lead_key = args[2];
    PyObject *outputs = args[3], *into = args[4], *counts = args[5];
    if (!PyBytes_Check(lead_prefix) || !PyBytes_Check(lead_json) || !PyBytes_Check(lead_key) ||
        !PyList_Check(into) || !PyDict_Check(counts)) {
        PyErr_SetString(PyExc_TypeError, "encode_lead(bytes, bytes, bytes, outputs, list, dict)");
        return NULL;
    }
    if (!configured) {
        Py_RETURN_FALSE;
    }
    /* A tuple of its own: the outputs stay alive and in place whatever Python code the
     * encoding calls (orjson.dumps, utc_text) might do to the caller's list. */
    PyObject *sequence = PySequence_Tuple(outputs);
    if (sequence == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(sequence);
    PyObject **items = &PyTuple_GET_ITEM(sequence, 0);
    if (!known(items, n)) {
        Py_DECREF(sequence);
        Py_RETURN_FALSE;
    }
    Buffer buf;
    buffer_init(&buf);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (encode_one(items[i], PyBytes_AS_STRING(lead_prefix), PyBytes_GET_SIZE(lead_prefix),
                       lead_json, lead_key, into, &buf) < 0 ||
            add_count(counts, PyTuple_GET_ITEM(items[i], 0)) < 0) {
            buffer_free(&buf);
            Py_DECREF(sequence);
            return NULL;
        }
    }
    buffer_free(&buf);
    Py_DECREF(sequence);
    Py_RETURN_TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* Records -> output bytes */

/* Where a record's line starts: after the first 00 00 past its 8-byte instant (the lead's end)
 * and the next one (the type's); -1 if it has none (not a record). */
static Py_ssize_t
line_start(const char *data, Py_ssize_t size)
{
    Py_ssize_t i = 8;
    for (int ends = 0; ends < 2; ends++) {
        for (;;) {
            if (i + 1 >= size) {
                return -1;
            }
            const char *zero = memchr(data + i, 0, (size_t)(size - i - 1));
            if (zero == NULL) {
                return -1;
            }
            i = zero - data;
            if (data[i + 1] == 0) {
                i += 2;
                break;
            }
            i += 1;
        }
    }
    return i;
}

static int
records_arg(PyObject *records, const char *name)
{
    if (!PyList_Check(records)) {
        PyErr_Format(PyExc_TypeError, "%s: records must be a list", name);
        return -1;
    }
    return 0;
}

static Py_ssize_t
record_line_start(PyObject *record)
{
    if (!PyBytes_Check(record)) {
        PyErr_SetString(PyExc_TypeError, "a line record must be bytes");
        return -1;
    }
    Py_ssize_t start = line_start(PyBytes_AS_STRING(record), PyBytes_GET_SIZE(record));
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "subsection not found"); /* bytes.index's error */
    }
    return start;
}

/* The bytes join_lines writes for records (no Python object is made: nothing can change the
 * list between this and the copy), or -1 with an exception. */
static Py_ssize_t
lines_total(PyObject *records)
{
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        Py_ssize_t start = record_line_start(record);
        if (start < 0) {
            return -1;
        }
        total += PyBytes_GET_SIZE(record) - start + 1;
    }
    return total;
}

static PyObject *
lines_size(PyObject *self, PyObject *records)
{
    if (records_arg(records, "lines_size") < 0) {
        return NULL;
    }
    Py_ssize_t total = lines_total(records);
    return total < 0 ? NULL : PyLong_FromSsize_t(total);
}

static PyObject *
join_lines(PyObject *self, PyObject *records)
{
    if (records_arg(records, "join_lines") < 0) {
        return NULL;
    }
    Py_ssize_t total = lines_total(records);
    if (total < 0) {
        return NULL;
    }
    PyObject *joined = PyBytes_FromStringAndSize(NULL, total);
    if (joined == NULL) {
        return NULL;
    }
    char *out = PyBytes_AS_STRING(joined);
    char *end = out + total;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        const char *data = PyBytes_AS_STRING(record);
        Py_ssize_t n = PyBytes_GET_SIZE(record);
        Py_ssize_t start = line_start(data, n);
        if (start < 0 || n - start + 1 > end - out) { /* cannot happen: measured just above */
            Py_DECREF(joined);
            PyErr_SetString(PyExc_RuntimeError, "join_lines: the records changed");
            return NULL;
        }
        memcpy(out, data + start, (size_t)(n - start));
        out += n - start;
        *out++ = '\n';
    }
    return joined;
}

/* sort_records(records): list.sort() of a list of line records (bytes of 8 bytes or more), in
 * the same order (bytes order): a radix sort by the first 8 bytes (the instant's big-endian
 * key), then the records of one instant by memcmp. Nothing it calls is Python code, so the list
 * cannot change while it sorts. Returns False, with the list untouched, when an item is not
 * bytes of 8 bytes or more: the caller then calls list.sort(). */
typedef struct {
    uint64_t key;
    PyObject *record;
} SortItem;

static int
compare_records(const void *a, const void *b)
{
    PyObject *x = ((const SortItem *)a)->record, *y = ((const SortItem *)b)->record;
    Py_ssize_t nx = PyBytes_GET_SIZE(x), ny = PyBytes_GET_SIZE(y);
    int c = memcmp(PyBytes_AS_STRING(x), PyBytes_AS_STRING(y), (size_t)(nx < ny ? nx : ny));
    return c != 0 ? c : (nx > ny) - (nx < ny);
}

static PyObject *
sort_records(PyObject *self, PyObject *records)
{
    if (!PyList_CheckExact(records)) {
        PyErr_SetString(PyExc_TypeError, "sort_records: records must be a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(records);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        if (!PyBytes_CheckExact(record) || PyBytes_GET_SIZE(record) < 8) {
            Py_RETURN_FALSE;
        }
    }
    if (n < 2) {
        Py_RETURN_TRUE;
    }
    SortItem *items = PyMem_Malloc((size_t)n * 2 * sizeof(SortItem));
    if (items == NULL) {
        return PyErr_NoMemory();
    }
    SortItem *spare = items + n;
    uint64_t all_and = ~(uint64_t)0, all_or = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(PyList_GET_ITEM(records, i));
        uint64_t key = 0;
        for (int k = 0; k < 8; k++) {
            key = (key << 8) | b[k];
        }
        items[i].key = key;
        items[i].record = PyList_GET_ITEM(records, i);
        all_and &= key;
        all_or |= key;
    }
    /* Least significant digit first, 16 bits at a time; digits equal in every key are skipped
     * (the high bits of instants close in time). Each pass is stable. */
    Py_ssize_t *counts = PyMem_Calloc(65536, sizeof(Py_ssize_t));
    if (counts == NULL) {
        PyMem_Free(items);
        return PyErr_NoMemory();
    }
    for (int shift = 0; shift < 64; shift += 16) {
        if ((((all_and ^ all_or) >> shift) & 0xFFFF) == 0) {
            continue;
        }
        memset(counts, 0, 65536 * sizeof(Py_ssize_t));
        for (Py_ssize_t i = 0; i < n; i++) {
            counts[(items[i].key >> shift) & 0xFFFF]++;
        }
        Py_ssize_t at = 0;
        for (int d = 0; d < 65536; d++) {
            Py_ssize_t c = counts[d];
            counts[d] = at;
            at += c;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            spare[counts[(items[i].key >> shift) & 0xFFFF]++] = items[i];
        }
        SortItem *t = items;
        items = spare;
        spare = t;
    }
    PyMem_Free(counts);
    /* The records of one instant, by their whole bytes. */
    for (Py_ssize_t i = 0; i < n;) {
        Py_ssize_t j = i + 1;
        while (j < n && items[j].key == items[i].key) {
            j++;
        }
        if (j - i > 1) {
            qsort(items + i, (size_t)(j - i), sizeof(SortItem), compare_records);
        }
        i = j;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyList_SET_ITEM(records, i, items[i].record); /* the same references, in order */
    }
    PyMem_Free(items < spare ? items : spare);
    Py_RETURN_TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* Runs: sorted records in files, merged without a Python object per record */

/* pack_records(records, start, stop): records[start:stop] as a run's bytes, each record after
 * its size (4 bytes, little-endian). */
static PyObject *
pack_records(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "pack_records(records, start, stop)");
        return NULL;
    }
    PyObject *records = args[0];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]), stop = PyLong_AsSsize_t(args[2]);
    if ((start == -1 || stop == -1) && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(records);
    start = start < 0 ? 0 : (start > n ? n : start);
    stop = stop < start ? start : (stop > n ? n : stop);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = start; i < stop; i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        if (!PyBytes_Check(record) || PyBytes_GET_SIZE(record) > 0x7FFFFFFF) {
            PyErr_SetString(PyExc_TypeError, "pack_records: a record must be bytes under 2 GiB");
            return NULL;
        }
        total += 4 + PyBytes_GET_SIZE(record);
    }
    PyObject *packed = PyBytes_FromStringAndSize(NULL, total);
    if (packed == NULL) {
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(packed);
    for (Py_ssize_t i = start; i < stop; i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        uint32_t size = (uint32_t)PyBytes_GET_SIZE(record);
        out[0] = (unsigned char)size;
        out[1] = (unsigned char)(size >> 8);
        out[2] = (unsigned char)(size >> 16);
        out[3] = (unsigned char)(size >> 24);
        memcpy(out + 4, PyBytes_AS_STRING(record), size);
        out += 4 + size;
    }
    return packed;
}

typedef struct {
    const unsigned char *data; /* the run's window */
    Py_ssize_t at, end;        /* its next record, and the end of what was read */
    Py_ssize_t size;           /* the next record's size */
    Py_ssize_t index;          /* its place in the runs list */
} Run;

/* Whether a run's window holds its next record whole (and its size, then). */
static int
run_ready(Run *r)
{
    if (r->end - r->at < 4) {
        return 0;
    }
    const unsigned char *p = r->data + r->at;
    r->size = (Py_ssize_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
    return r->end - r->at - 4 >= r->size;
}

static int
run_less(const Run *x, const Run *y)
{
    Py_ssize_t nx = x->size, ny = y->size;
    int c = memcmp(x->data + x->at + 4, y->data + y->at + 4, (size_t)(nx < ny ? nx : ny));
    return c != 0 ? c < 0 : nx < ny;
}

static void
sift_down(Run **heap, Py_ssize_t n, Py_ssize_t i)
{
    for (;;) {
        Py_ssize_t least = i, l = 2 * i + 1, r = l + 1;
        if (l < n && run_less(heap[l], heap[least])) {
            least = l;
        }
        if (r < n && run_less(heap[r], heap[least])) {
            least = r;
        }
        if (least == i) {
            return;
        }
        Run *t = heap[i];
        heap[i] = heap[least];
        heap[least] = t;
        i = least;
    }
}

/* merge_runs(runs, out): merge sorted runs into out (a writable buffer) as output lines.
 *
 * runs: a list of [window, at, end] lists, window a buffer holding packed records
 * (pack_records) from offset at up to end. Records are taken in bytes order (list.sort's) and
 * their lines written into out, each with a newline, while out has room; each run's at is
 * moved past what was taken. Returns (bytes written, records written, run): run is the index
 * of a run whose window holds no whole record (to be read further, or ended), or -1 when out
 * is full (or no run is left). */
static PyObject *
merge_runs(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "merge_runs(runs, out)");
        return NULL;
    }
    PyObject *runs = args[0];
    Py_ssize_t k = PyList_GET_SIZE(runs);
    Py_buffer out;
    if (PyObject_GetBuffer(args[1], &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        return NULL;
    }
    Run *items = PyMem_Calloc((size_t)(k ? k : 1), sizeof(Run));
    Run **heap = PyMem_Calloc((size_t)(k ? k : 1), sizeof(Run *));
    Py_buffer *views = PyMem_Calloc((size_t)(k ? k : 1), sizeof(Py_buffer));
    Py_ssize_t held = 0, written = 0, count = 0, stop = -1, n = 0;
    PyObject *result = NULL;
    if (items == NULL || heap == NULL || views == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *run = PyList_GET_ITEM(runs, i);
        if (!PyList_Check(run) || PyList_GET_SIZE(run) != 3) {
            PyErr_SetString(PyExc_TypeError, "merge_runs: a run is a [window, at, end] list");
            goto done;
        }
        if (PyObject_GetBuffer(PyList_GET_ITEM(run, 0), &views[i], PyBUF_C_CONTIGUOUS) < 0) {
            goto done;
        }
        held++;
        Run *r = &items[i];
        r->data = views[i].buf;
        r->at = PyLong_AsSsize_t(PyList_GET_ITEM(run, 1));
        r->end = PyLong_AsSsize_t(PyList_GET_ITEM(run, 2));
        r->index = i;
        if (PyErr_Occurred()) {
            goto done;
        }
        if (r->at < 0 || r->end < r->at || r->end > views[i].len) {
            PyErr_SetString(PyExc_ValueError, "merge_runs: a run's at and end are off its window");
            goto done;
        }
        if (!run_ready(r)) {
            stop = i;
            break;
        }
        heap[n++] = r;
    }
    if (stop < 0) {
        for (Py_ssize_t i = n / 2 - 1; i >= 0; i--) {
            sift_down(heap, n, i);
        }
        char *to = out.buf;
        while (n > 0) {
            Run *r = heap[0];
            const char *record = (const char *)r->data + r->at + 4;
            Py_ssize_t start = line_start(record, r->size);
            if (start < 0) {
                PyErr_SetString(PyExc_ValueError, "merge_runs: a run holds a record without a line");
                goto done;
            }
            Py_ssize_t line = r->size - start;
            if (out.len - written < line + 1) {
                break;
            }
            memcpy(to + written, record + start, (size_t)line);
            written += line;
            to[written++] = '\n';
            count++;
            r->at += 4 + r->size;
            if (!run_ready(r)) {
                stop = r->index;
                break;
            }
            sift_down(heap, n, 0);
        }
    }
    for (Py_ssize_t i = 0; i < held; i++) { /* not the runs after one that was not ready */
        PyObject *at = PyLong_FromSsize_t(items[i].at);
        if (at == NULL || PyList_SetItem(PyList_GET_ITEM(runs, i), 1, at) < 0) {
            goto done;
        }
    }
    result = Py_BuildValue("nnn", written, count, stop);
done:
    for (Py_ssize_t i = 0; i < held; i++) {
        PyBuffer_Release(&views[i]);
    }
    PyBuffer_Release(&out);
    PyMem_Free(items);
    PyMem_Free(heap);
    PyMem_Free(views);
    return result;
}

/* new_record(cls, items): tuple.__new__(cls, items) for a tuple subclass cls (a NamedTuple
 * record) and a tuple of items: the same record, made by one allocation, without a generic
 * call. The engine builds its records with it when this module is built
 * (leadsla.domain.engine.use_record_builder). */
static PyObject *
new_record(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyType_Check(args[0]) || !PyTuple_CheckExact(args[1]) ||
        (PyTypeObject *)args[0] == &PyTuple_Type ||
        !PyType_IsSubtype((PyTypeObject *)args[0], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError,
                        "new_record(cls, items): a subclass of tuple and a tuple of items");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    PyObject *items = args[1];
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject *record = cls->tp_alloc(cls, n);
    if (record == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(record, i, Py_NewRef(PyTuple_GET_ITEM(items, i)));
    }
    return record;
}

static PyObject *
utc(PyObject *self, PyObject *arg)
{
    long long v = PyLong_AsLongLong(arg);
    if (v == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (v < MIN_INSTANT || v > MAX_INSTANT) {
        PyErr_SetString(PyExc_ValueError, "utc: outside years 1-9999");
        return NULL;
    }
    char text[28];
    int n = utc_chars(v, text);
    return PyUnicode_FromStringAndSize(text, n);
}

static PyObject *
hash_backend(PyObject *self, PyObject *args)
{
    const char *wanted = NULL;
    if (!PyArg_ParseTuple(args, "|s:hash_backend", &wanted)) {
        return NULL;
    }
    if (wanted != NULL) {
        if (strcmp(wanted, "hashlib") == 0) {
            use_libcrypto = 0;
        }
        else if (strcmp(wanted, "libcrypto") == 0 && sha256_ctx != NULL) {
            use_libcrypto = 1;
        }
        else {
            PyErr_Format(PyExc_ValueError, "hash_backend: %s is not available", wanted);
            return NULL;
        }
    }
    return PyUnicode_FromString(sha256_ctx != NULL && use_libcrypto ? "libcrypto" : "hashlib");
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(shapes, type_parts_cache, type_parts, dumps, utc_text, sha256)"},
    {"encode_lead", (PyCFunction)(void (*)(void))encode_lead, METH_FASTCALL,
     "encode_lead(lead_prefix, lead_json, lead_key, outputs, into, counts) -> bool"},
    {"lines_size", lines_size, METH_O, "lines_size(records) -> bytes of their lines, newlines included"},
    {"join_lines", join_lines, METH_O, "join_lines(records) -> their lines, each with a newline"},
    {"pack_records", (PyCFunction)(void (*)(void))pack_records, METH_FASTCALL,
     "pack_records(records, start, stop) -> records[start:stop], each after its size (4 bytes)"},
    {"merge_runs", (PyCFunction)(void (*)(void))merge_runs, METH_FASTCALL,
     "merge_runs(runs, out) -> (bytes, records, run): sorted packed runs merged into out"},
    {"new_record", (PyCFunction)(void (*)(void))new_record, METH_FASTCALL,
     "new_record(cls, items) -> tuple.__new__(cls, items), for a tuple subclass"},
    {"sort_records", sort_records, METH_O,
     "sort_records(records) -> True: sorted as list.sort() would; False: not all line records"},
    {"utc", utc, METH_O, "utc(instant) -> the UTC text of an instant of years 1-9999"},
    {"hash_backend", hash_backend, METH_VARARGS,
     "hash_backend([name]) -> what computes SHA-256: 'libcrypto' or 'hashlib' (name chooses)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "leadsla._lines", "The replay's output encoder (see _lines.c).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__lines(void)
{
    open_libcrypto();
    return PyModule_Create(&module);
}
