#include "stream_executor.hpp"

#include <cstdio>

namespace act_edge::trt {

StreamExecutor::StreamExecutor(nvinfer1::IExecutionContext& context, BufferManager& buffers, bool use_cuda_graph)
    : context_(context), buffers_(buffers), stream_(make_stream()), ev_start_(make_event()), ev_h2d_(make_event()),
      ev_infer_(make_event()), ev_d2h_(make_event()) {
    buffers_.set_batch(1);
    if (use_cuda_graph) capture_graph();
}

void StreamExecutor::capture_graph() {
    // enqueueV3 once outside capture (TensorRT sets up deferred state on the first run).
    if (!context_.enqueueV3(stream_.get())) throw std::runtime_error("TensorRT: enqueueV3 failed");
    cuda_check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
    cudaGraph_t g = nullptr;
    if (cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal) != cudaSuccess) return;
    const bool ok = context_.enqueueV3(stream_.get());
    const cudaError_t end = cudaStreamEndCapture(stream_.get(), &g);
    if (!ok || end != cudaSuccess || g == nullptr) {
        if (g) cudaGraphDestroy(g);
        cudaGetLastError();  // clear; plain enqueueV3 is used instead
        std::fprintf(stderr, "[act_edge] CUDA graph capture failed; using enqueueV3\n");
        return;
    }
    graph_.reset(g);
    cudaGraphExec_t exec = nullptr;
    if (cudaGraphInstantiateWithFlags(&exec, g, 0) != cudaSuccess) {
        cudaGetLastError();
        graph_.reset();
        return;
    }
    graph_exec_.reset(exec);
}

void StreamExecutor::run(std::size_t batch) {
    cudaStream_t s = stream_.get();
    cuda_check(cudaEventRecord(ev_start_.get(), s), "cudaEventRecord");
    buffers_.upload(batch, s);
    cuda_check(cudaEventRecord(ev_h2d_.get(), s), "cudaEventRecord");
    if (batch == 1 && graph_exec_) {
        cuda_check(cudaGraphLaunch(graph_exec_.get(), s), "cudaGraphLaunch");
    } else {
        buffers_.set_batch(batch);
        if (!context_.enqueueV3(s)) throw std::runtime_error("TensorRT: enqueueV3 failed");
    }
    cuda_check(cudaEventRecord(ev_infer_.get(), s), "cudaEventRecord");
    buffers_.download(batch, s);
    cuda_check(cudaEventRecord(ev_d2h_.get(), s), "cudaEventRecord");
    cuda_check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    if (batch != 1 && graph_exec_) buffers_.set_batch(1);  // the graph was captured for batch 1
}

StageTimes StreamExecutor::last_times() const {
    StageTimes t;
    float ms = 0;
    cudaEventElapsedTime(&ms, ev_start_.get(), ev_h2d_.get());
    t.host_to_device_us = ms * 1e3;
    cudaEventElapsedTime(&ms, ev_h2d_.get(), ev_infer_.get());
    t.infer_us = ms * 1e3;
    cudaEventElapsedTime(&ms, ev_infer_.get(), ev_d2h_.get());
    t.device_to_host_us = ms * 1e3;
    return t;
}

}  // namespace act_edge::trt
