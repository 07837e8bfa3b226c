# FindTensorRT: the TensorRT C++ runtime library (nvinfer) and its headers (NvInfer.h).
#
# Looks in, in this order: the TensorRT_ROOT CMake variable, the TensorRT_ROOT environment variable (each the
# folder holding include/NvInfer.h and lib/libnvinfer.so, e.g. an unpacked TensorRT tar), then the standard
# places: /usr/include/x86_64-linux-gnu + /usr/lib/x86_64-linux-gnu (NVIDIA's Debian/Ubuntu packages),
# /usr/local/tensorrt, /usr/include + /usr/lib.
#
# Defines TensorRT_FOUND, TensorRT_VERSION (from NvInferVersion.h), TensorRT_INCLUDE_DIR, TensorRT_LIBRARY and
# the imported target TensorRT::nvinfer.

set(_trt_hints)
foreach(_root IN ITEMS "${TensorRT_ROOT}" "$ENV{TensorRT_ROOT}")
    if(_root)
        list(APPEND _trt_hints "${_root}")
    endif()
endforeach()

find_path(TensorRT_INCLUDE_DIR NvInfer.h
    HINTS ${_trt_hints}
    PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu
    PATHS /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu /usr/local/tensorrt /usr/local/TensorRT)

# Linux: libnvinfer.so; Windows import libraries carry the major version (nvinfer_10.lib, nvinfer_11.lib).
find_library(TensorRT_LIBRARY
    NAMES nvinfer nvinfer_11 nvinfer_10
    HINTS ${_trt_hints}
    PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu
    PATHS /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/local/tensorrt /usr/local/TensorRT)

# NvInferVersion.h: "#define NV_TENSORRT_MAJOR 10" up to about 10.5; later ones "#define TRT_MAJOR_ENTERPRISE 10"
# with NV_TENSORRT_MAJOR defined as that name (the NvInferVersion.h pages of the 10.5 and 10.15 C++ API reference).
# Read whichever holds the number.
if(TensorRT_INCLUDE_DIR AND EXISTS "${TensorRT_INCLUDE_DIR}/NvInferVersion.h")
    file(READ "${TensorRT_INCLUDE_DIR}/NvInferVersion.h" _trt_version_header)
    set(_trt_parts)
    foreach(_part IN ITEMS MAJOR MINOR PATCH)
        if(_trt_version_header MATCHES "#define[ \t]+NV_TENSORRT_${_part}[ \t]+([0-9]+)")
            list(APPEND _trt_parts "${CMAKE_MATCH_1}")
        elseif(_trt_version_header MATCHES "#define[ \t]+TRT_${_part}_ENTERPRISE[ \t]+([0-9]+)")
            list(APPEND _trt_parts "${CMAKE_MATCH_1}")
        endif()
    endforeach()
    list(LENGTH _trt_parts _trt_count)
    if(_trt_count EQUAL 3)
        list(JOIN _trt_parts "." TensorRT_VERSION)
        list(GET _trt_parts 0 TensorRT_VERSION_MAJOR)
    endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(TensorRT
    REQUIRED_VARS TensorRT_LIBRARY TensorRT_INCLUDE_DIR
    VERSION_VAR TensorRT_VERSION)

if(TensorRT_FOUND AND NOT TARGET TensorRT::nvinfer)
    add_library(TensorRT::nvinfer UNKNOWN IMPORTED)
    set_target_properties(TensorRT::nvinfer PROPERTIES
        IMPORTED_LOCATION "${TensorRT_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${TensorRT_INCLUDE_DIR}")
endif()

mark_as_advanced(TensorRT_INCLUDE_DIR TensorRT_LIBRARY)
