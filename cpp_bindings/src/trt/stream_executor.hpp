// Running the engine on one CUDA stream: upload -> execute (a CUDA graph captured for batch 1, else
// enqueueV3) -> download, with an event between stages for their GPU times. TensorRT builds only.
#pragma once

#include <cstddef>

#include "buffer_manager.hpp"
#include "cuda_raii.hpp"

namespace act_edge::trt {

// GPU time of the stages of the last run(), microseconds.
struct StageTimes {
    double host_to_device_us = 0, infer_us = 0, device_to_host_us = 0;
};

class StreamExecutor {
public:
    // Creates the stream and events, sets batch 1 and, if `use_cuda_graph`, captures enqueueV3 for
    // batch 1 in a CUDA graph (after one plain run; on failure it says so on stderr and uses enqueueV3).
    StreamExecutor(nvinfer1::IExecutionContext& context, BufferManager& buffers, bool use_cuda_graph);
    StreamExecutor(const StreamExecutor&) = delete;
    StreamExecutor& operator=(const StreamExecutor&) = delete;

    // Upload `batch` staged items, execute, download the output, then wait for the stream.
    void run(std::size_t batch);
    // Read by the thread that called run(), after it returned.
    StageTimes last_times() const;
    bool uses_cuda_graph() const noexcept { return graph_exec_ != nullptr; }

private:
    void capture_graph();

    nvinfer1::IExecutionContext& context_;
    BufferManager& buffers_;
    CudaStream stream_;
    CudaEvent ev_start_, ev_h2d_, ev_infer_, ev_d2h_;
    CudaGraph graph_;
    CudaGraphExec graph_exec_;
};

}  // namespace act_edge::trt
