// Runs the vgg_infer program (src/main.cpp + src/trt_engine.cpp) built against the CPU fake in
// tests/mock/fake_runtime.cpp, as a process: exit codes, what it prints, error messages, and that every TensorRT
// object, CUDA buffer and stream is released. This checks vgg_infer's own logic only; the fake proves nothing
// about TensorRT. Usage: test_vgg_infer_fake PATH/TO/vgg_infer_fake [name filter]
#include <sys/wait.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mini_test.hpp"

namespace {

std::string g_program;
std::filesystem::path g_dir;

std::string path_of(const std::string& name) { return (g_dir / name).string(); }

void write_file(const std::string& name, const std::string& bytes) {
    std::ofstream file(path_of(name), std::ios::binary);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// A float32 .npy (format 1.0) of `images` images of shape (c, h, w), image n filled with values[n].
void write_batch_npy(const std::string& name, const std::vector<float>& values, int c, int h, int w) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(values.size()) +
                         ", " + std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) + "), }";
    header += std::string((64 - (10 + header.size() + 1) % 64) % 64, ' ') + "\n";
    std::string bytes = "\x93NUMPY\x01";
    bytes.push_back('\0');
    bytes.push_back(static_cast<char>(header.size() & 0xFF));
    bytes.push_back(static_cast<char>(header.size() >> 8));
    bytes += header;
    for (const float v : values) {
        for (int i = 0; i < c * h * w; ++i) {
            char raw[4];
            std::memcpy(raw, &v, 4);  // the test machines are little-endian (x86-64, aarch64)
            bytes.append(raw, 4);
        }
    }
    write_file(name, bytes);
}

void write_plan(const std::string& name, const std::string& in_dtype, const std::string& out_dtype,
                const std::string& shape = "-1,3,4,4", const std::string& profile = "1,4") {
    write_file(name, "VGG_DEPLOY_FAKE_PLAN\ninput_dtype=" + in_dtype + "\noutput_dtype=" + out_dtype +
                         "\ninput_shape=" + shape + "\nprofile=" + profile + "\nclasses=5\n");
}

struct Result {
    int status;
    std::string out, err;
};

Result run(const std::string& args) {
    const std::string out = path_of("stdout.txt"), err = path_of("stderr.txt");
    const int raw = std::system((g_program + " " + args + " >" + out + " 2>" + err).c_str());
    return Result{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_file(out), read_file(err)};
}


void check_released(const Result& r) { CHECK(r.err.find("not freed at exit") == std::string::npos); }

}  // namespace

TEST(runs_a_float32_engine_and_prints_top_k_per_image) {
    write_plan("fp32.plan", "float32", "float32");
    write_batch_npy("batch.npy", {2.0f, 0.0f, 4.2f}, 3, 4, 4);
    write_file("labels.txt", "zero\none\ntwo\nthree\nfour\n");
    const Result r = run(path_of("fp32.plan") + " --npy " + path_of("batch.npy") + " --top-k 2 "
                         "--iterations 7 --warmup 1 --labels " + path_of("labels.txt"));
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "on fake CPU device (compute capability 0.0)");
    CHECK_CONTAINS(r.out, "input:  'input' (3, 3, 4, 4) float32 from");
    CHECK_CONTAINS(r.out, "output: 'logits' (3, 5) float32");
    CHECK_CONTAINS(r.out, "batch.npy[0]\n  1. two  ");
    CHECK_CONTAINS(r.out, "batch.npy[1]\n  1. zero ");
    CHECK_CONTAINS(r.out, "batch.npy[2]\n  1. four ");
    CHECK_CONTAINS(r.out, "  2. three");
    CHECK(r.out.find("  3. ") == std::string::npos);  // --top-k 2
    CHECK_CONTAINS(r.out, "(host-to-device copy + enqueueV3 + device-to-host copy + sync)");
    CHECK_CONTAINS(r.out, "throughput: ");
    CHECK_CONTAINS(r.out, "(batch 3, 7 calls after 1 warm-up, 1 in flight");
    CHECK_CONTAINS(r.out, "median ");
    CHECK_CONTAINS(r.out, "p99 ");
    check_released(r);
}

TEST(converts_float16_input_and_output) {
    write_plan("fp16.plan", "float16", "float16");
    write_batch_npy("batch16.npy", {3.0f, 1.0f}, 3, 4, 4);
    const Result r = run(path_of("fp16.plan") + " --npy " + path_of("batch16.npy"));
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "(2, 3, 4, 4) float16");
    CHECK_CONTAINS(r.out, "batch16.npy[0]\n  1. 3 ");
    CHECK_CONTAINS(r.out, "batch16.npy[1]\n  1. 1 ");
    CHECK(r.out.find("throughput") == std::string::npos);  // no --iterations: predictions only
    check_released(r);
}

TEST(reads_raw_input_with_shape) {
    write_plan("raw.plan", "float32", "float32");
    std::string bytes;
    for (int i = 0; i < 48; ++i) {
        const float v = 1.0f;
        bytes.append(reinterpret_cast<const char*>(&v), 4);
    }
    write_file("input.bin", bytes);
    const Result r = run(path_of("raw.plan") + " --raw " + path_of("input.bin") + " --shape 1,3,4,4");
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "input.bin[0]\n  1. 1 ");
}

TEST(json_lists_each_image_like_vgg_deploy_infer) {
    write_plan("j.plan", "float32", "float32");
    write_batch_npy("j.npy", {2.0f, 4.0f}, 3, 4, 4);
    const Result r = run(path_of("j.plan") + " --npy " + path_of("j.npy") + " --json --top-k 2 --batch-size 1");
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "[\n  {\n    \"image\": \"" + path_of("j.npy") + "[0]\",\n    \"backend\": \"trt\",");
    CHECK_CONTAINS(r.out, "\"top_k\": [\n      {\n        \"index\": 2,\n        \"label\": \"2\",\n"
                          "        \"probability\": 0.");
    CHECK_CONTAINS(r.out, "\"image\": \"" + path_of("j.npy") + "[1]\"");
    check_released(r);
}

TEST(a_foreign_engine_file_says_why_and_how_to_rebuild) {
    write_file("foreign.plan", "ftrt.... a plan from another TensorRT version");
    write_batch_npy("one.npy", {1.0f}, 3, 4, 4);
    const Result r = run(path_of("foreign.plan") + " --npy " + path_of("one.npy"));
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "Error: could not deserialize the engine '" + path_of("foreign.plan") + "'");
    CHECK_CONTAINS(r.err, "TensorRT said: IRuntime::deserializeCudaEngine: Error Code 1");
    CHECK_CONTAINS(r.err, "another TensorRT version or on another GPU model");
    CHECK_CONTAINS(r.err, path_of("foreign.plan") + ".json");
    CHECK_CONTAINS(r.err, "vgg-deploy build-trt model.onnx -o " + path_of("foreign.plan"));
    check_released(r);
}

TEST(a_batch_outside_the_profile_is_refused_before_tensorrt) {
    write_plan("small.plan", "float32", "float32", "-1,3,4,4", "1,2");
    write_batch_npy("three.npy", {1.0f, 2.0f, 3.0f}, 3, 4, 4);
    Result r = run(path_of("small.plan") + " --npy " + path_of("three.npy"));  // calls of 2 + 1 by default
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "three.npy[2]\n");
    r = run(path_of("small.plan") + " --npy " + path_of("three.npy") + " --batch-size 3");
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "input 'input': batch 3 is outside the engine's optimization profile [1, 2]");
    CHECK(r.err.find("[TensorRT]") == std::string::npos);  // our check, not TensorRT's error
    check_released(r);
}

TEST(wrong_image_size_and_dtype_and_missing_files) {
    write_plan("ok.plan", "float32", "float32");
    write_batch_npy("wide.npy", {1.0f}, 3, 4, 8);
    Result r = run(path_of("ok.plan") + " --npy " + path_of("wide.npy"));
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "Error: " + path_of("wide.npy") + ": the batch has shape (1, 3, 4, 8), the model takes "
                          "(-1, 3, 4, 4)");

    write_plan("int8.plan", "int8", "float32");
    write_batch_npy("one8.npy", {1.0f}, 3, 4, 4);
    r = run(path_of("int8.plan") + " --npy " + path_of("one8.npy"));
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "tensor 'input' of the engine is int8; vgg_infer handles float32 and float16");
    check_released(r);

    r = run(path_of("missing.plan") + " --npy " + path_of("one8.npy"));
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "missing.plan: cannot open the engine file");
    r = run(path_of("ok.plan") + " --npy " + path_of("missing.npy"));
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "missing.npy: cannot open the file");
}

TEST(labels_that_do_not_match_the_classes_are_refused) {
    write_plan("l.plan", "float32", "float32");
    write_batch_npy("l.npy", {4.0f}, 3, 4, 4);
    write_file("two.txt", "a\nb\n");
    const Result r =
        run(path_of("l.plan") + " --npy " + path_of("l.npy") + " --labels " + path_of("two.txt"));
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "two.txt: 2 labels, but " + path_of("l.plan") + " has 5 classes");
}

TEST(usage_errors_exit_2_and_help_exits_0) {
    Result r = run("--npy x.npy");
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "Error: missing MODEL");
    CHECK_CONTAINS(r.err, "--help' for the options");
    r = run("m.plan --npy x.npy --top-k zero");
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "option --top-k needs an integer, got 'zero'");
    r = run("--help");
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "usage: ");
    CHECK_CONTAINS(r.out, "MODEL (IMAGES... | --npy input.npy | --raw input.bin --shape N,C,H,W)");
    r = run(path_of("model.bin") + " --npy x.npy");
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "Error: " + path_of("model.bin") + ": cannot tell how to run this file from its name");
    r = run(path_of("model.onnx") + " --npy x.npy");  // this build has the (fake) TensorRT backend only
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "cannot open the model");
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s PATH/TO/vgg_infer_fake [filter]\n", argv[0]);
        return 2;
    }
    g_program = argv[1];
    g_dir = mini_test::make_temp_dir("vgg_infer_fake_tests_");
    const int status = mini_test::run_all(argc > 2 ? argv[2] : "");
    mini_test::remove_dir(g_dir);
    return status;
}
