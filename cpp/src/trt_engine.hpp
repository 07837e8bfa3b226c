// A deserialized TensorRT engine with one input and its outputs bound to device buffers, run on a CUDA stream.
// The TensorRT and CUDA types stay in trt_engine.cpp, so code using this header needs neither SDK's headers.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "shape.hpp"

namespace vgg_deploy {

// Anything TensorRT or CUDA refused; what() says what failed and what to do.
class EngineError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct TensorInfo {
    std::string name;
    std::string dtype;  // "float32" or "float16": the only types vgg_infer converts
    Shape shape;        // as built: -1 for a dynamic dimension
};

struct EngineInfo {
    std::string tensorrt_version;  // of the headers vgg_infer was compiled with
    std::string device;            // "NVIDIA H100 80GB HBM3 (compute capability 9.0)"
    TensorInfo input;
    Shape profile_min, profile_max;  // profile 0 of the input; empty when no dimension is dynamic
    std::vector<TensorInfo> outputs;  // outputs[0] is the one reported (a VGG has one: logits)
};

class TrtEngine {
public:
    // Reads and deserializes the engine. Throws EngineError naming the file and the likely cause.
    explicit TrtEngine(const std::string& plan_path);
    ~TrtEngine();
    TrtEngine(const TrtEngine&) = delete;
    TrtEngine& operator=(const TrtEngine&) = delete;

    const EngineInfo& info() const;

    // Sets the input shape (must fit the engine and its profile), allocates the device and pinned host buffers
    // and binds every I/O tensor. Returns the concrete shape of outputs[0].
    Shape prepare(const Shape& input_shape);

    // Copies the batch (prepared shape, float32, C order) into the pinned input buffer (converted to FP16 if the
    // engine's input is FP16). Not part of the timed run.
    void set_input(const std::vector<float>& values);

    // One inference: host-to-device copy, enqueueV3, device-to-host copy of outputs[0], stream synchronize.
    void infer();

    // outputs[0] of the last infer(), as float32.
    std::vector<float> output() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vgg_deploy
