// TensorRT 10.x / 11.x runtime: deserialize, name-based I/O tensors, setInputShape, setTensorAddress, enqueueV3.
//
// Pages followed (docs.nvidia.com/deeplearning/tensorrt/):
//   - C++ API reference, nvinfer1::IRuntime, ICudaEngine, IExecutionContext, ILogger (10.x; the members used here
//     are unchanged in 11.x).
//   - "Migrating from enqueueV2 to enqueueV3 (C++)" (8.x -> 10.x appendix of the migration guide): call
//     setTensorAddress for every I/O tensor, named via getIOTensorName, before enqueueV3; no binding indices.
//   - "Migrating C++ Code from TensorRT 10.x to 11.x" and "Removed and Deprecated C++ APIs in TensorRT 11.x":
//     what 11.x removes is the weak-typing/calibration builder API, IAlgorithm*, the IPluginCreator registry
//     overloads, and on the runtime side the device-memory-size calls without V2 (the Python list of the same
//     guide names device_memory_size -> device_memory_size_v2 and create_execution_context_without_device_memory).
//     None of these is used: createExecutionContext() allocates its own activation memory (kSTATIC, the default
//     in both 10.x and 11.x), so no device-memory size is queried. Objects are released with delete (destroy() was
//     removed in 10.0, "Appendix: Added and Removed C++ APIs in TensorRT 10.x").
// No line here differs between 10.x and 11.x; the only version guard is the #error below for 8.x headers.
#include "trt_engine.hpp"

#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <utility>

#include "half.hpp"

#if !defined(NV_TENSORRT_MAJOR) || NV_TENSORRT_MAJOR < 10
#error "vgg_infer needs TensorRT 10 or newer (name-based I/O tensors, enqueueV3, Dims64)"
#endif

namespace vgg_deploy {
namespace {

// Prints TensorRT's warnings and errors to stderr and keeps the errors, so a failed call can say why.
// TensorRT may call it from several threads (ILogger reference), hence the mutex.
class Logger : public nvinfer1::ILogger {
public:
    void log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept override {
        if (severity > Severity::kWARNING || msg == nullptr) {
            return;
        }
        try {
            std::lock_guard<std::mutex> lock(mutex_);
            std::fprintf(stderr, "[TensorRT] %s: %s\n", severity == Severity::kWARNING ? "warning" : "error", msg);
            if (severity <= Severity::kERROR) {
                errors_.emplace_back(msg);
            }
        } catch (...) {  // log() is noexcept: never let an allocation failure escape
        }
    }
    // The errors logged since the last call, joined; empty when there were none.
    std::string take_errors() {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string joined;
        for (const std::string& e : errors_) {
            joined += (joined.empty() ? "" : " | ") + e;
        }
        errors_.clear();
        return joined;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> errors_;
};

void check_cuda(cudaError_t status, const std::string& what) {
    if (status != cudaSuccess) {
        throw EngineError(what + " failed: " + cudaGetErrorString(status));
    }
}

// RAII owners of CUDA memory and streams (freed even when an exception unwinds).
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
        check_cuda(cudaMalloc(&ptr_, bytes), "cudaMalloc of " + std::to_string(bytes) + " bytes");
    }
    ~DeviceBuffer() { cudaFree(ptr_); }
    DeviceBuffer(DeviceBuffer&& other) noexcept { swap(other); }
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
        DeviceBuffer(std::move(other)).swap(*this);
        return *this;
    }
    void* get() const { return ptr_; }
    std::size_t bytes() const { return bytes_; }

private:
    void swap(DeviceBuffer& other) noexcept {
        std::swap(ptr_, other.ptr_);
        std::swap(bytes_, other.bytes_);
    }
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
};

class PinnedBuffer {  // page-locked host memory, so cudaMemcpyAsync is truly asynchronous
public:
    PinnedBuffer() = default;
    explicit PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
        check_cuda(cudaMallocHost(&ptr_, bytes), "cudaMallocHost of " + std::to_string(bytes) + " bytes");
    }
    ~PinnedBuffer() { cudaFreeHost(ptr_); }
    PinnedBuffer(PinnedBuffer&& other) noexcept { swap(other); }
    PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
        PinnedBuffer(std::move(other)).swap(*this);
        return *this;
    }
    void* get() const { return ptr_; }
    std::size_t bytes() const { return bytes_; }

private:
    void swap(PinnedBuffer& other) noexcept {
        std::swap(ptr_, other.ptr_);
        std::swap(bytes_, other.bytes_);
    }
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
};

class Stream {
public:
    Stream() { check_cuda(cudaStreamCreate(&stream_), "cudaStreamCreate"); }
    ~Stream() {
        cudaStreamSynchronize(stream_);
        cudaStreamDestroy(stream_);
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const { return stream_; }

private:
    cudaStream_t stream_ = nullptr;
};

std::string dtype_name(nvinfer1::DataType type) {
    switch (type) {  // only enumerators that exist since 10.0, so this compiles with every 10.x/11.x header
        case nvinfer1::DataType::kFLOAT: return "float32";
        case nvinfer1::DataType::kHALF: return "float16";
        case nvinfer1::DataType::kINT8: return "int8";
        case nvinfer1::DataType::kINT32: return "int32";
        case nvinfer1::DataType::kBOOL: return "bool";
        case nvinfer1::DataType::kUINT8: return "uint8";
        case nvinfer1::DataType::kFP8: return "fp8";
        case nvinfer1::DataType::kBF16: return "bfloat16";
        case nvinfer1::DataType::kINT64: return "int64";
        case nvinfer1::DataType::kINT4: return "int4";
        default: return "data type #" + std::to_string(static_cast<int32_t>(type));
    }
}

std::size_t element_size(const std::string& dtype) { return dtype == "float16" ? 2 : 4; }

Shape to_shape(const nvinfer1::Dims& dims) {
    Shape shape;
    for (int32_t i = 0; i < dims.nbDims; ++i) {
        shape.push_back(dims.d[i]);
    }
    return shape;
}

nvinfer1::Dims to_dims(const Shape& shape) {
    nvinfer1::Dims dims{};
    if (shape.size() > static_cast<std::size_t>(nvinfer1::Dims::MAX_DIMS)) {
        throw EngineError("shape " + format_shape(shape) + " has more dimensions than TensorRT supports");
    }
    dims.nbDims = static_cast<int32_t>(shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) {
        dims.d[i] = shape[i];
    }
    return dims;
}

std::vector<char> read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        throw EngineError(path + ": cannot open the engine file (" + std::strerror(errno) + ")");
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (file.bad()) {
        throw EngineError(path + ": could not read the engine file");
    }
    if (bytes.empty()) {
        throw EngineError(path + ": the engine file is empty");
    }
    return bytes;
}

std::string describe_device() {
    int count = 0;
    check_cuda(cudaGetDeviceCount(&count), "looking for a CUDA GPU (cudaGetDeviceCount); vgg_infer needs an NVIDIA "
                                           "GPU and driver");
    if (count == 0) {
        throw EngineError("no CUDA GPU found; vgg_infer needs an NVIDIA GPU and driver");
    }
    int device = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    cudaDeviceProp prop{};
    check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    std::ostringstream out;
    out << prop.name << " (compute capability " << prop.major << "." << prop.minor << ")";
    return out.str();
}

struct Binding {
    TensorInfo info;
    DeviceBuffer device;
    PinnedBuffer host;  // input and outputs[0] only
    std::size_t count = 0;
};

}  // namespace

struct TrtEngine::Impl {
    // Declaration order is destruction order reversed: buffers and stream go first, then the context, the engine,
    // the runtime, and last the logger, which TensorRT needs until every object made through the runtime is gone.
    Logger logger;
    std::unique_ptr<nvinfer1::IRuntime> runtime;
    std::unique_ptr<nvinfer1::ICudaEngine> engine;
    std::unique_ptr<nvinfer1::IExecutionContext> context;
    std::unique_ptr<Stream> stream;
    EngineInfo info;
    Binding input;
    std::vector<Binding> outputs;
    bool prepared = false;

    ~Impl() {
        if (stream) {  // nothing may still be reading or writing the buffers freed below
            cudaStreamSynchronize(stream->get());
        }
    }
};

TrtEngine::TrtEngine(const std::string& plan_path) : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.info.runtime = "TensorRT " + std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
                     std::to_string(NV_TENSORRT_PATCH) + " (headers)";
    m.info.timed_call = "host-to-device copy + enqueueV3 + device-to-host copy + sync";
    m.info.device = describe_device();
    const std::vector<char> plan = read_file(plan_path);

    m.runtime.reset(nvinfer1::createInferRuntime(m.logger));
    if (!m.runtime) {
        throw EngineError("could not create the TensorRT runtime (createInferRuntime returned null): " +
                          m.logger.take_errors());
    }
    m.engine.reset(m.runtime->deserializeCudaEngine(plan.data(), plan.size()));
    if (!m.engine) {
        const std::string said = m.logger.take_errors();
        throw EngineError(
            "could not deserialize the engine '" + plan_path + "' (" + std::to_string(plan.size()) + " bytes)" +
            (said.empty() ? "" : "; TensorRT said: " + said) +
            ".\nLikely cause: it was built with another TensorRT version or on another GPU model (compute "
            "capability); engines are not portable. '" + plan_path + ".json', written by vgg-deploy build-trt, says "
            "which. This vgg_infer runs " + m.info.runtime + " on " + m.info.device +
            ".\nRebuild the engine on this machine: vgg-deploy build-trt model.onnx -o " + plan_path +
            "\n(A truncated or corrupted file fails the same way.)");
    }

    std::vector<std::string> input_names;
    for (int32_t i = 0; i < m.engine->getNbIOTensors(); ++i) {
        const char* name = m.engine->getIOTensorName(i);
        const nvinfer1::TensorIOMode mode = m.engine->getTensorIOMode(name);
        TensorInfo tensor{name, dtype_name(m.engine->getTensorDataType(name)),
                          to_shape(m.engine->getTensorShape(name))};
        if (tensor.dtype != "float32" && tensor.dtype != "float16") {
            throw EngineError("tensor '" + tensor.name + "' of the engine is " + tensor.dtype +
                              "; vgg_infer handles float32 and float16 inputs and outputs only");
        }
        if (mode == nvinfer1::TensorIOMode::kINPUT) {
            input_names.push_back(tensor.name);
            m.input.info = tensor;
        } else if (mode == nvinfer1::TensorIOMode::kOUTPUT) {
            Binding output;
            output.info = tensor;
            m.outputs.push_back(std::move(output));
        }
    }
    if (input_names.size() != 1 || m.outputs.empty()) {
        throw EngineError("the engine has " + std::to_string(input_names.size()) + " inputs and " +
                          std::to_string(m.outputs.size()) + " outputs; vgg_infer runs engines with one input "
                          "(an image batch) and at least one output");
    }

    m.info.input = m.input.info;
    for (const Binding& output : m.outputs) {
        m.info.outputs.push_back(output.info);
    }
    bool dynamic = false;
    for (const int64_t dim : m.input.info.shape) {
        dynamic = dynamic || dim < 0;
    }
    if (dynamic && m.engine->getNbOptimizationProfiles() > 0) {
        // The execution context uses profile 0 unless told otherwise; build-trt makes exactly one.
        const char* name = m.input.info.name.c_str();
        m.info.profile_min = to_shape(m.engine->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kMIN));
        m.info.profile_max = to_shape(m.engine->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kMAX));
    }

    m.context.reset(m.engine->createExecutionContext());
    if (!m.context) {
        throw EngineError("could not create an execution context (out of GPU memory?): " + m.logger.take_errors());
    }
    m.stream = std::make_unique<Stream>();
}

TrtEngine::~TrtEngine() = default;

const EngineInfo& TrtEngine::info() const { return impl_->info; }

Shape TrtEngine::prepare(const Shape& input_shape) {
    Impl& m = *impl_;
    m.prepared = false;
    check_input_fits(m.info, input_shape);
    if (!m.context->setInputShape(m.input.info.name.c_str(), to_dims(input_shape))) {
        throw EngineError("TensorRT refused the input shape " + format_shape(input_shape) + ": " +
                          m.logger.take_errors());
    }
    if (!m.context->allInputDimensionsSpecified()) {
        throw EngineError("TensorRT reports unspecified input dimensions after setInputShape: " +
                          m.logger.take_errors());
    }

    m.input.count = element_count(input_shape);
    const std::size_t input_bytes = m.input.count * element_size(m.input.info.dtype);
    m.input.device = DeviceBuffer(input_bytes);
    m.input.host = PinnedBuffer(input_bytes);
    if (!m.context->setTensorAddress(m.input.info.name.c_str(), m.input.device.get())) {
        throw EngineError("setTensorAddress('" + m.input.info.name + "') failed: " + m.logger.take_errors());
    }

    Shape first_output_shape;
    for (std::size_t i = 0; i < m.outputs.size(); ++i) {
        Binding& output = m.outputs[i];
        const Shape shape = to_shape(m.context->getTensorShape(output.info.name.c_str()));
        for (const int64_t dim : shape) {
            if (dim < 0) {
                throw EngineError("output '" + output.info.name + "' has shape " + format_shape(shape) +
                                  " after setInputShape (data-dependent); vgg_infer needs outputs whose shape follows "
                                  "from the input shape");
            }
        }
        output.count = element_count(shape);
        const std::size_t bytes = output.count * element_size(output.info.dtype);
        output.device = DeviceBuffer(bytes == 0 ? 1 : bytes);
        if (i == 0) {
            output.host = PinnedBuffer(bytes == 0 ? 1 : bytes);
            first_output_shape = shape;
        }
        // enqueueV3 needs an address for every I/O tensor, including outputs nobody reads.
        if (!m.context->setTensorAddress(output.info.name.c_str(), output.device.get())) {
            throw EngineError("setTensorAddress('" + output.info.name + "') failed: " + m.logger.take_errors());
        }
    }
    m.prepared = true;
    return first_output_shape;
}

void TrtEngine::set_input(const float* values, std::size_t count) {
    Impl& m = *impl_;
    if (!m.prepared || count != m.input.count) {
        throw EngineError("set_input: " + std::to_string(count) + " values for a prepared input of " +
                          std::to_string(m.input.count));
    }
    if (m.input.info.dtype == "float16") {
        auto* host = static_cast<std::uint16_t*>(m.input.host.get());
        for (std::size_t i = 0; i < count; ++i) {
            host[i] = float_to_half(values[i]);
        }
    } else if (count > 0) {
        std::memcpy(m.input.host.get(), values, count * sizeof(float));
    }
}

void TrtEngine::infer() {
    Impl& m = *impl_;
    if (!m.prepared) {
        throw EngineError("infer() before prepare()");
    }
    cudaStream_t stream = m.stream->get();
    check_cuda(cudaMemcpyAsync(m.input.device.get(), m.input.host.get(), m.input.device.bytes(),
                               cudaMemcpyHostToDevice, stream),
               "copying the input to the GPU (cudaMemcpyAsync)");
    if (!m.context->enqueueV3(stream)) {
        throw EngineError("enqueueV3 failed: " + m.logger.take_errors());
    }
    Binding& output = m.outputs.front();
    check_cuda(cudaMemcpyAsync(output.host.get(), output.device.get(), output.count * element_size(output.info.dtype),
                               cudaMemcpyDeviceToHost, stream),
               "copying the output from the GPU (cudaMemcpyAsync)");
    check_cuda(cudaStreamSynchronize(stream), "running the engine (cudaStreamSynchronize)");
}

std::vector<float> TrtEngine::output() const {
    const Binding& output = impl_->outputs.front();
    std::vector<float> values(output.count);
    if (output.info.dtype == "float16") {
        const auto* host = static_cast<const std::uint16_t*>(output.host.get());
        for (std::size_t i = 0; i < values.size(); ++i) {
            values[i] = half_to_float(host[i]);
        }
    } else if (!values.empty()) {
        std::memcpy(values.data(), output.host.get(), values.size() * sizeof(float));
    }
    return values;
}

}  // namespace vgg_deploy
