// MOCK of TensorRT's NvInfer.h, for a compile-only check of src/trt_engine.cpp on machines without TensorRT.
//
// It declares ONLY what vgg_infer uses, with the signatures of the TensorRT 10.x C++ API reference
// (docs.nvidia.com/deeplearning/tensorrt/latest/_static/c-api/: classnvinfer1_1_1_i_runtime.html,
// classnvinfer1_1_1_i_cuda_engine.html, classnvinfer1_1_1_i_execution_context.html,
// classnvinfer1_1_1_i_logger.html), which the 11.x pages keep for these members. It defines nothing; the
// trt_engine_compiles check compiles against it without linking, and tests/mock/fake_runtime.cpp defines a CPU
// fake of these declarations for the vgg_infer_on_fake_runtime test. Compiling against it proves only that the
// code matches this mock, which was written by hand from the documented API; it proves nothing about TensorRT.
// Removed APIs are deliberately absent (enqueueV2, binding indices and destroy(), gone since 10.0;
// createExecutionContextWithoutDeviceMemory and getDeviceMemorySize, deprecated in 10.x and gone in 11.x), so a
// call to one fails to compile here as it would against the real headers.
#ifndef VGG_DEPLOY_MOCK_NV_INFER_H
#define VGG_DEPLOY_MOCK_NV_INFER_H

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>  // as the real NvInferRuntimeBase.h does, for cudaStream_t

// NvInferVersion.h (included by the real NvInfer.h); the mock says it is 10.0.0.
#define NV_TENSORRT_MAJOR 10
#define NV_TENSORRT_MINOR 0
#define NV_TENSORRT_PATCH 0
#define VGG_DEPLOY_TENSORRT_MOCK 1

namespace nvinfer1 {

using AsciiChar = char;

class Dims64 {
public:
    static constexpr int32_t MAX_DIMS{8};
    int32_t nbDims;
    int64_t d[MAX_DIMS];
};
using Dims = Dims64;

// The enumerators that exist from 10.0 on (kFP4 and later ones came in later 10.x releases).
enum class DataType : int32_t {
    kFLOAT = 0, kHALF = 1, kINT8 = 2, kINT32 = 3, kBOOL = 4, kUINT8 = 5, kFP8 = 6, kBF16 = 7, kINT64 = 8, kINT4 = 9,
};
enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };
enum class OptProfileSelector : int32_t { kMIN = 0, kOPT = 1, kMAX = 2 };
enum class ExecutionContextAllocationStrategy : int32_t { kSTATIC = 0, kON_PROFILE_CHANGE = 1, kUSER_MANAGED = 2 };

class ILogger {
public:
    enum class Severity : int32_t { kINTERNAL_ERROR = 0, kERROR = 1, kWARNING = 2, kINFO = 3, kVERBOSE = 4 };
    virtual void log(Severity severity, AsciiChar const* msg) noexcept = 0;
    ILogger() = default;
    virtual ~ILogger() = default;

protected:
    ILogger(ILogger const&) = default;
    ILogger(ILogger&&) = default;
    ILogger& operator=(ILogger const&) & = default;
    ILogger& operator=(ILogger&&) & = default;
};

class INoCopy {
protected:
    INoCopy() = default;
    virtual ~INoCopy() = default;
    INoCopy(INoCopy const& other) = delete;
    INoCopy& operator=(INoCopy const& other) = delete;
    INoCopy(INoCopy&& other) = delete;
    INoCopy& operator=(INoCopy&& other) = delete;
};

class IExecutionContext : public INoCopy {
public:
    virtual ~IExecutionContext() noexcept = default;
    bool setInputShape(char const* tensorName, Dims const& dims) noexcept;
    Dims getTensorShape(char const* tensorName) const noexcept;
    bool allInputDimensionsSpecified() const noexcept;
    bool setTensorAddress(char const* tensorName, void* data) noexcept;
    bool enqueueV3(cudaStream_t stream) noexcept;
};

class ICudaEngine : public INoCopy {
public:
    virtual ~ICudaEngine() noexcept = default;
    Dims getTensorShape(char const* tensorName) const noexcept;
    DataType getTensorDataType(char const* tensorName) const noexcept;
    IExecutionContext* createExecutionContext(
        ExecutionContextAllocationStrategy strategy = ExecutionContextAllocationStrategy::kSTATIC) noexcept;
    TensorIOMode getTensorIOMode(char const* tensorName) const noexcept;
    int32_t getNbOptimizationProfiles() const noexcept;
    Dims getProfileShape(char const* tensorName, int32_t profileIndex, OptProfileSelector select) const noexcept;
    int32_t getNbIOTensors() const noexcept;
    char const* getIOTensorName(int32_t index) const noexcept;
};

class IRuntime : public INoCopy {
public:
    virtual ~IRuntime() noexcept = default;
    ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept;
};

// The real header defines this inline (forwarding to createInferRuntime_INTERNAL with NV_TENSORRT_VERSION).
IRuntime* createInferRuntime(ILogger& logger) noexcept;

}  // namespace nvinfer1

#endif  // VGG_DEPLOY_MOCK_NV_INFER_H
