// C API over the C++ library. Every entry point catches everything: no exception crosses into C.
#include "act_edge/act_edge.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "act_edge/action_check.hpp"
#include "act_edge/manifest.hpp"
#include "act_edge/observation.hpp"
#include "act_edge/temporal_ensemble.hpp"
#include "act_edge/trt_policy.hpp"  // without TensorRT: a stub whose constructor throws BackendUnavailable

struct act_edge_ensemble { act_edge::TemporalEnsemble impl; };
struct act_edge_chunk_queue { act_edge::ChunkQueue impl; };
struct act_edge_schema { act_edge::ObservationSchema impl; };
struct act_edge_policy { act_edge::TrtPolicy impl; };

namespace {

thread_local std::string g_last_error;

act_edge_status fail(act_edge_status s, const char* msg) noexcept {
    try { g_last_error = msg; } catch (...) {}
    return s;
}

// Map the exception in flight to a status + last_error.
act_edge_status from_exception() noexcept {
    try {
        throw;
    } catch (const act_edge::ObservationError& e) {
        return fail(ACT_EDGE_ERR_OBSERVATION, e.what());
    } catch (const act_edge::BundleError& e) {
        return fail(ACT_EDGE_ERR_BUNDLE, e.what());
    } catch (const act_edge::BackendUnavailable& e) {
        return fail(ACT_EDGE_ERR_UNAVAILABLE, e.what());
    } catch (const act_edge::ActionError& e) {
        return fail(ACT_EDGE_ERR_ACTION, e.what());
    } catch (const act_edge::ConcurrentUseError& e) {
        return fail(ACT_EDGE_ERR_CONCURRENT, e.what());
    } catch (const std::invalid_argument& e) {
        return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, e.what());
    } catch (const std::bad_alloc&) {
        return fail(ACT_EDGE_ERR_INTERNAL, "out of memory");
    } catch (const std::runtime_error& e) {
        return fail(ACT_EDGE_ERR_RUNTIME, e.what());
    } catch (const std::exception& e) {
        return fail(ACT_EDGE_ERR_INTERNAL, e.what());
    } catch (...) {
        return fail(ACT_EDGE_ERR_INTERNAL, "unknown C++ exception");
    }
}

// The ensemble / queue refused a (rows, cols) chunk: ACT_EDGE_ERR_ACTION with the Python Policy's
// ActionError message (allocates only here, off the normal path).
act_edge_status refused_chunk(const float* chunk, std::size_t rows, std::size_t cols) noexcept {
    try {
        return fail(ACT_EDGE_ERR_ACTION, act_edge::refused_chunk_message(chunk, rows, cols).c_str());
    } catch (...) {
        return fail(ACT_EDGE_ERR_ACTION, "model output: chunk refused (the ensemble/queue was not updated)");
    }
}

act_edge_status ok() noexcept {
    g_last_error.clear();
    return ACT_EDGE_OK;
}

// new Handle from make(), or NULL with last_error set.
template <class Handle, class Make>
Handle* create(Make make) noexcept {
    try {
        Handle* h = make();
        ok();
        return h;
    } catch (...) {
        from_exception();
        return nullptr;
    }
}

// C tensors -> Observation (views onto the caller's strings and arrays).
act_edge::Observation to_observation(const act_edge_tensor* t, size_t n) {
    if (n && !t) throw std::invalid_argument("observation tensors: NULL pointer with n_tensors > 0");
    act_edge::Observation obs;
    for (size_t i = 0; i < n; ++i) {
        if (!t[i].field || !t[i].dtype || (t[i].ndim > 0 && !t[i].shape))
            throw std::invalid_argument("observation tensor " + std::to_string(i) + ": NULL field, dtype or shape");
        act_edge::ArrayView view(t[i].dtype, t[i].shape, t[i].ndim, t[i].data);
        if (!t[i].camera) {
            obs.add_array(t[i].field, view);
            continue;
        }
        act_edge::ObservationField* f = nullptr;
        for (auto& g : obs.fields)
            if (g.name == t[i].field && g.kind == act_edge::ObservationField::Kind::Cameras) f = &g;
        if (!f) f = &obs.add_cameras(t[i].field);
        f->cameras.emplace_back(t[i].camera, view);
    }
    return obs;
}

}  // namespace

extern "C" {

const char* act_edge_last_error(void) { return g_last_error.c_str(); }

int act_edge_has_tensorrt(void) { return act_edge::tensorrt_available() ? 1 : 0; }

act_edge_ensemble* act_edge_ensemble_create(size_t chunk_size, size_t action_dim, double coeff) {
    return create<act_edge_ensemble>(
        [&] { return new act_edge_ensemble{act_edge::TemporalEnsemble(chunk_size, action_dim, coeff)}; });
}

void act_edge_ensemble_destroy(act_edge_ensemble* e) { delete e; }

act_edge_status act_edge_ensemble_reset(act_edge_ensemble* e) {
    if (!e) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_ensemble_reset: NULL handle");
    e->impl.reset();
    return ok();
}

act_edge_status act_edge_ensemble_update(act_edge_ensemble* e, const float* chunk, size_t chunk_len, float* action,
                                         size_t action_len) {
    if (!e || !chunk || !action) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_ensemble_update: NULL argument");
    const auto& t = e->impl;
    if (chunk_len != t.chunk_size() * t.action_dim() || action_len != t.action_dim())
        return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_ensemble_update: chunk_len must be chunk_size*action_dim and action_len action_dim");
    if (!e->impl.update(chunk, action)) return refused_chunk(chunk, t.chunk_size(), t.action_dim());
    return ACT_EDGE_OK;  // hot path: last_error left as is
}

act_edge_status act_edge_ensemble_add(act_edge_ensemble* e, const float* chunk, size_t chunk_len, size_t age) {
    if (!e || !chunk) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_ensemble_add: NULL argument");
    const std::size_t C = e->impl.chunk_size(), A = e->impl.action_dim();
    if (chunk_len != C * A) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_ensemble_add: chunk_len must be chunk_size*action_dim");
    if (!e->impl.add(chunk, age)) return refused_chunk(chunk, C, A);
    return ok();
}

act_edge_status act_edge_ensemble_pop(act_edge_ensemble* e, float* action, size_t action_len, int* starved) {
    if (!e || !action) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_ensemble_pop: NULL argument");
    if (action_len != e->impl.action_dim()) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_ensemble_pop: action_len must be action_dim");
    const act_edge::PopResult r = e->impl.pop(action);
    if (r == act_edge::PopResult::empty) return fail(ACT_EDGE_ERR_ACTION, act_edge::kEnsembleEmptyMessage);
    if (starved) *starved = r == act_edge::PopResult::starved ? 1 : 0;
    return ok();
}

act_edge_chunk_queue* act_edge_chunk_queue_create(size_t n_action_steps, size_t action_dim) {
    return create<act_edge_chunk_queue>(
        [&] { return new act_edge_chunk_queue{act_edge::ChunkQueue(n_action_steps, action_dim)}; });
}

void act_edge_chunk_queue_destroy(act_edge_chunk_queue* q) { delete q; }

act_edge_status act_edge_chunk_queue_reset(act_edge_chunk_queue* q) {
    if (!q) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_chunk_queue_reset: NULL handle");
    q->impl.reset();
    return ok();
}

int act_edge_chunk_queue_empty(const act_edge_chunk_queue* q) { return q ? (q->impl.empty() ? 1 : 0) : -1; }

act_edge_status act_edge_chunk_queue_update(act_edge_chunk_queue* q, const float* chunk, size_t chunk_rows,
                                            float* action, size_t action_len) {
    if (!q || !action) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_chunk_queue_update: NULL argument");
    if (action_len != q->impl.action_dim()) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_chunk_queue_update: action_len must be action_dim");
    if (q->impl.empty() && (!chunk || chunk_rows < q->impl.n_action_steps()))
        return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_chunk_queue_update: the queue is empty and needs a chunk of at least n_action_steps rows");
    if (!q->impl.update(chunk, chunk_rows, action)) return refused_chunk(chunk, chunk_rows, q->impl.action_dim());
    return ACT_EDGE_OK;
}

void act_edge_options_init(act_edge_options* o) {
    if (!o) return;
    o->device = 0;
    o->precision = nullptr;
    o->mode = ACT_EDGE_MODE_MANIFEST;
    o->ensemble_coeff = 0.01;
    o->n_action_steps = 0;
    o->use_cuda_graph = 1;
    o->max_batch = 0;
    o->verify_sha256 = 1;
    o->inference = ACT_EDGE_INFERENCE_SYNC;
    o->refill_margin = -1;
}

act_edge_policy* act_edge_policy_create(const char* bundle_dir, const act_edge_options* opts) {
    if (!bundle_dir) {
        fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_policy_create: NULL bundle_dir");
        return nullptr;
    }
    return create<act_edge_policy>([&] {
        act_edge_options d;
        act_edge_options_init(&d);
        const act_edge_options& o = opts ? *opts : d;
        act_edge::TrtPolicyOptions to;
        to.bundle_dir = bundle_dir;
        to.device = o.device;
        to.precision = o.precision ? o.precision : "";
        to.mode = o.mode == ACT_EDGE_MODE_ENSEMBLE ? act_edge::TrtPolicyOptions::Mode::Ensemble
                  : o.mode == ACT_EDGE_MODE_CHUNK_QUEUE ? act_edge::TrtPolicyOptions::Mode::ChunkQueue
                                                        : act_edge::TrtPolicyOptions::Mode::ManifestDefault;
        to.ensemble_coeff = o.ensemble_coeff;
        to.n_action_steps = o.n_action_steps;
        to.use_cuda_graph = o.use_cuda_graph != 0;
        to.max_batch = o.max_batch;
        to.verify_sha256 = o.verify_sha256 != 0;
        if (o.inference != ACT_EDGE_INFERENCE_SYNC && o.inference != ACT_EDGE_INFERENCE_ASYNC)
            throw std::invalid_argument("act_edge_options.inference must be ACT_EDGE_INFERENCE_SYNC (0) or ACT_EDGE_INFERENCE_ASYNC (1), got " +
                                        std::to_string(static_cast<int>(o.inference)));
        to.inference = o.inference == ACT_EDGE_INFERENCE_ASYNC ? act_edge::TrtPolicyOptions::Inference::Async
                                                               : act_edge::TrtPolicyOptions::Inference::Sync;
        to.refill_margin = o.refill_margin;
        return new act_edge_policy{act_edge::TrtPolicy(std::move(to))};
    });
}

void act_edge_policy_destroy(act_edge_policy* p) { delete p; }

act_edge_status act_edge_policy_reset(act_edge_policy* p) {
    if (!p) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_policy_reset: NULL handle");
    try {
        p->impl.reset();  // async: ConcurrentUseError if another thread is inside step()
        return ok();
    } catch (...) {
        return from_exception();
    }
}

act_edge_status act_edge_policy_step(act_edge_policy* p, const act_edge_tensor* obs, size_t n, float* action,
                                     size_t action_len) {
    if (!p || !action) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_policy_step: NULL argument");
    try {
        if (action_len != p->impl.action_dim()) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_policy_step: action_len must be action_dim");
        p->impl.step(to_observation(obs, n), action);
        return ok();
    } catch (...) {
        return from_exception();
    }
}

act_edge_status act_edge_policy_predict_chunk(act_edge_policy* p, const act_edge_tensor* obs, size_t n, int batched,
                                              float* out, size_t out_len, size_t* batch_out) {
    if (!p || !out) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_policy_predict_chunk: NULL argument");
    try {
        const size_t per = p->impl.chunk_size() * p->impl.action_dim();
        if (out_len < per * (batched ? p->impl.max_batch() : 1))
            return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_policy_predict_chunk: out_len must hold (max_batch or 1) * chunk_size * action_dim floats");
        const size_t b = p->impl.predict_chunk(to_observation(obs, n), out, batched != 0);
        if (batch_out) *batch_out = b;
        return ok();
    } catch (...) {
        return from_exception();
    }
}

size_t act_edge_policy_action_dim(const act_edge_policy* p) {
    return p ? p->impl.action_dim() : 0;
}

size_t act_edge_policy_chunk_size(const act_edge_policy* p) {
    return p ? p->impl.chunk_size() : 0;
}

act_edge_schema* act_edge_schema_create(const char* io_inputs_json) {
    if (!io_inputs_json) {
        fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_schema_create: NULL io_inputs_json");
        return nullptr;
    }
    return create<act_edge_schema>(
        [&] { return new act_edge_schema{act_edge::ObservationSchema::from_io_inputs_json(io_inputs_json)}; });
}

void act_edge_schema_destroy(act_edge_schema* s) { delete s; }

act_edge_status act_edge_validate(const act_edge_schema* s, const act_edge_tensor* obs, size_t n, int batched) {
    if (!s) return fail(ACT_EDGE_ERR_INVALID_ARGUMENT, "act_edge_validate: NULL schema");
    try {
        auto bad = act_edge::check_observation(s->impl, to_observation(obs, n), batched != 0);
        if (bad) return fail(ACT_EDGE_ERR_OBSERVATION, bad->c_str());
        return ok();
    } catch (...) {
        return from_exception();
    }
}

}  // extern "C"
