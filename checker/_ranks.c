/* The compiled build's ranks of discovery keys (see ranks.py, which documents it and holds the
 * pure-Python version that runs where nothing is compiled).
 *
 * One merge walk over every worker's sorted keys, read as the unsigned 64-bit integers they
 * were packed as: compiled from Python, a bisection per key read about fourteen array items,
 * each a new int object, for every state a worker expanded.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
key_at(const char *keys, Py_ssize_t i)
{
    uint64_t key;
    memcpy(&key, keys + 8 * i, sizeof key); /* packed by array("Q"): native order, any alignment */
    return key;
}

/* ranks(sorted_keys, me): a list, for each of worker ``me``'s keys (sorted_keys[me]), of its
 * position among all of them. */
static PyObject *
ranks(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "ranks() takes (sorted_keys: list of bytes, me: int)");
        return NULL;
    }
    PyObject *blobs = args[0];
    Py_ssize_t workers = PyList_GET_SIZE(blobs);
    Py_ssize_t me = PyLong_AsSsize_t(args[1]);
    if (me == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (me < 0 || me >= workers) {
        PyErr_Format(PyExc_ValueError, "ranks(): worker %zd of %zd", me, workers);
        return NULL;
    }
    Py_buffer *views = PyMem_Calloc((size_t)workers, sizeof(Py_buffer));
    Py_ssize_t *at = PyMem_Calloc((size_t)workers, sizeof(Py_ssize_t));
    PyObject *out = NULL;
    Py_ssize_t held = 0;
    if (views == NULL || at == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; held < workers; held++) {
        if (PyObject_GetBuffer(PyList_GET_ITEM(blobs, held), &views[held], PyBUF_SIMPLE) < 0) {
            goto done;
        }
        if (views[held].len % 8) {
            PyErr_Format(PyExc_ValueError,
                         "ranks(): worker %zd's keys are %zd bytes, not 8-byte keys",
                         held, views[held].len);
            held++;
            goto done;
        }
    }
    Py_ssize_t count = views[me].len / 8;
    const char *mine = views[me].buf;
    out = PyList_New(count);
    if (out == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t key = key_at(mine, i);
        Py_ssize_t rank = i;
        for (Py_ssize_t w = 0; w < workers; w++) {
            if (w == me) {
                continue;
            }
            const char *theirs = views[w].buf;
            Py_ssize_t size = views[w].len / 8, j = at[w];
            while (j < size && key_at(theirs, j) < key) {
                j++;
            }
            at[w] = j;
            rank += j;
        }
        PyObject *number = PyLong_FromSsize_t(rank);
        if (number == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, number);
    }
done:
    for (Py_ssize_t w = 0; w < held; w++) {
        PyBuffer_Release(&views[w]);
    }
    PyMem_Free(views);
    PyMem_Free(at);
    return out;
}

static PyMethodDef module_methods[] = {
    {"ranks", (PyCFunction)(void (*)(void))ranks, METH_FASTCALL,
     "Each of one worker's sorted keys' position among every worker's."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ranks_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "kafka_eos.checker._ranks",
    .m_doc = "The compiled build's ranks of discovery keys (see ranks.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__ranks(void)
{
    return PyModule_Create(&ranks_module);
}
