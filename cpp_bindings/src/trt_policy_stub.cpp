// TrtPolicy in a build without TensorRT / CUDA: the constructor throws BackendUnavailable, so no
// TrtPolicy object ever exists and the other members are never reached (they throw or return empty
// values). Lets the C API and consumers use TrtPolicy with no #ifdef; act_edge_has_tensorrt() and
// tensorrt_available() say which build this is.
#include "act_edge/trt_policy.hpp"

namespace act_edge {
namespace {

constexpr const char* kUnavailable =
    "built without TensorRT: TrtPolicy needs act_edge built where CMake finds TensorRT and CUDA "
    "(cpp_bindings/README.md); the onnxruntime backend of the Python act_edge.Policy runs anywhere";

[[noreturn]] void unavailable() { throw BackendUnavailable(kUnavailable); }

}  // namespace

struct TrtPolicy::Impl {};

bool tensorrt_available() noexcept { return false; }
MachineInfo this_machine(int) { unavailable(); }

TrtPolicy::TrtPolicy(TrtPolicyOptions) { unavailable(); }
TrtPolicy::~TrtPolicy() = default;
TrtPolicy::TrtPolicy(TrtPolicy&&) noexcept = default;
TrtPolicy& TrtPolicy::operator=(TrtPolicy&&) noexcept = default;

void TrtPolicy::reset() { unavailable(); }
void TrtPolicy::step(const Observation&, float*) { unavailable(); }
std::size_t TrtPolicy::predict_chunk(const Observation&, float*, bool) { unavailable(); }
void TrtPolicy::close() {}
const AsyncStepper* TrtPolicy::async() const noexcept { return nullptr; }
std::size_t TrtPolicy::action_dim() const noexcept { return 0; }
std::size_t TrtPolicy::chunk_size() const noexcept { return 0; }
std::size_t TrtPolicy::max_batch() const noexcept { return 0; }
const Manifest& TrtPolicy::manifest() const noexcept {
    static const Manifest none;
    return none;
}
const PostSteps& TrtPolicy::post_steps() const noexcept { return manifest().runtime.post_steps; }
const ObservationSchema& TrtPolicy::schema() const noexcept {
    static const ObservationSchema none;
    return none;
}
Profiler& TrtPolicy::profiler() noexcept {
    static Profiler none(1);
    return none;
}
std::string TrtPolicy::describe() const { return kUnavailable; }

}  // namespace act_edge
