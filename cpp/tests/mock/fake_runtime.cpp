// A CPU FAKE of the TensorRT and CUDA calls declared in tests/mock/tensorrt/NvInfer.h (and the CUDA runtime
// header), linked into `vgg_infer_fake` so that src/main.cpp and src/trt_engine.cpp can run on a machine without
// a GPU: it drives their control flow, buffer handling, FP16 conversion, output and error paths. It proves NOTHING
// about TensorRT or CUDA themselves: every behaviour here was written for the test, modelled on the documented
// API (null engine and a logged error on a bad plan, false from setInputShape outside the profile, ...).
//
// "Engines" are text files:
//   VGG_DEPLOY_FAKE_PLAN
//   input_dtype=float32        (or float16, int8)
//   output_dtype=float32
//   input_shape=-1,3,4,4       (-1: dynamic)
//   profile=1,4                (min and max of each dynamic dimension)
//   classes=5
// and compute, for image n with mean value m, logits[n][k] = -(m - k)^2: the top class is the mean, rounded.
// Device memory is host memory; copies are synchronous. At exit it reports objects and allocations not freed.
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "half.hpp"

namespace {

struct Live {
    int device = 0, pinned = 0, streams = 0, runtimes = 0, engines = 0, contexts = 0;
    ~Live() {
        if (device || pinned || streams || runtimes || engines || contexts) {
            std::fprintf(stderr, "fake runtime: not freed at exit: %d device, %d pinned buffers, %d streams, "
                                 "%d runtimes, %d engines, %d contexts\n",
                         device, pinned, streams, runtimes, engines, contexts);
        }
    }
} live;

std::vector<int64_t> parse_list(const std::string& text) {
    std::vector<int64_t> values;
    std::stringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) {
        values.push_back(std::stoll(part));
    }
    return values;
}

nvinfer1::DataType parse_dtype(const std::string& name) {
    if (name == "float16") return nvinfer1::DataType::kHALF;
    if (name == "int8") return nvinfer1::DataType::kINT8;
    return nvinfer1::DataType::kFLOAT;
}

nvinfer1::Dims to_dims(const std::vector<int64_t>& shape) {
    nvinfer1::Dims dims{};
    dims.nbDims = static_cast<int32_t>(shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) dims.d[i] = shape[i];
    return dims;
}

struct FakeRuntime : nvinfer1::IRuntime {
    explicit FakeRuntime(nvinfer1::ILogger& l) : logger(l) { ++live.runtimes; }
    ~FakeRuntime() noexcept override { --live.runtimes; }
    nvinfer1::ILogger& logger;
};

struct FakeEngine : nvinfer1::ICudaEngine {
    FakeEngine() { ++live.engines; }
    ~FakeEngine() noexcept override { --live.engines; }
    nvinfer1::ILogger* logger = nullptr;
    nvinfer1::DataType input_dtype{}, output_dtype{};
    std::vector<int64_t> input_shape, profile;
    int64_t classes = 0;
};

struct FakeContext : nvinfer1::IExecutionContext {
    FakeContext() { ++live.contexts; }
    ~FakeContext() noexcept override { --live.contexts; }
    const FakeEngine* engine = nullptr;
    std::vector<int64_t> shape;  // set by setInputShape
    std::map<std::string, void*> addresses;
};

const FakeEngine& self(const nvinfer1::ICudaEngine* e) { return *static_cast<const FakeEngine*>(e); }
FakeContext& self(nvinfer1::IExecutionContext* c) { return *static_cast<FakeContext*>(c); }
const FakeContext& self(const nvinfer1::IExecutionContext* c) { return *static_cast<const FakeContext*>(c); }

float read_value(const void* base, std::size_t i, nvinfer1::DataType type) {
    if (type == nvinfer1::DataType::kHALF) return vgg_deploy::half_to_float(static_cast<const uint16_t*>(base)[i]);
    return static_cast<const float*>(base)[i];
}

void write_value(void* base, std::size_t i, float value, nvinfer1::DataType type) {
    if (type == nvinfer1::DataType::kHALF) {
        static_cast<uint16_t*>(base)[i] = vgg_deploy::float_to_half(value);
    } else {
        static_cast<float*>(base)[i] = value;
    }
}

}  // namespace

namespace nvinfer1 {

IRuntime* createInferRuntime(ILogger& logger) noexcept { return new FakeRuntime(logger); }

ICudaEngine* IRuntime::deserializeCudaEngine(void const* blob, std::size_t size) noexcept {
    ILogger& logger = static_cast<FakeRuntime*>(this)->logger;
    const std::string text(static_cast<const char*>(blob), size);
    if (text.rfind("VGG_DEPLOY_FAKE_PLAN\n", 0) != 0) {
        // The wording of a real TensorRT 10 failure on a foreign file.
        logger.log(ILogger::Severity::kERROR, "IRuntime::deserializeCudaEngine: Error Code 1: Serialization "
                                              "(Serialization assertion magicTagRead == kMAGIC_TAG failed.Magic tag "
                                              "does not match)");
        return nullptr;
    }
    auto* engine = new FakeEngine();
    engine->logger = &logger;
    std::stringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "input_dtype") engine->input_dtype = parse_dtype(value);
        if (key == "output_dtype") engine->output_dtype = parse_dtype(value);
        if (key == "input_shape") engine->input_shape = parse_list(value);
        if (key == "profile") engine->profile = parse_list(value);
        if (key == "classes") engine->classes = std::stoll(value);
    }
    return engine;
}

int32_t ICudaEngine::getNbIOTensors() const noexcept { return 2; }
char const* ICudaEngine::getIOTensorName(int32_t index) const noexcept { return index == 0 ? "input" : "logits"; }
TensorIOMode ICudaEngine::getTensorIOMode(char const* name) const noexcept {
    return std::strcmp(name, "input") == 0 ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
}
DataType ICudaEngine::getTensorDataType(char const* name) const noexcept {
    return std::strcmp(name, "input") == 0 ? self(this).input_dtype : self(this).output_dtype;
}
Dims ICudaEngine::getTensorShape(char const* name) const noexcept {
    const FakeEngine& e = self(this);
    return std::strcmp(name, "input") == 0 ? to_dims(e.input_shape) : to_dims({e.input_shape[0], e.classes});
}
int32_t ICudaEngine::getNbOptimizationProfiles() const noexcept { return 1; }
Dims ICudaEngine::getProfileShape(char const*, int32_t, OptProfileSelector select) const noexcept {
    std::vector<int64_t> shape = self(this).input_shape;
    std::size_t next = select == OptProfileSelector::kMAX ? 1 : 0;
    for (int64_t& dim : shape) {
        if (dim < 0) {
            dim = self(this).profile[next];
            next += 2;
        }
    }
    return to_dims(shape);
}
IExecutionContext* ICudaEngine::createExecutionContext(ExecutionContextAllocationStrategy) noexcept {
    auto* context = new FakeContext();
    context->engine = &self(this);
    return context;
}

bool IExecutionContext::setInputShape(char const*, Dims const& dims) noexcept {
    FakeContext& c = self(this);
    std::vector<int64_t> shape(dims.d, dims.d + dims.nbDims);
    if (shape.size() != c.engine->input_shape.size() || shape[0] < c.engine->profile[0] ||
        shape[0] > c.engine->profile[1]) {
        c.engine->logger->log(ILogger::Severity::kERROR, "IExecutionContext::setInputShape: Error Code 3: API Usage "
                                                         "Error (shape outside the profile)");
        return false;
    }
    c.shape = shape;
    return true;
}
bool IExecutionContext::allInputDimensionsSpecified() const noexcept { return !self(this).shape.empty(); }
Dims IExecutionContext::getTensorShape(char const*) const noexcept {
    const FakeContext& c = self(this);
    return to_dims({c.shape.empty() ? -1 : c.shape[0], c.engine->classes});
}
bool IExecutionContext::setTensorAddress(char const* name, void* data) noexcept {
    self(this).addresses[name] = data;
    return true;
}
bool IExecutionContext::enqueueV3(cudaStream_t) noexcept {
    FakeContext& c = self(this);
    if (c.shape.empty() || c.addresses.count("input") == 0 || c.addresses.count("logits") == 0) {
        c.engine->logger->log(ILogger::Severity::kERROR, "IExecutionContext::enqueueV3: Error Code 3: API Usage "
                                                         "Error (tensor address or input shape not set)");
        return false;
    }
    const auto batch = static_cast<std::size_t>(c.shape[0]);
    std::size_t per_image = 1;
    for (std::size_t i = 1; i < c.shape.size(); ++i) per_image *= static_cast<std::size_t>(c.shape[i]);
    for (std::size_t n = 0; n < batch; ++n) {
        double sum = 0;
        for (std::size_t i = 0; i < per_image; ++i) sum += read_value(c.addresses["input"], n * per_image + i,
                                                                      c.engine->input_dtype);
        const double mean = sum / static_cast<double>(per_image);
        for (int64_t k = 0; k < c.engine->classes; ++k) {
            const double d = mean - static_cast<double>(k);
            write_value(c.addresses["logits"], n * static_cast<std::size_t>(c.engine->classes) +
                        static_cast<std::size_t>(k), static_cast<float>(-d * d), c.engine->output_dtype);
        }
    }
    return true;
}

}  // namespace nvinfer1

// ---- CUDA runtime, on the host ----------------------------------------------------------------------------------
extern "C" {
const char* cudaGetErrorString(cudaError_t) { return "fake CUDA error"; }
cudaError_t cudaGetDeviceCount(int* count) {
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
    *device = 0;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* prop, int) {
    std::snprintf(prop->name, sizeof prop->name, "fake CPU device");
    prop->major = 0;
    prop->minor = 0;
    return cudaSuccess;
}
cudaError_t cudaMalloc(void** ptr, size_t size) {
    *ptr = std::malloc(size);
    ++live.device;
    return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
    if (ptr) --live.device;
    std::free(ptr);
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void** ptr, size_t size) {
    *ptr = std::malloc(size);
    ++live.pinned;
    return cudaSuccess;
}
cudaError_t cudaFreeHost(void* ptr) {
    if (ptr) --live.pinned;
    std::free(ptr);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind, cudaStream_t) {
    std::memcpy(dst, src, count);
    return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
    static int token;
    *stream = reinterpret_cast<cudaStream_t>(&token);
    ++live.streams;
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t) {
    --live.streams;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
}
