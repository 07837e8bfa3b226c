// The runtime-neutral interface of vgg_infer: load a model file, describe its input and output (name, shape,
// dtype), run a batch, release (the destructor). Two implementations: TrtEngine (trt_engine.hpp, TensorRT on an
// NVIDIA GPU) and OpenVinoBackend (openvino_backend.hpp, OpenVINO on the CPU). Code using this header needs
// neither runtime's headers; which one serves a file is model_kind()'s decision, from the suffix.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "shape.hpp"

namespace vgg_deploy {

// Anything the runtime refused; what() says what failed and what to do.
class EngineError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct TensorInfo {
    std::string name;
    std::string dtype;  // "float32" or "float16": the only types vgg_infer converts
    Shape shape;        // as loaded: -1 for a dynamic dimension
};

struct EngineInfo {
    std::string runtime;        // "TensorRT 10.13.0 (headers)", "OpenVINO 2026.4.1-..."
    std::string device;         // "NVIDIA H100 80GB HBM3 (compute capability 9.0)", "CPU: AMD EPYC ..."
    std::string precision;      // what the runtime was told to compute in ("" where the file decides alone)
    std::string timed_call;     // what one timed call covers, for the latency line
    TensorInfo input;
    Shape profile_min, profile_max;  // allowed input shapes; empty when any size of a dynamic dimension goes
    std::vector<TensorInfo> outputs;  // outputs[0] is the one reported (a VGG has one: logits)
};

// Options a backend may use; each ignores what does not apply to it (and says so in its info()).
struct BackendOptions {
    std::string precision = "fp32";  // OpenVINO: "fp32" (INFERENCE_PRECISION_HINT f32) or "bf16"
    int threads = 0;                 // OpenVINO: INFERENCE_NUM_THREADS; 0 = the runtime's default
    int streams = 0;                 // OpenVINO: NUM_STREAMS (with hint NONE); 0 = PERFORMANCE_HINT LATENCY
};

// Timed runs of the prepared input: one latency per completed call and the wall time of all of them.
struct Measurement {
    std::vector<double> latencies_ms;
    double wall_seconds = 0;
    int parallel_requests = 1;  // calls in flight at once (OpenVINO infer requests; 1 = one after another)
};

class Backend {
public:
    virtual ~Backend() = default;
    Backend() = default;
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    virtual const EngineInfo& info() const = 0;

    // Sets the input shape (must fit the model), allocates what a run needs. Returns the shape of outputs[0].
    virtual Shape prepare(const Shape& input_shape) = 0;

    // Copies `count` float32 values (the prepared shape, C order) into the input. Not part of a timed run.
    virtual void set_input(const float* values, std::size_t count) = 0;

    // One synchronous inference of the input set last.
    virtual void infer() = 0;

    // outputs[0] of the last infer(), as float32.
    virtual std::vector<float> output() const = 0;

    // `warmup` untimed then `iterations` timed runs of the input set last, as fast as the runtime allows (OpenVINO:
    // all its infer requests in flight). The default calls infer() in a loop.
    virtual Measurement measure(int iterations, int warmup);
};

// Throws EngineError ("input 'NAME': ...") when `input_shape` does not fit info's input shape and profile.
void check_input_fits(const EngineInfo& info, const Shape& input_shape);

enum class ModelKind { TensorRT, OpenVINO, Unknown };

// From the file name: .plan/.engine -> TensorRT, .onnx -> OpenVINO (case-insensitive), else Unknown.
ModelKind model_kind(const std::string& path);

// "accepted suffixes: .onnx (OpenVINO, built in), .plan/.engine (TensorRT, not built in: ...)" for messages.
std::string describe_model_kinds();

}  // namespace vgg_deploy
