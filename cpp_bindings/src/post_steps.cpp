#include "act_edge/post_steps.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "post_steps_json.hpp"

namespace act_edge {
namespace {

using json = nlohmann::json;

constexpr const char* kKnownOps[] = {"snap_gripper"};
constexpr const char* kSnapKeys[] = {"indices", "threshold", "low", "high"};

// Python's repr() of a str: single quotes unless the text has ' and no ", escapes as Python does
// for ASCII (non-ASCII characters are printable in Python 3 and kept as UTF-8).
std::string py_repr_str(const std::string& s) {
    const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = dq ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == q) out += std::string("\\") + static_cast<char>(c);
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else out += static_cast<char>(c);
    }
    return out + q;
}

// Python's repr() of the value json.load gives for `j` (dict keys come out sorted here, in file
// order in Python). nlohmann prints floats as Python's repr does (shortest round trip, exponent
// below 1e-4 and from 1e16: "1e-05", "1e+16").
std::string py_repr(const json& j) {
    switch (j.type()) {
        case json::value_t::null: return "None";
        case json::value_t::boolean: return j.get<bool>() ? "True" : "False";
        case json::value_t::string: return py_repr_str(j.get<std::string>());
        case json::value_t::array: {
            std::string out = "[";
            for (std::size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + py_repr(j[i]);
            return out + "]";
        }
        case json::value_t::object: {
            std::string out = "{";
            bool first = true;
            for (auto it = j.begin(); it != j.end(); ++it, first = false)
                out += (first ? "" : ", ") + py_repr_str(it.key()) + ": " + py_repr(it.value());
            return out + "}";
        }
        default: return j.dump();  // numbers
    }
}

// Python's type name for a value json.load gives.
const char* py_type(const json& j) {
    switch (j.type()) {
        case json::value_t::null: return "NoneType";
        case json::value_t::boolean: return "bool";
        case json::value_t::number_float: return "float";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "int";
        case json::value_t::string: return "str";
        case json::value_t::array: return "list";
        default: return "dict";
    }
}

// A JSON number as a double (not a bool: act_edge/post_steps.py refuses True as an index or value).
bool as_double(const json& j, double& out) {
    if (!j.is_number()) return false;
    out = j.get<double>();
    return true;
}

}  // namespace

namespace detail {

PostSteps parse_post_steps(const json& steps, std::size_t action_dim) {
    std::vector<PostSteps::Snap> snaps;
    if (steps.is_null()) return PostSteps(std::move(snaps), action_dim);
    if (!steps.is_array())
        throw BundleError("manifest runtime.post_steps: expected a list of steps, got " + steps.dump());
    std::string known = "[";
    for (const char* op : kKnownOps) known += (known.size() > 1 ? ", " : "") + py_repr_str(op);
    known += "]";
    for (std::size_t n = 0; n < steps.size(); ++n) {
        const json& step = steps[n];
        const std::string where = "manifest runtime.post_steps[" + std::to_string(n) + "]";
        const json none;
        const json& op = step.is_object() && step.contains("op") ? step["op"] : none;
        bool known_op = false;
        for (const char* k : kKnownOps) known_op = known_op || (op.is_string() && op.get<std::string>() == k);
        if (!known_op) {
            throw BundleError(where + ": unknown op " + py_repr(op) + " (this runtime knows " + known +
                              "); upgrade act-edge rather than run the policy without it");
        }
        // Python: list(step[k]) for each key in order; KeyError / TypeError name the first bad one.
        const json* lists[4];
        for (int k = 0; k < 4; ++k) {
            const std::string prefix = where + ": snap_gripper needs indices, threshold, low, high (";
            if (!step.contains(kSnapKeys[k])) throw BundleError(prefix + py_repr_str(kSnapKeys[k]) + ")");
            const json& v = step[kSnapKeys[k]];
            if (v.is_null() || v.is_boolean() || v.is_number())
                throw BundleError(prefix + "'" + py_type(v) + "' object is not iterable)");
            if (!v.is_array())  // Python iterates a str / dict and fails later, outside BundleError
                throw BundleError(prefix + kSnapKeys[k] + ": expected a list, got " + v.dump() + ")");
            lists[k] = &v;
        }
        const json &idx = *lists[0], &thr = *lists[1], &low = *lists[2], &high = *lists[3];
        if (!(idx.size() == thr.size() && thr.size() == low.size() && low.size() == high.size()))
            throw BundleError(where + ": indices/threshold/low/high have different lengths");
        for (std::size_t k = 0; k < idx.size(); ++k) {
            double i = 0;
            if (!as_double(idx[k], i))
                throw BundleError(where + ": index " + py_repr(idx[k]) + " is not an integer");
            if (!(i >= 0 && i < static_cast<double>(action_dim))) {
                throw BundleError(where + ": index " + py_repr(idx[k]) + " is outside the action's 0.." +
                                  std::to_string(static_cast<long long>(action_dim) - 1));
            }
            if (i != std::trunc(i))  // 3.7 is not silently dimension 3; 6.0 is 6
                throw BundleError(where + ": index " + py_repr(idx[k]) + " is not an integer");
            double v[3];
            const json* vals[3] = {&thr[k], &low[k], &high[k]};
            for (int q = 0; q < 3; ++q)
                if (!as_double(*vals[q], v[q]))
                    throw BundleError(where + ": " + kSnapKeys[q + 1] + "[" + std::to_string(k) + "] " +
                                      py_repr(*vals[q]) + " is not a number");
            // Numbers that would put inf/nan into an action once cast to float32 (act_edge/manifest_schema.py's
            // texts; parse_manifest has refused NaN/Infinity before).
            for (int q = 0; q < 3; ++q) {
                if (!std::isfinite(v[q]))
                    throw BundleError(where + ": " + kSnapKeys[q + 1] + "[" + std::to_string(k) + "] " +
                                      py_repr(*vals[q]) + " is not a finite number");
                if (std::abs(v[q]) > static_cast<double>(std::numeric_limits<float>::max()))
                    throw BundleError(where + ": " + kSnapKeys[q + 1] + "[" + std::to_string(k) + "] " +
                                      py_repr(*vals[q]) + " is outside the float32 range");
            }
            if (!(v[1] < v[2]))
                throw BundleError(where + ": low[" + std::to_string(k) + "] " + py_repr(low[k]) + " is not below high[" +
                                  std::to_string(k) + "] " + py_repr(high[k]));
            snaps.push_back({static_cast<std::size_t>(i), static_cast<float>(v[0]), static_cast<float>(v[1]),
                             static_cast<float>(v[2])});
        }
    }
    return PostSteps(std::move(snaps), action_dim);
}

}  // namespace detail

PostSteps::PostSteps(std::string_view json_text, std::size_t action_dim) {
    const json j = json::parse(json_text.begin(), json_text.end(), nullptr, false);
    if (j.is_discarded()) throw BundleError("manifest runtime.post_steps: not valid JSON");
    *this = detail::parse_post_steps(j, action_dim);
}

PostSteps::PostSteps(std::vector<Snap> snaps, std::size_t action_dim) : snaps_(std::move(snaps)), action_dim_(action_dim) {
    for (const Snap& s : snaps_)
        if (s.index >= action_dim_)
            throw std::invalid_argument("PostSteps: index " + std::to_string(s.index) + " is outside the action's 0.." +
                                        std::to_string(static_cast<long long>(action_dim_) - 1));
}

}  // namespace act_edge
