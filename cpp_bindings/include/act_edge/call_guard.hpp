#pragma once
// One control thread per object: a guard held for the duration of a call. A second thread entering
// meanwhile gets ConcurrentUseError at once and nothing is touched (the Python Policy's rule).

#include <atomic>

#include "act_edge/errors.hpp"

namespace act_edge {

class CallGuard {
public:
    // `message`: the one-line error for a second thread (names the class and its methods).
    CallGuard(std::atomic<bool>& busy, const char* message) : busy_(busy) {
        if (busy_.exchange(true, std::memory_order_acquire)) throw ConcurrentUseError(message);
    }
    ~CallGuard() { busy_.store(false, std::memory_order_release); }
    CallGuard(const CallGuard&) = delete;
    CallGuard& operator=(const CallGuard&) = delete;

private:
    std::atomic<bool>& busy_;
};

}  // namespace act_edge
