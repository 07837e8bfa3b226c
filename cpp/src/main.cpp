// vgg_infer: classifies images (PNG/JPEG, preprocessed from the model's own metadata) or a preprocessed .npy/raw
// batch with a vgg-deploy model, on the runtime its suffix names (.onnx: OpenVINO on the CPU, .plan/.engine:
// TensorRT on an NVIDIA GPU), prints the top-k classes per image as text or as `vgg-deploy infer --json` does, and
// with --iterations times that many calls of one batch (img/s, latency median/p90/p99).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "args.hpp"
#include "backend.hpp"
#include "image_decode.hpp"
#include "json_value.hpp"
#include "labels.hpp"
#include "model_facts.hpp"
#include "npy.hpp"
#include "stats.hpp"
#include "topk.hpp"
#if VGG_DEPLOY_HAVE_TENSORRT
#include "trt_engine.hpp"
#endif
#if VGG_DEPLOY_HAVE_OPENVINO
#include "openvino_backend.hpp"
#endif

namespace {

using vgg_deploy::format_shape;
using vgg_deploy::InputError;
using vgg_deploy::Shape;

std::unique_ptr<vgg_deploy::Backend> open_backend(const std::string& path, vgg_deploy::ModelKind kind,
                                                  const vgg_deploy::Options& options) {
    vgg_deploy::BackendOptions backend_options;
    backend_options.precision = options.precision;
    backend_options.threads = options.threads;
    backend_options.streams = options.streams;
    if (kind == vgg_deploy::ModelKind::TensorRT) {
#if VGG_DEPLOY_HAVE_TENSORRT
        if (options.precision != "fp32" || options.threads > 0 || options.streams > 0) {
            throw InputError("--precision, --threads and --streams are OpenVINO options; a TensorRT engine's "
                             "precision was fixed when it was built");
        }
        return std::make_unique<vgg_deploy::TrtEngine>(path);
#else
        throw InputError(path + ": this vgg_infer was built without TensorRT; configure cpp/ with "
                                "-DVGG_DEPLOY_WITH_TENSORRT=ON -DTensorRT_ROOT=/path/to/TensorRT on a machine with "
                                "TensorRT and CUDA (cpp/README.md)");
#endif
    }
#if VGG_DEPLOY_HAVE_OPENVINO
    return std::make_unique<vgg_deploy::OpenVinoBackend>(path, backend_options);
#else
    throw InputError(path + ": this vgg_infer was built without OpenVINO; configure cpp/ with "
                            "-DVGG_DEPLOY_WITH_OPENVINO=ON inside the project's .venv (pip install openvino), or "
                            "-DOpenVINO_DIR=<OpenVINO's cmake folder> (cpp/README.md)");
#endif
}

// The runner name `vgg-deploy infer --json` reports: OpenVINORunner's "ov-<file precision>[-bf16]",
// TensorRTRunner's "trt-<precision>".
std::string backend_name(vgg_deploy::ModelKind kind, const vgg_deploy::ModelFacts& facts,
                         const vgg_deploy::Options& options) {
    const std::string precision = vgg_deploy::fact_string(facts, "precision");
    if (kind == vgg_deploy::ModelKind::TensorRT) {
        return precision.empty() ? "trt" : "trt-" + precision;
    }
    const std::string base = "ov-" + (precision.empty() ? std::string("onnx") : precision);
    return options.precision == "fp32" ? base : base + "-" + options.precision;
}

struct Batch {
    Shape shape;                       // (N, C, H, W)
    std::vector<float> values;         // C order
    std::vector<std::string> sources;  // one per image: its path, or "x.npy[3]"
};

Batch load_input(const vgg_deploy::Options& options, const vgg_deploy::ModelFacts& facts,
                 const vgg_deploy::TensorInfo& input) {
    Batch batch;
    if (!options.images.empty()) {
        const vgg_deploy::PreprocessConfig config = vgg_deploy::preprocess_config(facts, options.model);
        batch.shape = {static_cast<int64_t>(options.images.size()), config.channels, config.height, config.width};
        for (const std::string& path : options.images) {
            const std::vector<float> one = vgg_deploy::preprocess(vgg_deploy::decode_image(path), config);
            batch.values.insert(batch.values.end(), one.begin(), one.end());
            batch.sources.push_back(path);
        }
        return batch;
    }
    const std::string& path = options.npy.empty() ? options.raw : options.npy;
    vgg_deploy::FloatTensor tensor = options.npy.empty() ? vgg_deploy::read_raw_float32(options.raw, options.shape)
                                                         : vgg_deploy::read_npy(options.npy);
    bool fits = tensor.shape.size() == 4 && input.shape.size() == 4 && tensor.shape[0] > 0;
    for (std::size_t i = 1; fits && i < 4; ++i) {
        fits = input.shape[i] < 0 || tensor.shape[i] == input.shape[i];
    }
    if (!fits) {
        Shape wanted = input.shape;
        throw InputError(path + ": the batch has shape " + format_shape(tensor.shape) + ", the model takes " +
                         format_shape(wanted) + " (N, C, H, W; -1 = any); write it with np.save(path, "
                         "batch.astype(np.float32)) in that layout");
    }
    batch.shape = tensor.shape;
    batch.values = std::move(tensor.values);
    for (int64_t i = 0; i < batch.shape[0]; ++i) {
        batch.sources.push_back(path + "[" + std::to_string(i) + "]");
    }
    return batch;
}

int default_batch_size(const vgg_deploy::EngineInfo& info) {
    if (!info.input.shape.empty() && info.input.shape[0] > 0) {
        return static_cast<int>(info.input.shape[0]);  // a fixed batch
    }
    int size = 32;
    if (!info.profile_max.empty() && info.profile_max[0] > 0) {
        size = static_cast<int>(std::min<int64_t>(size, info.profile_max[0]));
    }
    return size;
}

std::string format_probability(double p) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.17g", p);
    return buffer;
}

int run(const vgg_deploy::Options& options) {
    const vgg_deploy::ModelKind kind = vgg_deploy::model_kind(options.model);
    if (kind == vgg_deploy::ModelKind::Unknown) {
        throw InputError(options.model + ": cannot tell how to run this file from its name; accepted: " +
                         vgg_deploy::describe_model_kinds());
    }
    // The facts first: for an ONNX file this also refuses a truncated or non-ONNX file with our own message.
    vgg_deploy::ModelFacts facts;
    if (kind == vgg_deploy::ModelKind::OpenVINO) {
        facts = vgg_deploy::read_onnx_metadata(options.model);
    } else if (!options.images.empty()) {
        facts = vgg_deploy::read_engine_metadata(options.model);  // the preprocessing is needed
    } else {
        try {
            facts = vgg_deploy::read_engine_metadata(options.model);  // only for labels and the name
        } catch (const InputError&) {
        }
    }
    std::vector<std::string> labels = options.labels.empty() ? vgg_deploy::model_labels(facts)
                                                             : vgg_deploy::read_labels(options.labels);

    std::unique_ptr<vgg_deploy::Backend> backend = open_backend(options.model, kind, options);
    const vgg_deploy::EngineInfo& info = backend->info();
    const Batch batch = load_input(options, facts, info.input);
    const std::string name = backend_name(kind, facts, options);

    const int64_t total = batch.shape[0];
    const int64_t per_call = std::min<int64_t>(options.batch_size > 0 ? options.batch_size : default_batch_size(info),
                                               total);
    const std::size_t per_image = batch.values.size() / static_cast<std::size_t>(total);
    std::vector<float> logits;
    Shape prepared;
    for (int64_t start = 0; start < total; start += per_call) {
        Shape shape = batch.shape;
        shape[0] = std::min(per_call, total - start);
        if (shape != prepared) {
            backend->prepare(shape);
            prepared = shape;
        }
        backend->set_input(batch.values.data() + static_cast<std::size_t>(start) * per_image,
                           static_cast<std::size_t>(shape[0]) * per_image);
        backend->infer();
        const std::vector<float> out = backend->output();
        logits.insert(logits.end(), out.begin(), out.end());
    }
    const std::size_t classes = logits.size() / static_cast<std::size_t>(total);
    if (!options.labels.empty() && labels.size() != classes) {
        throw InputError(options.labels + ": " + std::to_string(labels.size()) + " labels, but " + options.model +
                         " has " + std::to_string(classes) + " classes; give one label per class, in class-index "
                         "order");
    }

    const std::string model_line = options.model + " (" + name + ") with " + info.runtime + " on " + info.device +
                                   (info.precision.empty() ? "" : ", " + info.precision);
    if (!options.json) {
        std::printf("model:  %s\n", model_line.c_str());
        std::printf("input:  '%s' %s %s from %s; output: '%s' (%lld, %zu) %s\n", info.input.name.c_str(),
                    format_shape(batch.shape).c_str(), info.input.dtype.c_str(),
                    options.images.empty() ? (options.npy.empty() ? options.raw : options.npy).c_str() : "images",
                    info.outputs[0].name.c_str(), static_cast<long long>(total), classes,
                    info.outputs[0].dtype.c_str());
    }
    std::string json = "[";
    for (int64_t row = 0; row < total; ++row) {
        const auto top = vgg_deploy::top_k(logits.data() + static_cast<std::size_t>(row) * classes, classes,
                                           static_cast<std::size_t>(options.top_k));
        const std::string& source = batch.sources[static_cast<std::size_t>(row)];
        if (options.json) {
            json += std::string(row ? "," : "") + "\n  {\n    \"image\": " + vgg_deploy::json_quote(source) +
                    ",\n    \"backend\": " + vgg_deploy::json_quote(name) + ",\n    \"top_k\": [";
        } else {
            std::printf("%s\n", source.c_str());
        }
        std::size_t width = 0;
        for (const vgg_deploy::Prediction& p : top) {
            width = std::max(width, p.index < labels.size() ? labels[p.index].size() : std::to_string(p.index).size());
        }
        for (std::size_t rank = 0; rank < top.size(); ++rank) {
            const vgg_deploy::Prediction& p = top[rank];
            const std::string label = p.index < labels.size() ? labels[p.index] : std::to_string(p.index);
            if (options.json) {
                json += std::string(rank ? "," : "") + "\n      {\n        \"index\": " + std::to_string(p.index) +
                        ",\n        \"label\": " + vgg_deploy::json_quote(label) + ",\n        \"probability\": " +
                        format_probability(p.probability) + "\n      }";
            } else {
                std::printf("  %zu. %-*s  %6.2f%%  (class %zu, logit %.4f)\n", rank + 1, static_cast<int>(width),
                            label.c_str(), 100.0 * p.probability, p.index, static_cast<double>(p.logit));
            }
        }
        if (options.json) {
            json += "\n    ]\n  }";
        }
    }
    json += total ? "\n]" : "]";
    if (options.iterations == 0) {
        if (options.json) {
            std::printf("%s\n", json.c_str());
        }
        return 0;
    }

    Shape shape = batch.shape;
    shape[0] = per_call;
    if (shape != prepared) {
        backend->prepare(shape);
    }
    backend->set_input(batch.values.data(), static_cast<std::size_t>(per_call) * per_image);
    const vgg_deploy::Measurement m = backend->measure(options.iterations, options.warmup);
    const vgg_deploy::LatencyStats stats = vgg_deploy::summarize(m.latencies_ms);
    const double images_per_second = static_cast<double>(per_call) * static_cast<double>(stats.count) / m.wall_seconds;
    if (options.json) {
        std::printf("{\n  \"predictions\": %s,\n  \"throughput\": {\n    \"backend\": %s,\n    \"runtime\": %s,\n"
                    "    \"device\": %s,\n    \"precision\": %s,\n    \"batch_size\": %lld,\n    \"iterations\": %zu,\n"
                    "    \"warmup\": %d,\n    \"parallel_requests\": %d,\n    \"wall_seconds\": %.6f,\n"
                    "    \"images_per_second\": %.4f,\n    \"latency_ms\": {\"median\": %.4f, \"p90\": %.4f, "
                    "\"p99\": %.4f, \"min\": %.4f, \"mean\": %.4f, \"max\": %.4f}\n  }\n}\n",
                    json.c_str(), vgg_deploy::json_quote(name).c_str(), vgg_deploy::json_quote(info.runtime).c_str(),
                    vgg_deploy::json_quote(info.device).c_str(), vgg_deploy::json_quote(info.precision).c_str(),
                    static_cast<long long>(per_call), stats.count, options.warmup, m.parallel_requests,
                    m.wall_seconds, images_per_second, stats.median, stats.p90, stats.p99, stats.min, stats.mean,
                    stats.max);
        return 0;
    }
    std::printf("throughput: %.2f img/s (batch %lld, %zu calls after %d warm-up, %d in flight, %.3f s)\n",
                images_per_second, static_cast<long long>(per_call), stats.count, options.warmup,
                m.parallel_requests, m.wall_seconds);
    std::printf("latency per call (%s), ms: median %.3f  p90 %.3f  p99 %.3f  (min %.3f, mean %.3f, max %.3f)\n",
                info.timed_call.c_str(), stats.median, stats.p90, stats.p99, stats.min, stats.mean, stats.max);
    if (stats.count < 100) {
        std::printf("note: p99 of fewer than 100 samples is close to the maximum; use --iterations 100 or more\n");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string program = argc > 0 ? argv[0] : "vgg_infer";
    vgg_deploy::Options options;
    try {
        options = vgg_deploy::parse_args(std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc));
    } catch (const vgg_deploy::UsageError& e) {
        std::cerr << "Error: " << e.what() << " (run '" << program << " --help' for the options)\n";
        return 2;
    }
    if (options.help) {
        std::cout << vgg_deploy::usage(program);
        return 0;
    }
    try {
        return run(options);
    } catch (const std::exception& e) {  // InputError, EngineError, and a non-finite output (std::domain_error)
        std::cerr << "Error: " << e.what() << "\n";
        return 1;
    }
}
