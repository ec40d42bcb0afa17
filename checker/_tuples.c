/* The compiled build's tuple primitives (see tuples.py, which documents each one and holds
 * the pure-Python versions that run where nothing is compiled).
 *
 * HashedTuple: a tuple whose hash is computed once, when it is made, and kept in the slot
 * after its last item. A state of interned parts hashes in O(parts) instead of walking every
 * nested tuple on each look-up. Its hash is exactly a plain tuple's (tuplehash over the same
 * items), and it compares as a tuple, so hashed and plain values of one value meet in one
 * dict entry.
 *
 * It also keeps its 64-bit fingerprint (fingerprint.py) once one is asked for (packed_prints,
 * kept_print), so a state of interned parts is fingerprinted without looking its parts up.
 *
 * Where the hash and fingerprint are kept: a tuple subclass cannot add fields before its items
 * (they start at a fixed offset), so they live after them, from ob_item[Py_SIZE].
 * PyType_GenericAlloc allocates room for nitems + 1 items; asking for n + KEPT_SLOTS and
 * setting the size to n leaves those slots to us. Nothing in CPython reads past Py_SIZE items,
 * tuples never change size once made, and a subclass instance never goes to the exact tuple's
 * free lists (tupledealloc checks the type), so the slots are ours for the object's life.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyTypeObject HashedTuple_Type;

/* Item-sized slots after the items: the hash, then the fingerprint (one slot where a pointer
 * has 64 bits, two where it has 32). */
#define PRINT_SLOTS ((sizeof(uint64_t) + sizeof(PyObject *) - 1) / sizeof(PyObject *))
#define KEPT_SLOTS (1 + PRINT_SLOTS)

static inline Py_hash_t *
hash_slot(PyObject *op)
{
    return (Py_hash_t *)&((PyTupleObject *)op)->ob_item[Py_SIZE(op)];
}

/* Where the fingerprint is kept: 0 until one is asked for (no fingerprint is 0). */
static inline void *
print_slot(PyObject *op)
{
    return &((PyTupleObject *)op)->ob_item[Py_SIZE(op) + 1];
}

/* A new HashedTuple of the items of a tuple or list. */
static PyObject *
make_hashed(PyTypeObject *type, PyObject *items)
{
    PyObject *fast = PySequence_Fast(items, "hashed() takes a tuple or a list");
    if (fast == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject *op = type->tp_alloc(type, n + KEPT_SLOTS);
    if (op == NULL) {
        Py_DECREF(fast);
        return NULL;
    }
    PyObject **source = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(source[i]);
        ((PyTupleObject *)op)->ob_item[i] = source[i];
    }
    Py_DECREF(fast);
    Py_SET_SIZE(op, n);
    Py_hash_t hash = PyTuple_Type.tp_hash(op); /* a plain tuple's hash of these items */
    if (hash == -1) {                           /* an unhashable item */
        Py_DECREF(op);
        return NULL;
    }
    *hash_slot(op) = hash;
    memset(print_slot(op), 0, sizeof(uint64_t)); /* tp_alloc zeroes it too: said, not assumed */
    return op;
}

static Py_hash_t
hashed_tuple_hash(PyObject *op)
{
    return *hash_slot(op);
}

static PyObject *
hashed_tuple_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *items;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "HashedTuple() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "HashedTuple", 1, 1, &items)) {
        return NULL;
    }
    return make_hashed(type, items);
}

/* Pickled (checkpoints, spilled queues, Ray) as the plain tuple: the reading process need
 * not have a compiled build, and the model interns what it reads anyway. */
static PyObject *
hashed_tuple_reduce(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *items = PyTuple_GetSlice(self, 0, Py_SIZE(self));
    if (items == NULL) {
        return NULL;
    }
    return Py_BuildValue("(O(N))", (PyObject *)&PyTuple_Type, items);
}

static PyMethodDef hashed_tuple_methods[] = {
    {"__reduce__", hashed_tuple_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject HashedTuple_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kafka_eos.checker._tuples.HashedTuple",
    .tp_doc = "A tuple whose hash was computed once, when it was made.",
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_TUPLE_SUBCLASS,
    .tp_hash = hashed_tuple_hash,
    .tp_new = hashed_tuple_new,
    .tp_methods = hashed_tuple_methods,
};

static PyObject *
hashed(PyObject *Py_UNUSED(module), PyObject *items)
{
    return make_hashed(&HashedTuple_Type, items);
}

/* A plain tuple of the items of ``values`` (a tuple, or a HashedTuple). */
static PyObject *
copied(PyObject *values)
{
    Py_ssize_t n = PyTuple_GET_SIZE(values);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(values, i);
        Py_INCREF(item);
        PyTuple_SET_ITEM(out, i, item);
    }
    return out;
}

/* ``index`` as a position of a tuple of ``size`` items (negative counts from the end), or -1
 * with an exception set. */
static Py_ssize_t
position(PyObject *index, Py_ssize_t size, const char *caller)
{
    Py_ssize_t given = PyNumber_AsSsize_t(index, PyExc_IndexError);
    if (given == -1 && PyErr_Occurred()) {
        return -1;
    }
    Py_ssize_t at = given < 0 ? given + size : given;
    if (at < 0 || at >= size) {
        PyErr_Format(PyExc_IndexError, "%s: index %zd out of range for a tuple of %zd",
                     caller, given, size);
        return -1;
    }
    return at;
}

static PyObject *
replace(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "replace() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!PyTuple_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "replace() takes a tuple, not %.100s",
                     Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    Py_ssize_t at = position(args[1], PyTuple_GET_SIZE(args[0]), "replace()");
    if (at == -1) {
        return NULL;
    }
    PyObject *out = copied(args[0]);
    if (out == NULL) {
        return NULL;
    }
    Py_INCREF(args[2]);
    Py_SETREF(((PyTupleObject *)out)->ob_item[at], args[2]);
    return out;
}

static PyObject *
replace_many(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "replace_many() takes a tuple, then (index, value) pairs");
        return NULL;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(args[0]);
    PyObject *out = copied(args[0]);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t c = 1; c < nargs; c++) {
        PyObject *change = args[c];
        if (!PyTuple_Check(change) || PyTuple_GET_SIZE(change) != 2) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_TypeError, "replace_many(): each change is an (index, value) pair");
            return NULL;
        }
        Py_ssize_t at = position(PyTuple_GET_ITEM(change, 0), size, "replace_many()");
        if (at == -1) {
            Py_DECREF(out);
            return NULL;
        }
        PyObject *value = PyTuple_GET_ITEM(change, 1);
        Py_INCREF(value);
        Py_SETREF(((PyTupleObject *)out)->ob_item[at], value);
    }
    return out;
}

/* ``value`` with every HashedTuple in it (at any depth of tuples) made a plain tuple: the same
 * object where it holds none. */
static PyObject *
plain(PyObject *Py_UNUSED(module), PyObject *value)
{
    if (!PyTuple_Check(value)) {
        Py_INCREF(value);
        return value;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(value);
    PyObject *out = NULL;
    if (!PyTuple_CheckExact(value)) {
        out = PyTuple_New(n);
        if (out == NULL) {
            return NULL;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(value, i);
        PyObject *made = plain(NULL, item);
        if (made == NULL) {
            Py_XDECREF(out);
            return NULL;
        }
        if (out == NULL && made != item) { /* the first changed item of an exact tuple */
            out = PyTuple_New(n);
            if (out == NULL) {
                Py_DECREF(made);
                return NULL;
            }
            for (Py_ssize_t j = 0; j < i; j++) {
                PyObject *same = PyTuple_GET_ITEM(value, j);
                Py_INCREF(same);
                PyTuple_SET_ITEM(out, j, same);
            }
        }
        if (out != NULL) {
            PyTuple_SET_ITEM(out, i, made);
        } else {
            Py_DECREF(made);
        }
    }
    if (out == NULL) {
        Py_INCREF(value);
        return value;
    }
    return out;
}

/* ``following`` with each part it does not share with ``parent`` made the first object of its
 * value in that position's table (a dict per position), a new value becoming a HashedTuple;
 * a table holding ``limit`` values starts again. See tuples.py's Python version. */
static PyObject *
interned(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyTuple_Check(args[0]) || !PyTuple_Check(args[1])
            || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "interned(tables: tuple, parent: tuple, following: tuple, limit: int)");
        return NULL;
    }
    PyObject *tables = args[0], *parent = args[1], *following = args[2];
    Py_ssize_t limit = PyLong_AsSsize_t(args[3]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(tables);
    Py_ssize_t shared = PyTuple_GET_SIZE(parent);
    if (PyTuple_GET_SIZE(following) < count) {
        PyErr_SetString(PyExc_ValueError, "interned(): fewer parts than tables");
        return NULL;
    }
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *part = PyTuple_GET_ITEM(following, i);
        if (i < shared && part == PyTuple_GET_ITEM(parent, i)) {
            continue;
        }
        PyObject *table = PyTuple_GET_ITEM(tables, i);
        if (!PyDict_Check(table)) {
            PyErr_SetString(PyExc_TypeError, "interned(): each table is a dict");
            goto error;
        }
        PyObject *first = PyDict_GetItemWithError(table, part); /* borrowed */
        if (first == NULL) {
            if (PyErr_Occurred()) {
                goto error;
            }
            if (PyDict_GET_SIZE(table) >= limit) {
                PyDict_Clear(table);
            }
            /* an exact tuple is hashed; anything else (a NamedTuple, an int) kept as it is */
            PyObject *made = PyTuple_CheckExact(part) ? make_hashed(&HashedTuple_Type, part)
                                                      : Py_NewRef(part);
            if (made == NULL) {
                goto error;
            }
            int failed = PyDict_SetItem(table, made, made);
            Py_DECREF(made); /* the table holds it */
            if (failed < 0) {
                goto error;
            }
            first = made;
        }
        if (first != part) {
            if (out == NULL) {
                out = copied(following);
                if (out == NULL) {
                    return NULL;
                }
            }
            Py_INCREF(first);
            Py_SETREF(((PyTupleObject *)out)->ob_item[i], first);
        }
    }
    return out != NULL ? out : Py_NewRef(following);
error:
    Py_XDECREF(out);
    return NULL;
}

/* The fingerprint ``compute(part)`` gives, as an unsigned 64-bit integer, kept in a
 * HashedTuple part's slot (``keeps``); 0 with an exception set if it failed or gave 0. */
static uint64_t
print_of(PyObject *part, PyObject *compute, int keeps)
{
    uint64_t print = 0;
    if (keeps) {
        memcpy(&print, print_slot(part), sizeof print);
        if (print != 0) {
            return print;
        }
    }
    PyObject *computed = PyObject_CallOneArg(compute, part);
    if (computed == NULL) {
        return 0;
    }
    print = PyLong_AsUnsignedLongLong(computed);
    Py_DECREF(computed);
    if (print == (uint64_t)-1 && PyErr_Occurred()) {
        return 0;
    }
    if (print == 0) {
        PyErr_SetString(PyExc_ValueError, "a part's fingerprint is 0 (none is)");
        return 0;
    }
    if (keeps) {
        memcpy(print_slot(part), &print, sizeof print);
    }
    return print;
}

/* kept_print(part, compute): ``compute(part)``, kept in a HashedTuple part once computed. */
static PyObject *
kept_print(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "kept_print() takes (part, compute)");
        return NULL;
    }
    uint64_t print = print_of(args[0], args[1], Py_IS_TYPE(args[0], &HashedTuple_Type));
    return print == 0 ? NULL : PyLong_FromUnsignedLongLong(print);
}

/* packed_prints(state, tag, compute): the bytes fingerprint.py hashes for a state made of
 * parts, as struct.pack(f"<c{n}Q", tag, *prints) writes them: the one-byte ``tag``, then each
 * part's fingerprint as a little-endian unsigned 64-bit integer. A part's fingerprint is
 * ``compute(part)``, kept in a HashedTuple part once computed: a state of interned parts is
 * then packed from its parts' slots, no look-up and no Python int made per part. */
static PyObject *
packed_prints(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "packed_prints() takes (state, tag, compute)");
        return NULL;
    }
    PyObject *state = args[0], *tag = args[1], *compute = args[2];
    if (!PyTuple_Check(state)) {
        PyErr_SetString(PyExc_TypeError, "packed_prints(): the state is a tuple of parts");
        return NULL;
    }
    if (!PyBytes_Check(tag) || PyBytes_GET_SIZE(tag) != 1) {
        PyErr_SetString(PyExc_TypeError, "packed_prints(): the tag is one byte");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(state);
    PyObject *out = PyBytes_FromStringAndSize(NULL, 1 + 8 * n);
    if (out == NULL) {
        return NULL;
    }
    unsigned char *at = (unsigned char *)PyBytes_AS_STRING(out);
    *at++ = (unsigned char)PyBytes_AS_STRING(tag)[0];
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *part = PyTuple_GET_ITEM(state, i);
        uint64_t print = print_of(part, compute, Py_IS_TYPE(part, &HashedTuple_Type));
        if (print == 0) {
            Py_DECREF(out);
            return NULL;
        }
        for (int byte = 0; byte < 8; byte++) {
            at[byte] = (unsigned char)(print >> (8 * byte));
        }
        at += 8;
    }
    return out;
}

static PyMethodDef module_methods[] = {
    {"kept_print", (PyCFunction)(void (*)(void))kept_print, METH_FASTCALL,
     "A part's fingerprint, kept in a HashedTuple part once computed."},
    {"packed_prints", (PyCFunction)(void (*)(void))packed_prints, METH_FASTCALL,
     "A state's part fingerprints packed, each HashedTuple part's kept once computed."},
    {"interned", (PyCFunction)(void (*)(void))interned, METH_FASTCALL,
     "A successor's parts made the first objects of their values."},
    {"hashed", hashed, METH_O, "The items of a tuple or list as a HashedTuple."},
    {"replace", (PyCFunction)(void (*)(void))replace, METH_FASTCALL,
     "A tuple with one position set."},
    {"replace_many", (PyCFunction)(void (*)(void))replace_many, METH_FASTCALL,
     "A tuple with each (index, value) of the changes set."},
    {"plain", plain, METH_O, "A value with its HashedTuples made plain tuples."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef tuples_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "kafka_eos.checker._tuples",
    .m_doc = "The compiled build's tuple primitives (see tuples.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__tuples(void)
{
    HashedTuple_Type.tp_base = &PyTuple_Type;
    HashedTuple_Type.tp_basicsize = PyTuple_Type.tp_basicsize;
    HashedTuple_Type.tp_itemsize = PyTuple_Type.tp_itemsize;
    HashedTuple_Type.tp_traverse = PyTuple_Type.tp_traverse;
    /* Set with tp_hash, tp_richcompare would not be inherited (the two go together): equal
     * HashedTuples would compare by identity. */
    HashedTuple_Type.tp_richcompare = PyTuple_Type.tp_richcompare;
    if (PyType_Ready(&HashedTuple_Type) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&tuples_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&HashedTuple_Type);
    if (PyModule_AddObject(module, "HashedTuple", (PyObject *)&HashedTuple_Type) < 0) {
        Py_DECREF(&HashedTuple_Type);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
