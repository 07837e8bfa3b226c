// Command-line options of vgg_infer. Parsing is separate from main() so every error path is unit-tested.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "shape.hpp"

namespace vgg_deploy {

// A usage error: what() is one line naming the option and what is wrong with it.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string model;                // MODEL: .onnx (OpenVINO) or .plan/.engine (TensorRT)
    std::vector<std::string> images;  // IMAGES...: PNG/JPEG files   (exactly one of images / npy / raw)
    std::string npy;                  // --npy input.npy: a preprocessed float32 (N, C, H, W) batch
    std::string raw;                  // --raw input.bin --shape N,C,H,W
    Shape shape;
    int top_k = 5;
    std::string labels;      // --labels labels.txt (optional; else the model's own labels, else class indices)
    int batch_size = 0;      // images per inference call; 0 = 32, or the model's fixed batch (as vgg-deploy infer)
    int iterations = 0;      // > 0: throughput mode, that many timed calls of one batch
    int warmup = 2;          // untimed calls before them
    bool json = false;       // print JSON like `vgg-deploy infer --json`
    std::string precision = "fp32";  // OpenVINO inference precision hint: fp32 or bf16
    int threads = 0;         // OpenVINO INFERENCE_NUM_THREADS (0 = its default)
    int streams = 0;         // OpenVINO NUM_STREAMS without a hint (0 = PERFORMANCE_HINT LATENCY)
    bool help = false;       // --help / -h: print usage() and exit 0; nothing else is checked
};

// Parses argv[1:]: MODEL then IMAGES... as positionals, options as "--name value" or "--name=value" anywhere.
// Throws UsageError.
Options parse_args(const std::vector<std::string>& args);

// Parses "2,3,32,32" (1 to 8 positive integers). Throws UsageError naming --shape.
Shape parse_shape(const std::string& text);

std::string usage(const std::string& program);

}  // namespace vgg_deploy
