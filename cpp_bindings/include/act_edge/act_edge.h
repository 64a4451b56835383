/* act_edge C API: FFI from C, Rust, ... No C++ exception crosses it: every function returns a
 * status (or NULL) and act_edge_last_error() gives the one-line message of the last failure on the
 * calling thread. Handles are opaque; a handle is used by one thread at a time. */
#ifndef ACT_EDGE_H
#define ACT_EDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum act_edge_status {
    ACT_EDGE_OK = 0,
    ACT_EDGE_ERR_INVALID_ARGUMENT = 1, /* null handle/pointer, wrong buffer length, bad option */
    ACT_EDGE_ERR_OBSERVATION = 2,      /* observation rejected (docs/observation-rules.md); nothing changed */
    ACT_EDGE_ERR_BUNDLE = 3,           /* manifest/engine file missing, corrupt, unsupported */
    ACT_EDGE_ERR_UNAVAILABLE = 4,      /* built without TensorRT, or the engine does not fit this machine */
    ACT_EDGE_ERR_RUNTIME = 5,          /* CUDA / TensorRT failure */
    ACT_EDGE_ERR_INTERNAL = 6,         /* anything else (out of memory, ...) */
    ACT_EDGE_ERR_ACTION = 7,           /* nan/inf in a model's / caller's chunk; ensemble/queue not updated, output not written */
    ACT_EDGE_ERR_CONCURRENT = 8        /* a second thread called into a policy while another was inside it; nothing changed */
} act_edge_status;

/* Message of the last failure on this thread ("" if none); valid until the next act_edge call on it. */
const char* act_edge_last_error(void);
/* 1 if this library was built with TensorRT (act_edge_policy_* can work), else 0. */
int act_edge_has_tensorrt(void);

/* ---- temporal ensemble (see temporal_ensemble.hpp) ---- */
typedef struct act_edge_ensemble act_edge_ensemble;
/* NULL on error (see act_edge_last_error). */
act_edge_ensemble* act_edge_ensemble_create(size_t chunk_size, size_t action_dim, double coeff);
void act_edge_ensemble_destroy(act_edge_ensemble* e); /* NULL is fine */
act_edge_status act_edge_ensemble_reset(act_edge_ensemble* e);
/* chunk: chunk_size*action_dim floats (row-major); action: action_dim floats out.
 * ACT_EDGE_ERR_ACTION: the chunk holds nan/inf; it is refused as the Python Policy refuses it (same
 * message in act_edge_last_error), the ensemble is unchanged and action is not written. */
act_edge_status act_edge_ensemble_update(act_edge_ensemble* e, const float* chunk, size_t chunk_len,
                                         float* action, size_t action_len);
/* Async (docs/async.md): fold in a chunk predicted `age` ticks before the current tick (age >= chunk_size
 * adds nothing). ACT_EDGE_ERR_ACTION as for update (every row is checked); nothing changed then. */
act_edge_status act_edge_ensemble_add(act_edge_ensemble* e, const float* chunk, size_t chunk_len, size_t age);
/* This tick's action, then the next tick. *starved (may be NULL) = 1 if no added chunk covered the
 * tick: the last action is repeated. With no action since reset there is none to repeat:
 * ACT_EDGE_ERR_ACTION, nothing written, nothing changed (Python raises RuntimeError). */
act_edge_status act_edge_ensemble_pop(act_edge_ensemble* e, float* action, size_t action_len, int* starved);

/* ---- chunk queue ---- */
typedef struct act_edge_chunk_queue act_edge_chunk_queue;
act_edge_chunk_queue* act_edge_chunk_queue_create(size_t n_action_steps, size_t action_dim);
void act_edge_chunk_queue_destroy(act_edge_chunk_queue* q);
act_edge_status act_edge_chunk_queue_reset(act_edge_chunk_queue* q);
/* 1 if the next update needs a chunk, 0 if not, -1 for a NULL handle. */
int act_edge_chunk_queue_empty(const act_edge_chunk_queue* q);
/* chunk may be NULL when the queue is not empty; chunk_rows >= n_action_steps otherwise.
 * ACT_EDGE_ERR_ACTION: the queue was empty and the chunk (all chunk_rows rows) holds nan/inf; nothing
 * was queued and action is not written (message as the Python Policy's ActionError). */
act_edge_status act_edge_chunk_queue_update(act_edge_chunk_queue* q, const float* chunk, size_t chunk_rows,
                                            float* action, size_t action_len);

/* ---- policy (TensorRT engine of a bundle) ---- */
/* One observation array. camera == NULL: a top-level array field ("state", "env_state", stacked
 * "images"); else one camera of the "images" / "depth" mapping. dtype is the numpy name. */
typedef struct act_edge_tensor {
    const char* field;
    const char* camera;
    const char* dtype;
    int ndim;
    const int64_t* shape;
    const void* data;
} act_edge_tensor;

typedef enum act_edge_mode {
    ACT_EDGE_MODE_MANIFEST = 0, /* the bundle's runtime defaults */
    ACT_EDGE_MODE_ENSEMBLE = 1,
    ACT_EDGE_MODE_CHUNK_QUEUE = 2
} act_edge_mode;

typedef enum act_edge_inference {
    ACT_EDGE_INFERENCE_SYNC = 0, /* step() runs the model and waits for it (default) */
    ACT_EDGE_INFERENCE_ASYNC = 1 /* one worker thread runs the model; step() never waits (docs/async.md) */
} act_edge_inference;

typedef struct act_edge_options {
    int device;            /* CUDA device index (0) */
    const char* precision; /* "fp16", "fp32" or NULL: first engine built for this machine */
    act_edge_mode mode;    /* ACT_EDGE_MODE_MANIFEST */
    double ensemble_coeff; /* k for ACT_EDGE_MODE_ENSEMBLE (0.01) */
    int n_action_steps;    /* for ACT_EDGE_MODE_CHUNK_QUEUE; 0 = manifest / chunk size */
    int use_cuda_graph;    /* 1 */
    int max_batch;         /* 0 = engine's */
    int verify_sha256;     /* 1 */
    act_edge_inference inference; /* ACT_EDGE_INFERENCE_SYNC */
    int refill_margin;     /* async chunk queue: request ahead when <= this many actions are left; -1 = measured latency + 1 */
} act_edge_options;

void act_edge_options_init(act_edge_options* opts);

typedef struct act_edge_policy act_edge_policy;
/* NULL on error (act_edge_last_error: e.g. "built without TensorRT", the engine compatibility error). */
act_edge_policy* act_edge_policy_create(const char* bundle_dir, const act_edge_options* opts);
void act_edge_policy_destroy(act_edge_policy* p);
act_edge_status act_edge_policy_reset(act_edge_policy* p);
/* action: this step's action, after the manifest's runtime.post_steps (gripper snapping).
 * ACT_EDGE_ERR_ACTION: the model's chunk had nan/inf (act_edge_last_error names the value and index).
 * Async: never waits on the model except at the first step after create/reset; a failure of the worker
 * (ACT_EDGE_ERR_RUNTIME / ACT_EDGE_ERR_ACTION) is returned by the next step. One control thread calls
 * step/reset/predict_chunk (sync and async); a second thread inside at the same time gets
 * ACT_EDGE_ERR_CONCURRENT (nothing changed).
 * act_edge_policy_destroy joins the worker. */
act_edge_status act_edge_policy_step(act_edge_policy* p, const act_edge_tensor* obs, size_t n_tensors,
                                     float* action, size_t action_len);
/* out: (batch, chunk, action_dim) floats, raw (no post-steps); *batch_out (may be NULL) receives the
 * batch. ACT_EDGE_ERR_ACTION as for act_edge_policy_step. */
act_edge_status act_edge_policy_predict_chunk(act_edge_policy* p, const act_edge_tensor* obs, size_t n_tensors,
                                              int batched, float* out, size_t out_len, size_t* batch_out);
size_t act_edge_policy_action_dim(const act_edge_policy* p);
size_t act_edge_policy_chunk_size(const act_edge_policy* p);

/* ---- observation validation without a policy (same rules and messages) ---- */
typedef struct act_edge_schema act_edge_schema;
/* io_inputs_json: the manifest's io.inputs array as JSON text. */
act_edge_schema* act_edge_schema_create(const char* io_inputs_json);
void act_edge_schema_destroy(act_edge_schema* s);
/* ACT_EDGE_OK, or ACT_EDGE_ERR_OBSERVATION with the message in act_edge_last_error(). */
act_edge_status act_edge_validate(const act_edge_schema* s, const act_edge_tensor* obs, size_t n_tensors, int batched);

#ifdef __cplusplus
}
#endif

#endif /* ACT_EDGE_H */
