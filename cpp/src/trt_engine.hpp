// A deserialized TensorRT engine with one input and its outputs bound to device buffers, run on a CUDA stream:
// the TensorRT implementation of Backend.
// The TensorRT and CUDA types stay in trt_engine.cpp, so code using this header needs neither SDK's headers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"

namespace vgg_deploy {

// The Backend (backend.hpp) for TensorRT: info().runtime is "TensorRT X.Y.Z (headers)", device the GPU.
class TrtEngine : public Backend {
public:
    // Reads and deserializes the engine. Throws EngineError naming the file and the likely cause.
    explicit TrtEngine(const std::string& plan_path);
    ~TrtEngine() override;

    const EngineInfo& info() const override;

    // Sets the input shape (must fit the engine and its profile), allocates the device and pinned host buffers
    // and binds every I/O tensor. Returns the concrete shape of outputs[0].
    Shape prepare(const Shape& input_shape) override;

    // Copies the batch (prepared shape, float32, C order) into the pinned input buffer (converted to FP16 if the
    // engine's input is FP16). Not part of the timed run.
    void set_input(const float* values, std::size_t count) override;

    // One inference: host-to-device copy, enqueueV3, device-to-host copy of outputs[0], stream synchronize.
    void infer() override;

    // outputs[0] of the last infer(), as float32.
    std::vector<float> output() const override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vgg_deploy
