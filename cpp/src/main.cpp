// vgg_infer: runs a TensorRT engine from `vgg-deploy build-trt` on one batch read from a .npy or raw float32 file,
// prints the top-k classes of each image and the latency (median / p90 / p99 over the timed iterations).
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "args.hpp"
#include "labels.hpp"
#include "npy.hpp"
#include "stats.hpp"
#include "topk.hpp"
#include "trt_engine.hpp"

namespace {

using vgg_deploy::format_shape;

int run(const vgg_deploy::Options& options) {
    const vgg_deploy::FloatTensor batch = options.npy.empty()
                                              ? vgg_deploy::read_raw_float32(options.raw, options.shape)
                                              : vgg_deploy::read_npy(options.npy);
    if (batch.shape.empty()) {
        throw vgg_deploy::InputError((options.npy.empty() ? options.raw : options.npy) +
                                     ": a 0-dimensional array is not a batch; expected shape (N, C, H, W)");
    }
    std::vector<std::string> labels;
    if (!options.labels.empty()) {
        labels = vgg_deploy::read_labels(options.labels);
    }

    vgg_deploy::TrtEngine engine(options.engine);
    const vgg_deploy::EngineInfo& info = engine.info();
    const vgg_deploy::Shape output_shape = engine.prepare(batch.shape);
    engine.set_input(batch.values);

    std::printf("engine: %s (TensorRT %s headers) on %s\n", options.engine.c_str(), info.tensorrt_version.c_str(),
                info.device.c_str());
    std::printf("input:  '%s' %s %s from %s\n", info.input.name.c_str(), format_shape(batch.shape).c_str(),
                info.input.dtype.c_str(), (options.npy.empty() ? options.raw : options.npy).c_str());
    std::printf("output: '%s' %s %s\n", info.outputs[0].name.c_str(), format_shape(output_shape).c_str(),
                info.outputs[0].dtype.c_str());

    for (int i = 0; i < options.warmup; ++i) {
        engine.infer();
    }
    std::vector<double> samples_ms;
    samples_ms.reserve(static_cast<std::size_t>(options.iterations));
    for (int i = 0; i < options.iterations; ++i) {
        const auto start = std::chrono::steady_clock::now();
        engine.infer();  // ends with cudaStreamSynchronize, so the wall time covers the whole GPU work
        const auto stop = std::chrono::steady_clock::now();
        samples_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }

    const std::vector<float> logits = engine.output();
    const std::size_t rows = output_shape.empty() ? 1 : static_cast<std::size_t>(output_shape[0]);
    const std::size_t classes = rows == 0 ? 0 : logits.size() / rows;
    if (!labels.empty() && labels.size() != classes) {
        std::fprintf(stderr, "warning: %s has %zu labels, the model has %zu classes; classes without a label are "
                             "shown by index\n", options.labels.c_str(), labels.size(), classes);
    }
    for (std::size_t row = 0; row < rows; ++row) {
        std::printf("image %zu:\n", row);
        const auto top = vgg_deploy::top_k(logits.data() + row * classes, classes,
                                           static_cast<std::size_t>(options.top_k));
        for (std::size_t rank = 0; rank < top.size(); ++rank) {
            const vgg_deploy::Prediction& p = top[rank];
            const std::string name = p.index < labels.size() ? " " + labels[p.index] : "";
            std::printf("  %zu. class %zu%s  p=%.4f  (logit %.4f)\n", rank + 1, p.index, name.c_str(), p.probability,
                        static_cast<double>(p.logit));
        }
    }

    const vgg_deploy::LatencyStats stats = vgg_deploy::summarize(samples_ms);
    std::printf("latency over %zu iterations after %d warm-up (host-to-device copy + enqueueV3 + device-to-host copy "
                "+ sync), ms: median %.3f  p90 %.3f  p99 %.3f  (min %.3f, mean %.3f, max %.3f)\n",
                stats.count, options.warmup, stats.median, stats.p90, stats.p99, stats.min, stats.mean, stats.max);
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
        std::cerr << "error: " << e.what() << "\nrun '" << program << " --help' for the options\n";
        return 2;
    }
    if (options.help) {
        std::cout << vgg_deploy::usage(program);
        return 0;
    }
    try {
        return run(options);
    } catch (const std::exception& e) {  // InputError, EngineError, and a non-finite output (std::domain_error)
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
