// The manifest's runtime.post_steps (docs/bundle-format.md), applied to each emitted action in robot
// units, after temporal ensembling / chunk-queue selection: the C++ side of act_edge/post_steps.py.
//
// Only `snap_gripper` exists: a[i] = high if a[i] > threshold else low (ties go to low). An unknown
// op is refused at load, never skipped: a runtime that does not know a step must not run the policy
// without it. Parsing errors are BundleError with the Python runtime's text for the same input.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "act_edge/errors.hpp"

namespace act_edge {

class PostSteps {
public:
    // One snapped action dimension. threshold/low/high are float32, as the action is: the
    // comparison is a float32 one, as numpy (>= 2) does it for a float32 action and a Python float.
    struct Snap {
        std::size_t index = 0;
        float threshold = 0, low = 0, high = 0;
    };

    // No steps: apply() does nothing.
    PostSteps() = default;
    // Parse the JSON text of the manifest's runtime.post_steps ("null" or "[]": no steps) for an
    // action of `action_dim` values. Throws BundleError, e.g.
    //   "manifest runtime.post_steps[0]: unknown op 'clip' (this runtime knows ['snap_gripper']);
    //    upgrade act-edge rather than run the policy without it"
    // (one line), with the text Python's act_edge.post_steps.PostSteps gives (see README for the
    // inputs where only its prefix can match).
    PostSteps(std::string_view json_text, std::size_t action_dim);
    // Already parsed snaps, applied in order; throws std::invalid_argument for an index >= action_dim.
    PostSteps(std::vector<Snap> snaps, std::size_t action_dim);

    // Snap in place: `actions` is n_rows x action_dim floats, row-major. No allocation.
    void apply(float* actions, std::size_t n_rows) const noexcept {
        for (std::size_t r = 0; r < n_rows; ++r) {
            float* a = actions + r * action_dim_;
            for (const Snap& s : snaps_) a[s.index] = a[s.index] > s.threshold ? s.high : s.low;
        }
    }

    bool empty() const noexcept { return snaps_.empty(); }
    explicit operator bool() const noexcept { return !snaps_.empty(); }
    std::size_t action_dim() const noexcept { return action_dim_; }
    const std::vector<Snap>& snaps() const noexcept { return snaps_; }

private:
    std::vector<Snap> snaps_;
    std::size_t action_dim_ = 0;
};

}  // namespace act_edge
