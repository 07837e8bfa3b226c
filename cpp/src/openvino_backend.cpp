// OpenVINO 2024+ C++ API (docs.openvino.ai, "OpenVINO Runtime API" / ov::Core, ov::CompiledModel,
// ov::InferRequest): read_model of the ONNX file, compile_model with ov::hint::inference_precision (and the latency
// hint, or NUM_STREAMS with no hint), one ov::Tensor per request holding the batch.
#include "openvino_backend.hpp"

#include <openvino/openvino.hpp>

#include <chrono>
#include <cstring>
#include <mutex>
#include <sstream>

namespace vgg_deploy {
namespace {

using Clock = std::chrono::steady_clock;

std::string first_line(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

std::string dtype_name(const ov::element::Type& type) {
    if (type == ov::element::f32) {
        return "float32";
    }
    if (type == ov::element::f16) {
        return "float16";
    }
    return type.get_type_name();
}

Shape to_shape(const ov::PartialShape& shape) {
    Shape out;
    for (const ov::Dimension& d : shape) {
        out.push_back(d.is_static() ? d.get_length() : -1);
    }
    return out;
}

}  // namespace

struct OpenVinoBackend::Impl {
    ov::Core core;
    ov::CompiledModel compiled;
    std::vector<ov::InferRequest> requests;  // requests[0] serves infer(); all of them serve measure()
    std::vector<ov::Tensor> inputs;          // one per request, so requests in flight never share a buffer
    EngineInfo info;
    Shape output_shape;
    bool prepared = false;
    std::mutex done_mutex;
    std::vector<Clock::time_point> done;  // per request: when its completion callback ran
};

OpenVinoBackend::OpenVinoBackend(const std::string& onnx_path, const BackendOptions& options)
    : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    ov::element::Type precision;
    if (options.precision == "fp32") {
        precision = ov::element::f32;
    } else if (options.precision == "bf16") {
        precision = ov::element::bf16;
    } else {
        throw EngineError("OpenVINO precision must be fp32 or bf16, got '" + options.precision + "'");
    }
    m.info.runtime = std::string("OpenVINO ") + ov::get_openvino_version().buildNumber;
    std::shared_ptr<ov::Model> model;
    try {
        model = m.core.read_model(onnx_path);
    } catch (const std::exception& e) {
        throw EngineError(onnx_path + ": OpenVINO cannot read it (" + first_line(e.what()) +
                          "); give an ONNX file from vgg-deploy export or quantize");
    }
    if (model->inputs().size() != 1 || model->outputs().empty()) {
        throw EngineError(onnx_path + ": the model has " + std::to_string(model->inputs().size()) + " inputs and " +
                          std::to_string(model->outputs().size()) + " outputs; vgg_infer runs models with one input "
                          "(an image batch) and at least one output");
    }
    const ov::Output<ov::Node> input = model->input();
    m.info.input = TensorInfo{input.get_any_name(), dtype_name(input.get_element_type()),
                              to_shape(input.get_partial_shape())};
    for (const ov::Output<ov::Node>& output : model->outputs()) {
        m.info.outputs.push_back(TensorInfo{output.get_any_name(), dtype_name(output.get_element_type()),
                                            to_shape(output.get_partial_shape())});
    }
    for (const TensorInfo& tensor : {m.info.input, m.info.outputs.front()}) {
        if (tensor.dtype != "float32") {
            throw EngineError(onnx_path + ": tensor '" + tensor.name + "' is " + tensor.dtype +
                              "; vgg_infer's OpenVINO backend handles float32 inputs and outputs (vgg-deploy "
                              "quantize keeps fp32 I/O unless --no-keep-io-types)");
        }
    }
    if (m.info.input.shape.size() != 4) {
        throw EngineError(onnx_path + ": expected an (N, C, H, W) input, got " + format_shape(m.info.input.shape));
    }

    ov::AnyMap config{ov::hint::inference_precision(precision)};
    if (options.streams > 0) {  // like benchmark_app -hint none -nstreams N: no hint, the streams as given
        config.emplace(ov::num_streams(options.streams));
    } else {
        config.emplace(ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY));
    }
    if (options.threads > 0) {
        config.emplace(ov::inference_num_threads(options.threads));
    }
    try {
        m.compiled = m.core.compile_model(model, "CPU", config);
    } catch (const std::exception& e) {
        throw EngineError(onnx_path + ": OpenVINO cannot compile it for the CPU (" + first_line(e.what()) + ")");
    }
    const ov::element::Type got = m.compiled.get_property(ov::hint::inference_precision);
    if (got != precision) {
        throw EngineError("asked OpenVINO for " + options.precision + " inference, it set " + got.get_type_name() +
                          " (this CPU may not support " + options.precision + ")");
    }
    std::ostringstream precision_text;
    precision_text << "INFERENCE_PRECISION_HINT " << got.get_type_name();
    m.info.precision = precision_text.str();
    m.info.device = "CPU: " + m.core.get_property("CPU", ov::device::full_name) + ", " +
                    std::to_string(m.compiled.get_property(ov::num_streams).num) + " stream(s), " +
                    std::to_string(m.compiled.get_property(ov::inference_num_threads)) + " thread(s)";
    m.info.timed_call = "start_async + wait of one infer request, input and output in host memory";
    const unsigned count = std::max(1u, m.compiled.get_property(ov::optimal_number_of_infer_requests));
    for (unsigned i = 0; i < count; ++i) {
        m.requests.push_back(m.compiled.create_infer_request());
    }
    m.done.resize(m.requests.size());
}

OpenVinoBackend::~OpenVinoBackend() {
    if (impl_) {
        for (ov::InferRequest& request : impl_->requests) {  // nothing may still run into the tensors freed next
            try {
                request.cancel();
                request.wait();
            } catch (...) {  // a cancelled request reports it; the destructor must not throw
            }
        }
    }
}

const EngineInfo& OpenVinoBackend::info() const { return impl_->info; }

Shape OpenVinoBackend::prepare(const Shape& input_shape) {
    Impl& m = *impl_;
    m.prepared = false;
    check_input_fits(m.info, input_shape);
    // The output's batch follows the input's; any other dynamic dimension is not something a VGG has.
    Shape out = m.info.outputs.front().shape;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] < 0 && i == 0) {
            out[i] = input_shape[0];
        } else if (out[i] < 0) {
            throw EngineError("output '" + m.info.outputs.front().name + "' has shape " + format_shape(out) +
                              "; vgg_infer needs outputs whose shape follows from the batch size");
        }
    }
    ov::Shape shape;
    for (const int64_t d : input_shape) {
        shape.push_back(static_cast<std::size_t>(d));
    }
    m.inputs.clear();
    for (ov::InferRequest& request : m.requests) {
        m.inputs.emplace_back(ov::element::f32, shape);
        request.set_input_tensor(m.inputs.back());
    }
    m.output_shape = out;
    m.prepared = true;
    return out;
}

void OpenVinoBackend::set_input(const float* values, std::size_t count) {
    Impl& m = *impl_;
    if (!m.prepared || count != m.inputs.front().get_size()) {
        throw EngineError("set_input: " + std::to_string(count) + " values for a prepared input of " +
                          std::to_string(m.prepared ? m.inputs.front().get_size() : 0));
    }
    for (ov::Tensor& tensor : m.inputs) {
        std::memcpy(tensor.data<float>(), values, count * sizeof(float));
    }
}

void OpenVinoBackend::infer() {
    Impl& m = *impl_;
    if (!m.prepared) {
        throw EngineError("infer() before prepare()");
    }
    try {
        m.requests.front().infer();
    } catch (const std::exception& e) {
        throw EngineError("OpenVINO inference failed: " + first_line(e.what()));
    }
}

std::vector<float> OpenVinoBackend::output() const {
    const ov::Tensor tensor = impl_->requests.front().get_output_tensor();
    std::vector<float> values(tensor.get_size());
    if (!values.empty()) {
        std::memcpy(values.data(), tensor.data<const float>(), values.size() * sizeof(float));
    }
    return values;
}

Measurement OpenVinoBackend::measure(int iterations, int warmup) {
    Impl& m = *impl_;
    if (!m.prepared) {
        throw EngineError("measure() before prepare()");
    }
    for (int i = 0; i < warmup; ++i) {
        m.requests.front().infer();
    }
    const std::size_t n = m.requests.size();
    for (std::size_t i = 0; i < n; ++i) {
        m.requests[i].set_callback([&m, i](std::exception_ptr) {
            const Clock::time_point now = Clock::now();
            std::lock_guard<std::mutex> lock(m.done_mutex);
            m.done[i] = now;
        });
    }
    Measurement result;
    result.parallel_requests = static_cast<int>(n);
    result.latencies_ms.reserve(static_cast<std::size_t>(iterations));
    std::vector<Clock::time_point> started(n);
    std::vector<bool> busy(n, false);
    auto finish = [&](std::size_t r) {
        m.requests[r].wait();  // rethrows a failed inference
        Clock::time_point end = Clock::now();
        {
            std::lock_guard<std::mutex> lock(m.done_mutex);
            if (m.done[r] > started[r]) {  // the callback's time when it has run, else now
                end = m.done[r];
            }
        }
        result.latencies_ms.push_back(std::chrono::duration<double, std::milli>(end - started[r]).count());
        busy[r] = false;
    };
    try {
        const Clock::time_point begin = Clock::now();
        for (int i = 0; i < iterations; ++i) {
            const std::size_t r = static_cast<std::size_t>(i) % n;  // equal work: the oldest request frees first
            if (busy[r]) {
                finish(r);
            }
            started[r] = Clock::now();
            busy[r] = true;
            m.requests[r].start_async();
        }
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t r = (static_cast<std::size_t>(iterations) + k) % n;
            if (busy[r]) {
                finish(r);
            }
        }
        result.wall_seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    } catch (const std::exception& e) {
        throw EngineError("OpenVINO inference failed: " + first_line(e.what()));
    }
    for (ov::InferRequest& request : m.requests) {
        request.set_callback([](std::exception_ptr) {});
    }
    return result;
}

}  // namespace vgg_deploy
