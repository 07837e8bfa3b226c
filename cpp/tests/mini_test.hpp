// A minimal test runner (no framework to download): TEST(name) { CHECK...; }, then mini_test::run_all() prints one
// line per failure and a final "N passed, M failed", and returns 1 on any failure (or when nothing ran).
#pragma once

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "shape.hpp"

namespace mini_test {

struct Failure {
    std::string message;
};

struct TestCase {
    const char* name;
    void (*body)();
};

inline std::vector<TestCase>& registry() {
    static std::vector<TestCase> tests;
    return tests;
}

struct Register {
    Register(const char* name, void (*body)()) { registry().push_back({name, body}); }
};

[[noreturn]] inline void fail_at(const char* file, int line, const std::string& what) {
    throw Failure{std::string(file) + ":" + std::to_string(line) + ": " + what};
}

template <typename T>
std::string show(const T& value) {
    std::ostringstream out;
    out << value;
    return out.str();
}
inline std::string show(const vgg_deploy::Shape& shape) { return vgg_deploy::format_shape(shape); }
inline std::string show(const std::vector<std::string>& values) {
    std::string out = "[";
    for (const std::string& v : values) {
        out += (out.size() > 1 ? ", '" : "'") + v + "'";
    }
    return out + "]";
}
inline std::string show(const std::vector<std::size_t>& values) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(values[i]);
    }
    return out + "]";
}

// Runs `body`, which must throw Exception with a message containing `expected`.
template <typename Exception>
void expect_throw(const char* file, int line, const std::function<void()>& body, const std::string& expected) {
    try {
        body();
    } catch (const Exception& e) {
        if (std::string(e.what()).find(expected) == std::string::npos) {
            fail_at(file, line, "message \"" + std::string(e.what()) + "\" lacks \"" + expected + "\"");
        }
        return;
    }
    fail_at(file, line, "no exception (expected one containing \"" + expected + "\")");
}

inline void expect_contains(const char* file, int line, const std::string& text, const std::string& expected) {
    if (text.find(expected) == std::string::npos) {
        fail_at(file, line, "\"" + expected + "\" not found in:\n" + text);
    }
}

inline std::filesystem::path make_temp_dir(const std::string& prefix) {
    std::random_device seed;
    const auto dir = std::filesystem::temp_directory_path() / (prefix + std::to_string(seed()));
    std::filesystem::create_directories(dir);
    return dir;
}

// The test program's temporary folder (set in main with make_temp_dir) and a file path in it.
inline std::filesystem::path& temp_dir() {
    static std::filesystem::path dir;
    return dir;
}
inline std::string temp_path(const std::string& name) { return (temp_dir() / name).string(); }

// Writes `bytes` to `path` (binary); throws when it cannot.
inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream file(path, std::ios::binary);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file) {
        throw std::runtime_error("test setup: cannot write " + path);
    }
}

inline void remove_dir(const std::filesystem::path& dir) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
}

inline int run_all(const std::string& filter) {
    int passed = 0, failed = 0;
    for (const TestCase& test : registry()) {
        if (!filter.empty() && std::string(test.name).find(filter) == std::string::npos) {
            continue;
        }
        try {
            test.body();
            ++passed;
        } catch (const Failure& f) {
            ++failed;
            std::printf("FAIL %s: %s\n", test.name, f.message.c_str());
        } catch (const std::exception& e) {
            ++failed;
            std::printf("FAIL %s: unexpected exception: %s\n", test.name, e.what());
        }
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace mini_test

#define TEST(name)                                                \
    static void name();                                           \
    static const mini_test::Register register_##name(#name, name); \
    static void name()
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) mini_test::fail_at(__FILE__, __LINE__, "CHECK(" #cond ")");    \
    } while (0)
#define CHECK_EQ(a, b)                                                                                    \
    do {                                                                                                  \
        const auto& va_ = (a);                                                                            \
        const auto& vb_ = (b);                                                                            \
        if (!(va_ == vb_))                                                                                \
            mini_test::fail_at(__FILE__, __LINE__,                                                        \
                               "CHECK_EQ(" #a ", " #b "): " + mini_test::show(va_) + " != " + mini_test::show(vb_)); \
    } while (0)
#define CHECK_NEAR(a, b, tolerance)                                                                       \
    do {                                                                                                  \
        const double va_ = (a), vb_ = (b);                                                                \
        if (!(std::fabs(va_ - vb_) <= (tolerance)))                                                       \
            mini_test::fail_at(__FILE__, __LINE__,                                                        \
                               "CHECK_NEAR(" #a ", " #b "): " + mini_test::show(va_) + " vs " + mini_test::show(vb_)); \
    } while (0)
#define CHECK_THROWS(Exception, expr, expected) \
    mini_test::expect_throw<Exception>(__FILE__, __LINE__, [&] { (void)(expr); }, expected)
#define CHECK_CONTAINS(text, expected) mini_test::expect_contains(__FILE__, __LINE__, text, expected)
