// Class names for printing: one per line, line i names class i.
#pragma once

#include <string>
#include <vector>

namespace vgg_deploy {

// Reads a labels file (a trailing '\r' of Windows line ends is dropped). Throws InputError (npy.hpp) when the
// file cannot be read.
std::vector<std::string> read_labels(const std::string& path);

}  // namespace vgg_deploy
