// Exceptions of the C++ API. Every message is one line that names the culprit (file, field), as in
// act_edge/errors.py. The C API (act_edge.h) turns them into status codes + act_edge_last_error().
#pragma once

#include <stdexcept>
#include <string>

namespace act_edge {

// A bundle directory, its manifest or an artifact is missing, corrupt or of an unsupported version.
class BundleError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An engine cannot run here (TensorRT/GPU mismatch with the engine key, built without TensorRT).
class BackendUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An observation breaks the io contract (docs/observation-rules.md); nothing was staged.
class ObservationError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// The model produced unusable actions (nan/inf); nothing was passed on and the ensemble / chunk
// queue was not updated (act_edge/errors.py ActionError).
class ActionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A second thread entered step() (or reset/close) while another thread was inside one of them: refused
// at once, nothing touched (act_edge/errors.py ConcurrentUseError). One control thread calls step().
class ConcurrentUseError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

}  // namespace act_edge
