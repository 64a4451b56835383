// act_edge_cpp: Python bindings of the C++ ensemble, chunk queue, validation, sha256 and profiler,
// so that pytest can prove the C++ and Python implementations agree (tests/test_cpp_bindings.py).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "act_edge/action_check.hpp"
#include "act_edge/manifest.hpp"
#include "act_edge/observation.hpp"
#include "act_edge/post_steps.hpp"
#include "act_edge/profiler.hpp"
#include "act_edge/sha256.hpp"
#include "act_edge/temporal_ensemble.hpp"

namespace py = pybind11;
using namespace act_edge;

namespace {

using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;

// The ensemble / queue refused a (rows, cols) chunk: ActionError with the Python Policy's message.
[[noreturn]] void refused(const float* chunk, std::size_t rows, std::size_t cols) {
    throw ActionError(refused_chunk_message(chunk, rows, cols));
}

void check_2d(const py::array& a, std::size_t rows, std::size_t cols, const char* what) {
    if (a.ndim() != 2 || static_cast<std::size_t>(a.shape(0)) != rows || static_cast<std::size_t>(a.shape(1)) != cols) {
        throw py::value_error(std::string(what) + ": expected shape (" + std::to_string(rows) + ", " + std::to_string(cols) + ")");
    }
}

// Holds converted arrays and dtype names alive while an Observation views them.
struct ObsHolder {
    std::deque<std::string> strings;
    std::vector<py::array> arrays;
    Observation obs;

    std::string_view keep(std::string s) {
        strings.push_back(std::move(s));
        return strings.back();
    }
    ArrayView view(const py::handle& value) {
        py::array a = py::array::ensure(value);
        if (!a) throw py::type_error("cannot convert to an array");
        const std::string dtype = py::str(a.dtype().attr("name"));
        if (dtype == "float32" || dtype == "float64") {
            a = py::module_::import("numpy").attr("ascontiguousarray")(a);
        }
        arrays.push_back(a);
        std::vector<std::int64_t> dims(a.shape(), a.shape() + a.ndim());
        const bool is_float = dtype == "float32" || dtype == "float64";
        return ArrayView(keep(dtype), dims.data(), static_cast<int>(dims.size()), is_float ? a.data() : nullptr);
    }
    static bool array_like(const py::handle& v) { return py::isinstance<py::array>(v); }
    static std::string key_name(const py::handle& k) {
        return py::isinstance<py::str>(k) ? k.cast<std::string>() : std::string(py::str(k));
    }
    std::string type_name(const py::handle& v) { return py::str(py::type::of(v).attr("__name__")); }
};

ObservationSchema schema_from(const py::object& io_inputs) {
    if (py::isinstance<py::str>(io_inputs)) return ObservationSchema::from_io_inputs_json(io_inputs.cast<std::string>());
    const std::string text = py::str(py::module_::import("json").attr("dumps")(io_inputs));
    return ObservationSchema::from_io_inputs_json(text);
}

// The first failure as in docs/observation-rules.md, or None.
std::optional<std::string> check(const py::object& io_inputs, const py::object& obs, bool batched,
                                 std::int64_t max_batch) {
    ObservationSchema schema = schema_from(io_inputs);
    ObsHolder h;
    if (!py::isinstance<py::dict>(obs)) return "observation: expected a dict, got " + h.type_name(obs);
    for (auto item : obs.cast<py::dict>()) {
        const std::string_view name = h.keep(ObsHolder::key_name(item.first));
        if (py::isinstance<py::dict>(item.second)) {
            auto& f = h.obs.add_cameras(name);
            for (auto cam : item.second.cast<py::dict>()) {
                const std::string_view cname = h.keep(ObsHolder::key_name(cam.first));
                if (ObsHolder::array_like(cam.second)) f.cameras.emplace_back(cname, h.view(cam.second));
                else {
                    ArrayView not_array(h.keep(h.type_name(cam.second)), {});
                    not_array.is_array = false;
                    f.cameras.emplace_back(cname, not_array);
                }
            }
        } else if (ObsHolder::array_like(item.second)) {
            h.obs.add_array(name, h.view(item.second));
        } else {
            h.obs.add_other(name, h.keep(h.type_name(item.second)));
        }
    }
    return check_observation(schema, h.obs, batched, max_batch);
}

}  // namespace

PYBIND11_MODULE(act_edge_cpp, m) {
    m.doc() = "C++ act_edge runtime pieces (ensemble, chunk queue, validation, sha256, profiler, post-steps, "
              "finite check) for parity tests";
    static py::exception<ObservationError> obs_error(m, "ObservationError", PyExc_ValueError);
    py::register_exception<BundleError>(m, "BundleError", PyExc_RuntimeError);
    py::register_exception<ActionError>(m, "ActionError", PyExc_RuntimeError);

    py::class_<PostSteps>(m, "PostSteps")
        .def(py::init([](const py::object& steps, std::size_t action_dim) {
                 // steps: the manifest's runtime.post_steps as a Python value (None/list) or JSON text.
                 const std::string text = py::isinstance<py::str>(steps)
                     ? steps.cast<std::string>()
                     : py::str(py::module_::import("json").attr("dumps")(steps)).cast<std::string>();
                 return PostSteps(text, action_dim);
             }), py::arg("steps"), py::arg("action_dim"))
        .def("__bool__", [](const PostSteps& p) { return bool(p); })
        .def_property_readonly("action_dim", &PostSteps::action_dim)
        .def_property_readonly("snaps", [](const PostSteps& p) {
                std::vector<py::tuple> out;
                for (const auto& s : p.snaps()) out.push_back(py::make_tuple(s.index, s.threshold, s.low, s.high));
                return out;
            }, "(index, threshold, low, high) per snapped dimension, float32 values")
        .def("apply", [](const PostSteps& p, py::array_t<float, py::array::c_style> actions) {
                // In place on a C-contiguous float32 (..., action_dim) array, like the Python apply().
                if (actions.ndim() < 1 || static_cast<std::size_t>(actions.shape(actions.ndim() - 1)) != p.action_dim())
                    throw py::value_error("actions: expected shape (..., " + std::to_string(p.action_dim()) + ")");
                p.apply(actions.mutable_data(), static_cast<std::size_t>(actions.size()) / p.action_dim());
                return actions;
            }, py::arg("actions").noconvert());

    m.def("find_non_finite", [](const F32& a) {
            std::vector<std::int64_t> shape(a.shape(), a.shape() + a.ndim());
            return find_non_finite(a.data(), shape.data(), static_cast<int>(shape.size()));
        }, py::arg("actions"), "The ActionError message for the first nan/inf of `actions`, or None.");
    m.def("check_finite", [](const F32& a) {
            std::vector<std::int64_t> shape(a.shape(), a.shape() + a.ndim());
            check_finite(a.data(), shape.data(), static_cast<int>(shape.size()));
        }, py::arg("actions"), "Raises ActionError as TrtPolicy does for a chunk with nan/inf.");

    py::class_<TemporalEnsemble>(m, "TemporalEnsemble")
        .def(py::init<std::size_t, std::size_t, double>(), py::arg("chunk_size"), py::arg("action_dim"), py::arg("coeff"))
        .def("reset", &TemporalEnsemble::reset)
        .def("update", [](TemporalEnsemble& e, const F32& chunk) {
                check_2d(chunk, e.chunk_size(), e.action_dim(), "chunk");
                py::array_t<float> out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(e.action_dim())});
                if (!e.update(chunk.data(), out.mutable_data())) refused(chunk.data(), e.chunk_size(), e.action_dim());
                return out;
            }, py::arg("chunk"))
        .def("run", [](TemporalEnsemble& e, const F32& chunks, std::vector<std::int64_t> reset_at) {
                // chunks (T, C, A) -> actions (T, A); reset() before the steps listed in reset_at.
                // ActionError at the first chunk with nan/inf (the steps before it are taken).
                if (chunks.ndim() != 3 || static_cast<std::size_t>(chunks.shape(1)) != e.chunk_size() ||
                    static_cast<std::size_t>(chunks.shape(2)) != e.action_dim())
                    throw py::value_error("chunks: expected shape (T, chunk_size, action_dim)");
                const auto T = chunks.shape(0);
                const std::size_t per = e.chunk_size() * e.action_dim();
                py::array_t<float> out({T, static_cast<py::ssize_t>(e.action_dim())});
                for (py::ssize_t t = 0; t < T; ++t) {
                    if (std::find(reset_at.begin(), reset_at.end(), t) != reset_at.end()) e.reset();
                    const float* c = chunks.data() + t * per;
                    if (!e.update(c, out.mutable_data() + t * e.action_dim())) refused(c, e.chunk_size(), e.action_dim());
                }
                return out;
            }, py::arg("chunks"), py::arg("reset_at") = std::vector<std::int64_t>{})
        .def("add", [](TemporalEnsemble& e, const F32& chunk, std::int64_t age) {
                // Fold in a (C, A) chunk predicted `age` ticks before the current tick (age >= C adds nothing).
                check_2d(chunk, e.chunk_size(), e.action_dim(), "chunk");
                if (age < 0) throw py::value_error("age must be >= 0, got " + std::to_string(age));
                if (!e.add(chunk.data(), static_cast<std::size_t>(age))) refused(chunk.data(), e.chunk_size(), e.action_dim());
            }, py::arg("chunk"), py::arg("age"))
        .def("pop", [](TemporalEnsemble& e) {
                // This tick's (A,) action; a starved tick repeats the last one (see `starved`).
                py::array_t<float> out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(e.action_dim())});
                if (e.pop(out.mutable_data()) == act_edge::PopResult::empty)
                    throw std::runtime_error(act_edge::kEnsembleEmptyMessage);  // as Python's RuntimeError
                return out;
            })
        .def_property_readonly("starved", &TemporalEnsemble::starved)
        .def_property_readonly("steps", &TemporalEnsemble::steps)
        .def_property_readonly("chunk_size", &TemporalEnsemble::chunk_size)
        .def_property_readonly("action_dim", &TemporalEnsemble::action_dim)
        .def_property_readonly("coeff", &TemporalEnsemble::coeff);

    py::class_<ChunkQueue>(m, "ChunkQueue")
        .def(py::init<std::size_t, std::size_t>(), py::arg("n_action_steps"), py::arg("action_dim"))
        .def("reset", &ChunkQueue::reset)
        .def_property_readonly("empty", &ChunkQueue::empty)
        .def("__len__", &ChunkQueue::size)
        .def("push", [](ChunkQueue& q, const F32& chunk, std::int64_t age) {
                if (chunk.ndim() != 2 || static_cast<std::size_t>(chunk.shape(1)) != q.action_dim())
                    throw py::value_error("chunk: expected shape (rows, action_dim)");
                const auto rows = static_cast<std::size_t>(chunk.shape(0));
                if (rows < q.n_action_steps()) throw py::value_error("chunk: fewer rows than n_action_steps");
                if (age < 0) throw py::value_error("age must be >= 0, got " + std::to_string(age));
                if (!q.push(chunk.data(), rows, static_cast<std::size_t>(age))) refused(chunk.data(), rows, q.action_dim());
            }, py::arg("chunk"), py::arg("age") = 0)
        .def_property_readonly("starved", &ChunkQueue::starved)
        .def("pop_or_repeat", [](ChunkQueue& q) {
                py::array_t<float> out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(q.action_dim())});
                q.pop_or_repeat(out.mutable_data());
                return out;
            })
        .def("pop", [](ChunkQueue& q) {
                py::array_t<float> out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(q.action_dim())});
                if (!q.pop(out.mutable_data())) throw py::index_error("pop from an empty ChunkQueue");
                return out;
            });

    m.def("bench_ensemble_step_ns", [](std::size_t chunk, std::size_t dim, double coeff, int steps, int repeats) {
            // Median over `repeats` of the mean ns per steady-state update, timed inside C++.
            TemporalEnsemble e(chunk, dim, coeff);
            std::mt19937 rng(0);
            std::normal_distribution<float> nd;
            std::vector<float> chunks(8 * chunk * dim), out(dim);
            for (auto& x : chunks) x = nd(rng);
            const std::size_t per = chunk * dim;
            bool ok = true;
            for (std::size_t i = 0; i < 2 * chunk; ++i) ok &= e.update(chunks.data() + (i % 8) * per, out.data());
            std::vector<double> ns;
            volatile float sink = 0;
            for (int r = 0; r < repeats; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                for (int i = 0; i < steps; ++i) ok &= e.update(chunks.data() + (i % 8) * per, out.data());
                const auto t1 = std::chrono::steady_clock::now();
                sink = sink + out[0];
                ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / steps);
            }
            if (!ok) throw std::logic_error("bench_ensemble_step_ns: a finite chunk was refused");
            return percentile(ns, 50);
        }, py::arg("chunk_size") = 100, py::arg("action_dim") = 14, py::arg("coeff") = 0.01, py::arg("steps") = 10000,
        py::arg("repeats") = 31);

    m.def("check_observation", &check, py::arg("io_inputs"), py::arg("obs"), py::arg("batched") = false,
          py::arg("max_batch") = INT64_MAX,
          "The first failure message (docs/observation-rules.md) or None. io_inputs: manifest io.inputs (list or JSON).");
    m.def("validate_observation", [](const py::object& io, const py::object& obs, bool batched,
                                     std::int64_t max_batch) {
            if (auto bad = check(io, obs, batched, max_batch)) {
                PyErr_SetString(obs_error.ptr(), bad->c_str());
                throw py::error_already_set();
            }
        }, py::arg("io_inputs"), py::arg("obs"), py::arg("batched") = false, py::arg("max_batch") = INT64_MAX);

    m.def("sha256_hex", [](const py::bytes& b) { return sha256_hex(std::string(b)); });
    m.def("sha256_file", &sha256_file);
    m.def("parse_manifest_error", [](const std::string& text, const std::string& origin) -> std::optional<std::string> {
            try {
                parse_manifest(text, origin);
                return std::nullopt;
            } catch (const BundleError& e) {
                return std::string(e.what());
            }
        }, "The BundleError message parsing this manifest text gives, or None.");
    m.def("read_manifest_error", [](const std::string& bundle_dir) -> std::optional<std::string> {
            try {
                read_manifest(bundle_dir);
                return std::nullopt;
            } catch (const BundleError& e) {
                return std::string(e.what());
            }
        }, "The BundleError message read_manifest(bundle_dir) gives (strict JSON, typed keys, paths confined), or None.");

    py::tuple stages(kNumStages);
    for (int s = 0; s < kNumStages; ++s) stages[s] = py::str(stage_name(static_cast<Stage>(s)));
    m.attr("PROFILER_STAGES") = stages;
    py::class_<Profiler>(m, "Profiler")
        .def(py::init<std::size_t>(), py::arg("capacity") = 4096)
        .def("begin_step", &Profiler::begin_step)
        .def("record", [](Profiler& p, const std::string& stage, double us) {
                if (auto s = stage_from_name(stage)) return p.record(*s, us);
                throw py::value_error("unknown stage " + stage);
            }, "Adds `us` microseconds to a stage of the current step.")
        .def("end_step", &Profiler::end_step)
        .def("record_step", [](Profiler& p, const std::vector<double>& us) {
                if (us.size() != static_cast<std::size_t>(kNumStages))
                    throw py::value_error("record_step: expected " + std::to_string(kNumStages) + " durations");
                Profiler::Row row;
                std::copy(us.begin(), us.end(), row.begin());
                p.record_step(row);
            }, "Stores one step's durations (us, PROFILER_STAGES order; 0 = skipped).")
        .def_property_readonly("steps", &Profiler::steps)
        .def_property_readonly("window", &Profiler::window)
        .def("report_json", [](const Profiler& p) { return p.report().to_json(); })
        .def("clear", &Profiler::clear);
}
