// Internal (not installed): parsing runtime.post_steps from an nlohmann::json value, shared by the
// PostSteps text constructor and parse_manifest.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "act_edge/post_steps.hpp"

namespace act_edge::detail {

// `steps`: the manifest's runtime.post_steps value (null = none). Throws BundleError.
PostSteps parse_post_steps(const nlohmann::json& steps, std::size_t action_dim);

}  // namespace act_edge::detail
