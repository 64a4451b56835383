// The runtime conformance cases shared with the Python runtime (tests/conformance/*.json, written by
// tools/make_conformance.py, read by tests/test_conformance_*.py too): observation validation,
// post-steps, the finite check on model output, temporal ensemble and chunk queue schedules, and the
// async step() schedules (AsyncStepper; the Python Policy with inference="async").
// ACT_EDGE_CONFORMANCE_DIR (CMakeLists.txt) is the repository's tests/conformance folder.
#include "catch_compat.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <deque>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "act_edge/action_check.hpp"
#include "act_edge/async_runner.hpp"
#include "act_edge/observation.hpp"
#include "act_edge/post_steps.hpp"
#include "act_edge/temporal_ensemble.hpp"

using namespace act_edge;
using json = nlohmann::ordered_json;  // observation fields keep the file's (the caller's) order

namespace {

json load(const std::string& name) {
    const std::string path = std::string(ACT_EDGE_CONFORMANCE_DIR) + "/" + name;
    std::ifstream f(path);
    REQUIRE(f.good());
    std::stringstream text;
    text << f.rdbuf();
    json doc = json::parse(text.str());
    REQUIRE(doc.at("version") == 1);
    return doc;
}

double number(const json& v) {
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
        if (s == "-nan") return std::copysign(std::numeric_limits<double>::quiet_NaN(), -1.0);
        if (s == "inf") return std::numeric_limits<double>::infinity();
        if (s == "-inf") return -std::numeric_limits<double>::infinity();
        FAIL("unknown special value " << s);
        return 0.0;
    }
    return v.get<double>();
}

std::vector<float> floats(const json& enc) {
    std::vector<float> out;
    for (const auto& v : enc.at("data")) out.push_back(static_cast<float>(number(v)));
    return out;
}

std::vector<std::int64_t> shape_of(const json& enc) { return enc.at("shape").get<std::vector<std::int64_t>>(); }

// Storage for the views of one decoded observation (names, dtypes, shapes, data stay put).
struct Decoded {
    std::deque<std::string> strings;
    std::deque<std::vector<float>> f32;
    std::deque<std::vector<double>> f64;
    Observation obs;

    std::string_view keep(const std::string& s) { return strings.emplace_back(s); }

    ArrayView view(const json& v) {
        if (v.contains("other")) {
            ArrayView a;
            a.is_array = false;
            a.dtype = keep(v.at("other").get<std::string>());
            return a;
        }
        const json& enc = v.at("array");
        const std::string dtype = enc.at("dtype").get<std::string>();
        const std::vector<std::int64_t> dims = shape_of(enc);
        const void* data = nullptr;
        if (dtype == "float32") data = f32.emplace_back(floats(enc)).data();
        if (dtype == "float64") {
            std::vector<double> d;
            for (const auto& x : enc.at("data")) d.push_back(number(x));
            data = f64.emplace_back(std::move(d)).data();
        }
        return ArrayView(keep(dtype), dims.data(), static_cast<int>(dims.size()), data);
    }

    explicit Decoded(const json& enc) {
        for (const auto& [name, v] : enc.items()) {
            const std::string_view n = keep(name);
            if (v.contains("cameras")) {
                auto& f = obs.add_cameras(n);
                for (const auto& [cam, cv] : v.at("cameras").items()) f.cameras.emplace_back(keep(cam), view(cv));
            } else if (v.contains("other")) {
                obs.add_other(n, keep(v.at("other").get<std::string>()));
            } else {
                obs.add_array(n, view(v));
            }
        }
    }
};

std::string refusal_of(const std::vector<float>& chunk, std::size_t rows, std::size_t cols) {
    return refused_chunk_message(chunk.data(), rows, cols);
}

}  // namespace

TEST_CASE("conformance: observation validation", "[conformance][observation]") {
    const json doc = load("observation_cases.json");
    std::size_t ran = 0;
    for (const auto& c : doc.at("cases")) {
        const std::string name = c.at("name").get<std::string>();
        INFO("case " << name);
        if (c.contains("cpp") && !c.at("cpp").get<bool>()) {
            REQUIRE(c.contains("reason"));
            continue;
        }
        const json& schema_doc = doc.at("schemas").at(c.at("schema").get<std::string>());
        const ObservationSchema schema = ObservationSchema::from_io_inputs_json(schema_doc.at("io_inputs").dump());
        Decoded d(c.at("obs"));
        const auto got = check_observation(schema, d.obs, c.at("batched").get<bool>(),
                                           schema_doc.at("max_batch").get<std::int64_t>());
        if (c.at("expect").contains("batch")) {
            CHECK(got.value_or("(accepted)") == "(accepted)");
        } else {
            CHECK(got.value_or("(accepted)") == c.at("expect").at("error").get<std::string>());
        }
        ++ran;
    }
    CHECK(ran >= 60);
    for (const auto& c : doc.at("schema_errors")) {
        INFO("schema case " << c.at("name").get<std::string>());
        REQUIRE(c.at("error_type") == "BundleError");
        std::string got = "(accepted)";
        try {
            (void)ObservationSchema::from_io_inputs_json(c.at("io_inputs").dump());
        } catch (const BundleError& e) {
            got = e.what();
        }
        CHECK(got == c.at("error").get<std::string>());
    }
}

TEST_CASE("conformance: post-steps", "[conformance][post_steps]") {
    const json doc = load("post_steps_cases.json");
    for (const auto& c : doc.at("cases")) {
        INFO("case " << c.at("name").get<std::string>());
        const auto dim = c.at("action_dim").get<std::size_t>();
        const std::string text = c.at("post_steps").dump();
        if (c.at("expect").contains("error")) {
            std::string got = "(accepted)";
            try {
                PostSteps p(text, dim);
            } catch (const BundleError& e) {
                got = e.what();
            }
            CHECK(got == c.at("expect").at("error").get<std::string>());
            continue;
        }
        const PostSteps steps(text, dim);
        std::vector<float> actions = floats(c.at("actions"));
        const std::vector<float> want = floats(c.at("expect").at("actions"));
        steps.apply(actions.data(), actions.size() / dim);
        CHECK(actions == want);
    }
}

TEST_CASE("conformance: finite check on model output", "[conformance][finite]") {
    const json doc = load("finite_cases.json");
    for (const auto& c : doc.at("cases")) {
        INFO("case " << c.at("name").get<std::string>());
        const std::vector<float> a = floats(c.at("actions"));
        const std::vector<std::int64_t> shape = shape_of(c.at("actions"));
        const auto got = find_non_finite(a.data(), shape.data(), static_cast<int>(shape.size()));
        if (c.at("expect") == "ok") CHECK(got.value_or("(finite)") == "(finite)");
        else CHECK(got.value_or("(finite)") == c.at("expect").at("error").get<std::string>());
    }
}

namespace {

void check_action(const std::vector<float>& got, const json& want, double atol) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("value " << i << ": " << got[i] << " vs " << want[i].get<double>());
        // the file holds the float32 values' shortest text: compare with the float it reads back as
        CHECK(std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i].get<float>())) <= atol);
    }
}

void run_ensemble(const json& c, double atol) {
    const auto C = c.at("chunk_size").get<std::size_t>();
    const auto A = c.at("action_dim").get<std::size_t>();
    const double coeff = number(c.at("coeff"));
    if (c.contains("expect")) {
        std::string got = "(accepted)";
        try {
            TemporalEnsemble e(C, A, coeff);
        } catch (const std::invalid_argument& e) {
            got = e.what();
        }
        CHECK(got == c.at("expect").at("error").get<std::string>());
        return;
    }
    TemporalEnsemble ens(C, A, coeff);
    std::vector<std::vector<float>> chunks;
    for (const auto& enc : c.at("chunks")) chunks.push_back(floats(enc));
    std::vector<float> action(A, 0.0f);
    std::size_t n = 0;
    for (const auto& ev : c.at("events")) {
        const std::string op = ev.at("op").get<std::string>();
        INFO("event " << n++ << " (" << op << ")");
        if (op == "reset") {
            ens.reset();
            continue;
        }
        const json& want = ev.contains("expect") ? ev.at("expect") : json();
        if (op == "add" || op == "update") {
            const auto& chunk = chunks.at(ev.at("chunk_id").get<std::size_t>());
            const bool ok = op == "add" ? ens.add(chunk.data(), ev.at("age").get<std::size_t>())
                                        : ens.update(chunk.data(), action.data());
            if (ev.value("refused", false)) {
                CHECK_FALSE(ok);
                CHECK(refusal_of(chunk, C, A) == want.at("error").get<std::string>());
                continue;
            }
            REQUIRE(ok);
            if (op == "update") check_action(action, want.at("action"), atol);
            continue;
        }
        const PopResult r = ens.pop(action.data());
        if (want.value("empty", false)) {
            CHECK(r == PopResult::empty);
            continue;
        }
        CHECK(r == (want.at("starved").get<bool>() ? PopResult::starved : PopResult::covered));
        check_action(action, want.at("action"), atol);
    }
}

void run_queue(const json& c) {
    const auto C = c.at("chunk_size").get<std::size_t>();
    const auto A = c.at("action_dim").get<std::size_t>();
    ChunkQueue q(c.at("n_action_steps").get<std::size_t>(), A);
    std::vector<std::vector<float>> chunks;
    for (const auto& enc : c.at("chunks")) chunks.push_back(floats(enc));
    std::vector<float> action(A, 0.0f);
    CHECK(q.empty());
    std::size_t n = 0;
    for (const auto& ev : c.at("events")) {
        const std::string op = ev.at("op").get<std::string>();
        INFO("event " << n++ << " (" << op << ")");
        if (op == "reset") {
            q.reset();
        } else if (op == "push") {
            const auto& chunk = chunks.at(ev.at("chunk_id").get<std::size_t>());
            const bool ok = q.push(chunk.data(), C);
            CHECK(ok == !ev.value("refused", false));
            if (!ok) CHECK(refusal_of(chunk, C, A) == ev.at("expect").at("error").get<std::string>());
        } else if (ev.at("expect").value("empty", false)) {
            CHECK_FALSE(q.pop(action.data()));
        } else {
            REQUIRE(q.pop(action.data()));
            check_action(action, ev.at("expect").at("action"), 0.0);
        }
        CHECK(q.empty() == ev.at("needs_chunk_after").get<bool>());
    }
}

// Scheduling test double, not an engine: run i writes chunks[i], each run waits for one permit.
class ScriptedModel : public ChunkModel {
public:
    explicit ScriptedModel(std::vector<std::vector<float>> chunks) : chunks_(std::move(chunks)) {}
    void permit() {
        std::lock_guard<std::mutex> lock(mu_);
        ++permits_;
        cv_.notify_all();
    }
    void infer(float* out) override {
        std::size_t i;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return permits_ > 0; });
            --permits_;
            i = runs_++;
        }
        std::copy(chunks_.at(i).begin(), chunks_.at(i).end(), out);
    }

private:
    std::vector<std::vector<float>> chunks_;
    std::mutex mu_;
    std::condition_variable cv_;
    int permits_ = 0;
    std::size_t runs_ = 0;
};

// The driver of tests/test_conformance_async.py, step for step.
void run_async(const json& c, double atol) {
    const auto C = c.at("chunk_size").get<std::size_t>();
    const auto A = c.at("action_dim").get<std::size_t>();
    std::vector<std::vector<float>> chunks;
    for (const auto& enc : c.at("chunks")) chunks.push_back(floats(enc));
    ScriptedModel model(chunks);
    AsyncOptions opt;
    if (c.at("mode") == "ensemble") {
        opt.mode = AsyncOptions::Mode::Ensemble;
        opt.ensemble_coeff = number(c.at("coeff"));
    } else {
        opt.mode = AsyncOptions::Mode::ChunkQueue;
        opt.n_action_steps = c.at("n_action_steps").get<std::size_t>();
        opt.refill_margin = c.at("refill_margin").is_null() ? -1 : c.at("refill_margin").get<int>();
    }
    AsyncStepper stepper(model, C, A, opt);
    const json& want = c.at("expect");
    const auto latency = c.at("latency").get<std::vector<std::size_t>>();
    std::set<std::size_t> resets;
    if (c.contains("reset_before")) resets = c.at("reset_before").get<std::set<std::size_t>>();
    std::vector<std::uint64_t> requests;
    auto stage = [&] { requests.push_back(stepper.tick()); };
    std::vector<float> action(A, 0.0f);
    bool in_flight = false, first_of_episode = true;
    std::size_t in_flight_index = 0, in_flight_step = 0;
    const auto steps = c.at("steps").get<std::size_t>();
    for (std::size_t step = 0; step < steps; ++step) {
        INFO("step " << step);
        if (resets.count(step)) {
            if (in_flight) {  // let it finish: it must be dropped, not folded into the new episode
                model.permit();
                stepper.runner().wait();
                in_flight = false;
            }
            stepper.reset();
            first_of_episode = true;
        }
        if (first_of_episode) model.permit();  // the episode's first request is waited for inside step()
        const std::size_t made = requests.size();
        const std::uint64_t starved_before = stepper.stats().starved;
        stepper.step(stage, action.data());
        check_action(action, want.at("actions").at(step), atol);
        CHECK((stepper.stats().starved - starved_before == 1) == want.at("starved").at(step).get<bool>());
        if (requests.size() > made && !first_of_episode) {
            in_flight = true;
            in_flight_index = requests.size() - 1;
            in_flight_step = step;
        }
        first_of_episode = false;
        if (in_flight && step >= in_flight_step + latency.at(in_flight_index)) {
            model.permit();
            stepper.runner().wait();  // finished: folded at the next step
            in_flight = false;
        }
    }
    CHECK(requests == want.at("request_ticks").get<std::vector<std::uint64_t>>());
    model.permit();  // a request still in flight returns; the destructor joins the worker
}

}  // namespace

TEST_CASE("conformance: async step() schedules", "[conformance][async]") {
    const json doc = load("async_cases.json");
    const double atol = doc.at("atol").get<double>();
    for (const auto& c : doc.at("cases")) {
        INFO("case " << c.at("name").get<std::string>());
        run_async(c, atol);
    }
}

TEST_CASE("conformance: temporal ensemble and chunk queue schedules", "[conformance][ensemble]") {
    const json doc = load("ensemble_cases.json");
    const double atol = doc.at("atol").get<double>();
    for (const auto& c : doc.at("cases")) {
        INFO("case " << c.at("name").get<std::string>());
        if (c.at("kind") == "ensemble") run_ensemble(c, atol);
        else run_queue(c);
    }
}
