#include "act_edge/observation.hpp"

#include <algorithm>
#include <cmath>
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

ObservationField& Observation::add_array(std::string_view name, ArrayView a) {
    ObservationField f;
    f.name = name;
    f.kind = ObservationField::Kind::Array;
    f.array = a;
    fields.push_back(std::move(f));
    return fields.back();
}

ObservationField& Observation::add_cameras(std::string_view name) {
    ObservationField f;
    f.name = name;
    f.kind = ObservationField::Kind::Cameras;
    fields.push_back(std::move(f));
    return fields.back();
}

ObservationField& Observation::add_other(std::string_view name, std::string_view type_name) {
    ObservationField f;
    f.name = name;
    f.kind = ObservationField::Kind::Other;
    f.type_name = type_name;
    fields.push_back(std::move(f));
    return fields.back();
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
    std::vector<std::string> names;
    for (const auto& c : s.cameras) names.push_back(c.name);
    const bool images = field == "images";
    if (!single_resolution(s)) {
        return std::string("a dict of ") + (images ? "uint8" : "float32") + " arrays, one per camera in " + py_list(names);
    }
    const auto h = s.cameras[0].height, w = s.cameras[0].width;
    if (images) return "uint8 array of shape " + Shape({n, h, w, 3}, batched).text();
    return "float32 array of shape " + Shape({n, h, w}, batched).text();
}

// Names a field, e.g. `state` or `images['top']`; the string is built only for a message.
struct Label {
    std::string_view field;
    std::string_view camera;  // empty: the whole field
    bool has_camera = false;
    std::string text() const {
        return has_camera ? std::string(field) + "[" + py_repr(camera) + "]" : std::string(field);
    }
};

bool shape_matches(const ArrayView& a, const Shape& want) {
    if (a.ndim != want.n) return false;
    for (int i = 0; i < a.ndim; ++i) {
        if (want.d[i] < 0) {
            if (a.shape[i] < 1) return false;  // batch axis: any size >= 1
        } else if (a.shape[i] != want.d[i]) {
            return false;
        }
    }
    return true;
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

// dtype, shape, then finiteness of one array. `dtypes` are accepted names, the first is "expected".
std::optional<std::string> check_array(const Label& label, const ArrayView& a,
                                       std::initializer_list<const char*> dtypes, const Shape& want) {
    bool ok = false;
    for (const char* d : dtypes) ok = ok || a.dtype == d;
    if (!ok) return label.text() + ": expected dtype " + *dtypes.begin() + ", got " + std::string(a.dtype);
    if (!shape_matches(a, want)) {
        return label.text() + ": expected shape " + want.text() + ", got " + format_shape(a.shape.data(), a.ndim);
    }
    if (a.data != nullptr && a.dtype != "uint8") {
        std::int64_t n = 1;
        for (int i = 0; i < a.ndim; ++i) n *= a.shape[i];
        std::optional<std::string> bad;
        if (a.dtype == "float32") bad = first_non_finite(static_cast<const float*>(a.data), n);
        else if (a.dtype == "float64") bad = first_non_finite(static_cast<const double*>(a.data), n);
        if (bad) return label.text() + ": " + *bad;
    }
    return std::nullopt;
}

std::vector<std::string> camera_names(const ObservationSchema& s) {
    std::vector<std::string> names;
    for (const auto& c : s.cameras) names.push_back(c.name);
    return names;
}

// Unknown, then missing cameras of an `images` / `depth` mapping.
std::optional<std::string> check_camera_names(const ObservationSchema& s, const ObservationField& f,
                                              bool depth, bool batched) {
    for (const auto& kv : f.cameras) {
        const bool known = std::any_of(s.cameras.begin(), s.cameras.end(),
                                       [&](const auto& c) { return c.name == kv.first; });
        if (!known) {
            return Label{f.name, kv.first, true}.text() + ": unknown camera (expected one of " +
                   py_list(camera_names(s)) + ")";
        }
    }
    for (const auto& c : s.cameras) {
        const bool present = std::any_of(f.cameras.begin(), f.cameras.end(),
                                         [&](const auto& kv) { return kv.first == c.name; });
        if (!present) {
            const std::string want = depth ? "float32 array of shape " + Shape({c.height, c.width}, batched).text()
                                           : "uint8 array of shape " + Shape({c.height, c.width, 3}, batched).text();
            return Label{f.name, c.name, true}.text() + ": missing (expected " + want + ")";
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_image_field(const ObservationSchema& s, const ObservationField& f, bool depth,
                                             bool batched) {
    const char* dtype = depth ? "float32" : "uint8";
    if (f.kind == ObservationField::Kind::Other) {
        return std::string(f.name) + ": expected a dict of cameras or one " + dtype + " array, got " + std::string(f.type_name);
    }
    if (f.kind == ObservationField::Kind::Array) {  // stacked (N, H, W[, 3]) in manifest camera order
        if (!single_resolution(s)) {
            return std::string(f.name) + ": expected a dict of cameras (the cameras have different resolutions), got one array";
        }
        const auto n = static_cast<std::int64_t>(s.cameras.size());
        const auto h = s.cameras[0].height, w = s.cameras[0].width;
        return check_array(Label{f.name, {}, false}, f.array, {dtype},
                           depth ? Shape({n, h, w}, batched) : Shape({n, h, w, 3}, batched));
    }
    for (const auto& c : s.cameras) {
        for (const auto& kv : f.cameras) {
            if (kv.first != c.name) continue;
            auto bad = check_array(Label{f.name, kv.first, true}, kv.second, {dtype},
                                   depth ? Shape({c.height, c.width}, batched) : Shape({c.height, c.width, 3}, batched));
            if (bad) return bad;
            break;
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_vector_field(const ObservationField& f, std::int64_t dim, bool batched) {
    if (f.kind != ObservationField::Kind::Array) {
        const std::string got = f.kind == ObservationField::Kind::Other ? std::string(f.type_name) : "dict";
        return std::string(f.name) + ": expected dtype float32, got " + got;
    }
    return check_array(Label{f.name, {}, false}, f.array, {"float32", "float64"}, Shape({dim}, batched));
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

std::optional<std::string> check_observation(const ObservationSchema& s, const Observation& obs, bool batched) {
    // 1. unknown top-level keys, in the observation's order
    for (const auto& f : obs.fields) {
        if (std::find(s.fields.begin(), s.fields.end(), f.name) == s.fields.end()) {
            return "observation[" + py_repr(f.name) + "]: unknown field (expected one of " + py_list(s.fields) + ")";
        }
    }
    // 2. missing top-level keys, in sorted order
    for (const auto& name : s.fields) {
        if (!obs.find(name)) return name + ": missing (expected " + expected_field(s, name, batched) + ")";
    }
    // 3. unknown / missing cameras (images, then depth)
    for (const char* name : {"images", "depth"}) {
        const ObservationField* f = obs.find(name);
        if (f && f->kind == ObservationField::Kind::Cameras) {
            if (auto bad = check_camera_names(s, *f, std::string_view(name) == "depth", batched)) return bad;
        }
    }
    // 4. dtype, shape, finiteness per array: images, depth, state, env_state
    if (auto bad = check_image_field(s, *obs.find("images"), false, batched)) return bad;
    if (s.has_depth) {
        if (auto bad = check_image_field(s, *obs.find("depth"), true, batched)) return bad;
    }
    if (auto bad = check_vector_field(*obs.find("state"), s.state_dim, batched)) return bad;
    if (s.env_state_dim) {
        if (auto bad = check_vector_field(*obs.find("env_state"), s.env_state_dim, batched)) return bad;
    }
    return std::nullopt;
}

void validate_observation(const ObservationSchema& schema, const Observation& obs, bool batched) {
    if (auto bad = check_observation(schema, obs, batched)) throw ObservationError(*bad);
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
    if (s.cameras.empty()) fail("no images input");
    if (s.state_dim == 0) fail("no state input");
    s.fields = {"images", "state"};
    if (s.has_depth) s.fields.push_back("depth");
    if (s.env_state_dim) s.fields.push_back("env_state");
    std::sort(s.fields.begin(), s.fields.end());
    return s;
}

ObservationSchema ObservationSchema::from_io_inputs_json(std::string_view json_text) {
    return from_io_inputs(parse_io_tensors(json_text));
}

}  // namespace act_edge
