#include "labels.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "npy.hpp"

namespace vgg_deploy {

std::vector<std::string> read_labels(const std::string& path) {
    std::ifstream file(path);
    if (!file) {
        throw InputError(path + ": cannot open the labels file (" + std::strerror(errno) + ")");
    }
    std::vector<std::string> labels;
    std::string line;
    while (std::getline(file, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        labels.push_back(line);
    }
    if (file.bad()) {
        throw InputError(path + ": could not read the labels file");
    }
    return labels;
}

}  // namespace vgg_deploy
