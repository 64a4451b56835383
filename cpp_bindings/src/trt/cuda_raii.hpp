// Move-only owners of CUDA resources (as in the TensorRT samples' buffers.h) and the TensorRT
// logger: what the TensorRT translation units share. CUDA / TensorRT builds only.
#pragma once

#include <cuda_runtime_api.h>
#include <NvInfer.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace act_edge::trt {

inline void cuda_check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

// Move-only owner of `bytes` of CUDA memory, zeroed at allocation; Memory says which kind.
template <class Memory>
class CudaBuffer {
public:
    CudaBuffer() = default;
    explicit CudaBuffer(std::size_t bytes) : ptr_(bytes ? Memory::allocate(bytes) : nullptr), bytes_(bytes) {}
    ~CudaBuffer() { if (ptr_) Memory::release(ptr_); }
    CudaBuffer(CudaBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    CudaBuffer& operator=(CudaBuffer&& o) noexcept {
        if (this != &o) {
            if (ptr_) Memory::release(ptr_);
            ptr_ = std::exchange(o.ptr_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    CudaBuffer(const CudaBuffer&) = delete;
    CudaBuffer& operator=(const CudaBuffer&) = delete;
    void* get() const noexcept { return ptr_; }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
};

struct DeviceMemory {
    static void* allocate(std::size_t n) {
        void* p = nullptr;
        cuda_check(cudaMalloc(&p, n), "cudaMalloc");
        if (cudaError_t e = cudaMemset(p, 0, n); e != cudaSuccess) {  // defined inputs for the warm-up run
            cudaFree(p);
            cuda_check(e, "cudaMemset");
        }
        return p;
    }
    static void release(void* p) noexcept { cudaFree(p); }
};

// Pinned host memory (cudaMallocHost): async copies really overlap and do not stage through pageable memory.
struct PinnedHostMemory {
    static void* allocate(std::size_t n) {
        void* p = nullptr;
        cuda_check(cudaMallocHost(&p, n), "cudaMallocHost");
        std::memset(p, 0, n);
        return p;
    }
    static void release(void* p) noexcept { cudaFreeHost(p); }
};

using DeviceBuffer = CudaBuffer<DeviceMemory>;
using HostBuffer = CudaBuffer<PinnedHostMemory>;

struct StreamDeleter { void operator()(CUstream_st* s) const noexcept { cudaStreamDestroy(s); } };
using CudaStream = std::unique_ptr<CUstream_st, StreamDeleter>;
inline CudaStream make_stream() {
    cudaStream_t s = nullptr;
    cuda_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    return CudaStream(s);
}

struct EventDeleter { void operator()(CUevent_st* e) const noexcept { cudaEventDestroy(e); } };
using CudaEvent = std::unique_ptr<CUevent_st, EventDeleter>;
inline CudaEvent make_event() {
    cudaEvent_t e = nullptr;
    cuda_check(cudaEventCreate(&e), "cudaEventCreate");
    return CudaEvent(e);
}

struct GraphDeleter { void operator()(CUgraph_st* g) const noexcept { cudaGraphDestroy(g); } };
struct GraphExecDeleter { void operator()(CUgraphExec_st* g) const noexcept { cudaGraphExecDestroy(g); } };
using CudaGraph = std::unique_ptr<CUgraph_st, GraphDeleter>;
using CudaGraphExec = std::unique_ptr<CUgraphExec_st, GraphExecDeleter>;

// TensorRT 10 objects are released with delete (destroy() is gone).
template <class T>
using TrtPtr = std::unique_ptr<T>;

class Logger : public nvinfer1::ILogger {
public:
    void log(Severity severity, const char* msg) noexcept override {
        if (severity <= Severity::kWARNING) std::fprintf(stderr, "[act_edge TensorRT] %s\n", msg);
    }
};

}  // namespace act_edge::trt
