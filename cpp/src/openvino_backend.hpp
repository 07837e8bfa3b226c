// The Backend (backend.hpp) for OpenVINO on the CPU: reads an ONNX file (fp32, or INT8 from the Q/DQ ONNX of
// `vgg-deploy quantize --target cpu`) and compiles it with the inference precision set explicitly, because on CPUs
// with bf16 (AVX512_BF16, AMX) OpenVINO otherwise runs an "fp32" model in bf16. OpenVINO types stay in the .cpp.
#pragma once

#include <memory>
#include <string>

#include "backend.hpp"

namespace vgg_deploy {

class OpenVinoBackend : public Backend {
public:
    // Reads and compiles the model for the CPU. options.precision: "fp32" or "bf16" (INFERENCE_PRECISION_HINT; an
    // INT8 file runs its quantized layers in int8 either way, the hint decides the layers left in floating point).
    // Throws EngineError naming the file when OpenVINO cannot read or compile it, or sets another precision.
    OpenVinoBackend(const std::string& onnx_path, const BackendOptions& options);
    ~OpenVinoBackend() override;

    const EngineInfo& info() const override;
    Shape prepare(const Shape& input_shape) override;
    void set_input(const float* values, std::size_t count) override;
    void infer() override;
    std::vector<float> output() const override;
    // Every infer request of the compiled model (OPTIMAL_NUMBER_OF_INFER_REQUESTS: 1 with the latency hint or one
    // stream) kept busy with start_async, as benchmark_app does; latency = start to completion callback.
    Measurement measure(int iterations, int warmup) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vgg_deploy
