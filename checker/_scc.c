/* The compiled build's Tarjan search (see scc.py, which documents it and holds the
 * pure-Python version that runs where nothing is compiled).
 *
 * Components(size, offsets, targets).of(nodes, member, stamp) gives the same components, in
 * the same order, each in the same order, as scc.py's class: the fair-cycle search's lassos
 * follow that order. Compiled Python paid for every visit in boxed ints (a tuple of two per
 * work item, an int object per index and low-link written); here they are C arrays.
 *
 * The graph is a CSR one: offsets and targets are array("I"), member an array("i"), read
 * through the buffer protocol for the length of one call (the graph's arrays are complete by
 * the time liveness runs; holding their buffers no longer than a call leaves them resizable).
 *
 * Visit numbers: 0 means never visited; each search numbers from where the one before
 * stopped, so a number below the search's first is a state it has not visited (nothing is
 * cleared between searches). Before the 32-bit numbers could wrap, they start again from 1
 * with every state cleared (one pass over the graph, once per 4 billion visits).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    Py_ssize_t size;
    PyObject *offsets;
    PyObject *targets;
    uint32_t *index;          /* visit number, 0 = never */
    uint32_t *low;            /* low-link */
    unsigned char *on_stack;  /* every state is off the stack when a search ends */
    uint32_t next_index;
    /* the component stack and the work stack (state, next edge), grown as needed */
    uint32_t *stack;
    uint32_t *work_v;
    uint32_t *work_edge;
    Py_ssize_t capacity;      /* of stack, work_v and work_edge */
} Components;

static int
grow(Components *self)
{
    Py_ssize_t capacity = self->capacity ? self->capacity * 2 : 1024;
    if (capacity > self->size) {
        capacity = self->size;  /* no search holds more states than the graph has */
    }
    if (capacity <= self->capacity) {
        PyErr_SetString(PyExc_RuntimeError, "Tarjan's stacks outgrew the graph");
        return -1;
    }
    uint32_t *stack = PyMem_Realloc(self->stack, capacity * sizeof(uint32_t));
    if (stack == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->stack = stack;
    uint32_t *work_v = PyMem_Realloc(self->work_v, capacity * sizeof(uint32_t));
    if (work_v == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->work_v = work_v;
    uint32_t *work_edge = PyMem_Realloc(self->work_edge, capacity * sizeof(uint32_t));
    if (work_edge == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->work_edge = work_edge;
    self->capacity = capacity;
    return 0;
}

static int
components_init(Components *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"size", "offsets", "targets", NULL};
    Py_ssize_t size;
    PyObject *offsets, *targets;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nOO", keywords, &size, &offsets,
                                     &targets)) {
        return -1;
    }
    if (size < 0 || size >= (Py_ssize_t)UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "a graph of %zd states: at most %u", size,
                     UINT32_MAX - 1);
        return -1;
    }
    if (self->index != NULL) {
        PyErr_SetString(PyExc_TypeError, "Components is initialised once");
        return -1;
    }
    self->size = size;
    Py_INCREF(offsets);
    self->offsets = offsets;
    Py_INCREF(targets);
    self->targets = targets;
    size_t n = size ? (size_t)size : 1;
    self->index = PyMem_Calloc(n, sizeof(uint32_t));
    self->low = PyMem_Calloc(n, sizeof(uint32_t));
    self->on_stack = PyMem_Calloc(n, 1);
    if (self->index == NULL || self->low == NULL || self->on_stack == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->next_index = 1;
    return 0;
}

static void
components_dealloc(Components *self)
{
    Py_XDECREF(self->offsets);
    Py_XDECREF(self->targets);
    PyMem_Free(self->index);
    PyMem_Free(self->low);
    PyMem_Free(self->on_stack);
    PyMem_Free(self->stack);
    PyMem_Free(self->work_v);
    PyMem_Free(self->work_edge);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A buffer of 4-byte items of the format ``code`` (a one-item format string). */
static int
get_buffer(PyObject *object, Py_buffer *view, char code, const char *what)
{
    if (PyObject_GetBuffer(object, view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    if (view->itemsize != 4 || view->format == NULL || view->format[0] != code
            || view->format[1] != '\0') {
        PyErr_Format(PyExc_TypeError, "%s must be an array(\"%c\")", what, code);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* The component whose root is ``v``, popped off the stack into a new list. */
static PyObject *
pop_component(Components *self, Py_ssize_t *top, uint32_t v)
{
    Py_ssize_t start = *top;
    while (self->stack[start - 1] != v) {
        start--;
    }
    start--;
    PyObject *component = PyList_New(*top - start);
    if (component == NULL) {
        return NULL;
    }
    /* popped from the top: the last pushed first, as the Python version appends them */
    for (Py_ssize_t i = *top - 1, at = 0; i >= start; i--, at++) {
        uint32_t w = self->stack[i];
        self->on_stack[w] = 0;
        PyObject *number = PyLong_FromUnsignedLong(w);
        if (number == NULL) {
            Py_DECREF(component);
            return NULL;
        }
        PyList_SET_ITEM(component, at, number);
    }
    *top = start;
    return component;
}

static PyObject *
components_of(Components *self, PyObject *args)
{
    PyObject *nodes, *member_object;
    long stamp;
    if (!PyArg_ParseTuple(args, "OOl", &nodes, &member_object, &stamp)) {
        return NULL;
    }
    Py_buffer offsets_view, targets_view, member_view;
    if (get_buffer(self->offsets, &offsets_view, 'I', "offsets") < 0) {
        return NULL;
    }
    if (get_buffer(self->targets, &targets_view, 'I', "targets") < 0) {
        PyBuffer_Release(&offsets_view);
        return NULL;
    }
    if (get_buffer(member_object, &member_view, 'i', "member") < 0) {
        PyBuffer_Release(&offsets_view);
        PyBuffer_Release(&targets_view);
        return NULL;
    }
    PyObject *components = NULL, *iterator = NULL;
    Py_ssize_t size = self->size;
    Py_ssize_t edge_count = targets_view.len / 4;
    if (offsets_view.len / 4 < size + 1 || member_view.len / 4 < size) {
        PyErr_SetString(PyExc_ValueError, "offsets or member is shorter than the graph");
        goto done;
    }
    const uint32_t *offsets = offsets_view.buf, *targets = targets_view.buf;
    const int32_t *member = member_view.buf;
    uint32_t *index = self->index, *low = self->low;
    unsigned char *on_stack = self->on_stack;
    if ((uint64_t)self->next_index + (uint64_t)size >= UINT32_MAX) {
        memset(index, 0, size * sizeof(uint32_t));  /* start the numbers again */
        self->next_index = 1;
    }
    uint32_t first = self->next_index, counter = first;
    components = PyList_New(0);
    iterator = PyObject_GetIter(nodes);
    if (components == NULL || iterator == NULL) {
        goto fail;
    }
    Py_ssize_t top = 0;  /* of the component stack */
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        Py_ssize_t root = PyLong_AsSsize_t(item);
        Py_DECREF(item);
        if (root == -1 && PyErr_Occurred()) {
            goto fail;
        }
        if (root < 0 || root >= size) {
            PyErr_Format(PyExc_IndexError, "state %zd is not in a graph of %zd", root, size);
            goto fail;
        }
        if (index[root] >= first) {
            continue;
        }
        if (top >= self->capacity && grow(self) < 0) {
            goto fail;
        }
        index[root] = low[root] = counter++;
        self->stack[top++] = (uint32_t)root;
        on_stack[root] = 1;
        self->work_v[0] = (uint32_t)root;
        self->work_edge[0] = offsets[root];
        Py_ssize_t depth = 1;
        while (depth) {
            uint32_t v = self->work_v[depth - 1];
            uint32_t edge = self->work_edge[depth - 1];
            uint32_t end = offsets[v + 1];
            int descended = 0;
            while (edge < end) {
                if (edge >= edge_count) {
                    PyErr_SetString(PyExc_ValueError, "offsets point past the targets");
                    goto fail;
                }
                uint32_t w = targets[edge++];
                if (w >= size) {
                    PyErr_Format(PyExc_ValueError, "an edge to state %u of a graph of %zd",
                                 w, size);
                    goto fail;
                }
                if (member[w] != stamp) {
                    continue;
                }
                if (index[w] < first) {
                    self->work_edge[depth - 1] = edge;
                    if ((top >= self->capacity || depth >= self->capacity) && grow(self) < 0) {
                        goto fail;
                    }
                    index[w] = low[w] = counter++;
                    self->stack[top++] = w;
                    on_stack[w] = 1;
                    self->work_v[depth] = w;
                    self->work_edge[depth] = offsets[w];
                    depth++;
                    descended = 1;
                    break;
                }
                if (on_stack[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
            }
            if (descended) {
                continue;
            }
            depth--;
            if (depth) {
                uint32_t u = self->work_v[depth - 1];
                if (low[v] < low[u]) {
                    low[u] = low[v];
                }
            }
            if (low[v] == index[v]) {
                PyObject *component = pop_component(self, &top, v);
                if (component == NULL) {
                    goto fail;
                }
                int appended = PyList_Append(components, component);
                Py_DECREF(component);
                if (appended < 0) {
                    goto fail;
                }
            }
        }
    }
    if (PyErr_Occurred()) {
        goto fail;
    }
    self->next_index = counter;
    goto done;
fail:
    /* leave every state off the stack and these numbers unused, as after a search */
    for (Py_ssize_t i = 0; i < size; i++) {
        on_stack[i] = 0;
    }
    self->next_index = counter;
    Py_CLEAR(components);
done:
    Py_XDECREF(iterator);
    PyBuffer_Release(&offsets_view);
    PyBuffer_Release(&targets_view);
    PyBuffer_Release(&member_view);
    return components;
}

static PyObject *
components_get_next_index(Components *self, void *closure)
{
    return PyLong_FromUnsignedLong(self->next_index);
}

static PyMethodDef components_methods[] = {
    {"of", (PyCFunction)components_of, METH_VARARGS,
     "The components of the subgraph of nodes (member[v] == stamp), in the order Tarjan's "
     "search completes them."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef components_getset[] = {
    {"next_index", (getter)components_get_next_index, NULL,
     "The first visit number of the next search.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Components_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kafka_eos.checker._scc.Components",
    .tp_doc = "Tarjan's search on subgraphs of one CSR graph (see scc.py).",
    .tp_basicsize = sizeof(Components),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)components_init,
    .tp_dealloc = (destructor)components_dealloc,
    .tp_methods = components_methods,
    .tp_getset = components_getset,
};

static struct PyModuleDef scc_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "kafka_eos.checker._scc",
    .m_doc = "The compiled build's Tarjan search (see scc.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__scc(void)
{
    if (PyType_Ready(&Components_Type) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&scc_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&Components_Type);
    if (PyModule_AddObject(module, "Components", (PyObject *)&Components_Type) < 0) {
        Py_DECREF(&Components_Type);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
