// Unit tests of vgg_deploy_common: everything of vgg_infer that needs no TensorRT. Runner: mini_test.hpp (prints
// one line per failure, ends with "N passed, M failed", exits 1 on any failure; an argument filters by name).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "args.hpp"
#include "backend.hpp"
#include "half.hpp"
#include "image.hpp"
#include "json_value.hpp"
#include "labels.hpp"
#include "mini_test.hpp"
#include "model_facts.hpp"
#include "npy.hpp"
#include "shape.hpp"
#include "stats.hpp"
#include "topk.hpp"

namespace fs = std::filesystem;
using namespace vgg_deploy;

// ---- helpers that write the files the tests read ----------------------------------------------------------------
namespace {

using mini_test::temp_dir;
using mini_test::temp_path;
using mini_test::write_file;

std::string float_bytes(const std::vector<float>& values) {
    std::string bytes;
    for (const float v : values) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        for (int shift = 0; shift < 32; shift += 8) {
            bytes.push_back(static_cast<char>((bits >> shift) & 0xFFu));
        }
    }
    return bytes;
}

std::string header_dict(const std::string& descr, bool fortran_order, const std::string& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran_order ? "True" : "False") +
           ", 'shape': " + shape + ", }";
}

// A .npy file as np.save writes it: magic, version, header length (2 bytes for 1.0, 4 for 2.0/3.0), the dict
// padded with spaces and ended by '\n' so the data starts at a multiple of 64, then the data.
std::string npy_bytes(int major, const std::string& dict, const std::string& data) {
    const std::size_t preamble = major == 1 ? 10 : 12;
    std::string header = dict;
    const std::size_t unpadded = preamble + header.size() + 1;
    header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
    std::string bytes = "\x93NUMPY";
    bytes.push_back(static_cast<char>(major));
    bytes.push_back('\0');
    for (std::size_t i = 0; i < preamble - 8; ++i) {
        bytes.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFFu));
    }
    return bytes + header + data;
}

std::vector<float> ramp(std::size_t count, float start, float step) {
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i) {
        values[i] = start + step * static_cast<float>(i);
    }
    return values;
}

std::string write_npy(const std::string& name, int major, const std::string& dict, const std::string& data) {
    const std::string path = temp_path(name);
    write_file(path, npy_bytes(major, dict, data));
    return path;
}

}  // namespace

// ---- .npy --------------------------------------------------------------------------------------------------------
TEST(npy_v1_reads_1x3x4x4_c_order) {
    const std::vector<float> values = ramp(48, -3.0f, 0.5f);
    const auto path = write_npy("a.npy", 1, header_dict("<f4", false, "(1, 3, 4, 4)"), float_bytes(values));
    const FloatTensor t = read_npy(path);
    CHECK_EQ(t.shape, (Shape{1, 3, 4, 4}));
    CHECK(t.values == values);
}

TEST(npy_v2_reads_2x10) {
    const std::vector<float> values = ramp(20, 1.0f, -0.25f);
    const auto path = write_npy("b.npy", 2, header_dict("<f4", false, "(2, 10)"), float_bytes(values));
    const FloatTensor t = read_npy(path);
    CHECK_EQ(t.shape, (Shape{2, 10}));
    CHECK(t.values == values);
}

TEST(npy_v3_and_one_dimensional_shape) {
    const auto path = write_npy("c.npy", 3, header_dict("<f4", false, "(3,)"), float_bytes({1.5f, -2.0f, 1e-30f}));
    const FloatTensor t = read_npy(path);
    CHECK_EQ(t.shape, (Shape{3}));
    CHECK(t.values == (std::vector<float>{1.5f, -2.0f, 1e-30f}));
}

TEST(npy_keys_in_any_order_and_double_quotes) {
    const auto path = write_npy("d.npy", 1, "{\"shape\": (2, 1), \"fortran_order\": False, \"descr\": \"<f4\"}",
                                float_bytes({7.0f, 8.0f}));
    const FloatTensor t = read_npy(path);
    CHECK_EQ(t.shape, (Shape{2, 1}));
    CHECK_EQ(t.values[1], 8.0f);
}

TEST(npy_scalar_and_empty_arrays) {
    CHECK_EQ(read_npy(write_npy("s.npy", 1, header_dict("<f4", false, "()"), float_bytes({4.0f}))).values.size(), 1u);
    const FloatTensor empty = read_npy(write_npy("e.npy", 1, header_dict("<f4", false, "(0, 10)"), ""));
    CHECK_EQ(empty.shape, (Shape{0, 10}));
    CHECK(empty.values.empty());
}

TEST(npy_rejects_fortran_order) {
    const auto path = write_npy("f.npy", 1, header_dict("<f4", true, "(2, 10)"), float_bytes(ramp(20, 0, 1)));
    CHECK_THROWS(InputError, read_npy(path), "fortran_order is True (a Fortran-ordered array) and is not supported");
    CHECK_THROWS(InputError, read_npy(path), "np.ascontiguousarray");
}

TEST(npy_rejects_other_dtypes) {
    const auto f8 = write_npy("f8.npy", 1, header_dict("<f8", false, "(2,)"), std::string(16, '\0'));
    CHECK_THROWS(InputError, read_npy(f8), "f8.npy: dtype '<f8' is not supported: vgg_infer reads little-endian "
                                           "float32 ('<f4') only");
    CHECK_THROWS(InputError, read_npy(f8), "astype(np.float32)");
    const auto u1 = write_npy("u1.npy", 1, header_dict("|u1", false, "(4,)"), std::string(4, '\0'));
    CHECK_THROWS(InputError, read_npy(u1), "dtype '|u1' is not supported");
    const auto be = write_npy("be.npy", 1, header_dict(">f4", false, "(1,)"), std::string(4, '\0'));
    CHECK_THROWS(InputError, read_npy(be), "big-endian float32 ('>f4') is not supported");
}

TEST(npy_rejects_truncated_data) {
    const auto path = write_npy("t.npy", 1, header_dict("<f4", false, "(2, 10)"), float_bytes(ramp(10, 0, 1)));
    CHECK_THROWS(InputError, read_npy(path),
                 "truncated: the header says shape (2, 10) float32 = 80 bytes of data, the file has 40");
}

TEST(npy_rejects_data_beyond_the_header_shape) {
    const auto path = write_npy("x.npy", 2, header_dict("<f4", false, "(1, 10)"), float_bytes(ramp(20, 0, 1)));
    CHECK_THROWS(InputError, read_npy(path), "the file has 40 bytes more than its header's shape (1, 10)");
}

TEST(npy_header_lying_about_a_huge_size_fails_before_allocating) {
    // If the reader allocated first, this would throw std::bad_alloc (or exhaust memory), not InputError.
    const auto huge = write_npy("h.npy", 1, header_dict("<f4", false, "(100000000000, 1000)"), float_bytes({1}));
    CHECK_THROWS(InputError, read_npy(huge), "truncated: the header says shape (100000000000, 1000) float32");
    const auto overflow = write_npy("o.npy", 1, header_dict("<f4", false, "(4294967296, 4294967296, 4294967296)"), "");
    CHECK_THROWS(InputError, read_npy(overflow), "more elements than fit in memory");
    const auto bytes_overflow = write_npy("o2.npy", 1, header_dict("<f4", false, "(4611686018427387904,)"), "");
    CHECK_THROWS(InputError, read_npy(bytes_overflow), "too large (its size in bytes overflows)");
}

TEST(npy_rejects_bad_preamble_and_header) {
    const auto text = temp_path("text.npy");
    write_file(text, "hello, this is not numpy");
    CHECK_THROWS(InputError, read_npy(text), "not a .npy file (no \\x93NUMPY magic)");
    const auto tiny = temp_path("tiny.npy");
    write_file(tiny, "\x93NUM");
    CHECK_THROWS(InputError, read_npy(tiny), "shorter than the 10-byte preamble");

    std::string v4 = npy_bytes(2, header_dict("<f4", false, "(1,)"), float_bytes({1}));
    v4[6] = 4;
    write_file(temp_path("v4.npy"), v4);
    CHECK_THROWS(InputError, read_npy(temp_path("v4.npy")), "unsupported .npy format version 4.0");

    std::string long_header = npy_bytes(1, header_dict("<f4", false, "(1,)"), float_bytes({1}));
    long_header[8] = '\xff';
    long_header[9] = '\x7f';
    write_file(temp_path("lh.npy"), long_header);
    CHECK_THROWS(InputError, read_npy(temp_path("lh.npy")), "truncated .npy header: it claims 32767 bytes");

    const auto no_shape = write_npy("ns.npy", 1, "{'descr': '<f4', 'fortran_order': False}", "");
    CHECK_THROWS(InputError, read_npy(no_shape), "lacks one of 'descr', 'fortran_order', 'shape'");
    const auto negative = write_npy("neg.npy", 1, header_dict("<f4", false, "(-1, 3)"), "");
    CHECK_THROWS(InputError, read_npy(negative), "expected a non-negative integer in the shape");
    const auto garbage = write_npy("g.npy", 1, "descr=<f4", "");
    CHECK_THROWS(InputError, read_npy(garbage), "malformed .npy header (expected '{'");
    const auto order = write_npy("bo.npy", 1, "{'descr': '<f4', 'fortran_order': maybe, 'shape': (1,)}", "");
    CHECK_THROWS(InputError, read_npy(order), "expected True or False");
}

TEST(npy_missing_file) {
    CHECK_THROWS(InputError, read_npy(temp_path("does_not_exist.npy")), "does_not_exist.npy: cannot open the file");
}

// ---- raw float32 -------------------------------------------------------------------------------------------------
TEST(raw_reads_the_given_shape) {
    const auto path = temp_path("r.bin");
    write_file(path, float_bytes(ramp(6, 0.25f, 1.0f)));
    const FloatTensor t = read_raw_float32(path, {2, 3});
    CHECK_EQ(t.shape, (Shape{2, 3}));
    CHECK(t.values == ramp(6, 0.25f, 1.0f));
}

TEST(raw_rejects_a_wrong_size) {
    const auto path = temp_path("short.bin");
    write_file(path, float_bytes(ramp(5, 0, 1)));
    CHECK_THROWS(InputError, read_raw_float32(path, {2, 3}),
                 "short.bin: 20 bytes (5 float32 values), but --shape (2, 3) needs 24 bytes (6 float32 values)");
    const auto odd = temp_path("odd.bin");
    write_file(odd, std::string(7, '\0'));
    CHECK_THROWS(InputError, read_raw_float32(odd, {2}), "7 bytes (not a whole number of float32 values)");
    CHECK_THROWS(InputError, read_raw_float32(temp_path("nope.bin"), {1}), "cannot open the file");
}

// ---- options -----------------------------------------------------------------------------------------------------
TEST(args_npy_with_defaults) {
    const Options o = parse_args({"model.plan", "--npy", "x.npy"});
    CHECK_EQ(o.model, std::string("model.plan"));
    CHECK_EQ(o.npy, std::string("x.npy"));
    CHECK(o.images.empty() && o.raw.empty() && o.shape.empty() && o.labels.empty() && !o.help && !o.json);
    CHECK_EQ(o.top_k, 5);
    CHECK_EQ(o.batch_size, 0);
    CHECK_EQ(o.iterations, 0);
    CHECK_EQ(o.warmup, 2);
    CHECK_EQ(o.precision, std::string("fp32"));
}

TEST(args_images_are_the_positionals_after_the_model) {
    const Options o = parse_args({"--top-k", "3", "m.onnx", "a.png", "--json", "b.jpg", "--", "--odd.png"});
    CHECK_EQ(o.model, std::string("m.onnx"));
    CHECK_EQ(o.images, (std::vector<std::string>{"a.png", "b.jpg", "--odd.png"}));
    CHECK(o.json);
    CHECK_EQ(o.top_k, 3);
}

TEST(args_raw_with_every_option_and_equals_form) {
    const Options o = parse_args({"m.onnx", "--raw", "x.bin", "--shape=2,3,32,32", "--top-k", "3",
                                  "--iterations=100", "--warmup", "0", "--labels", "labels.txt", "--batch-size=4",
                                  "--precision", "bf16", "--threads", "2", "--streams=1"});
    CHECK_EQ(o.model, std::string("m.onnx"));
    CHECK_EQ(o.raw, std::string("x.bin"));
    CHECK_EQ(o.shape, (Shape{2, 3, 32, 32}));
    CHECK_EQ(o.top_k, 3);
    CHECK_EQ(o.iterations, 100);
    CHECK_EQ(o.warmup, 0);
    CHECK_EQ(o.labels, std::string("labels.txt"));
    CHECK_EQ(o.batch_size, 4);
    CHECK_EQ(o.precision, std::string("bf16"));
    CHECK_EQ(o.threads, 2);
    CHECK_EQ(o.streams, 1);
}

TEST(args_help) {
    CHECK(parse_args({"--help"}).help);
    CHECK(parse_args({"m.plan", "-h"}).help);
    const std::string text = usage("vgg_infer");
    for (const char* option : {"MODEL", "IMAGES", "--npy", "--raw", "--shape", "--top-k", "--iterations", "--warmup",
                               "--labels", "--batch-size", "--json", "--precision", "--help", "Examples:"}) {
        CHECK(text.find(option) != std::string::npos);
    }
}

TEST(args_errors_name_the_problem) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{}, "missing MODEL"},
        {{"m"}, "missing input: give image files after MODEL, or --npy input.npy, or --raw"},
        {{"m", "--npy", "a", "--raw", "b", "--shape", "1"}, "give images, --npy or --raw, only one of them"},
        {{"m", "x.png", "--npy", "a"}, "give images, --npy or --raw, only one of them"},
        {{"m", "--raw", "b"}, "--raw needs --shape N,C,H,W"},
        {{"m", "--npy", "a", "--shape", "1,2"}, "--shape goes with --raw only"},
        {{"m", "--npy"}, "option --npy needs a value"},
        {{"m", "--npy", "--json"}, "option --npy needs a value"},
        {{"m", "--npy="}, "option --npy needs a value"},
        {{"--bogus", "1"}, "unknown option '--bogus'"},
        {{"-x"}, "unknown option '-x'"},
        {{"m", "--json=1"}, "option --json takes no value"},
        {{"m", "--json", "--json"}, "option --json is given more than once"},
        {{"m", "--npy", "a", "--npy", "b"}, "option --npy is given more than once"},
        {{"--precision", "int8"}, "option --precision must be fp32 or bf16, got 'int8'"},
        {{"--batch-size", "0"}, "option --batch-size must be at least 1, got 0"},
        {{"--top-k", "0"}, "option --top-k must be at least 1, got 0"},
        {{"--top-k", "abc"}, "option --top-k needs an integer, got 'abc'"},
        {{"--top-k", "5x"}, "option --top-k needs an integer, got '5x'"},
        {{"--top-k", " 5"}, "option --top-k needs an integer"},
        {{"--top-k", "+5"}, "option --top-k needs an integer"},
        {{"--iterations", "99999999999"}, "option --iterations is too large"},
        {{"--warmup", "-1"}, "option --warmup must be at least 0, got -1"},
        {{"--shape", "2,,3"}, "option --shape needs comma-separated positive integers like 1,3,224,224, got '2,,3'"},
        {{"--shape", "2,3,"}, "option --shape needs comma-separated positive integers"},
        {{"--shape", "2,0"}, "option --shape must be at least 1, got 0"},
        {{"--shape", "a,b"}, "option --shape needs an integer, got 'a'"},
        {{"--shape", "1,2,3,4,5,6,7,8,9"}, "option --shape has 9 dimensions; at most 8"},
    };
    for (const auto& c : cases) {
        std::string got = "(no error)";
        try {
            parse_args(c.first);
        } catch (const UsageError& e) {
            got = e.what();
        }
        if (got.find(c.second) == std::string::npos) {
            std::string joined;
            for (const std::string& a : c.first) {
                joined += " " + a;
            }
            mini_test::fail_at(__FILE__, __LINE__,
                               "parse_args(" + joined + " ) said \"" + got + "\", expected \"" + c.second + "\"");
        }
    }
}

TEST(args_parse_shape) {
    CHECK_EQ(parse_shape("1,3,224,224"), (Shape{1, 3, 224, 224}));
    CHECK_EQ(parse_shape("10"), (Shape{10}));
}

// ---- top-k and softmax -------------------------------------------------------------------------------------------
std::vector<std::size_t> indices(const std::vector<Prediction>& predictions) {
    std::vector<std::size_t> out;
    for (const Prediction& p : predictions) {
        out.push_back(p.index);
    }
    return out;
}

TEST(topk_orders_by_score) {
    const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f};
    const auto top = top_k(logits.data(), logits.size(), 2);
    CHECK_EQ(indices(top), (std::vector<std::size_t>{1, 3}));
    CHECK_EQ(top[0].logit, 2.0f);
    CHECK(top[0].probability > top[1].probability);
    CHECK(top_k(logits.data(), logits.size(), 0).empty());
}

TEST(topk_ties_keep_the_lower_index_first) {
    const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f};
    CHECK_EQ(indices(top_k(logits.data(), logits.size(), 4)), (std::vector<std::size_t>{1, 2, 4, 3}));
    CHECK_EQ(indices(top_k(logits.data(), logits.size(), 10)), (std::vector<std::size_t>{1, 2, 4, 3, 0}));
    const std::vector<float> equal(6, 0.5f);
    CHECK_EQ(indices(top_k(equal.data(), equal.size(), 3)), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(softmax_sums_to_one_and_is_stable) {
    const std::vector<float> logits = {0.0f, std::log(3.0f)};
    const auto p = softmax(logits.data(), logits.size());
    CHECK_NEAR(p[0], 0.25, 1e-7);
    CHECK_NEAR(p[1], 0.75, 1e-7);
    const std::vector<float> large = {1000.0f, 999.0f, -1000.0f, 80.0f, 88.7f, -3.4e38f};
    const auto q = softmax(large.data(), large.size());
    double sum = 0;
    for (const double v : q) {
        CHECK(std::isfinite(v));
        sum += v;
    }
    CHECK_NEAR(sum, 1.0, 1e-12);
    CHECK_NEAR(q[0] / q[1], std::exp(1.0), 1e-9);
    const auto top = top_k(large.data(), large.size(), 6);
    double top_sum = 0;
    for (const Prediction& t : top) {
        CHECK_NEAR(t.probability, q[t.index], 0.0);
        top_sum += t.probability;
    }
    CHECK_NEAR(top_sum, 1.0, 1e-12);
    CHECK(softmax(nullptr, 0).empty());
}

TEST(softmax_rejects_non_finite_logits) {
    const std::vector<float> nan = {1.0f, std::numeric_limits<float>::quiet_NaN()};
    CHECK_THROWS(std::domain_error, softmax(nan.data(), nan.size()), "logit 1 is");
    CHECK_THROWS(std::domain_error, top_k(nan.data(), nan.size(), 1), "not finite");
    const std::vector<float> inf = {std::numeric_limits<float>::infinity(), 0.0f};
    CHECK_THROWS(std::domain_error, softmax(inf.data(), inf.size()), "the engine produced invalid output");
}

// ---- latency statistics ------------------------------------------------------------------------------------------
TEST(stats_match_numpy_linear_percentiles) {
    std::vector<double> samples;
    for (int i = 100; i >= 1; --i) {  // unsorted on purpose
        samples.push_back(i);
    }
    const LatencyStats s = summarize(samples);  // numpy.percentile(range(1, 101), [50, 90, 99]) = 50.5, 90.1, 99.01
    CHECK_EQ(s.count, 100u);
    CHECK_NEAR(s.median, 50.5, 1e-12);
    CHECK_NEAR(s.p90, 90.1, 1e-9);
    CHECK_NEAR(s.p99, 99.01, 1e-9);
    CHECK_EQ(s.min, 1.0);
    CHECK_EQ(s.max, 100.0);
    CHECK_NEAR(s.mean, 50.5, 1e-12);
    const LatencyStats two = summarize({3.0, 1.0});  // numpy: 2.0, 2.8, 2.98
    CHECK_NEAR(two.median, 2.0, 1e-12);
    CHECK_NEAR(two.p90, 2.8, 1e-12);
    CHECK_NEAR(two.p99, 2.98, 1e-12);
}

TEST(stats_single_sample_and_errors) {
    const LatencyStats s = summarize({0.42});
    CHECK_EQ(s.median, 0.42);
    CHECK_EQ(s.p99, 0.42);
    CHECK_EQ(s.min, s.max);
    CHECK_THROWS(std::invalid_argument, summarize({}), "no latency samples");
    CHECK_THROWS(std::invalid_argument, percentile({1.0}, 1.5), "q must be in [0, 1]");
    CHECK_EQ(percentile({1.0, 2.0, 4.0}, 0.0), 1.0);
    CHECK_EQ(percentile({1.0, 2.0, 4.0}, 1.0), 4.0);
}

// ---- shapes ------------------------------------------------------------------------------------------------------
TEST(shape_counts_and_formats) {
    CHECK_EQ(element_count({}), 1u);
    CHECK_EQ(element_count({2, 3, 4}), 24u);
    CHECK_EQ(element_count({0, 5}), 0u);
    CHECK_THROWS(std::invalid_argument, element_count({-1, 3}), "negative (dynamic) dimension");
    CHECK_THROWS(std::overflow_error, element_count({1LL << 32, 1LL << 32, 1LL << 32}), "more elements than fit");
    CHECK_EQ(format_shape({}), std::string("()"));
    CHECK_EQ(format_shape({10}), std::string("(10,)"));
    CHECK_EQ(format_shape({-1, 3, 32, 32}), std::string("(-1, 3, 32, 32)"));
}

TEST(shape_check_against_engine_and_profile) {
    const Shape engine = {-1, 3, 32, 32}, min = {1, 3, 32, 32}, max = {8, 3, 32, 32};
    CHECK_EQ(check_input_shape(engine, min, max, {4, 3, 32, 32}), std::string());
    CHECK_EQ(check_input_shape(engine, min, max, {8, 3, 32, 32}), std::string());
    const std::string too_big = check_input_shape(engine, min, max, {16, 3, 32, 32});
    CHECK(too_big.find("batch 16 is outside the engine's optimization profile [1, 8]") != std::string::npos);
    CHECK(too_big.find("vgg-deploy build-trt --profile MIN:OPT:MAX") != std::string::npos);
    CHECK(check_input_shape(engine, min, max, {4, 1, 32, 32})
              .find("dimension 1 of the input is 1, the engine was built for 3") != std::string::npos);
    CHECK(check_input_shape(engine, min, max, {4, 3, 32}).find("(3 dimensions)") != std::string::npos);
    CHECK(check_input_shape(engine, min, max, {0, 3, 32, 32}).find("is not positive") != std::string::npos);
    const Shape fixed = {2, 3, 32, 32};
    CHECK_EQ(check_input_shape(fixed, {}, {}, {2, 3, 32, 32}), std::string());
    CHECK(check_input_shape(fixed, {}, {}, {3, 3, 32, 32}).find("dimension 0 of the input is 3") != std::string::npos);
}

// ---- FP16 conversion ---------------------------------------------------------------------------------------------
TEST(half_known_values) {
    CHECK_EQ(float_to_half(0.0f), 0x0000);
    CHECK_EQ(float_to_half(-0.0f), 0x8000);
    CHECK_EQ(float_to_half(1.0f), 0x3C00);
    CHECK_EQ(float_to_half(-2.0f), 0xC000);
    CHECK_EQ(float_to_half(65504.0f), 0x7BFF);
    CHECK_EQ(float_to_half(65519.0f), 0x7BFF);
    CHECK_EQ(float_to_half(65520.0f), 0x7C00);  // halfway to 65536: ties to even = infinity
    CHECK_EQ(float_to_half(std::numeric_limits<float>::infinity()), 0x7C00);
    CHECK_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
    CHECK_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // half of it: ties to even = 0
    CHECK_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
    CHECK_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
    CHECK_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie: stays even
    CHECK_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie: rounds up to even
    CHECK(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
    CHECK_EQ(half_to_float(0x3555), 0.333251953125f);
    CHECK_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
    CHECK_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
}

TEST(half_round_trips_every_value) {
    for (std::uint32_t bits = 0; bits <= 0xFFFFu; ++bits) {
        const auto h = static_cast<std::uint16_t>(bits);
        const float f = half_to_float(h);
        if (std::isnan(f)) {
            CHECK((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0);
            continue;
        }
        if (float_to_half(f) != h) {
            mini_test::fail_at(__FILE__, __LINE__, "half 0x" + mini_test::show(bits) + " does not round-trip");
        }
    }
}

// ---- labels ------------------------------------------------------------------------------------------------------
TEST(labels_one_per_line) {
    const auto path = temp_path("labels.txt");
    write_file(path, "cat\r\ndog\n\nbird\n");
    CHECK_EQ(read_labels(path), (std::vector<std::string>{"cat", "dog", "", "bird"}));
    CHECK_THROWS(InputError, read_labels(temp_path("missing.txt")), "missing.txt: cannot open the labels file");
}

// ---- JSON ----------------------------------------------------------------------------------------------------------
TEST(json_parses_what_python_json_dumps_writes) {
    const JsonValue v = parse_json(R"( {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\u00e9\ud83d\ude00", "c": {}} )");
    CHECK(v.is_object());
    const JsonValue* a = v.find("a");
    CHECK(a != nullptr && a->is_array() && a->array.size() == 5);
    CHECK_EQ(a->array[1].number, -2500.0);
    CHECK(a->array[2].boolean && !a->array[3].boolean && a->array[4].is_null());
    CHECK_EQ(v.find("b")->string, std::string("x\"\\\xc3\xa9\xf0\x9f\x98\x80"));
    CHECK(v.find("c")->is_object() && v.find("missing") == nullptr);
    CHECK(std::isnan(parse_json("NaN").number) && std::isinf(parse_json("-Infinity").number));
}

TEST(json_rejects_malformed_text_and_deep_nesting) {
    for (const char* bad : {"", "[1,]", "{\"a\" 1}", "\"open", "01x", "[1 2]", "tru", "\"\\q\"", "1 2", "-"}) {
        CHECK_THROWS(JsonError, parse_json(bad), "invalid JSON");
    }
    CHECK_THROWS(JsonError, parse_json(std::string(100, '[') + std::string(100, ']')), "nested deeper than");
}

TEST(json_quote_escapes_quotes_and_control_characters) {
    CHECK_EQ(json_quote("a\"b\\c\n\x01"), std::string("\"a\\\"b\\\\c\\n\\u0001\""));
    CHECK_EQ(parse_json(json_quote("x\ty\"")).string, std::string("x\ty\""));
}

// ---- ONNX metadata_props ----------------------------------------------------------------------------------------
std::string varint(std::uint64_t v) {
    std::string out;
    do {
        out.push_back(static_cast<char>((v & 0x7F) | (v > 0x7F ? 0x80 : 0)));
        v >>= 7;
    } while (v);
    return out;
}

std::string field(int number, const std::string& bytes) {  // length-delimited
    return varint(static_cast<std::uint64_t>(number) << 3 | 2) + varint(bytes.size()) + bytes;
}

std::string entry(const std::string& key, const std::string& value) {
    return field(14, field(1, key) + field(2, value));
}

TEST(onnx_metadata_read_skipping_every_other_field) {
    const std::string model = varint(1 << 3) + varint(8) +                        // ir_version = 8
                              entry("in_channels", "1") +                          // before the graph
                              varint(5 << 3 | 5) + std::string(4, '\x7f') +        // a fixed32
                              varint(9 << 3 | 1) + std::string(8, '\x01') +        // a fixed64
                              field(7, std::string(5000, '\xff')) +                // the "graph", never parsed
                              entry("input_size", "[32, 28]") + entry("mean", "[0.5]") + entry("std", "[0.25]") +
                              entry("architecture", "\"vgg_digits\"") + entry("labels", "[\"zero\", \"one\"]") +
                              entry("note", "not json {") + entry("precision", "\"int8\"");
    write_file(temp_path("m.onnx"), model);
    const ModelFacts facts = read_onnx_metadata(temp_path("m.onnx"));
    CHECK_EQ(facts.at("note").string, std::string("not json {"));  // kept as text, as read_metadata does
    CHECK_EQ(fact_string(facts, "precision"), std::string("int8"));
    CHECK_EQ(model_labels(facts), (std::vector<std::string>{"zero", "one"}));
    const PreprocessConfig config = preprocess_config(facts, "m.onnx");
    CHECK_EQ(config.channels, 1);
    CHECK_EQ(config.height, 32);
    CHECK_EQ(config.width, 28);
    CHECK_EQ(config.resize, 32);  // no resize_size: round(28 / 0.875) = 32
    CHECK_EQ(config.mean[0], 0.5f);
    CHECK_EQ(config.std[0], 0.25f);

    write_file(temp_path("cut.onnx"), model.substr(0, model.size() - 7));
    CHECK_THROWS(InputError, read_onnx_metadata(temp_path("cut.onnx")), "cut.onnx: truncated or not an ONNX file");
    write_file(temp_path("half.onnx"), model.substr(0, 2000));  // inside the graph
    CHECK_THROWS(InputError, read_onnx_metadata(temp_path("half.onnx")), "truncated");
    write_file(temp_path("text.onnx"), "hello, this is not a protobuf\n");
    CHECK_THROWS(InputError, read_onnx_metadata(temp_path("text.onnx")), "text.onnx: ");
    write_file(temp_path("nograph.onnx"), entry("a", "1"));
    CHECK_THROWS(InputError, read_onnx_metadata(temp_path("nograph.onnx")), "not an ONNX file (no graph");
    write_file(temp_path("empty.onnx"), "");
    CHECK_THROWS(InputError, read_onnx_metadata(temp_path("empty.onnx")), "empty");
    CHECK_THROWS(InputError, read_onnx_metadata(temp_path("none.onnx")), "none.onnx: cannot open the model");
    // A length that claims more than the file holds is refused before anything is allocated for it.
    write_file(temp_path("huge.onnx"), varint(14 << 3 | 2) + varint(1ull << 40) + "x");
    CHECK_THROWS(InputError, read_onnx_metadata(temp_path("huge.onnx")), "truncated");
}

TEST(preprocess_config_needs_vgg_deploy_metadata) {
    ModelFacts facts;
    CHECK_THROWS(InputError, preprocess_config(facts, "x.onnx"), "x.onnx: no vgg-deploy metadata (architecture");
    facts["architecture"] = parse_json("\"vgg16\"");
    facts["input_size"] = parse_json("[224, 224]");
    facts["in_channels"] = parse_json("3");
    facts["mean"] = parse_json("[0.485, 0.456, 0.406]");
    CHECK_THROWS(InputError, preprocess_config(facts, "x.onnx"), "no 'std'");
    facts["std"] = parse_json("[0.229, 0.224]");
    CHECK_THROWS(InputError, preprocess_config(facts, "x.onnx"), "'std' should be 3 numbers");
    facts["std"] = parse_json("[0.229, 0.224, 0.225]");
    facts["resize_size"] = parse_json("256");
    const PreprocessConfig config = preprocess_config(facts, "x.onnx");
    CHECK_EQ(config.resize, 256);
    CHECK_EQ(config.channels, 3);
    facts["in_channels"] = parse_json("4");
    CHECK_THROWS(InputError, preprocess_config(facts, "x.onnx"), "1- or 3-channel model, not 4");
    CHECK(model_labels(facts).empty());
}

TEST(engine_metadata_from_the_plan_json_manifest) {
    write_file(temp_path("e.plan.json"), R"({"precision": "fp16", "model": {"architecture": "vgg_tiny",
        "input_size": [32, 32], "in_channels": 3, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "labels": null}})");
    const ModelFacts facts = read_engine_metadata(temp_path("e.plan"));
    CHECK_EQ(preprocess_config(facts, "e.plan.json").resize, 37);  // round(32 / 0.875) = round(36.57)
    CHECK(model_labels(facts).empty());
    CHECK_THROWS(InputError, read_engine_metadata(temp_path("none.plan")), "none.plan.json: cannot open");
    write_file(temp_path("bad.plan.json"), "{\"model\": [1]}");
    CHECK_THROWS(InputError, read_engine_metadata(temp_path("bad.plan")), "no \"model\" facts");
    write_file(temp_path("broken.plan.json"), "{\"model\": ");
    CHECK_THROWS(InputError, read_engine_metadata(temp_path("broken.plan")), "not a readable engine manifest");
}

// ---- images: conversion, Pillow's bilinear resize, preprocessing -------------------------------------------------
Image pattern(int w, int h, int channels) {
    Image image{w, h, channels, {}};
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            for (int c = 0; c < channels; ++c) {
                image.pixels.push_back(static_cast<std::uint8_t>((x * 9 + y * 4 + c * 50) % 256));
            }
        }
    }
    return image;
}

TEST(convert_channels_as_pillow) {
    const Image rgb{1, 2, 3, {255, 0, 0, 10, 200, 30}};
    const Image gray = convert_channels(rgb, 1);
    // Pillow: L = (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16
    CHECK_EQ(static_cast<int>(gray.pixels[0]), (255 * 19595 + 0x8000) >> 16);
    CHECK_EQ(static_cast<int>(gray.pixels[1]), (10 * 19595 + 200 * 38470 + 30 * 7471 + 0x8000) >> 16);
    const Image back = convert_channels(gray, 3);
    CHECK_EQ(back.pixels.size(), std::size_t{6});
    CHECK(back.pixels[3] == gray.pixels[1] && back.pixels[5] == gray.pixels[1]);
    CHECK(convert_channels(rgb, 3).pixels == rgb.pixels);
}

TEST(resize_keeps_constants_sizes_and_order) {
    Image flat{13, 7, 3, std::vector<std::uint8_t>(13 * 7 * 3, 77)};
    for (const auto& size : std::vector<std::pair<int, int>>{{5, 3}, {40, 21}, {13, 2}, {1, 1}}) {
        const Image out = resize_bilinear(flat, size.first, size.second);
        CHECK_EQ(out.width, size.first);
        CHECK_EQ(out.height, size.second);
        for (const std::uint8_t v : out.pixels) {
            CHECK_EQ(static_cast<int>(v), 77);
        }
    }
    const Image src = pattern(9, 6, 1);
    CHECK(resize_bilinear(src, 9, 6).pixels == src.pixels);
    // A horizontal ramp stays non-decreasing when enlarged or shrunk (no ringing: a triangle filter).
    Image ramp{16, 1, 1, {}};
    for (int x = 0; x < 16; ++x) {
        ramp.pixels.push_back(static_cast<std::uint8_t>(x * 16));
    }
    for (const int w : {5, 16, 37}) {
        const Image out = resize_bilinear(ramp, w, 1);
        for (std::size_t i = 1; i < out.pixels.size(); ++i) {
            CHECK(out.pixels[i] >= out.pixels[i - 1]);
        }
    }
    CHECK_THROWS(std::invalid_argument, resize_bilinear(src, 0, 3), "must be positive");
}

TEST(preprocess_crops_the_center_and_normalizes) {
    PreprocessConfig config;
    config.channels = 1;
    config.height = config.width = 4;
    config.resize = 4;
    config.mean = {0.5f};
    config.std = {0.25f};
    Image image{4, 6, 1, {}};
    for (int i = 0; i < 24; ++i) {
        image.pixels.push_back(static_cast<std::uint8_t>(i * 10));
    }
    const std::vector<float> out = preprocess(image, config);  // no resize: shorter side is 4; rows 1..4 kept
    CHECK_EQ(out.size(), std::size_t{16});
    CHECK_EQ(out[0], (static_cast<float>(4 * 10) / 255.0f - 0.5f) / 0.25f);
    CHECK_EQ(out[15], (static_cast<float>(19 * 10) / 255.0f - 0.5f) / 0.25f);
    config.channels = 3;
    config.mean = {0.f, 0.f, 0.f};
    config.std = {1.f, 1.f, 1.f};
    const std::vector<float> rgb = preprocess(image, config);  // gray -> RGB: three equal planes
    CHECK_EQ(rgb.size(), std::size_t{48});
    CHECK(rgb[5] == rgb[16 + 5] && rgb[5] == rgb[32 + 5]);
}

TEST(model_kind_from_the_suffix) {
    CHECK(model_kind("a/b.onnx") == ModelKind::OpenVINO);
    CHECK(model_kind("B.ONNX") == ModelKind::OpenVINO);
    CHECK(model_kind("m.plan") == ModelKind::TensorRT);
    CHECK(model_kind("m.engine") == ModelKind::TensorRT);
    CHECK(model_kind("m.pth") == ModelKind::Unknown);
    CHECK(model_kind("dir.onnx/model") == ModelKind::Unknown);
    CHECK(model_kind("noext") == ModelKind::Unknown);
}

// ---- main --------------------------------------------------------------------------------------------------------
int main(int argc, char** argv) {
    temp_dir() = mini_test::make_temp_dir("vgg_deploy_cpp_tests_");
    const int status = mini_test::run_all(argc > 1 ? argv[1] : "");
    mini_test::remove_dir(temp_dir());
    return status;
}
