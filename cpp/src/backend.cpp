#include "backend.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

namespace vgg_deploy {

Measurement Backend::measure(int iterations, int warmup) {
    for (int i = 0; i < warmup; ++i) {
        infer();
    }
    Measurement result;
    result.latencies_ms.reserve(static_cast<std::size_t>(std::max(iterations, 0)));
    const auto begin = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) {
        const auto start = std::chrono::steady_clock::now();
        infer();
        const auto stop = std::chrono::steady_clock::now();
        result.latencies_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
    result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    return result;
}

void check_input_fits(const EngineInfo& info, const Shape& input_shape) {
    const std::string why = check_input_shape(info.input.shape, info.profile_min, info.profile_max, input_shape);
    if (!why.empty()) {
        throw EngineError("input '" + info.input.name + "': " + why);
    }
}

ModelKind model_kind(const std::string& path) {
    const std::size_t slash = path.find_last_of("/\\");
    const std::size_t dot = path.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
        return ModelKind::Unknown;
    }
    std::string suffix = path.substr(dot);
    std::transform(suffix.begin(), suffix.end(), suffix.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (suffix == ".plan" || suffix == ".engine") {
        return ModelKind::TensorRT;
    }
    if (suffix == ".onnx") {
        return ModelKind::OpenVINO;
    }
    return ModelKind::Unknown;
}

std::string describe_model_kinds() {
    return ".onnx (OpenVINO, CPU), .plan or .engine (TensorRT engine from vgg-deploy build-trt, NVIDIA GPU)";
}

}  // namespace vgg_deploy
