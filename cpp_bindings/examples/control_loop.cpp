// A 50 Hz control loop around TrtPolicy: absolute std::chrono deadlines (no drift), one
// policy.step() per tick, missed deadlines counted and reported with the profiler's figures.
//
//   control_loop <bundle.actedge> [seconds=10] [hz=50] [sync|async]
//
// async: the engine runs on TrtPolicy's worker thread and step() never waits for it (docs/async.md);
// the report adds the chunk ages (ticks) and starved ticks.
// The observation here is synthetic (a grey frame per camera, a slowly moving state); a robot
// would fill the same buffers from its cameras and joint encoders before each step. The buffers
// and the Observation are built once; only their contents change per tick.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "act_edge/trt_policy.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <bundle.actedge> [seconds=10] [hz=50] [sync|async]\n", argv[0]);
        return 2;
    }
    const std::string inference = argc > 4 ? argv[4] : "sync";
    if (inference != "sync" && inference != "async") {
        std::fprintf(stderr, "control_loop: inference must be sync or async, got '%s'\n", inference.c_str());
        return 2;
    }
    const double seconds = argc > 2 ? std::atof(argv[2]) : 10.0;
    const double hz = argc > 3 ? std::atof(argv[3]) : 50.0;
    using Clock = std::chrono::steady_clock;
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / hz));

    try {
        act_edge::TrtPolicyOptions opt;
        opt.bundle_dir = argv[1];
        if (inference == "async") opt.inference = act_edge::TrtPolicyOptions::Inference::Async;
        act_edge::TrtPolicy policy(opt);
        std::printf("loaded %s: %s\n", argv[1], policy.describe().c_str());

        // Observation buffers, allocated once.
        const act_edge::ObservationSchema& schema = policy.schema();
        std::vector<std::vector<std::uint8_t>> frames;
        std::vector<std::vector<float>> depths;
        for (const auto& cam : schema.cameras) {
            frames.emplace_back(static_cast<std::size_t>(cam.height * cam.width * 3), 128);
            if (schema.has_depth) depths.emplace_back(static_cast<std::size_t>(cam.height * cam.width), 1.0f);
        }
        std::vector<float> state(static_cast<std::size_t>(schema.state_dim), 0.0f);
        std::vector<float> env_state(static_cast<std::size_t>(schema.env_state_dim), 0.0f);
        act_edge::Observation obs;
        auto& images = obs.add_cameras("images");
        for (std::size_t i = 0; i < schema.cameras.size(); ++i) {
            const auto& c = schema.cameras[i];
            images.cameras.emplace_back(c.name, act_edge::ArrayView("uint8", {c.height, c.width, 3}, frames[i].data()));
        }
        if (schema.has_depth) {
            auto& depth = obs.add_cameras("depth");
            for (std::size_t i = 0; i < schema.cameras.size(); ++i) {
                const auto& c = schema.cameras[i];
                depth.cameras.emplace_back(c.name, act_edge::ArrayView("float32", {c.height, c.width}, depths[i].data()));
            }
        }
        obs.add_array("state", act_edge::ArrayView("float32", {schema.state_dim}, state.data()));
        if (schema.env_state_dim) obs.add_array("env_state", act_edge::ArrayView("float32", {schema.env_state_dim}, env_state.data()));

        std::vector<float> action(policy.action_dim());
        policy.reset();
        for (int i = 0; i < 10; ++i) policy.step(obs, action.data());  // warm-up, not timed
        policy.reset();
        policy.profiler().clear();

        const long ticks = std::lround(seconds * hz);
        long missed = 0;
        double worst_late_ms = 0;
        auto deadline = Clock::now() + period;
        for (long t = 0; t < ticks; ++t) {
            for (std::size_t j = 0; j < state.size(); ++j) state[j] = static_cast<float>(0.1 * std::sin(0.02 * t + j));
            policy.step(obs, action.data());  // the robot would send `action` to its actuators here
            const auto now = Clock::now();
            if (now > deadline) {
                ++missed;
                worst_late_ms = std::max(worst_late_ms, std::chrono::duration<double, std::milli>(now - deadline).count());
                // Re-anchor instead of bursting to catch up: a late step is dropped, not queued.
                while (deadline < now) deadline += period;
            }
            std::this_thread::sleep_until(deadline);
            deadline += period;
        }
        std::printf("%ld steps at %.0f Hz: %ld missed deadlines (%.2f%%), worst %.3f ms late\n", ticks, hz, missed,
                    ticks ? 100.0 * missed / ticks : 0.0, worst_late_ms);
        std::printf("profile: %s\n", policy.profiler().report().to_json().c_str());
        if (const act_edge::AsyncStepper* a = policy.async()) {
            const act_edge::AsyncStats& st = a->stats();
            std::printf("async: chunk age p50 %.0f p99 %.0f max %llu ticks, %llu inferences (%.1f/s), %llu starved ticks\n",
                        a->age_percentile(50), a->age_percentile(99), static_cast<unsigned long long>(st.max_age),
                        static_cast<unsigned long long>(st.inferences), seconds > 0 ? st.inferences / seconds : 0.0,
                        static_cast<unsigned long long>(st.starved));
        }
        return missed ? 1 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "control_loop: %s\n", e.what());
        return 2;
    }
}
