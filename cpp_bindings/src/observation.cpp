#include "act_edge/observation.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "act_edge/manifest.hpp"

namespace act_edge {

ArrayView::ArrayView(std::string_view dtype_, std::initializer_list<std::int64_t> dims, const void* data_)
    : ArrayView(dtype_, dims.begin(), static_cast<int>(dims.size()), data_) {}

ArrayView::ArrayView(std::string_view dtype_, const std::int64_t* dims, int ndim_, const void* data_)
    : dtype(dtype_), data(data_) {
    if (ndim_ < 0 || ndim_ > kMaxDims) throw std::invalid_argument("ArrayView: ndim must be in 0..8");
    ndim = ndim_;
    std::copy(dims, dims + ndim_, shape.begin());
}

namespace {
ObservationField& push_field(std::vector<ObservationField>& fields, std::string_view name,
                             ObservationField::Kind kind) {
    ObservationField f;
    f.name = name;
    f.kind = kind;
    fields.push_back(std::move(f));
    return fields.back();
}
}  // namespace

ObservationField& Observation::add_array(std::string_view name, ArrayView a) {
    ObservationField& f = push_field(fields, name, ObservationField::Kind::Array);
    f.array = a;
    return f;
}

ObservationField& Observation::add_cameras(std::string_view name) {
    return push_field(fields, name, ObservationField::Kind::Cameras);
}

ObservationField& Observation::add_other(std::string_view name, std::string_view type_name) {
    ObservationField& f = push_field(fields, name, ObservationField::Kind::Other);
    f.type_name = type_name;
    return f;
}

const ObservationField* Observation::find(std::string_view name) const noexcept {
    for (const auto& f : fields)
        if (f.name == name) return &f;
    return nullptr;
}

namespace {

// Python repr() of a str (the quoting rule and the common escapes).
std::string py_repr(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char q = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, q);
    for (char c : s) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c == q) { out += '\\'; out += c; }
                else out += c;
        }
    }
    out += q;
    return out;
}

template <class Names>
std::string py_list(const Names& names) {
    std::string out = "[";
    bool first = true;
    for (const auto& n : names) {
        if (!first) out += ", ";
        out += py_repr(n);
        first = false;
    }
    return out + "]";
}


// An expected shape without allocation; -1 = the batch axis.
struct Shape {
    int n = 0;
    std::int64_t d[ArrayView::kMaxDims] = {};
    Shape(std::initializer_list<std::int64_t> dims, bool batched) {
        if (batched) d[n++] = -1;
        for (std::int64_t x : dims) d[n++] = x;
    }
    std::string text() const { return format_shape(d, n); }
};

bool single_resolution(const ObservationSchema& s) {
    for (const auto& c : s.cameras)
        if (c.height != s.cameras[0].height || c.width != s.cameras[0].width) return false;
    return true;
}

// Expected description of a whole top-level field, for "missing" messages.
std::string expected_field(const ObservationSchema& s, std::string_view field, bool batched) {
    const auto n = static_cast<std::int64_t>(s.cameras.size());
    if (field == "state") return "float32 array of shape " + Shape({s.state_dim}, batched).text();
    if (field == "env_state") return "float32 array of shape " + Shape({s.env_state_dim}, batched).text();
    const bool images = field == "images";
    if (images && single_resolution(s)) {
        return "uint8 array of shape " + Shape({n, s.cameras[0].height, s.cameras[0].width, 3}, batched).text();
    }
    std::string out = std::string("dict of ") + (images ? "uint8" : "float32") + " arrays per camera ";
    for (std::size_t i = 0; i < s.cameras.size(); ++i) {
        const auto& c = s.cameras[i];
        if (i) out += ", ";
        out += py_repr(c.name) + ": " +
               (images ? Shape({c.height, c.width, 3}, batched) : Shape({c.height, c.width}, batched)).text();
    }
    return out;
}

// Unknown (first in sorted order), then missing (manifest order) cameras of `images` / `depth`.
std::optional<std::string> check_camera_names(const ObservationSchema& s, const ObservationField& f,
                                              bool depth, bool batched) {
    const std::string_view* unknown = nullptr;
    for (const auto& kv : f.cameras) {
        const bool known = std::any_of(s.cameras.begin(), s.cameras.end(),
                                       [&](const auto& c) { return c.name == kv.first; });
        if (!known && (unknown == nullptr || kv.first < *unknown)) unknown = &kv.first;
    }
    if (unknown) {
        std::vector<std::string> names;
        for (const auto& c : s.cameras) names.push_back(c.name);
        return std::string(f.name) + "[" + py_repr(*unknown) + "]: unknown camera (expected one of " +
               py_list(names) + ")";
    }
    for (const auto& c : s.cameras) {
        const bool present = std::any_of(f.cameras.begin(), f.cameras.end(),
                                         [&](const auto& kv) { return kv.first == c.name; });
        if (!present) {
            const std::string want = depth ? "float32 array of shape " + Shape({c.height, c.width}, batched).text()
                                           : "uint8 array of shape " + Shape({c.height, c.width, 3}, batched).text();
            return std::string(f.name) + "[" + py_repr(c.name) + "]: missing (expected " + want + ")";
        }
    }
    return std::nullopt;
}

// One array the observation must hold: its label, value, accepted dtypes and per-item shape.
struct Entry {
    std::string_view field;
    std::string_view camera;  // empty: the whole field
    const ArrayView* array = nullptr;
    std::string_view type_name;  // non-array value: its type
    const char* dtypes[2] = {nullptr, nullptr};
    std::int64_t shape[ArrayView::kMaxDims] = {};
    int ndim = 0;
    bool check_finite = false;
    std::string label() const {
        return camera.empty() ? std::string(field) : std::string(field) + "[" + py_repr(camera) + "]";
    }
    std::string shape_text(const std::int64_t* lead) const {
        std::int64_t d[ArrayView::kMaxDims + 1];
        int n = 0;
        if (lead) d[n++] = *lead;
        for (int i = 0; i < ndim; ++i) d[n++] = shape[i];
        return format_shape(d, n);
    }
};

Entry make_entry(std::string_view field, std::string_view camera, const ArrayView* a,
                 std::initializer_list<const char*> dtypes, std::initializer_list<std::int64_t> shape, bool finite) {
    Entry e;
    e.field = field;
    e.camera = camera;
    if (a && a->is_array) e.array = a;
    else if (a) e.type_name = a->dtype;
    int i = 0;
    for (const char* d : dtypes) e.dtypes[i++] = d;
    for (std::int64_t x : shape) e.shape[e.ndim++] = x;
    e.check_finite = finite;
    return e;
}

template <class T>
std::optional<std::string> first_non_finite(const T* p, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(p[i])) {
            const char* what = std::isnan(p[i]) ? "nan" : (p[i] > 0 ? "inf" : "-inf");
            return std::string("non-finite value ") + what + " at index " + std::to_string(i);
        }
    }
    return std::nullopt;
}

// Rule 13: a float64 value beyond float32's range would become inf in the model's float32 input.
std::optional<std::string> first_beyond_float32(const double* p, std::int64_t n) {
    constexpr double kMax = std::numeric_limits<float>::max();
    for (std::int64_t i = 0; i < n; ++i) {
        if (std::fabs(p[i]) > kMax) {
            char buf[32];
            const auto r = std::to_chars(buf, buf + sizeof buf, p[i]);  // shortest form, as Python's repr
            return "value " + std::string(buf, r.ptr) + " at index " + std::to_string(i) +
                   " is outside the float32 range (the model's input type; it would become inf)";
        }
    }
    return std::nullopt;
}

// The entries of one check: on the stack up to kInline (no allocation on the control path), else heap.
class EntryList {
  public:
    static constexpr std::size_t kInline = 34;  // state, env_state and 16 cameras with depth
    explicit EntryList(std::size_t capacity) {
        if (capacity > kInline) heap_.reserve(capacity);
    }
    void push_back(const Entry& e) {
        if (heap_.capacity() > 0) heap_.push_back(e);
        else inline_[n_++] = e;
    }
    const Entry* begin() const { return heap_.capacity() > 0 ? heap_.data() : inline_; }
    const Entry* end() const { return heap_.capacity() > 0 ? heap_.data() + heap_.size() : inline_ + n_; }
    const Entry& operator[](std::size_t i) const { return begin()[i]; }

  private:
    Entry inline_[kInline];
    std::size_t n_ = 0;
    std::vector<Entry> heap_;
};

// The type name of a non-array state / env_state. A view onto static or caller storage (an
// Entry keeps it beyond this call): never a view of a temporary std::string.
std::string_view vector_type_name(const ObservationField& f) {
    return f.kind == ObservationField::Kind::Cameras ? std::string_view("dict") : f.type_name;
}

}  // namespace

std::string format_shape(const std::int64_t* d, int ndim) {
    std::string out = "(";
    for (int i = 0; i < ndim; ++i) {
        if (i) out += ", ";
        out += d[i] < 0 ? std::string("batch") : std::to_string(d[i]);
    }
    if (ndim == 1) out += ",";
    return out + ")";
}

std::optional<std::string> check_observation(const ObservationSchema& s, const Observation& obs, bool batched,
                                             std::int64_t max_batch) {
    // 1. unknown top-level keys: the first in sorted order
    const std::string_view* unknown = nullptr;
    for (const auto& f : obs.fields) {
        if (std::find(s.fields.begin(), s.fields.end(), f.name) == s.fields.end() &&
            (unknown == nullptr || f.name < *unknown)) {
            unknown = &f.name;
        }
    }
    if (unknown) {
        // A field a camera-less (or state-less) bundle does not take: named with the reason.
        std::string reason;
        if (s.cameras.empty() && (*unknown == "images" || *unknown == "depth")) reason = ": this bundle has no cameras";
        if (s.state_dim == 0 && *unknown == "state") reason = ": this bundle has no robot-state input";
        return "observation[" + py_repr(*unknown) + "]: unknown field" + reason + " (expected one of " +
               py_list(s.fields) + ")";
    }
    // 2. missing top-level keys, in check order
    for (const auto& name : s.field_order) {
        if (!obs.find(name)) return name + ": missing (expected " + expected_field(s, name, batched) + ")";
    }
    // 3. the container of images / depth, and their camera names (a camera-less bundle has neither)
    const ObservationField* images = s.cameras.empty() ? nullptr : obs.find("images");
    const bool stacked = images && images->kind == ObservationField::Kind::Array;
    if (images && images->kind == ObservationField::Kind::Other) {
        return "images: expected a dict of cameras or a uint8 array, got " + std::string(images->type_name);
    }
    if (stacked && !images->array.is_array) {
        return "images: expected a dict of cameras or a uint8 array, got " + std::string(images->array.dtype);
    }
    if (stacked && !single_resolution(s)) {
        return "images: expected a dict of cameras (the cameras have different resolutions), got ndarray";
    }
    if (images && !stacked) {
        if (auto bad = check_camera_names(s, *images, false, batched)) return bad;
    }
    const ObservationField* depth = s.has_depth ? obs.find("depth") : nullptr;
    if (depth) {
        if (depth->kind != ObservationField::Kind::Cameras) {
            const std::string got = depth->kind == ObservationField::Kind::Other ? std::string(depth->type_name)
                                                                                 : std::string("ndarray");
            return "depth: expected a dict of cameras, got " + got;
        }
        if (auto bad = check_camera_names(s, *depth, true, batched)) return bad;
    }
    // The arrays in check order: state, images (stacked, or per camera in manifest order), depth, env_state.
    EntryList entries(2 * s.cameras.size() + 2);
    auto vector_entry = [&](const char* name, std::int64_t dim) {
        const ObservationField& f = *obs.find(name);
        Entry e = make_entry(f.name, {}, f.kind == ObservationField::Kind::Array ? &f.array : nullptr,
                             {"float32", "float64"}, {dim}, true);
        if (f.kind != ObservationField::Kind::Array) e.type_name = vector_type_name(f);
        entries.push_back(e);
    };
    auto camera_value = [](const ObservationField& f, const std::string& cam) -> const ArrayView* {
        for (const auto& kv : f.cameras)
            if (kv.first == cam) return &kv.second;
        return nullptr;
    };
    if (s.state_dim) vector_entry("state", s.state_dim);
    if (stacked) {
        const auto n = static_cast<std::int64_t>(s.cameras.size());
        entries.push_back(make_entry("images", {}, &images->array, {"uint8"},
                                     {n, s.cameras[0].height, s.cameras[0].width, 3}, false));
    } else if (images) {
        for (const auto& c : s.cameras)
            entries.push_back(make_entry("images", c.name, camera_value(*images, c.name), {"uint8"},
                                         {c.height, c.width, 3}, false));
    }
    if (depth) {
        for (const auto& c : s.cameras)
            entries.push_back(make_entry("depth", c.name, camera_value(*depth, c.name), {"float32"},
                                         {c.height, c.width}, true));
    }
    if (s.env_state_dim) vector_entry("env_state", s.env_state_dim);
    // 4. every array is an array of an accepted dtype
    for (const auto& e : entries) {
        if (!e.array) return e.label() + ": expected a numpy array, got " + std::string(e.type_name);
        const bool ok = e.array->dtype == e.dtypes[0] || (e.dtypes[1] && e.array->dtype == e.dtypes[1]);
        if (!ok) return e.label() + ": expected dtype " + e.dtypes[0] + ", got " + std::string(e.array->dtype);
    }
    // 5. shapes; a batched observation's batch is the leading dimension of the first field (`state`, or
    // `env_state` in a state-less bundle)
    std::int64_t batch = 1;
    if (batched && entries[0].array->ndim >= 1) batch = entries[0].array->shape[0];
    for (const auto& e : entries) {
        const ArrayView& a = *e.array;
        const int lead = batched ? 1 : 0;
        bool trailing_ok = a.ndim == e.ndim + lead;
        for (int i = 0; trailing_ok && i < e.ndim; ++i) trailing_ok = a.shape[i + lead] == e.shape[i];
        const std::int64_t batch_axis = -1;
        if (!trailing_ok) {
            return e.label() + ": expected shape " + e.shape_text(batched ? &batch_axis : nullptr) + ", got " +
                   format_shape(a.shape.data(), a.ndim);
        }
        if (batched && a.shape[0] != batch) {
            return e.label() + ": expected shape " + e.shape_text(&batch) + ", got " + format_shape(a.shape.data(), a.ndim);
        }
    }
    if (batched && (batch < 1 || batch > max_batch)) {
        return entries[0].label() + ": batch " + std::to_string(batch) + " is outside 1.." + std::to_string(max_batch);
    }
    // 6. finite values in the float fields
    for (const auto& e : entries) {
        const ArrayView& a = *e.array;
        if (!e.check_finite || a.data == nullptr) continue;
        std::int64_t n = 1;
        for (int i = 0; i < a.ndim; ++i) n *= a.shape[i];
        std::optional<std::string> bad;
        if (a.dtype == "float32") bad = first_non_finite(static_cast<const float*>(a.data), n);
        else if (a.dtype == "float64") {
            const auto* d = static_cast<const double*>(a.data);
            bad = first_non_finite(d, n);
            if (!bad) bad = first_beyond_float32(d, n);
        }
        if (bad) return e.label() + ": " + *bad;
    }
    return std::nullopt;
}

void validate_observation(const ObservationSchema& schema, const Observation& obs, bool batched,
                          std::int64_t max_batch) {
    if (auto bad = check_observation(schema, obs, batched, max_batch)) throw ObservationError(*bad);
}

ObservationSchema ObservationSchema::from_io_inputs(const std::vector<IoTensor>& inputs) {
    ObservationSchema s;
    auto fail = [](const std::string& what) { throw BundleError("manifest io.inputs: " + what); };
    for (const auto& in : inputs) {
        const auto& sh = in.shape;
        if (in.name.rfind("images", 0) == 0) {
            if (sh.size() != 5 || sh[4] != 3 || in.dtype != "uint8")
                fail(in.name + ": expected uint8 (batch, N, H, W, 3), got " + in.dtype + " " + format_shape(sh.data(), static_cast<int>(sh.size())));
            if (static_cast<std::int64_t>(in.cameras.size()) != sh[1])
                fail(in.name + ": " + std::to_string(in.cameras.size()) + " cameras for N = " + std::to_string(sh[1]));
            for (std::size_t i = 0; i < in.cameras.size(); ++i) {
                Camera c;
                c.name = in.cameras[i];
                c.height = sh[2];
                c.width = sh[3];
                c.images_input = in.name;
                c.index = static_cast<std::int64_t>(i);
                s.cameras.push_back(std::move(c));
            }
        } else if (in.name.rfind("depth", 0) == 0) {
            if (sh.size() != 4 || in.dtype != "float32")
                fail(in.name + ": expected float32 (batch, N, H, W), got " + in.dtype + " " + format_shape(sh.data(), static_cast<int>(sh.size())));
            s.has_depth = true;
        } else if (in.name == "state" || in.name == "env_state") {
            if (sh.size() != 2 || sh[1] < 1)
                fail(in.name + ": expected shape (batch, D), got " + format_shape(sh.data(), static_cast<int>(sh.size())));
            (in.name == "state" ? s.state_dim : s.env_state_dim) = sh[1];
        } else {
            fail("unknown input " + py_repr(in.name) + " (this runtime knows images*, depth*, state, env_state)");
        }
    }
    // Depth inputs list the same cameras as their colour inputs.
    for (const auto& in : inputs) {
        if (in.name.rfind("depth", 0) != 0) continue;
        for (const auto& cam : in.cameras) {
            auto it = std::find_if(s.cameras.begin(), s.cameras.end(), [&](const Camera& c) { return c.name == cam; });
            if (it == s.cameras.end()) fail(in.name + ": camera " + py_repr(cam) + " has no colour input");
            it->depth_input = in.name;
        }
    }
    // A camera-less bundle (LeRobot's state-only ACT) has no images input; it needs env_state, and
    // may then lack state.
    if (s.cameras.empty() && s.env_state_dim == 0) fail("no images and no env_state input");
    if (s.state_dim == 0 && s.env_state_dim == 0) fail("no state and no env_state input");
    s.field_order.clear();
    if (s.state_dim) s.field_order.push_back("state");
    if (!s.cameras.empty()) s.field_order.push_back("images");
    if (s.has_depth) s.field_order.push_back("depth");
    if (s.env_state_dim) s.field_order.push_back("env_state");
    s.fields = s.field_order;
    std::sort(s.fields.begin(), s.fields.end());
    return s;
}

ObservationSchema ObservationSchema::from_io_inputs_json(std::string_view json_text) {
    return from_io_inputs(parse_io_tensors(json_text));
}

}  // namespace act_edge
