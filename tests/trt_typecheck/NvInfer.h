// TYPE-CHECK ONLY. Not TensorRT. A minimal, hand-written subset of the TensorRT 10 C++ API
// declarations (NvInfer.h / NvInferRuntime.h: names, signatures, constness and noexcept as in the
// real headers) so that tests/test_cpp_trt_typecheck.py can compile cpp_bindings' TensorRT sources
// with `-fsyntax-only` on a machine without TensorRT. Nothing here is defined, linked or run; code
// that passes this check is NOT tested against TensorRT (only a TensorRT build on a GPU runs it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda_runtime_api.h"

extern "C" int32_t getInferLibVersion() noexcept;

namespace nvinfer1 {

class ILogger {
public:
    enum class Severity : int32_t { kINTERNAL_ERROR = 0, kERROR = 1, kWARNING = 2, kINFO = 3, kVERBOSE = 4 };
    virtual void log(Severity severity, char const* msg) noexcept = 0;
    virtual ~ILogger() = default;
};

enum class DataType : int32_t { kFLOAT = 0, kHALF = 1, kINT8 = 2, kINT32 = 3, kBOOL = 4, kUINT8 = 5, kFP8 = 6, kBF16 = 7, kINT64 = 8, kINT4 = 9 };
enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };

class Dims64 {
public:
    static constexpr int32_t MAX_DIMS{8};
    int32_t nbDims;
    int64_t d[MAX_DIMS];
};
using Dims = Dims64;

class INoCopy {
protected:
    INoCopy() = default;
    virtual ~INoCopy() = default;
    INoCopy(INoCopy const&) = delete;
    INoCopy& operator=(INoCopy const&) = delete;
};

class IExecutionContext : public INoCopy {
public:
    virtual ~IExecutionContext() noexcept = default;
    bool setTensorAddress(char const* tensorName, void* data) noexcept;
    bool setInputShape(char const* tensorName, Dims const& dims) noexcept;
    bool enqueueV3(cudaStream_t stream) noexcept;
};

enum class ExecutionContextAllocationStrategy : int32_t { kSTATIC = 0, kON_PROFILE_CHANGE = 1, kUSER_MANAGED = 2 };

class ICudaEngine : public INoCopy {
public:
    virtual ~ICudaEngine() noexcept = default;
    IExecutionContext* createExecutionContext(
        ExecutionContextAllocationStrategy strategy = ExecutionContextAllocationStrategy::kSTATIC) noexcept;
    int32_t getNbIOTensors() const noexcept;
    char const* getIOTensorName(int32_t index) const noexcept;
    TensorIOMode getTensorIOMode(char const* tensorName) const noexcept;
    DataType getTensorDataType(char const* tensorName) const noexcept;
    Dims getTensorShape(char const* tensorName) const noexcept;
};

class IRuntime : public INoCopy {
public:
    virtual ~IRuntime() noexcept = default;
    void setDLACore(int32_t dlaCore) noexcept;
    int32_t getDLACore() const noexcept;
    int32_t getNbDLACores() const noexcept;
    ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept;
};

IRuntime* createInferRuntime(ILogger& logger) noexcept;

}  // namespace nvinfer1
