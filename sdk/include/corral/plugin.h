/*
 * corral/plugin.h - the model plugin ABI.
 *
 * A plugin is a shared object that exports exactly one function,
 * CORRAL_PLUGIN_ENTRY (corral_plugin_entry), which returns a pointer to a
 * const corral_plugin descriptor. The worker checks the descriptor's magic,
 * ABI major (must equal the host's), ABI minor (must not exceed the host's)
 * and struct size before it touches anything else.
 *
 * Life of a plugin inside a corral-worker process:
 *
 *   (constructors), corral_plugin_entry()   right after dlopen
 *   load()                      once; partly confined (docs/security.md):
 *                               may read its version folder and the system
 *                               libraries; no writes, no network, no new
 *                               processes, no execve
 *   describe()                  once, after load
 *   infer()                     many times; fully confined by the serving
 *                               seccomp allowlist: file calls fail with
 *                               EACCES, no sockets, no new processes
 *   unload()                    at most once; the process then exits
 *
 * The plugin is never dlclose'd: a worker that is done with a plugin ends.
 *
 * Threading: the host calls every entry point from one thread at a time and
 * never concurrently for the same model. A plugin may create its own
 * threads during load() (they are covered by the seccomp filter, which is
 * synchronised across all threads), but not during infer().
 *
 * Errors: every fallible entry point returns a corral_plugin_error, 0 = OK,
 * and may write a NUL-terminated, human-readable detail into the caller's
 * buffer `err` of `errlen` bytes (truncating as needed). No exception,
 * longjmp or signal may cross the boundary: C++ plugins catch everything.
 *
 * Compatibility: structs are append-only. Fields after a version marker
 * exist only when the struct_size says so. A layout never changes without a
 * version bump.
 */
#ifndef CORRAL_PLUGIN_H
#define CORRAL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CORRAL_PLUGIN_MAGIC 0x4c524f43u /* "CORL" little-endian */
#define CORRAL_PLUGIN_ABI_MAJOR 1
#define CORRAL_PLUGIN_ABI_MINOR 0

#define CORRAL_PLUGIN_ENTRY corral_plugin_entry
#define CORRAL_PLUGIN_ENTRY_NAME "corral_plugin_entry"

/* Values are stable forever; appended only. */
typedef enum corral_plugin_error {
	CORRAL_PLUGIN_OK = 0,
	CORRAL_PLUGIN_INVALID_ARGUMENT = 1, /* bad input tensors or parameters */
	CORRAL_PLUGIN_UNSUPPORTED = 2,      /* a type or feature not handled */
	CORRAL_PLUGIN_IO = 3,               /* a model file missing/unreadable */
	CORRAL_PLUGIN_BAD_MODEL = 4,        /* a model file that makes no sense */
	CORRAL_PLUGIN_NO_MEMORY = 5,
	CORRAL_PLUGIN_INTERNAL = 6,
} corral_plugin_error;

/* Opaque per-request context, handed to infer() and back to the host's
 * output_alloc(). Valid only during that infer() call. */
typedef struct corral_infer_ctx corral_infer_ctx;

/* A declared input or output. `shape` may hold -1 for a dynamic dimension
 * (typically the batch dimension). `dtype` is the datatype metadata
 * reports; `also_accepts` is a bit mask, (1u << dtype) per further datatype
 * that infer() handles for this input itself (e.g. FP32 as well as FP64);
 * 0 for none, and ignored for outputs. `labels` is NULL, or a
 * NULL-terminated list naming the entries along the last dimension
 * (feature names of an input, class names of an output), as many as that
 * dimension holds when it is fixed; metadata reports them. Arrays of this
 * struct are part of the ABI: its layout is fixed for ABI major 1. */
typedef struct corral_tensor_spec {
	const char *name;
	corral_dtype dtype;
	uint32_t ndim;
	const int64_t *shape;
	uint32_t also_accepts;
	const char *const *labels;
} corral_tensor_spec;

#define CORRAL_ACCEPTS(dtype) (1u << (dtype))

/* A model's signature. Every pointer in it is owned by the plugin and must
 * stay valid until unload(). */
typedef struct corral_signature {
	const corral_tensor_spec *inputs;
	size_t n_inputs;
	const corral_tensor_spec *outputs;
	size_t n_outputs;
} corral_signature;

/* One `key: value` from the model's config.yaml `parameters:` map. */
typedef struct corral_param {
	const char *key;
	const char *value;
} corral_param;

/*
 * Services the host offers a plugin. Passed to load(); the table and
 * everything it points to stay valid for the life of the process.
 */
typedef struct corral_host_api {
	uint32_t struct_size; /* sizeof(corral_host_api) of the host */
	/* --- ABI 1.0 --- */

	/*
	 * Allocate the output tensor `name` with the given datatype and shape
	 * (no -1 dimensions) for the current request, and return a buffer of
	 * exactly elements * corral_dtype_size(dtype) bytes for the plugin to
	 * fill; NULL when the name was already allocated, the shape is invalid,
	 * the type is BYTES (see output_alloc_bytes), or memory is exhausted. A zero-element output
	 * still gets a non-NULL pointer. Buffers are aligned for any scalar
	 * type. The host owns the buffer; it is valid until infer() returns.
	 * `name` and `shape` are copied.
	 * Callable only from inside infer(), on the thread that called it.
	 */
	void *(*output_alloc)(corral_infer_ctx *ctx, const char *name,
	    corral_dtype dtype, uint32_t ndim, const int64_t *shape);

	/* Write a line to the worker's log. Any thread, any time. */
	void (*log)(int level, const char *msg);

	/*
	 * Allocate the BYTES output `name` with the given shape and return a
	 * buffer of exactly `nbytes` bytes for the plugin to fill with the
	 * BYTES raw layout: per element, in row-major order, a 4-byte
	 * little-endian length and then that many bytes. When infer() returns,
	 * the host checks that the buffer holds exactly the shape's elements
	 * that way, and fails the request otherwise. NULL on a duplicate name,
	 * an invalid shape, an nbytes too small for the elements' lengths, or
	 * no memory. Ownership and threading as for output_alloc.
	 */
	void *(*output_alloc_bytes)(corral_infer_ctx *ctx, const char *name,
	    uint32_t ndim, const int64_t *shape, size_t nbytes);
} corral_host_api;

#define CORRAL_LOG_ERROR 0
#define CORRAL_LOG_WARN 1
#define CORRAL_LOG_INFO 2
#define CORRAL_LOG_DEBUG 3

/* What load() is given. Everything is owned by the host and valid only
 * during load(): copy what must outlive it. */
typedef struct corral_load_args {
	uint32_t struct_size; /* sizeof(corral_load_args) of the host */
	/* --- ABI 1.0 --- */
	const char *model_name;
	int64_t model_version;
	const char *version_dir; /* <repository>/<model>/<version> */
	const corral_param *params;
	size_t n_params;
} corral_load_args;

typedef struct corral_plugin {
	uint32_t magic;       /* CORRAL_PLUGIN_MAGIC */
	uint16_t abi_major;   /* CORRAL_PLUGIN_ABI_MAJOR the plugin built with */
	uint16_t abi_minor;   /* CORRAL_PLUGIN_ABI_MINOR the plugin built with */
	uint32_t struct_size; /* sizeof(corral_plugin) the plugin built with */
	const char *name;     /* e.g. "linear" */
	const char *version;  /* the plugin's own version, e.g. "1.0.0" */
	/* --- ABI 1.0 --- */

	/*
	 * Load the model found in args->version_dir and store an opaque handle
	 * in *model. Runs before confinement: may open and read files, create
	 * threads. The handle is the plugin's; the host passes it back to
	 * every later call. On error *model is ignored.
	 */
	corral_plugin_error (*load)(const corral_host_api *host,
	    const corral_load_args *args, void **model, char *err, size_t errlen);

	/* Fill *sig with the model's signature; see corral_signature for who
	 * owns what. */
	corral_plugin_error (*describe)(void *model, corral_signature *sig,
	    char *err, size_t errlen);

	/*
	 * Run the model on `inputs` (n_inputs views, in any order, already
	 * checked by the host against describe(): every declared input is
	 * present once, no other; each datatype is the declared one or one in
	 * also_accepts; the rank and every fixed dimension match). The views and their data are owned
	 * by the host and valid only during the call. Input data points into a
	 * network message and may be unaligned: read it with memcpy. Outputs are allocated
	 * with host->output_alloc(ctx, ...) and filled before returning.
	 * Runs confined: no file, socket or process calls.
	 */
	corral_plugin_error (*infer)(void *model, corral_infer_ctx *ctx,
	    const corral_tensor *inputs, size_t n_inputs, char *err,
	    size_t errlen);

	/* Release the model. May be skipped when the process is ending. */
	void (*unload)(void *model);

	/* Syscall names (as libseccomp spells them) that infer() needs beyond
	 * corral's base serving policy, NULL-terminated; NULL for none. Names
	 * the base policy denies, restricts by argument or answers with an
	 * error are refused, and the worker does not serve (docs/security.md). */
	const char *const *extra_syscalls;
	/* --- end of ABI 1.0 --- */
} corral_plugin;

/* Size of corral_plugin as ABI 1.0 defined it. */
#define CORRAL_PLUGIN_SIZE_1_0 \
	(offsetof(corral_plugin, extra_syscalls) + sizeof(const char *const *))

/* The one symbol a plugin exports. Returns a pointer to a static const
 * descriptor; may be called more than once, from any thread. */
typedef const corral_plugin *(*corral_plugin_entry_fn)(void);

#if defined(__GNUC__)
#define CORRAL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CORRAL_PLUGIN_EXPORT
#endif

/* The prototype every plugin defines (and the only symbol it exports):
 *   CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void)
 *   { return &my_descriptor; }
 * Enums in this header are int-sized: build plugins without -fshort-enums. */
CORRAL_PLUGIN_EXPORT const corral_plugin *CORRAL_PLUGIN_ENTRY(void);

#ifdef __cplusplus
}
#endif
#endif /* CORRAL_PLUGIN_H */
