/* leadsla._events: the replay's input decoder in C (built by setup.py next to the mypyc modules).
 *
 * decode(line) reads one JSON line of the plain input envelope (SPEC.md section 2) and returns
 * the engine's event for it, the same object leadsla.codec.inputs.decode_envelope_fast returns
 * for orjson.loads(line), or None when it does not take the line as plainly valid. None is
 * never a refusal: the caller then runs the Python path (orjson, the hand-written checks, and
 * pydantic, which decides and explains). So the C decoder only has to be right on what it
 * accepts, and it accepts little:
 *
 * - one JSON object, with JSON whitespace around it and between its tokens;
 * - strings without escapes or control characters (UTF-8 beyond ASCII is checked by Python's
 *   strict decoder); keys in plain ASCII;
 * - numbers: the schema_version it was configured with, as an integer token; elsewhere (in
 *   members the envelope does not read) integers of up to 18 digits and decimals of up to 15
 *   digits without exponent; true, false, null; arrays and objects only in members it does
 *   not read, up to 32 levels deep;
 * - no member named specversion (a structured CloudEvent), and no member it reads twice.
 *
 * Everything else, and every value the envelope's rules do not take (a type it does not know, an
 * empty id, a word outside a closed set, ...), gives None. The rules themselves come from
 * Python: leadsla.codec.inputs configures this module with each type's name, class and data
 * fields (their kind, closed set and default), the parser of timestamps, and the schema
 * version; occurred_at is read here only in the two shapes the compiled Python reads by
 * arithmetic too (YYYY-MM-DDTHH:MM:SSZ, and with six fractional digits), anything else goes
 * to that parser. tests/unit/test_native_events.py compares this decoder with the Python
 * path on random lines, valid and not.
 *
 * route(line) reads, with the same scanner, only what the replay's spill routes a line by (its
 * lead_id and occurred_at, leadsla.partition.lead_key's rule), or returns None.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The kinds of data field (leadsla.codec.inputs: _NATIVE_KINDS). */
enum {
    K_TEXT = 0,      /* a non-empty string, required */
    K_OPT_ID = 1,    /* absent or null: None; else a non-empty string */
    K_OPT_STR = 2,   /* absent or null: None; else any string */
    K_WORD = 3,      /* a word of the closed set; absent: the default (none: required) */
    K_OPT_WORD = 4,  /* absent or null: None; else a word of the closed set */
    K_FLAG = 5,      /* absent, null or false: False; true: True */
    K_LAST = 5
};

#define MAX_FIELDS 12
#define MAX_WORDS 32
#define MAX_TYPES 8
#define MAX_MEMBERS 24
#define MAX_DEPTH 32

typedef struct {
    PyObject *object; /* an ASCII str: a word, a field's key, a type's name */
    const char *text; /* its characters, owned by the str */
    Py_ssize_t size;
} Text;

typedef struct {
    Text name; /* the field's key */
    int kind;
    PyObject *fallback; /* K_WORD's default (a str), or NULL: required */
    Text words[MAX_WORDS];
    int word_count;
} Field;

typedef struct {
    Text name; /* the type's name */
    PyTypeObject *cls; /* the event class: a tuple subclass of 3 + field_count items */
    Field fields[MAX_FIELDS];
    int field_count;
    int needs_one; /* at least one field must not be None (lead.updated) */
} Type;

static Type types[MAX_TYPES];
static int type_count = 0;
static PyObject *parse_fn = NULL; /* leadsla.domain.instant.parse_rfc3339 */
static char version_text[24];     /* the schema version, as its integer token */
static Py_ssize_t max_id = 0;     /* the longest event_id and lead_id, in characters */
static Py_ssize_t version_size = 0;

/* ---------------------------------------------------------------------------------------- */
/* The scanner: spans of the line, checked against the JSON grammar */

enum { V_STRING, V_TRUE, V_FALSE, V_NULL, V_NUMBER, V_OBJECT, V_ARRAY };

typedef struct {
    const char *start; /* a string's content (without the quotes); any other value's token */
    Py_ssize_t size;
    int kind;
    int high; /* a string with bytes beyond ASCII */
} Span;

static inline int
is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline const char *
skip_space(const char *p, const char *end)
{
    while (p < end && is_space(*p)) {
        p++;
    }
    return p;
}

/* A string from its opening quote: its content in *span; the byte after its closing quote, or
 * NULL (an escape, a control character, no end). */
static const char *
scan_string(const char *p, const char *end, Span *span)
{
    const char *start = ++p;
    int high = 0;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            span->start = start;
            span->size = p - start;
            span->kind = V_STRING;
            span->high = high;
            return p + 1;
        }
        if (c == '\\' || c < 0x20) {
            return NULL;
        }
        high |= c >= 0x80;
        p++;
    }
    return NULL;
}

static inline int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number token orjson reads exactly as JSON: -?(0|[1-9][0-9]*)(.[0-9]+)?, at most 18 digits
 * for an integer and 15 for a decimal; NULL for anything else (an exponent, more digits). */
static const char *
scan_number(const char *p, const char *end, Span *span)
{
    const char *start = p;
    int digits = 0;
    if (p < end && *p == '-') {
        p++;
    }
    if (p < end && *p == '0') {
        p++;
        digits++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p)) {
            p++;
            digits++;
        }
    } else {
        return NULL;
    }
    int limit = 18;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) {
            return NULL;
        }
        while (p < end && is_digit(*p)) {
            p++;
            digits++;
        }
        limit = 15;
    }
    if (digits > limit || (p < end && (*p == 'e' || *p == 'E'))) {
        return NULL;
    }
    span->start = start;
    span->size = p - start;
    span->kind = V_NUMBER;
    span->high = 0;
    return p;
}

static const char *scan_value(const char *p, const char *end, Span *span, int depth);

/* Whether a value is not a string beyond ASCII, or one in valid UTF-8: 1 yes, 0 no, -1 an
 * error (set). */
static int
utf8_ok(const Span *span)
{
    if (span->kind != V_STRING || !span->high) {
        return 1;
    }
    PyObject *text = PyUnicode_DecodeUTF8(span->start, span->size, "strict");
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(text);
    return 1;
}

typedef struct {
    Span key;
    Span value;
} Member;

/* An object or array from its opening bracket, every member checked (keys in plain ASCII,
 * strings in valid UTF-8: orjson refuses invalid UTF-8 anywhere); the byte after it, or NULL
 * (an error may be set). With members, an object's members are also recorded there, at most
 * MAX_MEMBERS of them, and their number in *count. */
static const char *
scan_container(const char *p, const char *end, int depth, Member *members, int *count)
{
    char close = *p == '{' ? '}' : ']';
    int object = close == '}';
    Span key, value;
    if (depth >= MAX_DEPTH || (members != NULL && !object)) {
        return NULL;
    }
    if (members != NULL) {
        *count = 0;
    }
    p = skip_space(p + 1, end);
    if (p < end && *p == close) {
        return p + 1;
    }
    for (;;) {
        if (object) {
            if (p >= end || *p != '"' || (p = scan_string(p, end, &key)) == NULL || key.high) {
                return NULL;
            }
            p = skip_space(p, end);
            if (p >= end || *p != ':') {
                return NULL;
            }
            p = skip_space(p + 1, end);
        }
        if ((p = scan_value(p, end, &value, depth + 1)) == NULL || utf8_ok(&value) <= 0) {
            return NULL;
        }
        if (members != NULL) {
            if (*count == MAX_MEMBERS) {
                return NULL;
            }
            members[*count].key = key;
            members[(*count)++].value = value;
        }
        p = skip_space(p, end);
        if (p < end && *p == ',') {
            p = skip_space(p + 1, end);
            continue;
        }
        if (p < end && *p == close) {
            return p + 1;
        }
        return NULL;
    }
}

static const char *
scan_literal(const char *p, const char *end, const char *word, Py_ssize_t size, int kind,
             Span *span)
{
    if (end - p < size || memcmp(p, word, (size_t)size) != 0) {
        return NULL;
    }
    span->start = p;
    span->size = size;
    span->kind = kind;
    span->high = 0;
    return p + size;
}

/* Any value: its span; the byte after it, or NULL. */
static const char *
scan_value(const char *p, const char *end, Span *span, int depth)
{
    if (p >= end) {
        return NULL;
    }
    switch (*p) {
    case '"':
        return scan_string(p, end, span);
    case 't':
        return scan_literal(p, end, "true", 4, V_TRUE, span);
    case 'f':
        return scan_literal(p, end, "false", 5, V_FALSE, span);
    case 'n':
        return scan_literal(p, end, "null", 4, V_NULL, span);
    case '{':
    case '[': {
        const char *after = scan_container(p, end, depth, NULL, NULL);
        if (after != NULL) {
            span->start = p;
            span->size = after - p;
            span->kind = *p == '{' ? V_OBJECT : V_ARRAY;
            span->high = 0;
        }
        return after;
    }
    default:
        return scan_number(p, end, span);
    }
}

static inline int
key_is(const Span *key, const char *name, Py_ssize_t size)
{
    return key->size == size && memcmp(key->start, name, (size_t)size) == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Values */

/* A string span as a str (a new reference), NULL with no error set: not valid UTF-8. */
static PyObject *
span_text(const Span *span)
{
    if (!span->high) {
        PyObject *text = PyUnicode_New(span->size, 127);
        if (text != NULL) {
            memcpy(PyUnicode_1BYTE_DATA(text), span->start, (size_t)span->size);
        }
        return text;
    }
    PyObject *text = PyUnicode_DecodeUTF8(span->start, span->size, "strict");
    if (text == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
    }
    return text;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (years from March, as utc_instant). */
static int64_t
days_from_civil(int64_t year, int64_t month, int64_t day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t year_of_era = y - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static int
digits_at(const char *s, int start, int end)
{
    int value = 0;
    for (int i = start; i < end; i++) {
        int d = s[i] - '0';
        if (d < 0 || d > 9) {
            return -1;
        }
        value = value * 10 + d;
    }
    return value;
}

static const int days_in_month[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* occurred_at as an instant by arithmetic, the way leadsla.codec.inputs.utc_instant reads it:
 * YYYY-MM-DDTHH:MM:SSZ and YYYY-MM-DDTHH:MM:SS.ffffffZ with every field in its range. 1 and *at
 * set; 0: another text (the Python parser reads it). */
static int
plain_instant(const Span *span, int64_t *at)
{
    const char *s = span->start;
    Py_ssize_t size = span->size;
    if (span->kind != V_STRING || span->high || !(size == 20 || (size == 27 && s[19] == '.')) ||
        s[size - 1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':') {
        return 0;
    }
    int year = digits_at(s, 0, 4), month = digits_at(s, 5, 7), day = digits_at(s, 8, 10);
    int hour = digits_at(s, 11, 13), minute = digits_at(s, 14, 16);
    int second = digits_at(s, 17, 19);
    int micro = size == 27 ? digits_at(s, 20, 26) : 0;
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (year >= 1 && month >= 1 && month <= 12 && day >= 1 && hour >= 0 && hour <= 23 &&
        minute >= 0 && minute <= 59 && second >= 0 && second <= 59 && micro >= 0 &&
        (day <= days_in_month[month] || (month == 2 && day == 29 && leap))) {
        int64_t days = days_from_civil(year, month, day);
        *at = (days * 86400 + hour * 3600 + minute * 60 + second) * 1000000 + micro;
        return 1;
    }
    return 0;
}

/* occurred_at as an instant: plain_instant, else the Python parser (leadsla.domain.instant's
 * parse_rfc3339). 0 and *at set; 1: no instant (the parser refused the text); -1: an error. */
static int
read_instant(const Span *span, int64_t *at)
{
    if (plain_instant(span, at)) {
        return 0; /* no str made: the common case */
    }
    PyObject *text = span_text(span);
    if (text == NULL) {
        return PyErr_Occurred() ? -1 : 1;
    }
    PyObject *got = PyObject_CallOneArg(parse_fn, text);
    Py_DECREF(text);
    if (got == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            return 1;
        }
        return -1;
    }
    int overflow = 0;
    long long value = PyLong_Check(got) ? PyLong_AsLongLongAndOverflow(got, &overflow) : 0;
    int bad = !PyLong_Check(got) || overflow || (value == -1 && PyErr_Occurred());
    Py_DECREF(got);
    if (bad) {
        PyErr_Clear();
        return 1;
    }
    *at = value;
    return 0;
}

/* A word of the field's closed set (a new reference to the set's own str), or NULL. */
static PyObject *
find_word(const Field *field, const Span *span)
{
    if (span->kind != V_STRING) {
        return NULL;
    }
    for (int i = 0; i < field->word_count; i++) {
        const Text *w = &field->words[i];
        if (w->size == span->size && memcmp(w->text, span->start, (size_t)span->size) == 0) {
            return Py_NewRef(w->object);
        }
    }
    return NULL;
}

/* A data field's value (a new reference) from its member's value span, or NULL: the line is
 * declined (no error set) or an error happened. absent: no member. */
static PyObject *
field_value(const Field *field, const Span *value, int absent)
{
    int null = absent || value->kind == V_NULL;
    switch (field->kind) {
    case K_TEXT:
    case K_OPT_ID:
    case K_OPT_STR:
        if (null) {
            return field->kind == K_TEXT ? NULL : Py_NewRef(Py_None);
        }
        if (value->kind != V_STRING || (value->size == 0 && field->kind != K_OPT_STR)) {
            return NULL;
        }
        return span_text(value);
    case K_WORD:
        if (absent) {
            return field->fallback != NULL ? Py_NewRef(field->fallback) : NULL;
        }
        return find_word(field, value);
    case K_OPT_WORD:
        return null ? Py_NewRef(Py_None) : find_word(field, value);
    case K_FLAG:
        if (null || value->kind == V_FALSE) {
            return Py_NewRef(Py_False);
        }
        return value->kind == V_TRUE ? Py_NewRef(Py_True) : NULL;
    }
    return NULL;
}

/* An envelope id (event_id, lead_id): a string of 1 to max_id characters; a new reference, or
 * NULL: declined (no error set) or an error. */
static PyObject *
envelope_id(const Span *span)
{
    if (span == NULL || span->kind != V_STRING || span->size == 0 ||
        (!span->high && span->size > max_id)) {
        return NULL;
    }
    PyObject *text = span_text(span);
    if (text != NULL && PyUnicode_GET_LENGTH(text) > max_id) {
        Py_CLEAR(text);
    }
    return text;
}

enum { E_EVENT_ID, E_TYPE, E_LEAD_ID, E_OCCURRED_AT, E_DATA, E_VERSION, E_COUNT };

static const struct {
    const char *name;
    Py_ssize_t size;
} envelope_keys[E_COUNT] = {
    {"event_id", 8},     {"type", 4}, {"lead_id", 7}, {"occurred_at", 11},
    {"data", 4},         {"schema_version", 14},
};

/* The members of a line that is one JSON object as this scanner reads it, without a
 * specversion member or an envelope member given twice: their count, found[] pointing at the
 * envelope's members; -1: the line is left to the Python path. */
static int
scan_envelope(const char *line, Py_ssize_t size, Member *members, const Span **found)
{
    const char *end = line + size;
    const char *p = skip_space(line, end);
    int count = 0;
    if (p >= end || *p != '{' || (p = scan_container(p, end, 0, members, &count)) == NULL ||
        skip_space(p, end) != end) {
        return -1; /* (an error may be set: the callers check) */
    }
    for (int i = 0; i < count; i++) {
        const Span *key = &members[i].key;
        if (key_is(key, "specversion", 11)) {
            return -1; /* a structured CloudEvent: the Python path reads its data */
        }
        for (int k = 0; k < E_COUNT; k++) {
            if (key_is(key, envelope_keys[k].name, envelope_keys[k].size)) {
                if (found[k] != NULL) {
                    return -1; /* read twice: left to orjson's rule */
                }
                found[k] = &members[i].value;
                break;
            }
        }
    }
    return count;
}

/* The event of a line, or None (declined), or NULL (an error). */
static PyObject *
decode_bytes(const char *line, Py_ssize_t size)
{
    Member members[MAX_MEMBERS];
    Member data_members[MAX_MEMBERS];
    const Span *found[E_COUNT] = {NULL};
    int count = scan_envelope(line, size, members, found);
    if (count < 0) {
        Py_RETURN_NONE;
    }
    const Span *type_span = found[E_TYPE];
    if (type_span == NULL || type_span->kind != V_STRING) {
        Py_RETURN_NONE;
    }
    const Type *type = NULL;
    for (int t = 0; t < type_count; t++) {
        if (types[t].name.size == type_span->size &&
            memcmp(types[t].name.text, type_span->start, (size_t)type_span->size) == 0) {
            type = &types[t];
            break;
        }
    }
    const Span *version = found[E_VERSION];
    const Span *data = found[E_DATA];
    if (type == NULL || found[E_OCCURRED_AT] == NULL ||
        found[E_OCCURRED_AT]->kind != V_STRING || data == NULL || data->kind != V_OBJECT ||
        (version != NULL && (version->kind != V_NUMBER || version->size != version_size ||
                             memcmp(version->start, version_text, (size_t)version_size) != 0))) {
        Py_RETURN_NONE;
    }
    int data_count = 0;
    if (scan_container(data->start, data->start + data->size, 1, data_members, &data_count) ==
        NULL) {
        Py_RETURN_NONE;
    }
    const Span *field_spans[MAX_FIELDS] = {NULL};
    for (int i = 0; i < data_count; i++) {
        const Span *key = &data_members[i].key;
        for (int f = 0; f < type->field_count; f++) {
            if (key->size == type->fields[f].name.size &&
                memcmp(key->start, type->fields[f].name.text, (size_t)key->size) == 0) {
                if (field_spans[f] != NULL) {
                    Py_RETURN_NONE;
                }
                field_spans[f] = &data_members[i].value;
                break;
            }
        }
    }

    PyObject *items[3 + MAX_FIELDS] = {NULL};
    int n = 3 + type->field_count;
    int any = 0;
    int64_t at = 0;
    if ((items[0] = envelope_id(found[E_EVENT_ID])) == NULL ||
        (items[1] = envelope_id(found[E_LEAD_ID])) == NULL) {
        goto declined;
    }
    if (read_instant(found[E_OCCURRED_AT], &at) != 0 ||
        (items[2] = PyLong_FromLongLong(at)) == NULL) {
        goto declined;
    }
    for (int f = 0; f < type->field_count; f++) {
        static const Span none = {NULL, 0, V_NULL, 0};
        const Span *value = field_spans[f];
        if ((items[3 + f] = field_value(&type->fields[f], value ? value : &none, !value)) == NULL) {
            goto declined;
        }
        any |= items[3 + f] != Py_None;
    }
    if (type->needs_one && !any) {
        goto declined;
    }
    PyObject *event = type->cls->tp_alloc(type->cls, n);
    if (event == NULL) {
        goto declined;
    }
    for (int i = 0; i < n; i++) {
        PyTuple_SET_ITEM(event, i, items[i]); /* the references move into the event */
    }
    return event;

declined: /* or failed, when an error is set */
    for (int i = 0; i < n; i++) {
        Py_XDECREF(items[i]);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* route(line) -> (lead_id, instant) or None: what the replay's spill needs of a line, by the
 * rule of leadsla.partition.lead_key: a JSON object without specversion whose lead_id and
 * occurred_at are strings goes to the partition of its lead_id, valid event or not (an invalid
 * line is reported from whichever partition it is in). None: the Python rule decides (an
 * occurred_at that plain_instant does not read, anything this scanner does not take). */
static PyObject *
route(PyObject *module, PyObject *line)
{
    Member members[MAX_MEMBERS];
    const Span *found[E_COUNT] = {NULL};
    int64_t at = 0;
    if (!PyBytes_Check(line)) {
        Py_RETURN_NONE;
    }
    int count = scan_envelope(PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line), members, found);
    const Span *lead = found[E_LEAD_ID];
    if (count < 0 || lead == NULL || lead->kind != V_STRING || found[E_OCCURRED_AT] == NULL ||
        !plain_instant(found[E_OCCURRED_AT], &at)) {
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    PyObject *lead_id = span_text(lead);
    if (lead_id == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *instant = PyLong_FromLongLong(at);
    if (instant == NULL) {
        Py_DECREF(lead_id);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, lead_id, instant);
    Py_DECREF(lead_id);
    Py_DECREF(instant);
    return pair;
}

static PyObject *
decode(PyObject *module, PyObject *line)
{
    if (type_count == 0) {
        PyErr_SetString(PyExc_RuntimeError, "_events: decode before configure");
        return NULL;
    }
    if (!PyBytes_Check(line)) {
        Py_RETURN_NONE; /* str lines: the Python path */
    }
    PyObject *event = decode_bytes(PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line));
    if (event != NULL && PyErr_Occurred()) { /* an error met while scanning (no memory) */
        Py_DECREF(event);
        return NULL;
    }
    return event;
}

/* ---------------------------------------------------------------------------------------- */
/* Configuration */

static void
clear_types(void)
{
    for (int t = 0; t < type_count; t++) {
        for (int f = 0; f < types[t].field_count; f++) {
            Field *field = &types[t].fields[f];
            Py_XDECREF(field->name.object);
            Py_XDECREF(field->fallback);
            for (int w = 0; w < field->word_count; w++) {
                Py_XDECREF(field->words[w].object);
            }
        }
        Py_XDECREF(types[t].name.object);
        Py_XDECREF((PyObject *)types[t].cls);
    }
    memset(types, 0, sizeof(types));
    type_count = 0;
}

/* Fill text with a new reference to object, an ASCII str; -1 with an error when it is not. */
static int
set_text(Text *text, PyObject *object, const char *what)
{
    if (!PyUnicode_Check(object) || !PyUnicode_IS_ASCII(object)) {
        PyErr_Format(PyExc_ValueError, "configure: %s must be an ASCII str", what);
        return -1;
    }
    text->object = Py_NewRef(object);
    text->text = (const char *)PyUnicode_1BYTE_DATA(object);
    text->size = PyUnicode_GET_LENGTH(object);
    return 0;
}

static int
configure_field(Field *field, PyObject *spec)
{
    PyObject *name, *words, *fallback;
    int kind;
    if (!PyArg_ParseTuple(spec, "UiOO:field", &name, &kind, &words, &fallback)) {
        return -1;
    }
    if (kind < 0 || kind > K_LAST) {
        PyErr_SetString(PyExc_ValueError, "configure: unknown field kind");
        return -1;
    }
    field->kind = kind;
    if (set_text(&field->name, name, "a field name") < 0) {
        return -1;
    }
    if (fallback != Py_None) {
        if (kind != K_WORD || !PyUnicode_Check(fallback)) {
            PyErr_SetString(PyExc_ValueError, "configure: only a word field has a default str");
            return -1;
        }
        field->fallback = Py_NewRef(fallback);
    }
    if (kind == K_WORD || kind == K_OPT_WORD) {
        PyObject *seq = PySequence_Fast(words, "configure: the words must be a sequence");
        if (seq == NULL) {
            return -1;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (n > MAX_WORDS) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "configure: too many words");
            return -1;
        }
        for (Py_ssize_t w = 0; w < n; w++) {
            if (set_text(&field->words[w], PySequence_Fast_GET_ITEM(seq, w), "a word") < 0) {
                Py_DECREF(seq);
                return -1;
            }
            field->word_count = (int)w + 1;
        }
        Py_DECREF(seq);
    }
    return 0;
}

/* configure(types, parse_rfc3339, schema_version, max_id_length): types is a list of (name, class, fields,
 * needs_one), fields a tuple of (key, kind, words, default) in the class's order after its
 * three envelope fields. */
static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *type_list, *parse;
    long long version;
    Py_ssize_t longest;
    if (!PyArg_ParseTuple(args, "O!OLn:configure", &PyList_Type, &type_list, &parse, &version,
                          &longest)) {
        return NULL;
    }
    if (PyList_GET_SIZE(type_list) > MAX_TYPES) {
        PyErr_SetString(PyExc_ValueError, "configure: too many types");
        return NULL;
    }
    clear_types();
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(type_list); i++) {
        PyObject *name, *cls, *fields;
        int needs_one;
        Type *type = &types[i];
        type_count = (int)i + 1;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(type_list, i), "UO!O!p:type", &name, &PyType_Type,
                              &cls, &PyTuple_Type, &fields, &needs_one)) {
            goto failed;
        }
        type->cls = (PyTypeObject *)Py_NewRef(cls);
        type->needs_one = needs_one;
        if (set_text(&type->name, name, "a type name") < 0) {
            goto failed;
        }
        if (!PyType_IsSubtype(type->cls, &PyTuple_Type) ||
            PyTuple_GET_SIZE(fields) > MAX_FIELDS) {
            PyErr_SetString(PyExc_ValueError, "configure: a class must be a tuple subclass");
            goto failed;
        }
        for (Py_ssize_t f = 0; f < PyTuple_GET_SIZE(fields); f++) {
            type->field_count = (int)f + 1;
            if (configure_field(&type->fields[f], PyTuple_GET_ITEM(fields, f)) < 0) {
                goto failed;
            }
        }
    }
    Py_XSETREF(parse_fn, Py_NewRef(parse));
    max_id = longest;
    version_size = snprintf(version_text, sizeof(version_text), "%lld", version);
    Py_RETURN_NONE;
failed:
    clear_types();
    return NULL;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(types, parse_rfc3339, schema_version, max_id_length): what the envelope's rules are."},
    {"route", route, METH_O,
     "route(line) -> (lead_id, instant) of a line the spill routes by its lead, or None."},
    {"decode", decode, METH_O,
     "decode(line) -> the event of a plainly valid JSON line, or None (ask the Python path)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "leadsla._events",
    "The replay's input decoder in C: leadsla.codec.inputs configures it.", -1, methods,
};

PyMODINIT_FUNC
PyInit__events(void)
{
    return PyModule_Create(&module_def);
}
